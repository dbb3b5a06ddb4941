"""Motion gating: how many detector calls the gate saves, and what the gate costs.

    .venv/bin/python benchmarks/motion_gating.py [--source var/footage/vtest.avi]
        [--quiet-seconds 60] [--periodic-s 10] [--width 320]

Two scenes, both at the source's frame rate: the busy plaza of ``vtest.avi`` and a quiet
scene built from its first frame repeated with sensor-like noise (sigma 3). For each:
frames checked, frames passed to inference, CPU milliseconds per frame of the gate
(process time, the frame decode and the noise synthesis excluded), and detector calls
saved against the named baseline "ungated" (every frame goes to the detector), counted
in the same run. No model is timed: the saving is in calls. Correctness is checked in
the timed loop: the quiet scene passes only periodic frames, the plaza passes >= 90 %.

Prints a table, writes benchmarks/results/motion_gating.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2
import numpy as np

from analytics.motion import MotionGate
from vms.sim.footage import DEFAULT_SOURCE


def footage(source: Path) -> tuple[Iterator[Any], float]:
    cap = cv2.VideoCapture(str(source))
    if not cap.isOpened():
        sys.exit(f"cannot read {source}: run scripts/setup.sh")
    fps = cap.get(cv2.CAP_PROP_FPS) or 10.0

    def frames() -> Iterator[Any]:
        while True:
            ok, frame = cap.read()
            if not ok:
                cap.release()
                return
            yield frame

    return frames(), fps


def quiet(source: Path, seconds: float) -> tuple[Iterator[Any], float]:
    frames, fps = footage(source)
    first = next(frames).astype(np.float32)
    rng = np.random.default_rng(5)

    def gen() -> Iterator[Any]:
        for _ in range(int(seconds * fps)):
            noise = rng.normal(0, 3.0, first.shape).astype(np.float32)
            yield np.clip(first + noise, 0, 255).astype(np.uint8)

    return gen(), fps


def run(name: str, frames: Iterator[Any], fps: float, args: argparse.Namespace) -> dict[str, Any]:
    gate = MotionGate(name, width=args.width, periodic_s=args.periodic_s)
    cpu_s = 0.0
    ungated_calls = 0
    for i, frame in enumerate(frames):
        t0 = time.process_time()
        decision = gate.check(frame, i / fps)
        cpu_s += time.process_time() - t0
        ungated_calls += 1
        if name == "quiet" and decision.reason == "mouvement":
            sys.exit(f"quiet scene: motion reported at frame {i}: {decision}")
    c = gate.counters
    if name == "plaza" and c.frames_passed < 0.9 * c.frames_seen:
        sys.exit(f"plaza: only {c.frames_passed}/{c.frames_seen} frames passed")
    return {
        "scene": name,
        "fps": fps,
        "frames_checked": c.frames_seen,
        "frames_passed": c.frames_passed,
        "passed_motion": c.passed_motion,
        "passed_periodic": c.passed_periodic,
        "gate_cpu_ms_per_frame": round(1000 * cpu_s / max(1, c.frames_seen), 3),
        "calls_ungated": ungated_calls,
        "calls_saved": ungated_calls - c.frames_passed,
        "calls_saved_ratio": round(1 - c.frames_passed / max(1, ungated_calls), 4),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    p.add_argument("--quiet-seconds", type=float, default=60.0)
    p.add_argument("--periodic-s", type=float, default=10.0)
    p.add_argument("--width", type=int, default=320)
    p.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "motion_gating.json"
    )
    args = p.parse_args()
    rows = [
        run("plaza", *footage(args.source), args),
        run("quiet", *quiet(args.source, args.quiet_seconds), args),
    ]
    print(
        f"{'scene':8} {'checked':>8} {'passed':>7} {'motion':>7} {'period.':>7} "
        f"{'ms/frame':>9} {'saved':>7}"
    )
    for r in rows:
        print(
            f"{r['scene']:8} {r['frames_checked']:8d} {r['frames_passed']:7d} "
            f"{r['passed_motion']:7d} {r['passed_periodic']:7d} "
            f"{r['gate_cpu_ms_per_frame']:9.2f} {100 * r['calls_saved_ratio']:6.1f}%"
        )
    result = {
        "benchmark": "motion_gating",
        "baseline": "ungated: every frame goes to the detector",
        "source": args.source.name,
        "width": args.width,
        "periodic_s": args.periodic_s,
        "opencv": cv2.__version__,
        "scenes": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
