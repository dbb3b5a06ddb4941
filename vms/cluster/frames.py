"""Pictures for the analytics workers of other hosts, over NATS (issue 8).

The ingest worker that records a camera already holds its access units for the live
viewers (``ingest.live.hub``); an analytics worker elsewhere asks for them instead of
opening a second RTSP session to the camera (one pull per camera, radio links):

- the analytics worker publishes ``<prefix>.frames-want.<camera>.<stream>`` every
  ``WANT_EVERY_S`` while it analyses the camera;
- the ingest worker that holds the camera subscribes to its live feed while a want is
  less than ``INTEREST_S`` old, and publishes each access unit (Annex-B, parameter
  sets on keyframes) on ``<prefix>.frames.<camera>.<stream>`` with headers ``k``
  (keyframe: 1 or 0) and ``c`` (codec). NATS core subjects: at most once, no storage.

Back-pressure never reaches the recording: the live feed's subscriber drops its backlog
and resumes at the next keyframe when the publisher falls behind, and the analytics
side keeps a bounded queue that drops the oldest units the same way
(``vms.media.queue.KeyframeQueue``).
A lost unit costs the pictures until the next keyframe, never a recorded frame."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import av
import nats
import nats.errors

from vms.cluster import servers
from vms.media.queue import KeyframeQueue

log = logging.getLogger(__name__)

WANT_EVERY_S = 5.0
INTEREST_S = 15.0


def frames_subject(prefix: str, camera_id: str, stream: str) -> str:
    return f"{prefix}.frames.{camera_id}.{stream}"


def want_subject(prefix: str, camera_id: str, stream: str) -> str:
    return f"{prefix}.frames-want.{camera_id}.{stream}"


@dataclass(frozen=True, slots=True)
class Unit:
    data: bytes
    keyframe: bool
    codec: str


# -- ingest side ------------------------------------------------------------------------


class FramePublisher:
    """Publishes the access units of the cameras this ingest worker holds, while an
    analytics worker wants them. ``hub``: the worker's ``ingest.live.hub.LiveHub``;
    ``holds(camera)``: whether this worker records the camera now."""

    def __init__(self, url: str, prefix: str, hub: Any, holds: Callable[[str], bool]) -> None:
        self.url = url
        self.prefix = prefix
        self.hub = hub
        self.holds = holds
        self.published = 0
        self.dropped = 0
        self._wanted: dict[tuple[str, str], float] = {}
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._nc: Any = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="frames-out", daemon=True)

    def start(self, timeout_s: float = 15.0) -> None:
        self._thread.start()
        if not self._ready.wait(timeout_s):
            log.warning("frames: no answer from NATS yet; retrying in the background")

    def stop(self) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            loop.call_soon_threadsafe(stop.set)
        self._thread.join(10)

    def _main(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        nc = await nats.connect(
            servers(self.url),
            name="vms-frames-out",
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
        )
        self._nc = nc
        try:
            await nc.subscribe(f"{self.prefix}.frames-want.*.*", cb=self._on_want)
            self._ready.set()
            await self._stop.wait()
        finally:
            for task in self._tasks.values():
                task.cancel()
            with contextlib.suppress(nats.errors.Error, OSError):
                await nc.close()

    async def _on_want(self, msg: Any) -> None:
        parts = msg.subject.split(".")
        key = (parts[-2], parts[-1])
        self._wanted[key] = time.monotonic()
        task = self._tasks.get(key)
        if (task is None or task.done()) and self.holds(key[0]):
            self._tasks[key] = asyncio.create_task(self._publish(*key))

    async def _publish(self, camera_id: str, stream: str) -> None:
        nc = self._nc
        feed = self.hub.feed(camera_id, stream)
        sub = feed.subscribe(max_frames=50)
        subject = frames_subject(self.prefix, camera_id, stream)
        log.info("frames: %s/%s published for the analytics workers", camera_id, stream)
        try:
            while time.monotonic() - self._wanted.get((camera_id, stream), 0) < INTEREST_S:
                if not self.holds(camera_id):
                    break
                try:
                    frame = await asyncio.wait_for(sub.get(), 1.0)
                except TimeoutError:
                    continue
                except EOFError:
                    break
                headers = {"k": "1" if frame.keyframe else "0", "c": feed.codec}
                try:
                    await nc.publish(subject, frame.data, headers=headers)
                    self.published += 1
                except (nats.errors.Error, OSError):
                    self.dropped += 1  # bus down or its buffer full: the units are lost
        finally:
            sub.close()
            log.info("frames: %s/%s no longer published", camera_id, stream)


# -- analytics side ---------------------------------------------------------------------

FrameSource = Callable[[threading.Event], Iterable[av.VideoFrame]]


def nats_frames(
    url: str, prefix: str, camera_id: str, stream: str, max_units: int = 50, wait_s: float = 5.0
) -> FrameSource:
    """Pictures of a camera held by an ingest worker on another host (a frame source of
    ``analytics.worker.CameraAnalytics``): asks for them, decodes what arrives."""

    def frames(stop: threading.Event) -> Iterable[av.VideoFrame]:
        loop = asyncio.new_event_loop()
        queue: KeyframeQueue[Unit] = KeyframeQueue(max_units)
        arrived = asyncio.Event()

        async def on_unit(msg: Any) -> None:
            headers = msg.headers or {}
            queue.push(Unit(msg.data, headers.get("k") == "1", headers.get("c") or "h264"))
            arrived.set()

        async def ask(nc: Any) -> None:
            subject = want_subject(prefix, camera_id, stream)
            while True:
                with contextlib.suppress(nats.errors.Error, OSError):
                    await nc.publish(subject, b"")
                await asyncio.sleep(WANT_EVERY_S)

        async def open_() -> tuple[Any, asyncio.Task[None]]:
            try:
                nc = await nats.connect(
                    servers(url), name=f"vms-frames-in-{camera_id}", max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5, pending_size=8 * 1024 * 1024,
                )  # fmt: skip
            except (nats.errors.Error, TimeoutError) as err:  # the worker retries
                raise OSError(f"NATS unreachable: {err}") from err
            await nc.subscribe(frames_subject(prefix, camera_id, stream), cb=on_unit)
            return nc, asyncio.ensure_future(ask(nc))

        async def next_unit() -> Unit | None:
            unit = queue.pop()
            if unit is None:
                arrived.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(arrived.wait(), wait_s)
                unit = queue.pop()
            return unit

        nc, asking = loop.run_until_complete(open_())
        decoder: Any = None
        codec = ""
        try:
            while not stop.is_set():
                unit = loop.run_until_complete(next_unit())
                if unit is None:
                    continue  # nothing yet: the ingest worker starts, or the camera is down
                if decoder is None or unit.codec != codec:
                    decoder, codec = av.CodecContext.create(unit.codec, "r"), unit.codec
                try:
                    pictures = decoder.decode(av.Packet(unit.data))
                except av.FFmpegError:
                    decoder = None  # resynchronised at the next keyframe
                    continue
                for picture in pictures:
                    if isinstance(picture, av.VideoFrame):
                        yield picture
        finally:
            asking.cancel()
            with contextlib.suppress(nats.errors.Error, OSError, asyncio.CancelledError):
                loop.run_until_complete(nc.close())
            loop.close()

    return frames
