"""Stream-health accumulator (LAW-06 time reference, LAW-07 stored quality). Pure.

Fed with what was actually written to storage; emits one ``HealthSample`` per window.
Clock drift is how far the camera's media clock has moved away from the receiver's
wall clock since the start of the run: a camera whose clock runs fast or slow, or a
link that buffers, shows a growing drift (an alarm above 1 s belongs to the alert desk).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from vms.domain.model import HealthSample


@dataclass(frozen=True, slots=True)
class QualityFloor:
    """Minimum stored quality of the arrêté of 3 August 2007."""

    width: int
    height: int
    fps: float


CLOSE_UP = QualityFloor(704, 576, 12.0)
GENERAL = QualityFloor(352, 288, 6.0)


def below_floor(sample: HealthSample, floor: QualityFloor) -> bool:
    pixels_ok = sample.width * sample.height >= floor.width * floor.height
    return not pixels_ok or sample.fps < floor.fps


class HealthMeter:
    """Called for every stored frame, so the per-frame path only adds numbers; the
    wall clock is read (``now``) once per window, when a sample is emitted."""

    def __init__(
        self,
        camera_id: str,
        stream: str,
        ticks_per_second: int,
        window_s: float,
        now: Callable[[], datetime],
    ) -> None:
        self.camera_id = camera_id
        self.stream = stream
        self.tps = ticks_per_second
        self.window_s = window_s
        self.now = now
        self.width = 0
        self.height = 0
        self._window_start: float | None = None
        self._frames = 0
        self._bytes = 0
        self._gop = 0
        self._since_key = 0
        self._elapsed_s = 0.0
        self._media_ticks = 0

    def run_started(self) -> None:
        self._since_key = 0

    def add(
        self, elapsed_s: float, run_media_ticks: int, keyframe: bool, size: int
    ) -> HealthSample | None:
        """Account one stored frame. ``elapsed_s`` and ``run_media_ticks`` are the
        receiver's (monotonic) and the camera's media time elapsed since the run
        started. Returns a sample when a window closes."""
        if self._window_start is None:
            self._window_start = elapsed_s
        sample: HealthSample | None = None
        seconds = elapsed_s - self._window_start
        if seconds >= self.window_s and self._frames:
            sample = HealthSample(
                camera_id=self.camera_id,
                stream=self.stream,
                at=self.now(),
                window_s=seconds,
                bitrate_bps=round(self._bytes * 8 / seconds),
                fps=round(self._frames / seconds, 2),
                width=self.width,
                height=self.height,
                gop_frames=self._gop,
                clock_drift_ms=self.drift_ms(),
                frames=self._frames,
            )
            self._window_start = elapsed_s
            self._frames = 0
            self._bytes = 0
        if keyframe:
            if self._since_key:
                self._gop = self._since_key
            self._since_key = 0
        self._since_key += 1
        self._frames += 1
        self._bytes += size
        self._elapsed_s = elapsed_s
        self._media_ticks = run_media_ticks
        return sample

    def drift_ms(self) -> int:
        """Receiver time minus camera media time since the run started, at the last
        frame (positive: the camera's clock runs slow, or the link buffers)."""
        return round((self._elapsed_s - self._media_ticks / self.tps) * 1000)
