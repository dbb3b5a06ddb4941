"""Ingest cost per camera: our worker (`vms ingest`, one process, one thread per
stream, two replicas + index) against the baseline of Frigate and Viseron, one
`ffmpeg -rtsp_transport tcp -i URL -c copy -f segment` process per camera, measured
in the same run against the same simulated cameras.

    .venv/bin/python benchmarks/ingest_cost.py --cameras 8 32 64 --seconds 60

Prints a table, writes benchmarks/results/ingest_cost.json. Correctness is checked in
the timed window: both sides must have written segments for every camera.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.procstat import pids_matching, total
from vms.sim.launcher import SimCameras

WARMUP_S = 10


def _config(tmp: Path, urls: list[str]) -> Path:
    cams = "".join(
        f'\n[[cameras]]\nid = "cam{i:03d}"\ntenant = "commune-a"\nname = "cam {i}"\n'
        f'[[cameras.streams]]\nname = "main"\nurl = "{u}"\n'
        for i, u in enumerate(urls)
    )
    cfg = tmp / "vms.toml"
    cfg.write_text(f'data_dir = "{tmp / "data"}"\n[ingest]\nhealth_interval_s = 10\n{cams}')
    return cfg


def measure_ours(urls: list[str], seconds: float, tmp: Path) -> dict[str, float]:
    cfg = _config(tmp, urls)
    proc = subprocess.Popen(
        [sys.executable, "-m", "vms", "--log-level", "WARNING", "--config", str(cfg), "ingest"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        time.sleep(WARMUP_S)
        u0 = total([proc.pid])
        time.sleep(seconds)
        u1 = total([proc.pid])
        pg = total(pids_matching(str(tmp / "data" / "pg")))
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
    replica = tmp / "data" / "replica-a"
    recorded = {p.relative_to(replica).parts[1] for p in replica.rglob("*.mp4")}
    return {
        "cpu_s": u1.cpu_s - u0.cpu_s,
        "rss_bytes": u1.rss_bytes,
        "cameras_recorded": len(recorded),
        "postgres_rss_bytes": pg.rss_bytes,
    }


def measure_ffmpeg(urls: list[str], seconds: float, tmp: Path) -> dict[str, float]:
    ffmpeg = shutil.which("ffmpeg") or "ffmpeg"
    procs = []
    for i, url in enumerate(urls):
        out = tmp / f"ff{i:03d}"
        out.mkdir()
        procs.append(subprocess.Popen(
            [ffmpeg, "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url,
             "-c", "copy", "-an", "-f", "segment", "-segment_time", "4",
             "-reset_timestamps", "1", "-strftime", "1", str(out / "%Y%m%d%H%M%S.mp4")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))  # fmt: skip
    pids = [p.pid for p in procs]
    try:
        time.sleep(WARMUP_S)
        u0 = total(pids)
        time.sleep(seconds)
        u1 = total(pids)
    finally:
        for p in procs:
            p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
    recorded = sum(1 for i in range(len(urls)) if any((tmp / f"ff{i:03d}").glob("*.mp4")))
    return {"cpu_s": u1.cpu_s - u0.cpu_s, "rss_bytes": u1.rss_bytes, "cameras_recorded": recorded}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cameras", type=int, nargs="+", default=[8, 32, 64])
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--port", type=int, default=18554)
    p.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "ingest_cost.json"
    )
    args = p.parse_args()
    results = []
    print(
        f"{'cams':>5} {'ours cpu-s/cam-min':>19} {'ffmpeg cpu-s/cam-min':>21} {'ratio':>6} "
        f"{'ours RSS/cam MB':>16} {'ffmpeg RSS/cam MB':>18} {'cams/core (ours)':>17}"
    )
    for n in args.cameras:
        with SimCameras(loop_cameras=n, port=args.port) as sim:
            urls = [sim.url(i) for i in range(n)]
            with tempfile.TemporaryDirectory() as d1:
                ours = measure_ours(urls, args.seconds, Path(d1))
            with tempfile.TemporaryDirectory() as d2:
                base = measure_ffmpeg(urls, args.seconds, Path(d2))
        minutes = args.seconds / 60
        ours_pc = ours["cpu_s"] / n / minutes
        base_pc = base["cpu_s"] / n / minutes
        row = {
            "cameras": n,
            "seconds": args.seconds,
            "ours_cpu_s_per_camera_minute": round(ours_pc, 4),
            "ffmpeg_cpu_s_per_camera_minute": round(base_pc, 4),
            "cpu_ratio_ours_over_ffmpeg": round(ours_pc / base_pc, 3) if base_pc else None,
            "ours_rss_mb_per_camera": round(ours["rss_bytes"] / n / 2**20, 2),
            "ffmpeg_rss_mb_per_camera": round(base["rss_bytes"] / n / 2**20, 2),
            "ours_cameras_per_core": round(60 / ours_pc) if ours_pc else None,
            "ours_cameras_recorded": ours["cameras_recorded"],
            "ffmpeg_cameras_recorded": base["cameras_recorded"],
            "postgres_rss_mb": round(ours["postgres_rss_bytes"] / 2**20, 1),
        }
        results.append(row)
        print(
            f"{n:>5} {ours_pc:>19.3f} {base_pc:>21.3f} {row['cpu_ratio_ours_over_ffmpeg']:>6} "
            f"{row['ours_rss_mb_per_camera']:>16} {row['ffmpeg_rss_mb_per_camera']:>18} "
            f"{row['ours_cameras_per_core']:>17}",
            flush=True,
        )
        if ours["cameras_recorded"] != n or base["cameras_recorded"] != n:
            print(
                f"  WARNING: recorded cameras ours={ours['cameras_recorded']} "
                f"ffmpeg={base['cameras_recorded']} of {n}"
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"machine": {"cores": os.cpu_count()}, "results": results}
    args.out.write_text(json.dumps(meta, indent=2))
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
