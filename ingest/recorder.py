"""One recorder per camera stream: pull RTSP with PyAV, follow the segmenter's
decisions, reconnect with backoff, and report runs, gaps and health to the committer.

Runs in its own thread: PyAV releases the GIL while it waits on the network, so one
process records many streams (one pull per stream, no transcoding).
"""

from __future__ import annotations

import enum
import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import av

from ingest.backoff import Backoff
from ingest.committer import Committer, RunClosed, RunOpened, new_run_id
from ingest.health import HealthMeter
from ingest.live.hub import CLOCK_RATE, LiveFeed
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
        self._thread: threading.Thread | None = None
        # Where the previous run ended and why (for the gap ledger).
        self._last_end: tuple[datetime, GapCause | None] | None = resume_from
        self.frames_written = 0
        self.fragments_dropped = 0
        self.connects = 0

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        name = f"rec-{self.target.camera_id}-{self.target.stream}"
        self._thread = threading.Thread(target=self.run, name=name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
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
        segmenter = Segmenter(
            TICKS_PER_SECOND,
            target_s=self.config.segment_duration_s,
            fragment_s=self.config.fragment_interval_s,
            gap_s=self.config.gap_threshold_s,
        )
        received = False
        seg: SegmentFile | None = None
        run_id = 0
        run_dts0 = 0
        run_wall0 = self.clock.now()
        try:
            container = open_stream(t.url, self.config)
        except (av.FFmpegError, OSError) as err:
            return classify(err, received=False)
        self.connects += 1
        cause = GapCause.EOF
        try:
            video = container.streams.video[0]
            tb = video.time_base
            if tb is None or tb.numerator != 1 or tb.denominator != TICKS_PER_SECOND:
                segmenter = Segmenter(
                    int(tb.denominator) if tb is not None else TICKS_PER_SECOND,
                    target_s=self.config.segment_duration_s,
                    fragment_s=self.config.fragment_interval_s,
                    gap_s=self.config.gap_threshold_s,
                )
            tps = segmenter.ticks_per_second
            ctx = video.codec_context
            health = HealthMeter(
                t.camera_id, t.stream, tps, self.config.health_interval_s, self.clock.now
            )
            health.width, health.height = ctx.width, ctx.height
            live = self.live
            if live is not None:
                live.set_source(ctx.name, ctx.width, ctx.height, ctx.extradata)
            self._set_state(ConnState.RECORDING)
            # The per-packet path runs 25 times a second per stream with the GIL held:
            # locals only, and the wall clock read once per segment, not per packet.
            monotonic = self.clock.monotonic
            stopping = self._stop.is_set
            push = segmenter.push
            codec = ctx.name
            run_mono0 = monotonic()
            for packet in container.demux(video):
                if stopping():
                    cause = GapCause.SHUTDOWN
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
                keyframe = packet.is_keyframe
                if live is not None and live.active:
                    pts = dts if packet.pts is None else packet.pts
                    live.publish(bytes(packet), pts * CLOCK_RATE // tps, keyframe)
                d = push(dts, keyframe, size)
                if d.closed is not None and seg is not None:
                    self._close_segment(seg, d.closed, tps)
                    seg = None
                    if d.discontinuity is not None:
                        end = run_wall0 + _dur(d.closed.end_dts - run_dts0, tps)
                        self._end_run(run_id, end, d.discontinuity)
                if d.action is Action.DROP:
                    continue
                if d.new_run:
                    run_id = new_run_id()
                    run_wall0 = self.clock.now()
                    run_mono0 = monotonic()
                    run_dts0 = dts
                    self._begin_run(run_id, run_wall0)
                    health.run_started()
                    self.backoff.reset()
                if d.action is not Action.WRITE:  # START or CUT: a new segment
                    meta = SegmentMeta(
                        camera_id=t.camera_id,
                        tenant=t.tenant,
                        stream=t.stream,
                        run_id=run_id,
                        start_at=run_wall0 + _dur(dts - run_dts0, tps),
                        run_start_at=run_wall0,
                        media_start_90k=(dts - run_dts0) * TICKS_PER_SECOND // tps,
                        codec=ctx.name,
                        width=ctx.width,
                        height=ctx.height,
                    )
                    seg = SegmentFile(self.spool_dir, meta, video, self.config.fragment_interval_s)
                assert seg is not None
                if packet.pts is None:
                    packet.pts = dts
                seg.write(packet)
                self.frames_written += 1
                if d.sync:
                    seg.sync()
                sample = health.add(monotonic() - run_mono0, dts - run_dts0, keyframe, size)
                if sample is not None:
                    self.committer.put(sample)
        except (av.FFmpegError, OSError) as err:
            cause = classify(err, received)
            logger.info("%s/%s: stream ended: %s", t.camera_id, t.stream, err)
        finally:
            closed = segmenter.end()
            if seg is not None and closed is not None:
                self._close_segment(seg, closed, segmenter.ticks_per_second)
            if closed is not None:
                end = run_wall0 + _dur(closed.end_dts - run_dts0, segmenter.ticks_per_second)
                self._end_run(run_id, end, cause)
            container.close()
        return cause

    # -- ledger --------------------------------------------------------------------

    def _begin_run(self, run_id: int, start_at: datetime) -> None:
        t = self.target
        self.committer.put(RunOpened(run_id, t.camera_id, t.stream, start_at))
        if self._last_end is not None:
            end_at, cause = self._last_end
            if start_at > end_at:
                self.committer.put(
                    Gap(t.camera_id, t.stream, end_at, start_at, cause or GapCause.SHUTDOWN)
                )
        self._last_end = None

    def _end_run(self, run_id: int, end_at: datetime, cause: GapCause) -> None:
        self.committer.put(RunClosed(run_id, end_at, cause))
        self._last_end = (end_at, cause)

    def _close_segment(self, seg: SegmentFile, summary: SegmentSummary, tps: int) -> None:
        try:
            closed = seg.close(summary.frames, summary.duration_ticks * TICKS_PER_SECOND // tps)
        except (av.FFmpegError, OSError) as err:
            logger.error("%s: could not close segment %s: %s", seg.meta.camera_id, seg.partial, err)
            seg.abort()
            return
        self.committer.put(closed)


def _dur(ticks: int, tps: int) -> timedelta:
    return timedelta(microseconds=ticks * 1_000_000 // tps)
