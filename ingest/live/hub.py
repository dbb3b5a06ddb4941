"""Live fan-out: one feed per camera stream, filled by the single pull that the ingest
worker holds (the recorder, or an on-demand puller for a stream that is not recorded),
read by any number of viewers.

The recorder thread publishes access units; each viewer lives on an asyncio loop and
owns a bounded queue. A viewer whose queue fills up (slow network, stalled tab) is cut:
its queue is emptied and it resumes at the next keyframe, so it never slows the others
nor the recording. A new viewer starts at the next keyframe too.

No aiortc, no web server here: the WebRTC and fMP4 outputs read subscribers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from vms.media.nal import annexb_parameter_sets, has_parameter_sets
from vms.media.queue import KeyframeQueue

logger = logging.getLogger(__name__)

CLOCK_RATE = 90_000  # every live timestamp is in 90 kHz ticks (RTP video clock)


@dataclass(frozen=True, slots=True)
class LiveFrame:
    """One access unit, Annex-B; a keyframe carries its parameter sets."""

    data: bytes
    pts: int  # 90 kHz ticks
    keyframe: bool
    received: float  # time.monotonic() when the ingest worker got it


class Subscriber:
    """A viewer's queue. Filled on the viewer's loop (the feed hands frames over with
    one ``call_soon_threadsafe`` per loop), drained by ``get``."""

    def __init__(self, feed: LiveFeed, loop: asyncio.AbstractEventLoop, max_frames: int) -> None:
        self.feed = feed
        self.loop = loop
        self.max_frames = max_frames
        self._queue: KeyframeQueue[LiveFrame] = KeyframeQueue(max_frames)
        self._ready = asyncio.Event()
        self.frames = 0
        self.closed = False

    def _push(self, frame: LiveFrame) -> None:  # on the viewer's loop
        if not self.closed and self._queue.push(frame):
            self._ready.set()

    async def get(self) -> LiveFrame:
        """The next frame; raises ``EOFError`` once the subscriber is closed."""
        while (frame := self._queue.pop()) is None:
            if self.closed:
                raise EOFError("live subscriber closed")
            self._ready.clear()
            await self._ready.wait()
        self.frames += 1
        return frame

    @property
    def backlog(self) -> int:
        return len(self._queue)

    @property
    def cuts(self) -> int:
        """Times this viewer fell behind and was moved to a keyframe."""
        return self._queue.cuts

    def close(self) -> None:
        """Stop and wake a pending ``get`` (safe from any thread)."""
        if self.closed:
            return
        self.closed = True
        self.feed._remove(self)
        with contextlib.suppress(RuntimeError):  # the loop may be closed already
            self.loop.call_soon_threadsafe(self._ready.set)


class LiveFeed:
    """The live side of one camera stream."""

    def __init__(self, camera_id: str, stream: str) -> None:
        self.camera_id = camera_id
        self.stream = stream
        self.codec = ""
        self.width = 0
        self.height = 0
        self._parameter_sets = b""
        self._lock = threading.Lock()
        self._by_loop: dict[asyncio.AbstractEventLoop, list[Subscriber]] = {}
        self.active = False  # read without the lock on the recorder's hot path
        self.frames_in = 0
        self.last_frame_at: float | None = None
        self.on_first: Callable[[LiveFeed], None] | None = None  # on-demand puller hook

    def set_source(self, codec: str, width: int, height: int, extradata: bytes | None) -> None:
        """Called by the pull at each (re)connection."""
        self.codec = codec
        self.width, self.height = width, height
        self._parameter_sets = annexb_parameter_sets(extradata) if codec == "h264" else b""

    def publish(self, data: bytes, pts: int, keyframe: bool) -> None:
        """From the pulling thread: hand one access unit (Annex-B, pts in 90 kHz) to
        every viewer. Costs nothing while nobody watches (check ``active`` first)."""
        if keyframe and self._parameter_sets and not has_parameter_sets(data):
            data = self._parameter_sets + data
        frame = LiveFrame(data, pts, keyframe, time.monotonic())
        self.frames_in += 1
        self.last_frame_at = frame.received
        with self._lock:
            loops = [(loop, tuple(subs)) for loop, subs in self._by_loop.items()]
        for loop, subs in loops:
            try:
                loop.call_soon_threadsafe(_deliver, subs, frame)
            except RuntimeError:  # the viewer's loop is gone: drop its viewers
                for sub in subs:
                    sub.close()

    def subscribe(self, max_frames: int = 50) -> Subscriber:
        """A new viewer on the running loop; starts at the next keyframe."""
        loop = asyncio.get_running_loop()
        sub = Subscriber(self, loop, max_frames)
        with self._lock:
            first = not self._by_loop
            self._by_loop.setdefault(loop, []).append(sub)
            self.active = True
        if first and self.on_first is not None:
            self.on_first(self)
        return sub

    def _remove(self, sub: Subscriber) -> None:
        with self._lock:
            subs = self._by_loop.get(sub.loop, [])
            if sub in subs:
                subs.remove(sub)
            if not subs:
                self._by_loop.pop(sub.loop, None)
            self.active = bool(self._by_loop)

    @property
    def viewers(self) -> int:
        with self._lock:
            return sum(len(s) for s in self._by_loop.values())


def _deliver(subs: tuple[Subscriber, ...], frame: LiveFrame) -> None:
    for sub in subs:
        sub._push(frame)


class LiveHub:
    """Every feed of an ingest worker, by (camera, stream)."""

    def __init__(self) -> None:
        self._feeds: dict[tuple[str, str], LiveFeed] = {}
        self._lock = threading.Lock()

    def feed(self, camera_id: str, stream: str) -> LiveFeed:
        with self._lock:
            key = (camera_id, stream)
            feed = self._feeds.get(key)
            if feed is None:
                feed = self._feeds[key] = LiveFeed(camera_id, stream)
            return feed

    def find(self, camera_id: str, stream: str) -> LiveFeed | None:
        with self._lock:
            return self._feeds.get((camera_id, stream))

    def feeds(self) -> list[LiveFeed]:
        with self._lock:
            return list(self._feeds.values())
