"""Motion gating: decide, frame by frame, whether a camera's frame is worth a detector call.

Most municipal cameras watch empty streets most of the time; running the detector on
every frame spends the GPU (or CPU) on nothing. ``MotionGate`` keeps a background model
(OpenCV MOG2) of a small grey copy of the frame, cleans the foreground mask with a
morphological opening, drops the areas the operator marked as always moving (trees,
a road outside the watched zone), and passes the frame to inference when a moving blob
is large enough. A frame is also passed every ``periodic_s`` seconds without motion, so
that stationary objects (a parked van, a person lying still) are still seen by the
detector and the tracker.

Time ``at`` is seconds on the caller's clock (monotonic time or media time in seconds);
only differences matter. See ``docs/design/analytics-images.md``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt

from vms.errors import invalid

log = logging.getLogger(__name__)

Reason = Literal["mouvement", "periodique", "calme"]
Point = tuple[float, float]
Polygon = Sequence[Point]
Box = tuple[float, float, float, float]
"""A box in normalised coordinates: (x0, y0, x1, y1), each in [0, 1]."""

Image = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class GateDecision:
    """What the gate decided for one frame. ``reason`` is shown in the UI, hence French:
    "mouvement" (motion seen), "periodique" (no motion, but the periodic frame is due, or
    the first frame), "calme" (skipped)."""

    run_inference: bool
    reason: Reason
    motion_ratio: float
    """Foreground pixels / watched pixels (outside the ignore polygons), after cleaning."""
    boxes: tuple[Box, ...]
    """Moving blobs at least ``min_area_ratio`` of the frame, normalised."""


@dataclass(slots=True)
class GateCounters:
    """Counters for metrics and the benchmark."""

    frames_seen: int = 0
    frames_passed: int = 0
    passed_motion: int = 0
    passed_periodic: int = 0

    @property
    def saved_ratio(self) -> float:
        """Share of detector calls saved compared with an ungated pipeline."""
        if self.frames_seen == 0:
            return 0.0
        return 1.0 - self.frames_passed / self.frames_seen


def to_small_gray(frame: Image, width: int) -> Image:
    """Grey copy of ``frame`` (BGR or grey) resized to ``width`` pixels, aspect kept."""
    if frame.ndim == 3:
        gray: Image = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)  # type: ignore[assignment]
    elif frame.ndim == 2:
        gray = frame
    else:
        raise invalid("Image de format inattendu.", f"frame shape {frame.shape}")
    h, w = gray.shape
    if w != width:
        height = max(1, round(h * width / w))
        gray = cv2.resize(gray, (width, height), interpolation=cv2.INTER_AREA)  # type: ignore[assignment]
    return gray


def polygon_mask(shape: tuple[int, int], polygons: Sequence[Polygon]) -> Image:
    """A uint8 mask (255 inside) of normalised ``polygons`` at image ``shape`` (h, w)."""
    h, w = shape
    mask = np.zeros((h, w), np.uint8)
    for polygon in polygons:
        pts = np.array([(x * w, y * h) for x, y in polygon], np.float32)
        cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 255)
    return mask


def _check_polygons(polygons: Sequence[Polygon]) -> None:
    for polygon in polygons:
        if len(polygon) < 3:
            raise invalid("Un polygone doit avoir au moins trois sommets.", repr(polygon))
        for x, y in polygon:
            if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
                raise invalid(
                    "Les sommets d'un polygone sont en coordonnées normalisées (0 à 1).",
                    repr(polygon),
                )


class MotionGate:
    """Per-camera motion gate. Not thread-safe: one instance per camera stream."""

    def __init__(
        self,
        camera_id: str,
        width: int = 320,
        ignore: Sequence[Polygon] = (),
        min_area_ratio: float = 0.001,
        periodic_s: float = 10.0,
        *,
        var_threshold: float = 25.0,
        history_s: float = 30.0,
    ) -> None:
        if not 32 <= width <= 1920:
            raise invalid("Largeur d'analyse hors limites (32 à 1920).", f"width={width}")
        if not 0.0 < min_area_ratio < 1.0:
            raise invalid("Surface minimale hors limites.", f"min_area_ratio={min_area_ratio}")
        if periodic_s <= 0:
            raise invalid("La période doit être positive.", f"periodic_s={periodic_s}")
        _check_polygons(ignore)
        self.camera_id = camera_id
        self.width = width
        self.ignore = tuple(tuple(p) for p in ignore)
        self.min_area_ratio = min_area_ratio
        self.periodic_s = periodic_s
        self.history_s = history_s
        self.counters = GateCounters()
        self._mog = cv2.createBackgroundSubtractorMOG2(
            history=500, varThreshold=var_threshold, detectShadows=False
        )
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        self._watch: Image | None = None  # 255 where motion counts
        self._watched_px = 0
        self._last_at: float | None = None
        self._last_passed_at: float | None = None

    def _prepare(self, shape: tuple[int, int]) -> None:
        ignored = polygon_mask(shape, self.ignore)
        watch: Image = cv2.bitwise_not(ignored)  # type: ignore[assignment]
        self._watch = watch
        self._watched_px = int(np.count_nonzero(watch))

    def check(self, frame: Image, at: float) -> GateDecision:
        """Update the background model with ``frame`` (BGR or grey) seen at ``at`` seconds
        and decide whether it goes to inference."""
        small = to_small_gray(frame, self.width)
        small = cv2.GaussianBlur(small, (5, 5), 0)  # type: ignore[assignment]
        if self._watch is None or self._watch.shape != small.shape:
            if self._watch is not None:
                log.info("%s: frame size changed, motion model reset", self.camera_id)
                self._mog.clear()
                self._last_at = None
            self._prepare((small.shape[0], small.shape[1]))
        assert self._watch is not None

        # Learning rate from the frame interval, so the model forgets in seconds whatever
        # the analysis frame rate.
        first = self._last_at is None
        dt = 0.0 if self._last_at is None else max(0.0, at - self._last_at)
        self._last_at = at
        rate = 1.0 if first else min(1.0, max(dt, 1e-3) / self.history_s)
        fg: Image = self._mog.apply(small, learningRate=rate)  # type: ignore[assignment]
        fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, self._kernel)  # type: ignore[assignment]
        fg = cv2.bitwise_and(fg, self._watch)  # type: ignore[assignment]
        moving = 0 if first else int(np.count_nonzero(fg))
        ratio = moving / self._watched_px if self._watched_px else 0.0

        boxes: list[Box] = []
        if moving:
            fg = cv2.dilate(fg, self._kernel, iterations=2)  # type: ignore[assignment]
            h, w = fg.shape
            min_px = self.min_area_ratio * h * w
            n, _, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
            for i in range(1, n):
                x, y, bw, bh, area = (int(v) for v in stats[i])
                if area >= min_px:
                    boxes.append((x / w, y / h, (x + bw) / w, (y + bh) / h))

        self.counters.frames_seen += 1
        reason: Reason
        if boxes:
            reason = "mouvement"
            self.counters.passed_motion += 1
        elif self._last_passed_at is None or at - self._last_passed_at >= self.periodic_s:
            reason = "periodique"
            self.counters.passed_periodic += 1
        else:
            reason = "calme"
        run = reason != "calme"
        if run:
            self.counters.frames_passed += 1
            self._last_passed_at = at
        return GateDecision(run, reason, ratio, tuple(boxes))
