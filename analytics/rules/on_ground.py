"""A person on the ground after a fall (décret 2023-828)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from analytics.rules.base import Rule
from analytics.rules.model import Detection, Event, Frame
from vms.messages import msg


@dataclass(slots=True)
class _TrackState:
    down_since: datetime
    fired: bool = False


class PersonOnGround(Rule):
    """A track is down when the model calls it one of ``fall_classes``, or, with
    ``use_geometry``, when a person box is wider than ``min_ratio`` times its height.
    Down for ``min_duration_s`` -> one event; standing up ends the episode (a new fall
    of the same track raises again)."""

    kind = "personne_au_sol"

    def __init__(
        self,
        rule_id: str,
        fall_classes: Iterable[str] = (),
        person_classes: Iterable[str] = ("person",),
        use_geometry: bool = True,
        min_ratio: float = 1.2,
        min_duration_s: float = 3.0,
        min_confidence: float = 0.0,
    ) -> None:
        self.fall_classes = frozenset(fall_classes)
        self.person_classes = frozenset(person_classes)  # standing people end an episode
        super().__init__(rule_id, self.fall_classes | self.person_classes, min_confidence)
        self.use_geometry = use_geometry
        self.min_ratio = min_ratio
        self.min_duration_s = min_duration_s
        self._tracks: dict[int, _TrackState] = {}

    def _down(self, d: Detection) -> bool:
        if d.cls in self.fall_classes:
            return True
        w, h = d.box[2] - d.box[0], d.box[3] - d.box[1]
        return (
            self.use_geometry and d.cls in self.person_classes and h > 0 and w / h > self.min_ratio
        )

    def step(self, frame: Frame) -> list[Event]:
        events = []
        for d in self._wanted(frame):
            if not self._down(d):
                self._tracks.pop(d.track_id, None)  # standing: the episode ends
                continue
            st = self._tracks.setdefault(d.track_id, _TrackState(frame.at))
            down_s = (frame.at - st.down_since).total_seconds()
            if not st.fired and down_s >= self.min_duration_s:
                st.fired = True
                events.append(
                    self._event(
                        frame,
                        msg("analytics.label.on_ground", rule_id=self.rule_id),
                        d.cls,
                        d.track_id,
                        d.confidence,
                        (d.box,),
                        {
                            "down_s": round(down_s, 3),
                            "by": "class" if d.cls in self.fall_classes else "geometry",
                        },
                    )
                )
        return events

    def reset(self) -> None:
        self._tracks.clear()

    def forget(self, track_id: int) -> None:
        self._tracks.pop(track_id, None)
