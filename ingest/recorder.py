"""One recorder per camera stream: pull RTSP with PyAV, follow the segmenter's
decisions, reconnect with backoff, and report runs, gaps and health to the committer.

Runs in its own thread: PyAV releases the GIL while it waits on the network, so one
process records many streams (one pull per stream, no transcoding).

A camera with privacy masks is the exception (LAW-09, ``ingest.masks``): its stream is
decoded, masked and encoded again before it is recorded and relayed; with
``keep_unmasked`` the camera's own packets are also recorded, as "<stream>-brut", from
the same pull. Each recorded stream is a ``_Lane``: segmenter, open segment, run.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import av

from ingest.backoff import Backoff
from ingest.committer import Committer, RunClosed, RunOpened, new_run_id
from ingest.health import HealthMeter
from ingest.live.hub import CLOCK_RATE, LiveFeed
from ingest.masks import MaskingTranscoder, Polygon, unmasked_stream
from ingest.segmenter import Action, Segmenter, SegmentSummary
from ingest.spool import SegmentFile, SegmentMeta
from vms.config import IngestConfig
from vms.domain.clock import Clock
from vms.domain.model import TICKS_PER_SECOND, Gap, GapCause
from vms.media.nal import carries_picture

logger = logging.getLogger(__name__)

# Packets smaller than this are checked for a picture before they are stored: below
# it lie the access units that hold only delimiters, parameter sets or SEI; a real
# picture that small (a static P-frame) passes the check.
SMALL_PACKET = 512


class ConnState(enum.Enum):
    IDLE = "idle"
    CONNECTING = "connecting"
    RECORDING = "recording"
    BACKOFF = "backoff"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class StreamTarget:
    camera_id: str
    tenant: str
    stream: str
    url: str
    masks: tuple[Polygon, ...] = ()
    """Privacy masks burnt in before recording and live (none: packets are copied)."""
    keep_unmasked: bool = False
    """With masks: also record the camera's own packets as "<stream>-brut"."""


def open_stream(url: str, config: IngestConfig) -> Any:
    """Open an RTSP pull with PyAV (no decoding): the options every pull shares."""
    options = {
        "rtsp_transport": config.rtsp_transport,
        "rtsp_flags": "prefer_tcp" if config.rtsp_transport == "tcp" else "",
        "fflags": "nobuffer",
        # parameter sets come in the SDP: probe little, so a reconnect is quick
        "analyzeduration": "200000",
        "probesize": "200000",
        # Stalls are caught by libavformat's socket timeout, not by PyAV's read
        # timeout: its interrupt callback takes the GIL on every socket poll, which
        # made many streams in one process fight over it. PyAV's timer guards
        # only the opening (it costs nothing once the timeout is unset).
        "timeout": str(round(config.stall_timeout_s * 1_000_000)),
    }
    options = {k: v for k, v in options.items() if v}
    timeouts = (config.connect_timeout_s, None)
    return av.open(url, "r", options=options, timeout=timeouts)


def classify(err: BaseException, received: bool) -> GapCause:
    """Map a PyAV/OS error to a gap cause. ``received``: data had flowed on this connection."""
    if isinstance(err, av.error.ConnectionRefusedError | ConnectionRefusedError):
        return GapCause.CONNECT_REFUSED
    if isinstance(err, av.error.ExitError | av.error.TimeoutError | TimeoutError):
        return GapCause.STALL if received else GapCause.TIMEOUT
    if isinstance(err, av.error.EOFError | EOFError | av.error.ConnectionResetError):
        return GapCause.EOF
    if isinstance(err, av.error.InvalidDataError):
        return GapCause.DECODE_ERROR
    if isinstance(err, OSError) and not isinstance(err, av.FFmpegError):
        return GapCause.STORAGE_ERROR
    return GapCause.EOF if received else GapCause.TIMEOUT


class StreamRecorder:
    def __init__(
        self,
        target: StreamTarget,
        config: IngestConfig,
        spool_dir: Path,
        committer: Committer,
        clock: Clock,
        resume_from: tuple[datetime, GapCause | None] | None = None,
        live: LiveFeed | None = None,
    ) -> None:
        self.target = target
        self.config = config
        self.spool_dir = spool_dir
        self.committer = committer
        self.clock = clock
        self.live = live  # viewers of this stream, fed from this pull
        self.state = ConnState.IDLE
        self.backoff = Backoff(config.reconnect_initial_s, config.reconnect_max_s)
        self._stop = threading.Event()
        self.stop_cause = GapCause.SHUTDOWN
        self._thread: threading.Thread | None = None
        # Where the previous run of each recorded stream ended and why (gap ledger).
        self._last_end: dict[str, tuple[datetime, GapCause | None] | None] = {
            target.stream: resume_from
        }
        self.frames_by_stream: Counter[str] = Counter()
        self.fragments_dropped = 0
        self.connects = 0

    @property
    def frames_written(self) -> int:
        return self.frames_by_stream[self.target.stream]

    def resume(self, stream: str, last_end: tuple[datetime, GapCause | None] | None) -> None:
        """Where a previous process left a stream recorded by this pull other than the
        target's own (its unmasked copy): the gap until its first run is then recorded."""
        self._last_end[stream] = last_end

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        name = f"rec-{self.target.camera_id}-{self.target.stream}"
        self._thread = threading.Thread(target=self.run, name=name, daemon=True)
        self._thread.start()

    def stop(self, cause: GapCause = GapCause.SHUTDOWN) -> None:
        """End recording; ``cause`` goes to the run ledger (the camera moves to another
        worker: ``handover``)."""
        self.stop_cause = cause
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _set_state(self, state: ConnState) -> None:
        if state is not self.state:
            logger.info(
                "%s/%s: - %s -> %s",
                self.target.camera_id,
                self.target.stream,
                self.state.value,
                state.value,
            )
            self.state = state

    # -- loop ----------------------------------------------------------------------

    def run(self) -> None:
        while not self._stop.is_set():
            self._set_state(ConnState.CONNECTING)
            cause = self._session()
            if self._stop.is_set():
                break
            self._set_state(ConnState.BACKOFF)
            delay = self.backoff.next_delay()
            logger.info(
                "%s/%s: %s, reconnect in %.2f s",
                self.target.camera_id,
                self.target.stream,
                cause.value,
                delay,
            )
            self._stop.wait(delay)
        self._set_state(ConnState.STOPPED)

    def _session(self) -> GapCause:
        """One connection: record until it fails. Returns why it ended."""
        t = self.target
        received = False
        try:
            container = open_stream(t.url, self.config)
        except (av.FFmpegError, OSError) as err:
            return classify(err, received=False)
        self.connects += 1
        cause = GapCause.EOF
        lanes: list[_Lane] = []
        masker: MaskingTranscoder | None = None
        try:
            video = container.streams.video[0]
            tb = video.time_base
            tps = int(tb.denominator) if tb is not None else TICKS_PER_SECOND
            ctx = video.codec_context
            unmasked: _Lane | None = None
            if t.masks:
                masker = MaskingTranscoder(t.camera_id, t.stream, t.masks, video)
                m = masker
                main = _Lane(self, t.stream, tps, m.codec, m.width, m.height, lambda: m.template)
                if t.keep_unmasked:
                    name = unmasked_stream(t.stream)
                    unmasked = _Lane(
                        self, name, tps, ctx.name, ctx.width, ctx.height, lambda: video
                    )
                    lanes.append(unmasked)
            else:
                main = _Lane(self, t.stream, tps, ctx.name, ctx.width, ctx.height, lambda: video)
            lanes.insert(0, main)
            live = self.live
            if live is not None:
                extradata = ctx.extradata if masker is None else masker.extradata
                live.set_source(main.codec, main.width, main.height, extradata)
            self._set_state(ConnState.RECORDING)
            # The per-packet path runs 25 times a second per stream with the GIL held:
            # locals only, and the wall clock read once per segment, not per packet.
            stopping = self._stop.is_set
            write = main.write
            codec = ctx.name
            for packet in container.demux(video):
                if stopping():
                    cause = self.stop_cause
                    break
                dts = packet.dts
                size = packet.size
                if dts is None or size == 0:
                    continue
                received = True
                if size < SMALL_PACKET and not carries_picture(bytes(packet), codec):
                    # the parser's flush of an access unit cut off at its start (a
                    # delimiter or parameter sets, no picture): not a frame
                    self.fragments_dropped += 1
                    continue
                if masker is None:
                    if live is not None and live.active:
                        pts = dts if packet.pts is None else packet.pts
                        live.publish(bytes(packet), pts * CLOCK_RATE // tps, packet.is_keyframe)
                    write(packet, dts)
                    continue
                # masked: what is relayed and recorded under the stream's name is the
                # re-encoded picture; the camera's packet goes to "-brut" only, after
                # decoding (writing a packet rebases its timestamps)
                for out in masker.transcode(packet):
                    if live is not None and live.active:
                        live.publish(bytes(out), out.pts * CLOCK_RATE // tps, out.is_keyframe)
                    write(out, out.dts)
                if unmasked is not None:
                    unmasked.write(packet, dts)
        except (av.FFmpegError, OSError) as err:
            cause = classify(err, received)
            logger.info("%s/%s: stream ended: %s", t.camera_id, t.stream, err)
        finally:
            for lane in lanes:
                lane.end(cause)
            if masker is not None:
                masker.close()
            container.close()
        return cause

    # -- ledger --------------------------------------------------------------------

    def _begin_run(self, stream: str, run_id: int, start_at: datetime) -> None:
        camera_id = self.target.camera_id
        self.committer.put(RunOpened(run_id, camera_id, stream, start_at))
        last_end = self._last_end.get(stream)
        if last_end is not None:
            end_at, cause = last_end
            if start_at > end_at:
                self.committer.put(
                    Gap(camera_id, stream, end_at, start_at, cause or GapCause.SHUTDOWN)
                )
        self._last_end[stream] = None

    def _end_run(self, stream: str, run_id: int, end_at: datetime, cause: GapCause) -> None:
        self.committer.put(RunClosed(run_id, end_at, cause))
        self._last_end[stream] = (end_at, cause)

    def _close_segment(self, seg: SegmentFile, summary: SegmentSummary, tps: int) -> None:
        try:
            closed = seg.close(summary.frames, summary.duration_ticks * TICKS_PER_SECOND // tps)
        except (av.FFmpegError, OSError) as err:
            logger.error("%s: could not close segment %s: %s", seg.meta.camera_id, seg.partial, err)
            seg.abort()
            return
        self.committer.put(closed)


class _Lane:
    """One recorded stream fed by a pull: its segmenter, the segment being written, the
    current run and its health. ``template`` gives the PyAV stream whose codec
    parameters the segment files copy (the demuxed stream, or the masking encoder's)."""

    def __init__(
        self,
        rec: StreamRecorder,
        stream: str,
        tps: int,
        codec: str,
        width: int,
        height: int,
        template: Callable[[], Any],
    ) -> None:
        config, clock = rec.config, rec.clock
        self.rec = rec
        self.stream = stream
        self.tps = tps
        self.codec, self.width, self.height = codec, width, height
        self.template = template
        self.segmenter = Segmenter(
            tps,
            target_s=config.segment_duration_s,
            fragment_s=config.fragment_interval_s,
            gap_s=config.gap_threshold_s,
        )
        self.health = HealthMeter(
            rec.target.camera_id, stream, tps, config.health_interval_s, clock.now
        )
        self.health.width, self.health.height = width, height
        self.seg: SegmentFile | None = None
        self.run_id = 0
        self.run_dts0 = 0
        self.run_wall0 = clock.now()
        self.run_mono0 = clock.monotonic()
        self._push = self.segmenter.push
        self._monotonic = clock.monotonic
        self._frames = rec.frames_by_stream

    def write(self, packet: Any, dts: int) -> None:
        """Follow the segmenter's decision for one packet (a picture, ``dts`` not None)."""
        rec, tps = self.rec, self.tps
        keyframe = packet.is_keyframe
        size = packet.size
        d = self._push(dts, keyframe, size)
        if d.closed is not None and self.seg is not None:
            rec._close_segment(self.seg, d.closed, tps)
            self.seg = None
            if d.discontinuity is not None:
                end = self.run_wall0 + _dur(d.closed.end_dts - self.run_dts0, tps)
                rec._end_run(self.stream, self.run_id, end, d.discontinuity)
        if d.action is Action.DROP:
            return
        if d.new_run:
            self.run_id = new_run_id()
            self.run_wall0 = rec.clock.now()
            self.run_mono0 = self._monotonic()
            self.run_dts0 = dts
            rec._begin_run(self.stream, self.run_id, self.run_wall0)
            self.health.run_started()
            rec.backoff.reset()
        if d.action is not Action.WRITE:  # START or CUT: a new segment
            t = rec.target
            meta = SegmentMeta(
                camera_id=t.camera_id,
                tenant=t.tenant,
                stream=self.stream,
                run_id=self.run_id,
                start_at=self.run_wall0 + _dur(dts - self.run_dts0, tps),
                run_start_at=self.run_wall0,
                media_start_90k=(dts - self.run_dts0) * TICKS_PER_SECOND // tps,
                codec=self.codec,
                width=self.width,
                height=self.height,
            )
            self.seg = SegmentFile(
                rec.spool_dir, meta, self.template(), rec.config.fragment_interval_s
            )
        seg = self.seg
        assert seg is not None
        if packet.pts is None:
            packet.pts = dts
        seg.write(packet)
        self._frames[self.stream] += 1
        if d.sync:
            seg.sync()
        elapsed = self._monotonic() - self.run_mono0
        sample = self.health.add(elapsed, dts - self.run_dts0, keyframe, size)
        if sample is not None:
            rec.committer.put(sample)

    def end(self, cause: GapCause) -> None:
        """The connection ended: close the open segment and the run."""
        closed = self.segmenter.end()
        if self.seg is not None and closed is not None:
            self.rec._close_segment(self.seg, closed, self.tps)
            self.seg = None
        if closed is not None:
            end = self.run_wall0 + _dur(closed.end_dts - self.run_dts0, self.tps)
            self.rec._end_run(self.stream, self.run_id, end, cause)


def _dur(ticks: int, tps: int) -> timedelta:
    return timedelta(microseconds=ticks * 1_000_000 // tps)
