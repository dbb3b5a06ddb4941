"""Presence of a weapon or a fire outbreak: classes of a dedicated model (no weights
are bundled; the model is configured per camera)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from analytics.rules.base import Rule
from analytics.rules.model import Event, Frame
from vms.messages import msg

AlarmKind = Literal["arme", "depart_de_feu"]
_LABELS = {"arme": "analytics.label.weapon", "depart_de_feu": "analytics.label.fire"}


@dataclass(slots=True)
class _Episode:
    since: datetime
    last_at: datetime
    fired: bool = False


class ClassAlarm(Rule):
    """One event per episode of a configured class seen for ``min_duration_s``.

    An episode is per class, not per track (flames and smoke track poorly); it ends when
    the class has not been seen for ``gap_s``.
    """

    def __init__(
        self,
        rule_id: str,
        kind: AlarmKind,
        classes: Iterable[str],
        min_confidence: float = 0.5,
        min_duration_s: float = 1.0,
        gap_s: float = 2.0,
    ) -> None:
        super().__init__(rule_id, classes, min_confidence)
        self.alarm_kind: AlarmKind = kind
        self.kind = kind
        self.min_duration_s = min_duration_s
        self.gap_s = gap_s
        self._episodes: dict[str, _Episode] = {}

    def step(self, frame: Frame) -> list[Event]:
        events = []
        for cls, ep in list(self._episodes.items()):
            if (frame.at - ep.last_at).total_seconds() > self.gap_s:
                del self._episodes[cls]
        best: dict[str, tuple[float, list[tuple[float, float, float, float]]]] = {}
        for d in self._wanted(frame):
            conf, boxes = best.get(d.cls, (0.0, []))
            best[d.cls] = (max(conf, d.confidence), [*boxes, d.box])
        for cls, (conf, boxes) in sorted(best.items()):
            ep = self._episodes.setdefault(cls, _Episode(frame.at, frame.at))
            ep.last_at = frame.at
            seen_s = (frame.at - ep.since).total_seconds()
            if not ep.fired and seen_s >= self.min_duration_s:
                ep.fired = True
                events.append(
                    self._event(
                        frame,
                        msg(_LABELS[self.alarm_kind], rule_id=self.rule_id),
                        cls,
                        None,
                        conf,
                        tuple(boxes),
                        {"seen_s": round(seen_s, 3)},
                    )
                )
        return events

    def reset(self) -> None:
        self._episodes.clear()
