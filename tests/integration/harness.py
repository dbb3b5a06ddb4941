"""Helpers shared by the ingest integration tests: run recorders in-process against
real servers, and read back what was recorded."""

from __future__ import annotations

import hashlib
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import av

from ingest.committer import Committer
from ingest.recorder import StreamRecorder, StreamTarget
from vms.config import IngestConfig
from vms.db.index import PgSegmentIndex
from vms.domain.clock import SystemClock
from vms.domain.model import SegmentRecord
from vms.domain.ports import BlobStore, CameraRow
from vms.media.sei import parse_counter_sei

FAST = IngestConfig(
    segment_duration_s=4, fragment_interval_s=1, stall_timeout_s=2, connect_timeout_s=2,
    reconnect_initial_s=0.1, reconnect_max_s=0.5, health_interval_s=5,
)  # fmt: skip


class Recording:
    """Recorders for some camera URLs, a committer, a real index and replicas."""

    def __init__(
        self,
        index: PgSegmentIndex,
        stores: list[BlobStore],
        spool: Path,
        urls: dict[str, str],
        config: IngestConfig = FAST,
    ) -> None:
        self.index = index
        self.stores = stores
        self.committer = Committer(index, stores, SystemClock(), retry_s=0.2)
        self.recorders = []
        for cam, url in urls.items():
            index.upsert_camera(CameraRow(cam, "commune-a", cam, 15))
            target = StreamTarget(cam, "commune-a", "main", url)
            self.recorders.append(
                StreamRecorder(target, config, spool, self.committer, SystemClock())
            )

    def __enter__(self) -> Recording:
        self.committer.start()
        for r in self.recorders:
            r.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        for r in self.recorders:
            r.stop()
        for r in self.recorders:
            r.join(10)
        self.committer.stop(drain=True)


def wait_for(cond: Callable[[], bool], timeout: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return cond()


def counters_in(data: bytes, tmp: Path) -> list[tuple[int, int, int]]:
    """(counter, camera wall µs, pts in 90 kHz) of every frame of an fMP4 segment."""
    path = tmp / "seg.mp4"
    path.write_bytes(data)
    out = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        tb = stream.time_base
        assert tb is not None
        for index, packet in enumerate(container.demux(stream)):
            if packet.size == 0:
                continue
            raw = bytes(packet)
            found = parse_counter_sei(raw)
            if found is None:
                keep = tmp / f"no-sei-{len(list(tmp.glob('no-sei-*')))}.mp4"
                keep.write_bytes(data)
                raise AssertionError(
                    f"frame {index} of a segment (kept in {keep}) lacks its counter SEI: "
                    f"{packet.size} bytes, key={packet.is_keyframe}, starts {raw[:24].hex()}"
                )
            pts = int((packet.pts or 0) * tb * 90_000)
            out.append((found[0], found[1], pts))
    return out


def recorded_counters(segments: list[SegmentRecord], store: BlobStore, tmp: Path) -> list[int]:
    counters: list[int] = []
    for s in sorted(segments, key=lambda s: s.start_at):
        data = store.get(s.key)
        assert hashlib.sha256(data).hexdigest() == s.sha256
        frames = counters_in(data, tmp)
        assert len(frames) == s.frames, f"{s.key}: index says {s.frames} frames"
        counters += [c for c, _, _ in frames]
    return counters


def ffprobe_frames(path: Path) -> int:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_packets", "-select_streams", "v:0",
         "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return int(out.stdout.strip())
