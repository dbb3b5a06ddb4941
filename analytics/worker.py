"""The analytics pipeline of one host: per camera, decode its stream at a few frames
per second, gate on motion, detect in batches across cameras, track, run the camera's
rules, and hand the events to a sink (PostgreSQL here).

One decode per camera whatever the number of rules; a frame without motion skips the
detector (a periodic one still goes, so stationary objects are not forgotten).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import av

from analytics.batcher import BatchScheduler
from analytics.motion import MotionGate
from analytics.rules.engine import RuleEngine
from analytics.rules.model import Event
from analytics.tracker import Tracker

logger = logging.getLogger(__name__)

Sink = Callable[[Sequence[Event]], None]


@dataclass
class CameraStats:
    decoded: int = 0
    analysed: int = 0
    detections: int = 0
    events: int = 0
    errors: int = 0


class CameraAnalytics:
    """One camera: a thread reading ``url`` at ``fps`` through the shared scheduler."""

    def __init__(
        self,
        camera_id: str,
        url: str,
        engine: RuleEngine,
        scheduler: BatchScheduler,
        sink: Sink,
        fps: float = 4.0,
        model_id: str = "",
        gate: MotionGate | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.url = url
        self.engine = engine
        self.scheduler = scheduler
        self.sink = sink
        self.period = 1.0 / fps
        self.model_id = model_id or engine.camera.models[0].id
        self.gate = gate or MotionGate(camera_id)
        self.tracker = Tracker()
        self.stats = CameraStats()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"analytics-{camera_id}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._session()
            except (av.error.FFmpegError, OSError) as err:
                self.stats.errors += 1
                logger.warning("%s: analytics stream failed: %s", self.camera_id, err)
                self._stop.wait(1.0)

    def _session(self) -> None:
        options = {"rtsp_transport": "tcp", "timeout": "3000000"}
        with av.open(self.url, "r", options=options, timeout=(5.0, 5.0)) as src:
            stream = src.streams.video[0]
            stream.thread_type = "AUTO"
            next_at = 0.0
            for frame in src.decode(stream):
                if self._stop.is_set():
                    return
                self.stats.decoded += 1
                now = time.monotonic()
                if now < next_at:
                    continue
                next_at = now + self.period
                self._analyse(frame.to_ndarray(format="bgr24"), datetime.now(UTC), now)

    def _analyse(self, image: Any, at: datetime, mono: float) -> None:
        decision = self.gate.check(image, mono)
        if not decision.run_inference:
            return
        result = self.scheduler.submit(self.camera_id, image, at).result(timeout=30)
        self.stats.analysed += 1
        tracked = tuple(self.tracker.update(result.detections))
        self.stats.detections += len(tracked)
        events = self.engine.step(replace(result, detections=tracked, model=self.model_id))
        if events:
            self.stats.events += len(events)
            self.sink(events)


def pg_sink(pool: Any) -> Sink:
    """Write events to PostgreSQL (service role)."""

    def write(events: Sequence[Event]) -> None:
        with pool.connection() as conn:
            for e in events:
                conn.execute(
                    "INSERT INTO events (camera_id, at, rule_id, kind, cls, track_id, confidence, "
                    "boxes, label, detail, model) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, "
                    "%s, %s)",
                    (e.camera_id, e.at, e.rule_id, e.rule_kind, e.cls, e.track_id,
                     min(1.0, max(0.0, e.confidence)), json.dumps([list(b) for b in e.boxes]),
                     e.label, json.dumps(dict(e.detail), default=str), e.model),
                )  # fmt: skip

    return write
