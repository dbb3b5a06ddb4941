"""Synthetic recordings for the export tests and benchmark: an H.264 elementary stream
(the simulator's footage, or a test pattern) cut into 4-s fragmented-MP4 segments with
the recorder's muxer options, stamped and indexed as the recorder would (runs, wall
times, gaps), and written under a directory laid out as a filesystem replica.

Segments are built without encoding: the stream's access units are copied, looping
over the source; identical segments (the loop repeats) are muxed once.
"""

from __future__ import annotations

import hashlib
import io
import math
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from vms.domain.model import TICKS_PER_SECOND, Gap, GapCause, SegmentRecord
from vms.errors import unavailable

# what ingest.spool.SegmentFile uses (the recorder's segments)
_FRAGMENTED = {"movflags": "frag_keyframe+empty_moov+default_base_moof", "frag_duration": "1000000"}


def encode_test_pattern(
    target: Path, seconds: int = 8, size: str = "320x180", fps: int = 25, gop: int = 25
) -> Path:
    """A camera-like H.264 stream (no B-frames, closed GOPs, parameter sets before each
    IDR) of ffmpeg's ``testsrc2`` pattern, encoded once with the ffmpeg CLI."""
    if target.exists() and target.stat().st_size:
        return target
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise unavailable("ffmpeg est introuvable")
    tmp = target.with_suffix(".tmp")
    subprocess.run(
        [ffmpeg, "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi",
         "-i", f"testsrc2=size={size}:rate={fps}", "-t", str(seconds),
         "-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "main", "-bf", "0",
         "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0",
         "-x264-params", "repeat-headers=1", "-pix_fmt", "yuv420p", "-f", "h264", str(tmp)],
        check=True,
    )  # fmt: skip
    tmp.replace(target)
    return target


@dataclass(frozen=True, slots=True)
class Run:
    """A run of the plan: starts ``start_s`` after the recording's origin."""

    start_s: float
    segments: int


@dataclass(slots=True)
class Recording:
    segments: list[SegmentRecord] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)

    @property
    def frames(self) -> int:
        return sum(s.frames for s in self.segments)


class SegmentFactory:
    """Cuts an H.264 Annex-B stream into segments of ``segment_s`` seconds."""

    def __init__(self, h264: Path, segment_s: float = 4.0) -> None:
        self._input = av.open(str(h264), "r", format="h264")
        self.stream = self._input.streams.video[0]
        rate = self.stream.average_rate or self.stream.guessed_rate or Fraction(25)
        self.fps = Fraction(rate)
        self.frame_ticks = int(TICKS_PER_SECOND / self.fps)
        self.units: list[tuple[bytes, bool]] = [
            (bytes(p), bool(p.is_keyframe)) for p in self._input.demux(self.stream) if p.size
        ]
        self.segment_frames = round(segment_s * self.fps)
        keys = [i for i, (_, k) in enumerate(self.units) if k]
        if not keys or keys[0] != 0:
            raise ValueError(f"{h264}: does not start with a keyframe")
        gop = keys[1] - keys[0] if len(keys) > 1 else len(self.units)
        if self.segment_frames % gop or len(self.units) % gop:
            raise ValueError(f"{h264}: segments must hold whole GOPs (GOP of {gop} frames)")
        self._cache: dict[int, bytes] = {}
        self.width = self.stream.codec_context.width
        self.height = self.stream.codec_context.height

    def close(self) -> None:
        self._input.close()

    def __enter__(self) -> SegmentFactory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def segment(self, first_frame: int) -> bytes:
        """The fMP4 bytes of the segment starting at frame ``first_frame`` of the loop."""
        start = first_frame % len(self.units)
        if start not in self._cache:
            self._cache[start] = self._mux(start)
        return self._cache[start]

    def _mux(self, start: int) -> bytes:
        buf = io.BytesIO()
        with av.open(buf, "w", format="mp4", options=_FRAGMENTED) as out:
            stream: Any = out.add_stream_from_template(self.stream)
            stream.time_base = Fraction(1, TICKS_PER_SECOND)
            for i in range(self.segment_frames):
                data, key = self.units[(start + i) % len(self.units)]
                packet = av.Packet(data)
                packet.pts = packet.dts = i * self.frame_ticks
                packet.duration = self.frame_ticks
                packet.time_base = Fraction(1, TICKS_PER_SECOND)
                packet.is_keyframe = key
                packet.stream = stream
                out.mux(packet)
        return buf.getvalue()


def _key(tenant: str, camera_id: str, start_at: datetime, run_id: int) -> str:
    stem = start_at.strftime("%Y%m%dT%H%M%S") + f".{start_at.microsecond:06d}Z"
    return f"{tenant}/{camera_id}/main/{start_at:%Y/%m/%d}/{stem}-r{run_id}.mp4"


def record(
    factory: SegmentFactory,
    replica_root: Path,
    camera_id: str,
    origin: datetime,
    runs: Sequence[Run],
    *,
    tenant: str = "commune-a",
    replica: str = "a",
    cause: GapCause = GapCause.STALL,
    encrypt: Callable[[bytes], bytes] | None = None,
    write: bool = True,
) -> Recording:
    """Write the segments of ``runs`` under ``replica_root`` (keys as the recorder
    names them) and return their index records and the gap ledger between runs."""
    out = Recording()
    loop_frame = 0
    prev_end: datetime | None = None
    for n, run in enumerate(runs):
        run_id = 1_000 + n
        run_start = origin + timedelta(seconds=run.start_s)
        if prev_end is not None and run_start > prev_end:
            out.gaps.append(Gap(camera_id, "main", prev_end, run_start, cause))
        media = 0
        for _ in range(run.segments):
            plain = factory.segment(loop_frame)
            stored = encrypt(plain) if encrypt is not None else plain
            frames = factory.segment_frames
            start_at = run_start + _ticks(media)
            end_at = run_start + _ticks(media + frames * factory.frame_ticks)
            key = _key(tenant, camera_id, start_at, run_id)
            if write:
                path = replica_root / key
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(stored)
            out.segments.append(
                SegmentRecord(
                    camera_id=camera_id, stream="main", start_at=start_at, end_at=end_at,
                    media_start_90k=media, duration_90k=frames * factory.frame_ticks,
                    frames=frames, bytes=len(stored),
                    sha256=hashlib.sha256(stored).hexdigest(), key=key, run_id=run_id,
                    replicas=(replica,), encrypted=encrypt is not None, codec="h264",
                    width=factory.width, height=factory.height,
                )
            )  # fmt: skip
            media += frames * factory.frame_ticks
            loop_frame += frames
        prev_end = run_start + _ticks(media)
    return out


def _ticks(ticks: int) -> timedelta:
    return timedelta(microseconds=ticks * 1_000_000 // TICKS_PER_SECOND)


def runs_with_hole(total_s: float, hole_s: float, segment_s: float = 4.0) -> list[Run]:
    """Two runs covering ``total_s`` with a hole of ``hole_s`` in the middle."""
    first = math.floor((total_s - hole_s) / 2 / segment_s)
    second_start = first * segment_s + hole_s
    second = math.floor((total_s - second_start) / segment_s)
    return [Run(0.0, first), Run(second_start, second)]
