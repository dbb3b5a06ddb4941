"""CPU cost of privacy masks (LAW-09): one camera stream masked by the ingest worker
(decode, fill the polygons, libx264 encode, then the usual recording path) against the
passthrough recorder of the same camera stream, measured in the same run against the
same simulated camera (pedestrian footage, main 1280x720 and sub 640x360, 25 fps).

    .venv/bin/python benchmarks/mask_cost.py --seconds 30

Each configuration is a worker process (this script with ``--worker``) that records
one stream with ``StreamRecorder`` into a temporary spool, without database or
replicas (the committer only counts and deletes closed segments), so /proc gives the
CPU of that stream alone. All workers run at once, after a warm-up. Correctness is
checked on what the timed window produced: every worker must have written about
25 frames per second, the last masked segment decoded back must be masked, and the
last unmasked ("-brut") one must not be.

Prints a table, writes benchmarks/results/mask_cost.json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.procstat import total
from vms.sim.launcher import stop_processes

WARMUP_S = 10
FPS = 25
MASK = ((0.30, 0.35), (0.62, 0.30), (0.70, 0.75), (0.35, 0.80))
SHRINK_PX = 6
TOLERANCE = 12
MODES = ("passthrough", "masked", "masked+brut")


# -- worker -------------------------------------------------------------------------------


class _CountingCommitter:
    """Stands in for the committer: counts closed segments, keeps the last one of each
    stream (for the correctness check) and deletes the others."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.segments: dict[str, int] = {}
        self.bytes: dict[str, int] = {}
        self.duration_90k: dict[str, int] = {}
        self.last: dict[str, str] = {}

    def put(self, item: Any) -> None:
        from ingest.spool import ClosedSegment

        if not isinstance(item, ClosedSegment):
            return
        stream = item.meta.stream
        with self.lock:
            self.segments[stream] = self.segments.get(stream, 0) + 1
            self.bytes[stream] = self.bytes.get(stream, 0) + item.bytes
            self.duration_90k[stream] = self.duration_90k.get(stream, 0) + item.duration_90k
            previous = self.last.get(stream)
            self.last[stream] = str(item.path)
        if previous is not None:
            Path(previous).unlink()
            Path(previous).with_suffix(".json").unlink(missing_ok=True)


def _status(path: Path, rec: Any, committer: _CountingCommitter) -> None:
    with committer.lock:
        data = {
            "at": time.monotonic(),
            "frames": dict(rec.frames_by_stream),
            "segments": dict(committer.segments),
            "bytes": dict(committer.bytes),
            "duration_90k": dict(committer.duration_90k),
            "last": dict(committer.last),
        }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


def run_worker(args: argparse.Namespace) -> int:
    import ingest.masks
    from ingest.recorder import StreamRecorder, StreamTarget
    from vms.config import IngestConfig
    from vms.domain.clock import SystemClock

    ingest.masks.X264_PRESET = args.preset
    masks = () if args.mode == "passthrough" else (MASK,)
    target = StreamTarget(
        "bench",
        "bench",
        args.stream,
        args.url,
        masks=masks,
        keep_unmasked=args.mode.endswith("brut"),
    )
    committer = _CountingCommitter()
    config = IngestConfig.model_validate({})
    counting: Any = committer  # the recorder only calls put()
    rec = StreamRecorder(target, config, args.spool, counting, SystemClock())
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    rec.start()
    while not stop.wait(0.5):
        _status(args.status, rec, committer)
    rec.stop()
    rec.join(10)
    _status(args.status, rec, committer)
    return 0


# -- checks -------------------------------------------------------------------------------


def masked_interior(path: str, width: int, height: int) -> tuple[int, int]:
    """(min, max) luma, over every frame of a segment, inside the mask shrunk by a few
    pixels (compression blurs its border)."""
    import av

    from ingest.masks import rasterise

    rows = rasterise([MASK], width, height, margin_px=0)
    inside = []
    for y in range(SHRINK_PX, height - SHRINK_PX):
        band = rows[y - SHRINK_PX : y + SHRINK_PX + 1]
        if all(len(r) == 1 for r in band):
            a = max(r[0][0] for r in band) + SHRINK_PX
            b = min(r[0][1] for r in band) - SHRINK_PX
            if b > a:
                inside.append((y, a, b))
    lo, hi = 255, 0
    with av.open(path) as container:
        for frame in container.decode(video=0):
            plane = frame.planes[0]
            data, stride = bytes(plane), plane.line_size
            for y, a, b in inside:
                row = data[y * stride + a : y * stride + b]
                lo, hi = min(lo, min(row)), max(hi, max(row))
    return lo, hi


# -- driver -------------------------------------------------------------------------------


def _read(path: Path) -> dict[str, Any]:
    for _ in range(20):
        try:
            data: dict[str, Any] = json.loads(path.read_text())
            return data
        except (FileNotFoundError, json.JSONDecodeError):
            time.sleep(0.1)
    raise RuntimeError(f"no status from the worker: {path}")


def measure(url: str, stream: str, size: tuple[int, int], presets: list[str], seconds: float,
            tmp: Path) -> list[dict[str, Any]]:  # fmt: skip
    configs = [("passthrough", presets[0])]
    configs += [(mode, p) for p in presets for mode in MODES[1:]]
    workers = []
    for i, (mode, preset) in enumerate(configs):
        status = tmp / f"status-{i}.json"
        cmd = [
            sys.executable, __file__, "--worker", "--url", url, "--stream", stream,
            "--mode", mode, "--preset", preset, "--status", str(status),
            "--spool", str(tmp / f"spool-{i}"),
        ]  # fmt: skip
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
        workers.append((mode, preset, status, proc))
    try:
        time.sleep(WARMUP_S)
        before = [(total([p.pid]), _read(s)) for _, _, s, p in workers]
        time.sleep(seconds)
        after = [(total([p.pid]), _read(s)) for _, _, s, p in workers]
    finally:
        stop_processes(proc for *_, proc in workers)
    rows = []
    for (mode, preset, status, _), (u0, s0), (u1, s1) in zip(workers, before, after, strict=True):
        elapsed = s1["at"] - s0["at"]
        fps = (s1["frames"].get(stream, 0) - s0["frames"].get(stream, 0)) / elapsed
        seg_bytes = s1["bytes"].get(stream, 0)
        seg_s = s1["duration_90k"].get(stream, 0) / 90_000
        row: dict[str, Any] = {
            "stream": stream,
            "size": f"{size[0]}x{size[1]}",
            "mode": mode,
            "preset": preset if mode != "passthrough" else None,
            "cpu_pct_of_a_core": round(100 * (u1.cpu_s - u0.cpu_s) / elapsed, 2),
            "fps_recorded": round(fps, 2),
            "kbit_s_recorded": round(seg_bytes * 8 / seg_s / 1000) if seg_s else None,
        }
        final = _read(status)
        problems = []
        if fps < 0.9 * FPS:
            problems.append(f"only {fps:.1f} fps recorded")
        if mode != "passthrough":
            last = final["last"].get(stream)
            lo, hi = masked_interior(last, *size) if last else (0, 255)
            if not (lo >= 128 - TOLERANCE and hi <= 128 + TOLERANCE):
                problems.append(f"masked segment not masked: luma {lo}..{hi} in the mask")
        if mode.endswith("brut"):
            raw = final["last"].get(stream + "-brut")
            raw_fps = s1["frames"].get(stream + "-brut", 0) - s0["frames"].get(stream + "-brut", 0)
            if raw_fps / elapsed < 0.9 * FPS:
                problems.append("unmasked copy not recorded at full rate")
            lo, hi = masked_interior(raw, *size) if raw else (128, 128)
            if hi - lo < 40:
                problems.append(f"unmasked copy looks masked: luma {lo}..{hi}")
        row["problems"] = problems
        rows.append(row)
    base = rows[0]["cpu_pct_of_a_core"]
    for row in rows:
        row["cpu_ratio_vs_passthrough"] = (
            round(row["cpu_pct_of_a_core"] / base, 1) if base else None
        )
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--streams", nargs="+", default=["main", "sub"], choices=["main", "sub"])
    p.add_argument("--presets", nargs="+", default=["veryfast"], help="x264 presets to compare")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "mask_cost.json")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--url", help=argparse.SUPPRESS)
    p.add_argument("--stream", help=argparse.SUPPRESS)
    p.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)
    p.add_argument("--preset", default="veryfast", help=argparse.SUPPRESS)
    p.add_argument("--status", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--spool", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return run_worker(args)

    from ingest.masks import masked_fraction, rasterise
    from vms.sim.launcher import SimCameras

    sizes = {"main": (1280, 720), "sub": (640, 360)}
    results: list[dict[str, Any]] = []
    print(f"{'stream':>7} {'mode':>12} {'preset':>9} {'CPU % core':>10} {'ratio':>6} "
          f"{'fps':>6} {'kbit/s':>7}  problems")  # fmt: skip
    with tempfile.TemporaryDirectory() as d:
        sim = SimCameras(loop_cameras=1, port=0, log_path=Path(d) / "sim.log")
        with sim:
            for stream in args.streams:
                work = Path(d) / stream
                work.mkdir()
                rows = measure(sim.url(0, stream), stream, sizes[stream], args.presets,
                               args.seconds, work)  # fmt: skip
                for r in rows:
                    print(
                        f"{r['stream']:>7} {r['mode']:>12} {r['preset'] or '-':>9} "
                        f"{r['cpu_pct_of_a_core']:>10.2f} {r['cpu_ratio_vs_passthrough']:>6} "
                        f"{r['fps_recorded']:>6.1f} {r['kbit_s_recorded'] or '-':>7}  "
                        f"{'; '.join(r['problems']) or 'ok'}",
                        flush=True,
                    )
                results += rows
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "machine": {"cores": os.cpu_count()},
        "seconds": args.seconds,
        "warmup_s": WARMUP_S,
        "mask_share_of_picture": round(
            masked_fraction(rasterise([MASK], 1280, 720, margin_px=0), 1280), 3
        ),
        "results": results,
    }
    args.out.write_text(json.dumps(meta, indent=2))
    print(f"written {args.out}")
    return 1 if any(r["problems"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
