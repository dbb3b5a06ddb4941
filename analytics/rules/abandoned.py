"""Abandoned object (décret 2023-828): a static object no person has stayed near."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from analytics.rules.base import Rule
from analytics.rules.geometry import box_centre, distance, iou
from analytics.rules.model import Box, Event, Frame, Point
from vms.messages import msg

BLOB_CLASS = "objet"
"""Event class of an object found only by the static-foreground detector."""


def _holds(box: Box, p: Point) -> bool:
    return box[0] <= p[0] <= box[2] and box[1] <= p[1] <= box[3]


@dataclass(slots=True)
class _Candidate:
    box: Box  # where it was first seen: a candidate that moves is a new candidate
    cls: str
    track_id: int | None
    confidence: float
    first_at: datetime
    last_at: datetime
    person_at: datetime | None = None  # last time a person was within the radius
    fired: bool = False


class AbandonedObject(Rule):
    """Objects are the frame's ``static_blobs`` and detections of ``object_classes``
    (bags). An object matched (IoU >= ``match_iou``) from frame to frame for
    ``min_static_s``, with no person near it during the last ``person_absent_s``, raises
    one event. A person is near when its reference point is within ``person_radius`` of
    the object's centre, or its box holds that centre: a person standing still is a
    static blob too, centred on the body, far from the feet when the person is close to
    the camera. An object unseen for ``lost_s`` is forgotten."""

    kind = "objet_abandonne"

    def __init__(
        self,
        rule_id: str,
        min_static_s: float = 60.0,
        person_absent_s: float = 30.0,
        person_radius: float = 0.1,
        person_classes: Iterable[str] = ("person",),
        object_classes: Iterable[str] = (),
        match_iou: float = 0.5,
        lost_s: float = 3.0,
        min_confidence: float = 0.0,
    ) -> None:
        self.person_classes = frozenset(person_classes)
        self.object_classes = frozenset(object_classes)
        super().__init__(rule_id, self.person_classes | self.object_classes, min_confidence)
        self.min_static_s = min_static_s
        self.person_absent_s = person_absent_s
        self.person_radius = person_radius
        self.match_iou = match_iou
        self.lost_s = lost_s
        self._objects: list[_Candidate] = []

    def _observe(self, frame: Frame, box: Box, cls: str, track_id: int | None, conf: float) -> None:
        best, best_iou = None, self.match_iou
        for c in self._objects:
            overlap = iou(c.box, box)
            if c.last_at != frame.at and overlap >= best_iou:
                best, best_iou = c, overlap
        if best is None:
            self._objects.append(_Candidate(box, cls, track_id, conf, frame.at, frame.at))
            return
        best.last_at = frame.at
        if cls != BLOB_CLASS and best.cls == BLOB_CLASS:  # the detector names it
            best.cls, best.track_id, best.confidence = cls, track_id, conf

    def step(self, frame: Frame) -> list[Event]:
        wanted = self._wanted(frame)
        objects = [d for d in wanted if d.cls in self.object_classes]
        for d in objects:
            self._observe(frame, d.box, d.cls, d.track_id, d.confidence)
        for box in frame.static_blobs:
            if not any(iou(d.box, box) >= self.match_iou for d in objects):  # not a named bag
                self._observe(frame, box, BLOB_CLASS, None, 1.0)
        self._objects = [
            c for c in self._objects if (frame.at - c.last_at).total_seconds() <= self.lost_s
        ]
        people = [d for d in wanted if d.cls in self.person_classes]
        events = []
        for c in self._objects:
            centre = box_centre(c.box)
            if any(
                distance(p.foot, centre) <= self.person_radius or _holds(p.box, centre)
                for p in people
            ):
                c.person_at = frame.at
            if c.fired or c.last_at != frame.at:
                continue
            static_s = (frame.at - c.first_at).total_seconds()
            alone_since = c.first_at if c.person_at is None else c.person_at
            alone_s = (frame.at - alone_since).total_seconds()
            if static_s >= self.min_static_s and alone_s >= self.person_absent_s:
                c.fired = True
                events.append(
                    self._event(
                        frame,
                        msg("analytics.label.abandoned", rule_id=self.rule_id),
                        c.cls,
                        c.track_id,
                        c.confidence,
                        (c.box,),
                        {"static_s": round(static_s, 3), "alone_s": round(alone_s, 3)},
                    )
                )
        return events

    def reset(self) -> None:
        self._objects.clear()
