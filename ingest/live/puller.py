"""On-demand pull of a stream that is watched but not recorded (typically the
sub-stream the wall shows): opened when its first viewer arrives, closed some seconds
after the last one leaves. A recorded stream never uses this: its recorder feeds the
viewers from the pull it already holds. A camera with privacy masks is decoded, masked
and encoded again here too (``ingest.masks``): viewers never get the camera's packets."""

from __future__ import annotations

import logging
import threading
import time

import av

from ingest.backoff import Backoff
from ingest.live.hub import CLOCK_RATE, LiveFeed
from ingest.masks import MaskingTranscoder, Polygon
from ingest.recorder import SMALL_PACKET, open_stream
from vms.config import IngestConfig
from vms.media.nal import carries_picture

logger = logging.getLogger(__name__)


class OnDemandPuller:
    def __init__(
        self,
        feed: LiveFeed,
        url: str,
        config: IngestConfig,
        linger_s: float,
        masks: tuple[Polygon, ...] = (),
    ) -> None:
        self.feed = feed
        self.url = url
        self.masks = masks  # privacy masks burnt in before anyone sees the stream
        self.config = config
        self.linger_s = linger_s
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.connects = 0
        feed.on_first = self._wake

    def _wake(self, feed: LiveFeed) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            name = f"live-{feed.camera_id}-{feed.stream}"
            self._thread = threading.Thread(target=self._run, name=name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(self.config.stall_timeout_s + 5)

    def _idle_for(self, since: float) -> bool:
        return not self.feed.active and time.monotonic() - since >= self.linger_s

    def _run(self) -> None:
        backoff = Backoff(self.config.reconnect_initial_s, self.config.reconnect_max_s)
        idle_since = time.monotonic()
        while not self._stop.is_set():
            if self.feed.active:
                idle_since = time.monotonic()
            elif self._idle_for(idle_since):
                break
            try:
                self._pull_once()
                backoff.reset()
            except (av.FFmpegError, OSError) as err:
                logger.info("%s/%s live pull: %s", self.feed.camera_id, self.feed.stream, err)
                self._stop.wait(backoff.next_delay())
        logger.info("%s/%s live pull closed", self.feed.camera_id, self.feed.stream)
        with self._lock:
            self._thread = None
        if self.feed.active and not self._stop.is_set():  # a viewer came while closing
            self._wake(self.feed)

    def _pull_once(self) -> None:
        feed = self.feed
        container = open_stream(self.url, self.config)
        self.connects += 1
        masker: MaskingTranscoder | None = None
        try:
            video = container.streams.video[0]
            ctx = video.codec_context
            if self.masks:
                masker = MaskingTranscoder(feed.camera_id, feed.stream, self.masks, video)
                feed.set_source(masker.codec, masker.width, masker.height, masker.extradata)
            else:
                feed.set_source(ctx.name, ctx.width, ctx.height, ctx.extradata)
            tb = video.time_base
            num, den = (tb.numerator, tb.denominator) if tb is not None else (1, CLOCK_RATE)
            idle_since = time.monotonic()
            for packet in container.demux(video):
                if self._stop.is_set():
                    return
                if feed.active:
                    idle_since = time.monotonic()
                elif self._idle_for(idle_since):
                    return
                ts = packet.pts if packet.pts is not None else packet.dts
                if ts is None or packet.size == 0:
                    continue
                data = bytes(packet)
                if packet.size < SMALL_PACKET and not carries_picture(data, ctx.name):
                    continue
                if masker is None:
                    feed.publish(data, ts * CLOCK_RATE * num // den, packet.is_keyframe)
                    continue
                for out in masker.transcode(packet):
                    feed.publish(bytes(out), out.pts * CLOCK_RATE * num // den, out.is_keyframe)
        finally:
            if masker is not None:
                masker.close()
            container.close()
