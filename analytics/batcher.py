"""Batch the frames of many cameras into detector calls, bounded by size and latency.

Cameras call ``BatchScheduler.submit(camera_id, frame, at)`` and get a future of the
``Frame`` (detections, untracked, stamped with the detector's ``model_id``). One worker
thread, owned by the scheduler, takes the first waiting frame, then waits at most
``max_wait_ms`` from that frame's arrival for up to ``max_batch - 1`` more, and runs
the detector once on them. A frame therefore waits at most ``max_wait_ms`` plus the
inference time of the batch in front of it. ``close()`` (or leaving the ``with``
block) stops the worker after the frames already submitted; later submits raise.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Protocol

import numpy as np
import numpy.typing as npt

from analytics.rules.model import Detection, Frame
from vms.errors import invalid, precondition

log = logging.getLogger(__name__)

Image = npt.NDArray[np.uint8]


class BatchDetector(Protocol):
    model_id: str

    def detect_batch(self, frames: Sequence[Image]) -> list[list[Detection]]: ...


@dataclass(frozen=True, slots=True)
class _Job:
    camera_id: str
    frame: Image
    at: datetime
    submitted_s: float
    future: Future[Frame]


@dataclass(slots=True)
class BatchStats:
    """Batch sizes seen, for metrics, tests and the benchmark."""

    batches: int = 0
    frames: int = 0
    sizes: list[int] = field(default_factory=list)


class BatchScheduler:
    def __init__(self, detector: BatchDetector, max_batch: int = 8, max_wait_ms: float = 50):
        if max_batch < 1 or max_wait_ms < 0:
            raise invalid("Bornes de lot hors limites.", f"{max_batch=} {max_wait_ms=}")
        self._detector = detector
        self.max_batch = max_batch
        self.max_wait_s = max_wait_ms / 1000
        self.stats = BatchStats()
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._closed = False
        self._lock = threading.Lock()
        self._worker = threading.Thread(target=self._run, name="batch-scheduler", daemon=True)
        self._worker.start()

    def submit(self, camera_id: str, frame: Image, at: datetime) -> Future[Frame]:
        future: Future[Frame] = Future()
        with self._lock:
            if self._closed:
                raise precondition("batch scheduler is closed")
            self._queue.put(_Job(camera_id, frame, at, time.monotonic(), future))
        return future

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        self._worker.join()

    def __enter__(self) -> BatchScheduler:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            deadline = first.submitted_s + self.max_wait_s
            while len(batch) < self.max_batch:
                try:
                    job = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if job is None:
                    stopping = True
                    break
                batch.append(job)
            self._detect(batch)

    def _detect(self, batch: list[_Job]) -> None:
        try:
            results = self._detector.detect_batch([job.frame for job in batch])
        except Exception as err:  # routed to every waiting camera
            log.exception("batch of %d frames failed", len(batch))
            for job in batch:
                job.future.set_exception(err)
            return
        self.stats.batches += 1
        self.stats.frames += len(batch)
        self.stats.sizes.append(len(batch))
        model = self._detector.model_id
        for job, detections in zip(batch, results, strict=True):
            job.future.set_result(
                Frame(camera_id=job.camera_id, at=job.at, detections=tuple(detections), model=model)
            )
