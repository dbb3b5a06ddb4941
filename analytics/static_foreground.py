"""Class-agnostic static foreground: what appeared in the scene and then stopped moving.

The first stage of the abandoned-object rule (CSD-05). The detector may not know the
object's class (a suitcase, a box, a jerrycan), so the image itself is watched with two
background models of a small grey copy of the frame, both running averages:

- the long-term model forgets in ``long_s`` (minutes): it still shows the scene as it
  was before the object was put down;
- the short-term model forgets in ``short_s`` (seconds): it has already taken the
  object in once it stops moving.

A pixel that differs from the long-term model but not from the short-term one is
"static foreground". Each pixel accumulates the seconds it has been static; a moving
object passing in front holds the count (occlusion), the background coming back resets
it. Pixels static for at least ``min_static_s`` form ``StaticBlob`` s.

The long-term model starts as the mean of the first ``warmup_s`` seconds (so the people
walking in the first frame leave no ghost) and is compensated for global gain changes (a cloud, the
camera's exposure); a change over most of the image resets it (the scene itself changed).
Time ``at`` is seconds on the caller's clock. See ``docs/design/analytics-images.md``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from analytics.motion import Box, Image, to_small_gray
from vms.errors import invalid, precondition

log = logging.getLogger(__name__)

Floats = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class StaticBlob:
    box: Box
    """Normalised (x0, y0, x1, y1)."""
    since: float
    """When the longest-static pixel of the blob became static (seconds, caller's clock)."""
    area: float
    """Share of the frame covered by the blob's static pixels."""


class StaticForeground:
    """Per-camera static-foreground detector. Feed it a few frames per second."""

    def __init__(
        self,
        camera_id: str,
        *,
        width: int = 320,
        min_static_s: float = 30.0,
        short_s: float = 2.0,
        long_s: float = 600.0,
        warmup_s: float = 5.0,
        diff_threshold: float = 25.0,
        min_area_ratio: float = 0.002,
        max_area_ratio: float = 0.25,
        reset_area_ratio: float = 0.5,
    ) -> None:
        if not 0 < short_s < long_s:
            raise invalid("Constantes de temps incohérentes.", f"short={short_s} long={long_s}")
        if min_static_s <= 0:
            raise invalid("La durée minimale doit être positive.", f"{min_static_s}")
        self.camera_id = camera_id
        self.width = width
        self.min_static_s = min_static_s
        self.short_s = short_s
        self.long_s = long_s
        self.warmup_s = warmup_s
        self.diff_threshold = diff_threshold
        self.min_area_ratio = min_area_ratio
        self.max_area_ratio = max_area_ratio
        self.reset_area_ratio = reset_area_ratio
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        self._short: Floats | None = None
        self._long: Floats | None = None
        self._static_s: Floats | None = None
        self._first_at = 0.0
        self._last_at = 0.0
        self.resets = 0

    def _reset(self, gray: Floats, at: float) -> None:
        self._short = gray.copy()
        self._long = gray.copy()
        self._static_s = np.zeros_like(gray)
        self._first_at = at
        self._last_at = at

    def update(self, frame: Image, at: float) -> list[StaticBlob]:
        """Feed one frame (BGR or grey) seen at ``at``; returns the static blobs."""
        small = to_small_gray(frame, self.width)
        gray: Floats = cv2.GaussianBlur(small, (5, 5), 0).astype(np.float32)
        if self._long is None or self._long.shape != gray.shape:
            self._reset(gray, at)
            return []
        assert self._short is not None and self._static_s is not None
        if at < self._last_at:
            raise precondition("Horodatage antérieur à l'image précédente.", f"{at}")
        dt = at - self._last_at
        self._last_at = at

        warm_before = at - self._first_at >= self.warmup_s
        # global gain compensation: scale the long-term model to today's light
        med_now = float(np.median(gray))
        med_long = float(np.median(self._long))
        gain = med_now / med_long if med_long > 1.0 else 1.0
        long_now = self._long * gain

        fg_long = self._mask(np.abs(gray - long_now))
        fg_short = self._mask(np.abs(gray - self._short))
        static = cv2.bitwise_and(fg_long, cv2.bitwise_not(fg_short))

        if warm_before and np.count_nonzero(fg_long) > self.reset_area_ratio * fg_long.size:
            log.info("%s: most of the view changed, long-term background reset", self.camera_id)
            self.resets += 1
            self._reset(gray, at)
            return []

        # per-pixel static time: grow where static, hold where something moves in front,
        # reset where the long-term background is back
        if warm_before:  # the models are not trusted during the warm-up
            self._static_s[static > 0] += dt
        self._static_s[fg_long == 0] = 0.0

        # models: during the warm-up both are the mean of the frames seen so far (moving
        # people average out), then each forgets with its own time constant
        age = max(at - self._first_at, 1e-6)
        warm = age >= self.warmup_s
        rate_long = min(1.0, dt / (self.long_s if warm else age))
        rate_short = min(1.0, dt / (self.short_s if warm else min(age, self.short_s)))
        cv2.accumulateWeighted(gray, self._long, rate_long)
        cv2.accumulateWeighted(gray, self._short, rate_short)

        return self._blobs(at)

    def _mask(self, diff: Floats) -> Image:
        mask: Image = (diff > self.diff_threshold).astype(np.uint8) * 255
        return cv2.morphologyEx(mask, cv2.MORPH_OPEN, self._kernel)  # type: ignore[return-value]

    def _blobs(self, at: float) -> list[StaticBlob]:
        assert self._static_s is not None
        ready: Image = (self._static_s >= self.min_static_s).astype(np.uint8) * 255
        if not ready.any():
            return []
        ready = cv2.morphologyEx(ready, cv2.MORPH_CLOSE, self._kernel)  # type: ignore[assignment]
        h, w = ready.shape
        total = float(h * w)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(ready, connectivity=8)
        blobs: list[StaticBlob] = []
        for i in range(1, n):
            x, y, bw, bh, area = (int(v) for v in stats[i])
            ratio = area / total
            if not self.min_area_ratio <= ratio <= self.max_area_ratio:
                continue
            longest = float(self._static_s[labels == i].max())
            box = (x / w, y / h, (x + bw) / w, (y + bh) / h)
            blobs.append(StaticBlob(box, at - longest, ratio))
        blobs.sort(key=lambda b: b.since)
        return blobs
