"""What every rule shares: class filtering and event construction."""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping

from analytics.rules.model import Box, Detection, Event, Frame


class Rule(abc.ABC):
    """A deterministic state machine over frames of one camera.

    ``step`` must see frames in time order. ``reset`` drops the transient state (the
    engine calls it when the rule is off: outside its schedule or legal basis);
    ``forget`` drops what the rule keeps about a track the tracker lost.
    """

    kind: str  # the event kind, e.g. "intrusion"

    def __init__(self, rule_id: str, classes: Iterable[str], min_confidence: float) -> None:
        self.rule_id = rule_id
        self.classes = frozenset(classes)
        self.min_confidence = min_confidence

    @abc.abstractmethod
    def step(self, frame: Frame) -> list[Event]: ...

    @abc.abstractmethod
    def reset(self) -> None: ...

    def forget(self, track_id: int) -> None:  # noqa: B027 - optional hook
        """Drop the state of a lost track (rules without per-track state ignore it)."""

    def _wanted(self, frame: Frame) -> list[Detection]:
        return [
            d
            for d in frame.detections
            if d.cls in self.classes and d.confidence >= self.min_confidence
        ]

    def _event(
        self,
        frame: Frame,
        label: str,
        cls: str,
        track_id: int | None,
        confidence: float,
        boxes: tuple[Box, ...],
        detail: Mapping[str, object] | None = None,
    ) -> Event:
        return Event(
            camera_id=frame.camera_id,
            at=frame.at,
            rule_id=self.rule_id,
            rule_kind=self.kind,
            cls=cls,
            track_id=track_id,
            confidence=confidence,
            boxes=boxes,
            label=label,
            detail=dict(detail or {}),
        )
