"""The analytics pipeline of one camera: decode its stream at a few frames per second,
gate on motion, detect in batches across cameras, track, run the camera's rules, and
hand the results to an output (``analytics.store.CameraRecorder`` in the product).

One decode per camera whatever the number of rules; a frame without motion skips the
detector (a periodic one still goes, so stationary objects are not forgotten). Outside
the legal basis of the camera nothing reaches the detector (LAW-10).

Beside the detector, on the same decoded pictures: the technical checks (obstruction,
blur, scene change, darkness; once a second) raise and clear ``technique`` events, and,
on a camera with an abandoned-object rule, the static-foreground stage finds what
stopped moving: its blobs go to the rules with the detections, and a frame that has
some passes the motion gate (the rule must see whether a person is near the object
even when the scene is quiet).

Frames come from an RTSP session of the camera (``url``), or, when the analytics run
in the ingest process, from a ``FrameSource`` (the ingest's live hub: no second RTSP
session, see ``vms.app``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol, cast, runtime_checkable

import av
import cv2
import numpy as np

from analytics.batcher import BatchScheduler
from analytics.motion import MotionGate
from analytics.rules.config import AbandonedRuleConfig
from analytics.rules.counting import Counter
from analytics.rules.engine import RuleEngine
from analytics.rules.model import Detection, Event, Frame
from analytics.static_foreground import StaticForeground
from analytics.technical import TechnicalChanges, TechnicalMonitor
from analytics.tracker import Tracker

logger = logging.getLogger(__name__)

Sink = Callable[[Sequence[Event]], None]
TECHNICAL_PERIOD_S = 1.0
TECHNICAL_MODEL = "opencv technical checks"
STATIC_NOTICE_S = 5.0
FrameSource = Callable[[threading.Event], Iterable[av.VideoFrame]]
"""Decoded pictures of a camera until the event is set (or the stream ends)."""


@runtime_checkable
class CameraOutput(Protocol):
    """Where one camera's results go; called from the camera's thread only."""

    def events(self, events: Sequence[Event], image: Any) -> None:
        """Alerts raised on the analysed picture ``image`` (BGR)."""

    def analysed(
        self,
        at: datetime,
        mono: float,
        model: str,
        detections: Sequence[Detection],
        counters: Mapping[str, Counter],
        stats: Mapping[str, Any],
    ) -> None:
        """After each analysed frame: its tracked objects, the rules' counters."""

    def closed(self, counters: Mapping[str, Counter], at: datetime) -> None:
        """The camera's analysis stopped."""


class _SinkOutput:
    """Events only, to a plain callable (tests, tools)."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink

    def events(self, events: Sequence[Event], image: Any) -> None:
        self.sink(events)

    def analysed(
        self,
        at: datetime,
        mono: float,
        model: str,
        detections: Sequence[Detection],
        counters: Mapping[str, Counter],
        stats: Mapping[str, Any],
    ) -> None:
        pass

    def closed(self, counters: Mapping[str, Counter], at: datetime) -> None:
        pass


@dataclass
class CameraStats:
    decoded: int = 0
    analysed: int = 0
    detections: int = 0
    events: int = 0
    errors: int = 0
    outside_basis: int = 0


class CameraAnalytics:
    """One camera: a thread reading ``url`` (or ``source``) at ``fps`` through the
    shared scheduler."""

    def __init__(
        self,
        camera_id: str,
        url: str,
        engine: RuleEngine,
        scheduler: BatchScheduler,
        sink: Sink | CameraOutput,
        fps: float = 4.0,
        model_id: str = "",
        gate: MotionGate | None = None,
        source: FrameSource | None = None,
        masks: Sequence[Sequence[tuple[float, float]]] = (),
    ) -> None:
        self.camera_id = camera_id
        self.url = url
        self.engine = engine
        self.scheduler = scheduler
        self.output: CameraOutput = sink if isinstance(sink, CameraOutput) else _SinkOutput(sink)
        self.period = 1.0 / fps
        self.model_id = model_id or engine.camera.models[0].id
        self.model_label = next(m.label for m in engine.camera.models if m.id == self.model_id)
        self.gate = gate or MotionGate(camera_id)
        self.source = source
        self.masks = [tuple(m) for m in masks]
        self.tracker = Tracker()
        self.technical = TechnicalMonitor(camera_id)
        self._technical_at = -TECHNICAL_PERIOD_S
        abandoned = [
            r for r in engine.camera.rules if isinstance(r, AbandonedRuleConfig) and r.enabled
        ]
        # the rule times how long a blob stays; the stage only has to notice it
        self.static = (
            StaticForeground(camera_id, min_static_s=STATIC_NOTICE_S) if abandoned else None
        )
        self.stats = CameraStats()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"analytics-{camera_id}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def halt(self) -> None:
        """Ask the thread to stop, without waiting (``stop`` waits)."""
        self._stop.set()

    def stop(self, timeout_s: float = 15.0) -> None:
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                logger.warning("%s: analytics thread still running after stop", self.camera_id)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    self._session()
                except (av.error.FFmpegError, OSError) as err:
                    self.stats.errors += 1
                    logger.warning("%s: analytics stream failed: %s", self.camera_id, err)
                else:
                    if self.source is not None and not self._stop.is_set():
                        logger.info("%s: analytics source ended, resubscribing", self.camera_id)
                self._stop.wait(1.0)
        finally:
            try:
                self.output.closed(self.engine.counters, datetime.now(UTC))
            except Exception:
                logger.exception("%s: analytics output not closed", self.camera_id)

    def _frames(self) -> Iterable[av.VideoFrame]:
        if self.source is not None:
            yield from self.source(self._stop)
            return
        options = {"rtsp_transport": "tcp", "timeout": "3000000"}
        with av.open(self.url, "r", options=options, timeout=(5.0, 5.0)) as src:
            stream = src.streams.video[0]
            stream.thread_type = "AUTO"
            yield from src.decode(stream)

    def _session(self) -> None:
        next_at = 0.0
        for frame in self._frames():
            if self._stop.is_set():
                return
            self.stats.decoded += 1
            now = time.monotonic()
            if now < next_at:
                continue
            next_at = now + self.period
            image = frame.to_ndarray(format="bgr24")
            if self.masks:
                image = apply_masks(image, self.masks)
            self._analyse(image, datetime.now(UTC), now)

    def _analyse(self, image: Any, at: datetime, mono: float) -> None:
        if not self.engine.active(at):
            # outside the legal basis (or disabled): no detection at all; the engine
            # resets its rules and tracks
            self.stats.outside_basis += 1
            self.engine.step(Frame(self.camera_id, at, model=self.model_id))
            return
        events = self._technical(image, at, mono)
        blobs = tuple(b.box for b in self.static.update(image, mono)) if self.static else ()
        decision = self.gate.check(image, mono)
        infer = decision.run_inference or bool(blobs)
        tracked: tuple[Detection, ...] = ()
        if infer:
            result = self.scheduler.submit(self.camera_id, image, at).result(timeout=30)
            self.stats.analysed += 1
            tracked = tuple(self.tracker.update(result.detections))
            self.stats.detections += len(tracked)
            frame = replace(result, detections=tracked, static_blobs=blobs, model=self.model_id)
            events += self.engine.step(frame)
        reason = decision.reason if decision.run_inference or not blobs else "objet_statique"
        try:
            if events:
                self.stats.events += len(events)
                self.output.events(events, image)
            if infer:
                self.output.analysed(
                    at,
                    mono,
                    self.model_label,
                    tracked,
                    self.engine.counters,
                    {**asdict(self.stats), "gate": reason},
                )
        except Exception:  # the database or a store is down: the analysis goes on
            self.stats.errors += 1
            logger.exception("%s: analytics results not written", self.camera_id)

    def _technical(self, image: Any, at: datetime, mono: float) -> list[Event]:
        """Technical checks, once a second: an event when a fault is raised or cleared."""
        if mono - self._technical_at < TECHNICAL_PERIOD_S:
            return []
        self._technical_at = mono
        return technical_events(self.camera_id, at, self.technical.update(image, mono))


def technical_events(camera_id: str, at: datetime, changes: TechnicalChanges) -> list[Event]:
    """``technique`` events (supervision, not people: no rule, no track) for the faults
    a frame raised or cleared; ``cls`` is the fault, ``detail.state`` tells which."""
    out = []
    for state, alerts in (("raised", changes.raised), ("cleared", changes.cleared)):
        for alert in alerts:
            label = alert.label if state == "raised" else f"Fin : {alert.label.lower()}"
            out.append(
                Event(camera_id, at, rule_id="technique", rule_kind="technique",
                      cls=alert.kind.value, track_id=None, confidence=1.0, boxes=(),
                      label=label, model=TECHNICAL_MODEL,
                      detail={"state": state, "value": round(alert.value, 3),
                              "threshold": round(alert.threshold, 3)})
            )  # fmt: skip
    return out


class LiveAccessUnit(Protocol):
    data: bytes
    keyframe: bool


class LiveSubscription(Protocol):
    async def get(self) -> LiveAccessUnit: ...

    def close(self) -> None: ...


class LiveSource(Protocol):
    """What the ingest worker's live hub offers for one camera stream
    (``ingest.live.hub.LiveFeed``; the analytics tier does not import ingest)."""

    camera_id: str
    codec: str

    def subscribe(self, max_frames: int = 50) -> Any: ...


def live_frames(feed: LiveSource, wait_s: float = 5.0) -> FrameSource:
    """Pictures decoded from the access units the ingest worker already pulls for its
    live viewers: no second RTSP session, one decode. The subscription lives on a
    private event loop of the camera's thread; it starts at a keyframe and, if the
    analysis falls behind by more than its queue, resumes at the next one."""

    def frames(stop: threading.Event) -> Iterable[av.VideoFrame]:
        loop = asyncio.new_event_loop()

        async def subscribe() -> LiveSubscription:
            return cast(LiveSubscription, feed.subscribe(max_frames=50))

        sub = loop.run_until_complete(subscribe())
        decoder: Any = None  # av.VideoCodecContext
        try:
            while not stop.is_set():
                try:
                    unit = loop.run_until_complete(asyncio.wait_for(sub.get(), wait_s))
                except TimeoutError:
                    continue  # the stream is down: the ingest worker reconnects
                except EOFError:
                    return
                if decoder is None:
                    decoder = av.CodecContext.create(feed.codec or "h264", "r")
                for picture in decoder.decode(av.Packet(unit.data)):
                    if isinstance(picture, av.VideoFrame):
                        yield picture
        finally:
            sub.close()
            loop.run_until_complete(asyncio.sleep(0))  # run the close callback
            loop.close()

    return frames


def apply_masks(image: Any, masks: Sequence[Sequence[tuple[float, float]]]) -> Any:
    """Black out the camera's privacy masks (LAW-09, normalised polygons) before any
    analysis: nothing behind a mask is detected, nor shown in a snapshot."""
    height_px, width_px = image.shape[:2]
    polygons = [
        np.array([[round(x * width_px), round(y * height_px)] for x, y in m], dtype=np.int32)
        for m in masks
    ]
    out = np.ascontiguousarray(image)
    cv2.fillPoly(out, polygons, (0, 0, 0))
    return out


def pg_sink(pool: Any) -> Sink:
    """Write events to PostgreSQL (service role), without snapshot nor protection
    (``analytics.store.AnalyticsStore`` writes both)."""

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
