"""Typed values exchanged with the detection tier: detections, frames, events.

Coordinates are normalised to the picture (0..1, origin top left), as the privacy
masks of ``vms.config`` are. Times are timezone-aware datetimes (UTC by convention).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

Point = tuple[float, float]
Box = tuple[float, float, float, float]
"""(x1, y1, x2, y2), normalised, x1 <= x2 and y1 <= y2."""


@dataclass(frozen=True, slots=True)
class Detection:
    """One tracked object in one frame."""

    track_id: int
    cls: str
    confidence: float
    box: Box

    @property
    def foot(self) -> Point:
        """Reference point of a person or vehicle: the bottom centre of its box."""
        return ((self.box[0] + self.box[2]) / 2, self.box[3])

    @property
    def centre(self) -> Point:
        return ((self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2)


@dataclass(frozen=True, slots=True)
class Frame:
    """What the detection tier saw in one analysed picture of one camera.

    ``model`` is the id of the detector model (``DetectorModelConfig.id``) that produced
    the detections; track ids are only meaningful within one model's frames.
    ``static_blobs`` are the boxes a static-foreground detector found (abandoned objects).
    """

    camera_id: str
    at: datetime
    detections: tuple[Detection, ...] = ()
    static_blobs: tuple[Box, ...] = ()
    model: str = ""


@dataclass(frozen=True, slots=True)
class Event:
    """An attention alert for an operator (LAW-10: an operator decides, not the rule).

    ``detail`` keys are English identifiers; ``label`` is the French text shown to the
    operator. ``model`` is "name version" of the detector (recorded with every alert).
    """

    camera_id: str
    at: datetime
    rule_id: str
    rule_kind: str
    cls: str
    track_id: int | None
    confidence: float
    boxes: tuple[Box, ...]
    label: str
    detail: Mapping[str, object] = field(default_factory=dict)
    model: str = ""


@dataclass(frozen=True, slots=True)
class Track:
    """What the engine remembers of one track: its class and recent reference points."""

    track_id: int
    cls: str
    first_at: datetime
    last_at: datetime
    points: tuple[tuple[datetime, Point], ...]
