"""The desk's suppression rules against real PostgreSQL (migration 0012): maintenance
windows (technical faults not raised; analytics alerts recorded closed) and flapping
faults held open. The store is driven directly, as the desk's thread does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from tests.integration.test_alert_desk import _event
from vms.alerts.store import AlertStore, EventRow, Fault
from vms.alerts.suppression import FlapSettings, flapping
from vms.db.audit import verify
from vms.db.index import PgSegmentIndex
from vms.domain.ports import CameraRow

pytestmark = pytest.mark.integration


def _rows(pool: ConnectionPool, sql: str, *args: object) -> list[tuple[Any, ...]]:
    with pool.connection() as conn:
        return conn.execute(sql, args).fetchall()


def _window(pool: ConnectionPool, camera: str, start: datetime, end: datetime) -> int:
    with pool.connection() as conn:
        row = conn.execute(
            "INSERT INTO camera_maintenance (tenant_id, camera_id, from_at, to_at, reason, "
            "created_by, created_at) VALUES ('commune-a', %s, %s, %s, 'Nettoyage', 'tech', "
            "now()) RETURNING id",
            (camera, start, end),
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_flapping_rule() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    s = FlapSettings(count=3, window_s=600)
    recent = [now - timedelta(minutes=m) for m in (1, 4, 9)]
    assert flapping(recent, now, s)
    assert not flapping(recent[:2], now, s)
    assert not flapping([*recent[:2], now - timedelta(minutes=11)], now, s)
    assert not flapping(recent, now, FlapSettings(count=0))


def test_maintenance_suppresses_faults_and_records_analytics_alerts(
    pg_index: PgSegmentIndex,
) -> None:
    pool = pg_index.pool
    pg_index.upsert_camera(CameraRow("cam0", "commune-a", "Parvis", 15))
    store = AlertStore(pool)
    now = datetime.now(UTC)
    window = _window(pool, "cam0", now - timedelta(minutes=1), now + timedelta(hours=1))

    assert store.raise_fault(Fault("cam0", "flou", "Image floue", now), now) == (None, None)
    assert _rows(pool, "SELECT count(*) FROM alerts") == [(0,)]
    assert _rows(pool, "SELECT count(*) FROM tickets") == [(0,)]

    event_id = _event(pool, "cam0", "intrusion", now, notify=False)
    ev = store.event(event_id)
    assert isinstance(ev, EventRow)
    alert_id = store.create_event_alert(ev, now)
    assert _rows(pool, "SELECT state, qualification, closed_by, suppressed_by, report FROM "
                 "alerts WHERE id = %s", alert_id) == [
        ("cloturee", "technique", "systeme", window,
         "Levée pendant une maintenance de la caméra : Nettoyage")
    ]  # fmt: skip
    history = "SELECT action, to_state FROM alert_history WHERE alert_id = %s ORDER BY id"
    assert _rows(pool, history, alert_id) == [("create", "nouvelle"), ("close", "cloturee")]
    # after the window, faults are raised again
    later = now + timedelta(hours=2)
    alert, ticket = store.raise_fault(Fault("cam0", "flou", "Image floue", later), later)
    assert alert is not None and ticket is not None
    with pool.connection() as conn:
        assert verify(conn)[1] is None


def test_a_flapping_fault_is_held_open(pg_index: PgSegmentIndex) -> None:
    pool = pg_index.pool
    pg_index.upsert_camera(CameraRow("cam0", "commune-a", "Parvis", 15))
    store = AlertStore(pool, FlapSettings(count=3, window_s=600))
    t = datetime.now(UTC)
    for i in range(2):  # twice raised and cleared: closed each time
        at = t + timedelta(minutes=2 * i)
        store.raise_fault(Fault("cam0", "flou", "Image floue", at), at)
        closed, _ = store.clear_fault("cam0", "flou", "image nette", at + timedelta(minutes=1))
        assert closed is not None
    at = t + timedelta(minutes=4)
    alert, _ = store.raise_fault(Fault("cam0", "flou", "Image floue", at), at)
    assert store.clear_fault("cam0", "flou", "image nette", at + timedelta(seconds=30)) == (
        None, None)  # fmt: skip
    assert store.clear_fault("cam0", "flou", "image nette", at + timedelta(seconds=40)) == (
        None, None)  # fmt: skip
    assert _rows(pool, "SELECT state FROM alerts WHERE id = %s", alert) == [("nouvelle",)]
    assert _rows(pool, "SELECT action FROM alert_history WHERE alert_id = %s ORDER BY id",
                 alert) == [("create",), ("instable",)]  # fmt: skip
    # raised again while held open: nothing new
    again = at + timedelta(minutes=1)
    assert store.raise_fault(Fault("cam0", "flou", "Image floue", again), again)[0] is None
    assert _rows(pool, "SELECT count(*) FROM alerts") == [(3,)]
