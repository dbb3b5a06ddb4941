"""Presence in, or crossing into, a forbidden or sensitive zone (décret 2023-828)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from analytics.rules.base import Rule
from analytics.rules.geometry import point_in_polygon, validate_polygon
from analytics.rules.model import Event, Frame
from vms.messages import msg

IntrusionMode = Literal["presence", "franchissement"]


@dataclass(slots=True)
class _TrackState:
    was_inside: bool | None = None  # None: not seen yet
    crossed: bool = False  # seen outside, then inside
    entered_at: datetime | None = None
    fired: bool = False


class ZoneIntrusion(Rule):
    """One event per track that stays ``min_dwell_s`` in the zone.

    Mode "presence": any track inside counts, including one that appears there.
    Mode "franchissement": only a track first seen outside, then inside, counts.
    Leaving the zone restarts the dwell; a track raises at most one event.
    """

    kind = "intrusion"

    def __init__(
        self,
        rule_id: str,
        zone: Sequence[Sequence[float]],
        classes: Iterable[str],
        min_dwell_s: float = 0.0,
        mode: IntrusionMode = "presence",
        min_confidence: float = 0.0,
    ) -> None:
        super().__init__(rule_id, classes, min_confidence)
        self.zone = validate_polygon(zone)
        self.min_dwell_s = min_dwell_s
        self.mode = mode
        self._tracks: dict[int, _TrackState] = {}

    def step(self, frame: Frame) -> list[Event]:
        events = []
        for d in self._wanted(frame):
            st = self._tracks.setdefault(d.track_id, _TrackState())
            inside = point_in_polygon(d.foot, self.zone)
            if inside and st.was_inside is False:
                st.crossed = True
            st.was_inside = inside
            if not inside:
                st.entered_at = None
                st.crossed = False
                continue
            if self.mode == "franchissement" and not st.crossed:
                continue
            if st.entered_at is None:
                st.entered_at = frame.at
            dwell_s = (frame.at - st.entered_at).total_seconds()
            if not st.fired and dwell_s >= self.min_dwell_s:
                st.fired = True
                label = (
                    "analytics.label.intrusion"
                    if self.mode == "presence"
                    else "analytics.label.intrusion_crossing"
                )
                events.append(
                    self._event(
                        frame,
                        msg(label, rule_id=self.rule_id),
                        d.cls,
                        d.track_id,
                        d.confidence,
                        (d.box,),
                        {"mode": self.mode, "dwell_s": round(dwell_s, 3)},
                    )
                )
        return events

    def reset(self) -> None:
        self._tracks.clear()

    def forget(self, track_id: int) -> None:
        self._tracks.pop(track_id, None)
