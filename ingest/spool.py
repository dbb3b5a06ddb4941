"""The spool: the write-ahead directory where segments are recorded before they are
copied to the replicas and indexed.

Invariant (docs/design/recording.md): a frame that reached the worker is either in a
``.partial`` segment on disk (fsynced at least every fragment interval) or in memory
for less than that interval. Each segment has a JSON sidecar written and fsynced
before the first byte of media, so a crash leaves enough to recover and index it.

Files, under ``spool_dir/<camera>/<stream>/``:
- ``<stem>.json``      sidecar (camera, tenant, run, wall start, codec...)
- ``<stem>.partial``   segment being written (fragmented MP4, torn tail possible)
- ``<stem>.mp4``       closed segment waiting for the committer
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import av

from vms.media.mp4 import Mp4Error, parse_fragmented
from vms.storage.fs import fsync_dir

logger = logging.getLogger(__name__)

MUX_OPTIONS = {
    # Self-contained fragmented MP4 (CMAF-like): init segment first, then moof+mdat
    # fragments cut on keyframes and at least every frag_duration.
    "movflags": "frag_keyframe+empty_moov+default_base_moof",
    "flush_packets": "1",
}


@dataclass(frozen=True, slots=True)
class SegmentMeta:
    """What is known when a segment is opened (the sidecar's content)."""

    camera_id: str
    tenant: str
    stream: str
    run_id: int
    start_at: datetime
    run_start_at: datetime
    media_start_90k: int
    codec: str
    width: int
    height: int

    @property
    def stem(self) -> str:
        return self.start_at.strftime("%Y%m%dT%H%M%S") + f".{self.start_at.microsecond:06d}Z"

    @property
    def key(self) -> str:
        """Object key in the replicas: tenant/camera/stream/YYYY/MM/DD/<stem>-r<run>.mp4"""
        day = self.start_at.strftime("%Y/%m/%d")
        return f"{self.tenant}/{self.camera_id}/{self.stream}/{day}/{self.stem}-r{self.run_id}.mp4"

    def to_json(self) -> str:
        d: dict[str, Any] = asdict(self)
        d["start_at"] = self.start_at.isoformat()
        d["run_start_at"] = self.run_start_at.isoformat()
        return json.dumps(d)

    @classmethod
    def from_json(cls, text: str) -> SegmentMeta:
        d = json.loads(text)
        d["start_at"] = datetime.fromisoformat(d["start_at"]).astimezone(UTC)
        d["run_start_at"] = datetime.fromisoformat(d["run_start_at"]).astimezone(UTC)
        return cls(**d)


@dataclass(frozen=True, slots=True)
class ClosedSegment:
    meta: SegmentMeta
    path: Path
    frames: int
    duration_90k: int
    bytes: int

    @property
    def end_at(self) -> datetime:
        return self.meta.start_at + timedelta(microseconds=self.duration_90k * 1_000_000 // 90_000)


def _write_durable(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class SegmentFile:
    """One segment being written: PyAV's MP4 muxer copies packets (no transcoding)."""

    def __init__(
        self, spool_dir: Path, meta: SegmentMeta, template: Any, fragment_s: float
    ) -> None:
        self.meta = meta
        folder = spool_dir / meta.camera_id / meta.stream
        folder.mkdir(parents=True, exist_ok=True)
        self.sidecar = folder / f"{meta.stem}.json"
        self.partial = folder / f"{meta.stem}.partial"
        self.final = folder / f"{meta.stem}.mp4"
        _write_durable(self.sidecar, meta.to_json())
        fsync_dir(folder)
        options = dict(MUX_OPTIONS, frag_duration=str(round(fragment_s * 1_000_000)))
        self._out = av.open(str(self.partial), "w", format="mp4", options=options)
        self._stream = self._out.add_stream_from_template(template)
        self._fd: int | None = None
        self._synced_bytes = 0
        self._base_dts: int | None = None

    def write(self, packet: Any) -> None:
        if self._base_dts is None:
            self._base_dts = packet.dts
        packet.dts -= self._base_dts
        packet.pts -= self._base_dts
        packet.stream = self._stream
        self._out.mux_one(packet)
        if self._fd is None:
            self._fd = os.open(self.partial, os.O_RDONLY)

    def sync(self) -> None:
        """fsync what the muxer has flushed (whole fragments) since the last call."""
        if self._fd is None:
            return
        size = os.fstat(self._fd).st_size
        if size != self._synced_bytes:
            os.fsync(self._fd)
            self._synced_bytes = size

    def close(self, frames: int, duration_90k: int) -> ClosedSegment:
        self._out.close()
        if self._fd is None:
            self._fd = os.open(self.partial, os.O_RDONLY)
        os.fsync(self._fd)
        size = os.fstat(self._fd).st_size
        os.close(self._fd)
        self._fd = None
        os.replace(self.partial, self.final)
        fsync_dir(self.final.parent)
        return ClosedSegment(self.meta, self.final, frames, duration_90k, size)

    def abort(self) -> None:
        """Close after an error, keeping whatever complete fragments were written."""
        try:
            self._out.close()
        except (av.FFmpegError, OSError) as err:
            logger.warning("%s: closing segment after error: %s", self.meta.camera_id, err)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def recover(spool_dir: Path) -> list[ClosedSegment]:
    """Turn what a crash left in the spool into closed segments, oldest first.

    A ``.partial`` keeps its complete fragments (the torn tail is cut off); one with
    no complete fragment is deleted with its sidecar. ``.mp4`` files were closed but
    not yet committed. Sidecars without media are removed.
    """
    out: list[ClosedSegment] = []
    if not spool_dir.exists():
        return out
    for sidecar in sorted(spool_dir.glob("*/*/*.json")):
        meta = SegmentMeta.from_json(sidecar.read_text(encoding="utf-8"))
        partial = sidecar.with_suffix(".partial")
        final = sidecar.with_suffix(".mp4")
        if partial.exists() and not final.exists():
            data = partial.read_bytes()
            try:
                parsed = parse_fragmented(data)
            except Mp4Error as err:
                logger.warning("%s: unrecoverable spool file %s: %s", meta.camera_id, partial, err)
                parsed = None
            if parsed is None or not parsed.fragments:
                partial.unlink()
                sidecar.unlink()
                continue
            if parsed.torn_bytes:
                with open(partial, "r+b") as f:
                    f.truncate(parsed.complete_end)
                    f.flush()
                    os.fsync(f.fileno())
                logger.info(
                    "%s: recovered %s, %d torn bytes cut",
                    meta.camera_id,
                    partial,
                    parsed.torn_bytes,
                )
            os.replace(partial, final)
        if not final.exists():
            sidecar.unlink()
            continue
        data = final.read_bytes()
        try:
            parsed = parse_fragmented(data)
        except Mp4Error as err:
            logger.error("%s: closed spool file %s unreadable: %s", meta.camera_id, final, err)
            continue
        duration_90k = parsed.duration * 90_000 // max(parsed.timescale, 1)
        out.append(ClosedSegment(meta, final, parsed.samples, duration_90k, len(data)))
    out.sort(key=lambda c: c.meta.start_at)
    return out


def remove(segment: ClosedSegment) -> None:
    segment.path.unlink(missing_ok=True)
    segment.path.with_suffix(".json").unlink(missing_ok=True)
