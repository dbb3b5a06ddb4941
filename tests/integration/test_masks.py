"""Privacy masks (LAW-09) end to end: a simulated camera filming pedestrians, a mask over
part of its picture; what is recorded (decoded back from the replicas) and what the live
feed hands to viewers must show a uniform grey there, while the rest of the picture
moves. The unmasked copy ("-brut") is recorded only when configured; a camera without
masks is still copied byte for byte."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import pytest

from ingest.committer import Committer
from ingest.live.hub import LiveFeed, LiveFrame, LiveHub
from ingest.live.puller import OnDemandPuller
from ingest.masks import MASK_VALUE, MaskingTranscoder, Polygon, rasterise
from ingest.recorder import StreamRecorder, StreamTarget
from tests.integration.harness import FAST
from vms.db.index import PgSegmentIndex
from vms.domain.clock import SystemClock
from vms.domain.model import SegmentRecord
from vms.domain.ports import BlobStore, CameraRow
from vms.media.nal import nal_units
from vms.sim.launcher import SimCameras
from vms.storage.fs import FsBlobStore

pytestmark = pytest.mark.integration

# over the middle of the plaza, where people walk
MASK: Polygon = ((0.30, 0.35), (0.62, 0.30), (0.70, 0.75), (0.35, 0.80))
SHRINK_PX = 6  # compression blurs the polygon's border: test its interior
TOLERANCE = 12  # quantisation noise around the flat grey


def stores(tmp_path: Path) -> list[BlobStore]:
    out: list[BlobStore] = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        out.append(FsBlobStore(name, tmp_path / name))
    return out


def interior(polygon: Polygon, width: int, height: int, shrink: int) -> list[tuple[int, int, int]]:
    """(row, start, end) of the luma pixels at least ``shrink`` pixels inside a convex
    polygon (its centre-sampled raster, eroded)."""
    rows = rasterise([polygon], width, height, margin_px=0)
    out = []
    for y in range(shrink, height - shrink):
        band = rows[y - shrink : y + shrink + 1]
        if not all(len(r) == 1 for r in band):
            continue
        start = max(r[0][0] for r in band) + shrink
        end = min(r[0][1] for r in band) - shrink
        if end > start:
            out.append((y, start, end))
    return out


def luma(frame: Any) -> tuple[bytes, int]:
    plane = frame.planes[0]
    return bytes(plane), plane.line_size


def masked_values(frame: Any, polygon: Polygon = MASK) -> tuple[int, int]:
    """(min, max) of the luma inside the polygon's interior."""
    data, stride = luma(frame)
    lo, hi = 255, 0
    for y, a, b in interior(polygon, frame.width, frame.height, SHRINK_PX):
        row = data[y * stride + a : y * stride + b]
        lo, hi = min(lo, min(row)), max(hi, max(row))
    return lo, hi


def is_masked(frame: Any) -> bool:
    lo, hi = masked_values(frame)
    return lo >= MASK_VALUE - TOLERANCE and hi <= MASK_VALUE + TOLERANCE


def changed_outside(a: Any, b: Any) -> float:
    """Share of the pixels above and below the mask that changed by more than 24 levels."""
    (da, stride), (db, _) = luma(a), luma(b)
    rows = list(range(0, a.height * 25 // 100)) + list(range(a.height * 85 // 100, a.height))
    changed = total = 0
    for y in rows:
        ra = da[y * stride : y * stride + a.width]
        rb = db[y * stride : y * stride + a.width]
        changed += sum(1 for p, q in zip(ra, rb, strict=True) if abs(p - q) > 24)
        total += a.width
    return changed / total


def decode_file(data: bytes, tmp: Path) -> list[Any]:
    path = tmp / "decode.mp4"
    path.write_bytes(data)
    with av.open(str(path)) as container:
        return list(container.decode(video=0))


def decode_annexb(frames: list[LiveFrame]) -> list[Any]:
    decoder = av.CodecContext.create("h264", "r")
    out = []
    for f in frames:
        out += decoder.decode(av.Packet(f.data))
    return out


async def _collect(feed: LiveFeed, count: int, timeout_s: float) -> list[LiveFrame]:
    sub = feed.subscribe()
    try:
        async with asyncio.timeout(timeout_s):
            return [await sub.get() for _ in range(count)]
    finally:
        sub.close()


def watch(feed: LiveFeed, count: int, timeout_s: float = 30.0) -> list[LiveFrame]:
    """What a viewer of ``feed`` receives: ``count`` access units from a keyframe."""
    return asyncio.run(_collect(feed, count, timeout_s))


class Recorder:
    """One StreamRecorder with a real committer, index and replicas."""

    def __init__(
        self, index: PgSegmentIndex, tmp: Path, target: StreamTarget, live: LiveFeed | None
    ) -> None:
        index.upsert_camera(CameraRow(target.camera_id, target.tenant, target.camera_id, 15))
        self.index = index
        self.replicas = stores(tmp)
        self.committer = Committer(index, self.replicas, SystemClock(), retry_s=0.2)
        self.recorder = StreamRecorder(
            target, FAST, tmp / "spool", self.committer, SystemClock(), live=live
        )

    def __enter__(self) -> Recorder:
        self.committer.start()
        self.recorder.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.recorder.stop()
        self.recorder.join(10)
        self.committer.stop(drain=True)

    def segments(self, stream: str) -> list[SegmentRecord]:
        camera = self.recorder.target.camera_id
        return [s for s in self.index.segments(camera) if s.stream == stream]

    def frames(self, segments: list[SegmentRecord], tmp: Path) -> list[list[Any]]:
        out = []
        for s in segments:
            data = self.replicas[0].get(s.key)
            assert hashlib.sha256(data).hexdigest() == s.sha256
            frames = decode_file(data, tmp)
            assert len(frames) == s.frames, s.key
            out.append(frames)
        return out


def test_masked_camera_records_and_relays_only_masked_pictures(
    sim_cameras: Callable[..., SimCameras], pg_index: PgSegmentIndex, tmp_path: Path
) -> None:
    sim = sim_cameras(loop=1)
    feed = LiveHub().feed("cam0", "main")
    target = StreamTarget(
        "cam0", "commune-a", "main", sim.url(0), masks=(MASK,), keep_unmasked=True
    )
    with Recorder(pg_index, tmp_path, target, feed) as rec:
        live = watch(feed, 30)
        time.sleep(9)  # at least two 4 s segments
    # recorded, masked
    masked = rec.segments("main")
    assert len(masked) >= 2
    assert {(s.codec, s.width, s.height) for s in masked} == {("h264", 1280, 720)}
    pictures = rec.frames(masked, tmp_path)
    everything = [f for seg in pictures for f in seg]
    unmasked_frames = [i for i, f in enumerate(everything) if not is_masked(f)]
    assert unmasked_frames == [], [masked_values(everything[i]) for i in unmasked_frames[:5]]
    # ... while the rest of the picture moves (pedestrians)
    assert changed_outside(everything[0], everything[-1]) > 0.002
    # recorded as well, unmasked, under its own stream name
    raw = rec.segments("main-brut")
    assert len(raw) >= 2
    raw_frames = [f for seg in rec.frames(raw, tmp_path) for f in seg]
    lo, hi = masked_values(raw_frames[0])
    assert hi - lo > 60, (lo, hi)
    assert sum(1 for f in raw_frames if is_masked(f)) == 0
    # same pull, same pictures: one masked frame for each unmasked one
    assert abs(len(raw_frames) - len(everything)) <= 1
    assert rec.recorder.frames_by_stream["main"] == len(everything)
    # live: only the masked stream, parameter sets on the keyframe viewers start at
    assert live[0].keyframe and any(n[0] & 0x1F == 7 for n in nal_units(live[0].data))
    shown = decode_annexb(live)
    assert len(shown) == len(live)
    assert all(is_masked(f) for f in shown), [masked_values(f) for f in shown[:3]]
    assert changed_outside(shown[0], shown[-1]) >= 0  # decodable end to end
    # exported: the evidence bundle copies the masked recording
    from vms.evidence import ExportCamera, ExportRequest, Signer, build_bundle
    from vms.storage.reader import SegmentReader

    request = ExportRequest(
        id=1, cameras=(ExportCamera("cam0", "Mairie", "Place", "commune-a"),),
        start=masked[0].start_at, end=masked[-1].end_at, motive="contrôle des masques",
        service="justice", officer="Substitut", reference="RP 1", requested_by="test",
    )  # fmt: skip
    bundle = build_bundle(
        request, {"cam0": masked}, {}, SegmentReader(rec.replicas).read, tmp_path / "out",
        Signer.generate(),
    )  # fmt: skip
    exported = decode_file((bundle.directory / "videos" / "cam0.mp4").read_bytes(), tmp_path)
    assert len(exported) == len(everything)
    assert all(is_masked(f) for f in exported)


def test_masks_apply_to_an_unrecorded_stream_pulled_for_live(
    sim_cameras: Callable[..., SimCameras],
) -> None:
    sim = sim_cameras(loop=1)
    feed = LiveHub().feed("cam0", "sub")
    puller = OnDemandPuller(feed, sim.url(0, "sub"), FAST, linger_s=0.5, masks=(MASK,))
    try:
        live = watch(feed, 50)
    finally:
        puller.stop()
    assert (feed.codec, feed.width, feed.height) == ("h264", 640, 360)
    shown = decode_annexb(live)
    assert [(f.width, f.height) for f in shown[:1]] == [(640, 360)]
    assert all(is_masked(f) for f in shown), [masked_values(f) for f in shown[:3]]
    assert changed_outside(shown[0], shown[-1]) > 0.002


def test_without_keep_unmasked_nothing_unmasked_is_recorded(
    sim_cameras: Callable[..., SimCameras], pg_index: PgSegmentIndex, tmp_path: Path
) -> None:
    sim = sim_cameras(loop=1)
    target = StreamTarget("cam0", "commune-a", "main", sim.url(0, "sub"), masks=(MASK,))
    with Recorder(pg_index, tmp_path, target, None) as rec:
        time.sleep(6)
    assert {s.stream for s in pg_index.segments("cam0")} == {"main"}
    assert not (tmp_path / "spool" / "cam0" / "main-brut").exists()
    frames = [f for seg in rec.frames(rec.segments("main"), tmp_path) for f in seg]
    assert frames and all(is_masked(f) for f in frames)


def _pull_units(url: str, started: threading.Event, stop: threading.Event) -> Iterator[bytes]:
    options = {"rtsp_transport": "tcp", "analyzeduration": "200000"}
    with av.open(url, options=options, timeout=(10.0, 3.0)) as container:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            if packet.size:
                started.set()
                yield b"".join(nal_units(bytes(packet)))
            if stop.is_set():
                return


def test_camera_without_masks_is_recorded_byte_for_byte(
    sim_cameras: Callable[..., SimCameras], pg_index: PgSegmentIndex, tmp_path: Path
) -> None:
    sim = sim_cameras(loop=1)
    # a second client of the same (shared) camera sees exactly what the recorder gets
    sent: set[bytes] = set()
    started, stop = threading.Event(), threading.Event()
    viewer = threading.Thread(
        target=lambda: sent.update(_pull_units(sim.url(0), started, stop)), daemon=True
    )
    viewer.start()
    assert started.wait(15)
    target = StreamTarget("cam0", "commune-a", "main", sim.url(0))
    with Recorder(pg_index, tmp_path, target, LiveHub().feed("cam0", "main")) as rec:
        time.sleep(6)
    stop.set()
    viewer.join(15)
    segments = rec.segments("main")
    assert segments and {s.stream for s in pg_index.segments("cam0")} == {"main"}
    samples = 0
    for s in segments:
        path = tmp_path / "passthrough.mp4"
        path.write_bytes(rec.replicas[0].get(s.key))
        with av.open(str(path)) as container:
            for packet in container.demux(video=0):
                if packet.size:
                    assert b"".join(nal_units(bytes(packet))) in sent
                    samples += 1
    assert samples == sum(s.frames for s in segments) > 100


# -- the transcoder on its own ---------------------------------------------------------


def _clip(path: Path, frames: int, gop: int, b_frames: int = 0) -> None:
    """A small H.264 clip with a moving pattern and a keyframe every ``gop`` frames."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
        stream.codec_context.gop_size = gop
        stream.codec_context.max_b_frames = b_frames
        stream.options = {"sc_threshold": "0"}
        for i in range(frames):
            frame = av.VideoFrame(160, 96, "yuv420p")
            for n, plane in enumerate(frame.planes):
                size = plane.line_size * plane.height
                plane.update(bytes((x * 3 + i * 5 + n * 40) % 256 for x in range(size)))
            frame.pts = i
            frame.time_base = Fraction(1, 25)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def test_transcoder_keeps_timestamps_and_keyframes_and_restarts_on_a_clock_reset(
    tmp_path: Path,
) -> None:
    _clip(tmp_path / "clip.mp4", 40, gop=10)
    whole: Polygon = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))
    with av.open(str(tmp_path / "clip.mp4")) as container:
        source = container.streams.video[0]
        packets = [p for p in container.demux(source) if p.size]
        masker = MaskingTranscoder("cam0", "main", [whole], source)
        assert masker.extradata and any(n[0] & 0x1F == 7 for n in nal_units(masker.extradata))
        assert masker.template is not None and masker.template.codec_context.width == 160
        keys_in = [p.is_keyframe for p in packets]
        pts_in = [p.pts for p in packets]
        out = [q for p in packets for q in masker.transcode(p)]
        # one packet out per packet in: same pts, dts = pts, keyframes where the camera's
        assert [q.pts for q in out] == pts_in
        assert [q.dts for q in out] == pts_in
        assert [q.is_keyframe for q in out] == keys_in
        for q in out:
            units = nal_units(bytes(q))
            assert bytes(q).startswith((b"\x00\x00\x00\x01", b"\x00\x00\x01"))  # Annex-B
            assert any(n[0] & 0x1F == 7 for n in units) == q.is_keyframe
        # the camera's clock goes back: a new encoder, starting on a keyframe
        template = masker.template
        again = [q for p in packets[:10] for q in masker.transcode(p)]
        assert masker.restarts == 1 and masker.template is not template
        assert again[0].is_keyframe and [q.pts for q in again] == pts_in[:10]
        decoder = av.CodecContext.create("h264", "r")
        pictures = [f for q in out + again for f in decoder.decode(q)]
        assert len(pictures) == 50
        for f in pictures:  # the whole picture is masked
            data, stride = luma(f)
            values = {v for y in range(96) for v in data[y * stride : y * stride + 160]}
            assert min(values) >= MASK_VALUE - TOLERANCE and max(values) <= MASK_VALUE + TOLERANCE
        masker.close()


def test_transcoder_takes_a_camera_stream_with_b_frames(tmp_path: Path) -> None:
    _clip(tmp_path / "clip.mp4", 30, gop=10, b_frames=2)
    corner: Polygon = ((0.0, 0.0), (0.5, 0.0), (0.0, 0.5))
    with av.open(str(tmp_path / "clip.mp4")) as container:
        source = container.streams.video[0]
        packets = [p for p in container.demux(source) if p.size]
        assert any(p.pts != p.dts for p in packets)  # reordered
        masker = MaskingTranscoder("cam0", "main", [corner], source)
        out = [q for p in packets for q in masker.transcode(p)]
        masker.close()
    # pictures come out in display order, without B-frames: dts = pts, increasing
    shown = sorted(p.pts for p in packets if p.pts is not None)
    assert [q.pts for q in out] == [q.dts for q in out] == shown[: len(out)]
    assert len(out) >= len(packets) - 3 and out[0].is_keyframe
