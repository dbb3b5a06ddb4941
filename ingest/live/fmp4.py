"""fMP4 output of the live relay, for browsers where WebRTC cannot pass (Media Source
Extensions over a WebSocket) and for the public link watched by hundreds (CONF-01).

One muxer per feed, whatever the number of viewers: the feed's access units are
stream-copied into fragmented MP4 with one fragment per frame (low latency), and the
bytes are broadcast. A viewer receives the initialisation segment, then fragments from
the next keyframe; a viewer that falls behind is cut to the next keyframe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass

import av

from ingest.live.hub import LiveFeed, Subscriber
from ingest.live.webrtc import TIME_BASE
from vms.media.nal import nal_units
from vms.media.queue import KeyframeQueue

logger = logging.getLogger(__name__)


def codec_string(parameter_sets: bytes) -> str:
    """RFC 6381 codec string (``avc1.PPCCLL``) from an SPS, for MediaSource."""
    for nal in nal_units(parameter_sets):
        if nal and nal[0] & 0x1F == 7 and len(nal) >= 4:
            return f"avc1.{nal[1]:02x}{nal[2]:02x}{nal[3]:02x}"
    return "avc1.42e01f"


@dataclass(frozen=True, slots=True)
class Chunk:
    data: bytes
    keyframe: bool


class _Sink:
    """File-like target of the muxer: collects whole top-level boxes."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def write(self, data: bytes) -> int:
        self.buffer += data
        return len(data)

    def boxes(self) -> list[tuple[str, bytes]]:
        out = []
        while len(self.buffer) >= 8:
            size = int.from_bytes(self.buffer[:4], "big")
            if size < 8 or len(self.buffer) < size:
                break
            out.append((self.buffer[4:8].decode("latin-1"), bytes(self.buffer[:size])))
            del self.buffer[:size]
        return out


class Viewer:
    def __init__(self, max_chunks: int) -> None:
        self.queue: KeyframeQueue[Chunk] = KeyframeQueue(max_chunks)
        self.ready = asyncio.Event()
        self.closed = False

    def push(self, chunk: Chunk) -> None:
        if self.queue.push(chunk):
            self.ready.set()

    @property
    def cuts(self) -> int:
        """Times this viewer fell behind and was moved to a keyframe."""
        return self.queue.cuts

    async def next(self) -> Chunk:
        while (chunk := self.queue.pop()) is None:
            if self.closed:
                raise EOFError("viewer closed")
            self.ready.clear()
            await self.ready.wait()
        return chunk


class Fmp4Broadcast:
    """The shared fMP4 stream of one feed on one event loop."""

    def __init__(self, feed: LiveFeed, max_chunks: int = 75) -> None:
        self.feed = feed
        self.max_chunks = max_chunks
        self.viewers: set[Viewer] = set()
        self.init: bytes = b""
        self.codec = ""
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._sub: Subscriber | None = None
        self._moof = b""

    def join(self) -> Viewer:
        viewer = Viewer(self.max_chunks)
        self.viewers.add(viewer)
        if self._task is None or self._task.done():
            self._ready.clear()
            self._sub = self.feed.subscribe(max_frames=100)
            self._task = asyncio.get_running_loop().create_task(self._run(self._sub))
        return viewer

    def leave(self, viewer: Viewer) -> None:
        viewer.closed = True
        viewer.ready.set()
        self.viewers.discard(viewer)
        if not self.viewers and self._sub is not None:
            self._sub.close()  # the muxer ends; the next viewer starts a new one

    async def wait_init(self, timeout_s: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout_s)
        return self._ready.is_set()

    async def _run(self, sub: Subscriber) -> None:
        sink = _Sink()
        out = None
        try:
            first = await sub.get()  # a keyframe: carries the parameter sets
            ps = self.feed._parameter_sets or first.data
            out = av.open(
                sink,
                "w",
                format="mp4",
                options={
                    "movflags": "empty_moov+default_base_moof+frag_every_frame+omit_tfhd_offset",
                    "flush_packets": "1",
                },
            )
            stream = out.add_stream("h264")
            stream.width, stream.height = self.feed.width or 16, self.feed.height or 16
            stream.codec_context.extradata = ps
            self.codec = codec_string(ps)
            pts0 = first.pts
            # the muxer writes a frame's fragment once the next frame gives its duration
            pending: deque[bool] = deque()
            frame = first
            while True:
                packet = av.Packet(frame.data)
                packet.pts = packet.dts = frame.pts - pts0
                packet.time_base = TIME_BASE
                packet.stream = stream
                if frame.keyframe:
                    packet.is_keyframe = True
                pending.append(frame.keyframe)
                out.mux(packet)
                self._broadcast(sink, pending)
                frame = await sub.get()
        except EOFError:
            pass
        except (av.FFmpegError, ValueError) as err:
            logger.warning("%s/%s fmp4: %s", self.feed.camera_id, self.feed.stream, err)
        finally:
            sub.close()
            if out is not None:
                with contextlib.suppress(av.FFmpegError, ValueError):
                    out.close()
            for viewer in list(self.viewers):
                viewer.closed = True
                viewer.ready.set()

    def _broadcast(self, sink: _Sink, pending: deque[bool]) -> None:
        for kind, data in sink.boxes():
            if kind in ("ftyp", "moov"):
                self.init += data
                if kind == "moov":
                    self._ready.set()
            elif kind == "moof":
                self._moof = data
            elif kind == "mdat" and self._moof:
                chunk = Chunk(self._moof + data, pending.popleft() if pending else False)
                self._moof = b""
                for viewer in self.viewers:
                    viewer.push(chunk)
