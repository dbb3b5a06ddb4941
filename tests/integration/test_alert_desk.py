"""The alert desk against real parts: PostgreSQL (events, alerts, tickets, audit
chain), and for the stream check a simulated RTSP camera behind a fault proxy
recorded by the real ingest recorders. Waits are on conditions and on the desk's
check counters, never on durations."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from tests.integration.harness import Recording, wait_for
from tests.integration.test_ingest import stores
from vms.alerts.service import AlertDesk, DeskSettings
from vms.alerts.store import AlertStore
from vms.db.audit import verify
from vms.db.index import PgSegmentIndex
from vms.db.migrate import ensure_partitions
from vms.domain.clock import SystemClock
from vms.domain.ports import CameraRow
from vms.errors import VmsError
from vms.sim.launcher import SimCameras
from vms.sim.proxy import FaultProxy

pytestmark = pytest.mark.integration

FAST = DeskSettings(stream_timeout_s=6.0, check_interval_s=0.3, sla_interval_s=0.2)


def _event(
    pool: ConnectionPool,
    camera_id: str,
    kind: str,
    at: datetime,
    *,
    cls: str = "Normal",
    label: str = "Intrusion dans la zone parvis",
    detail: dict[str, Any] | None = None,
    notify: bool = True,
) -> int:
    """An event stored as analytics.store does it (partition, row, NOTIFY)."""
    with pool.connection() as conn:
        ensure_partitions(conn, at.date(), at.date())
        row = conn.execute(
            "INSERT INTO events (camera_id, at, rule_id, kind, cls, track_id, confidence, "
            "boxes, label, detail, model) VALUES (%s, %s, %s, %s, %s, 7, 0.9, %s, %s, %s, "
            "'chute 0.1.2') RETURNING id",
            (camera_id, at, kind if kind != "technique" else "technique", kind, cls,
             json.dumps([[0.1, 0.2, 0.3, 0.4]]), label, json.dumps(detail or {})),
        ).fetchone()  # fmt: skip
        assert row is not None
        if notify:
            payload = {"id": row[0], "camera_id": camera_id, "at": at.isoformat(), "kind": kind}
            conn.execute("SELECT pg_notify('vms_events', %s)", (json.dumps(payload),))
    return int(row[0])


def _rows(pool: ConnectionPool, sql: str, *args: object) -> list[tuple[Any, ...]]:
    with pool.connection() as conn:
        return conn.execute(sql, args).fetchall()


class _Pushes:
    """The ``vms_alerts`` notifications, as an operator service receives them."""

    def __init__(self, dsn: str) -> None:
        self.payloads: list[dict[str, Any]] = []
        self._conn = psycopg.connect(dsn, autocommit=True)
        self._conn.execute("LISTEN vms_alerts")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for n in self._conn.notifies(timeout=0.2):
                self.payloads.append(json.loads(n.payload))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._conn.close()


@pytest.fixture
def pushes(pg_dsn: str) -> Iterator[_Pushes]:
    p = _Pushes(pg_dsn)
    yield p
    p.close()


@pytest.fixture
def desks(pg_dsn: str, pg_index: PgSegmentIndex) -> Iterator[list[AlertDesk]]:
    """Desks started by the test, stopped at teardown."""
    started: list[AlertDesk] = []
    yield started
    for d in started:
        d.stop()


def _desk(
    desks: list[AlertDesk],
    dsn: str,
    pool: ConnectionPool,
    cameras: tuple[str, ...] = (),
    settings: DeskSettings = FAST,
) -> AlertDesk:
    desk = AlertDesk(dsn, AlertStore(pool), cameras, SystemClock(), settings)
    desk.start()
    desks.append(desk)
    # listening, caught up: its loop has run once
    assert wait_for(lambda: desk.sla_checks >= 1, 30, 0.05)
    return desk


def _checks(desk: AlertDesk, n: int = 3) -> bool:
    """Wait for ``n`` more stream and SLA checks (the desk's loop went round)."""
    stream, sla = desk.stream_checks, desk.sla_checks
    return wait_for(
        lambda: desk.stream_checks >= stream + n and desk.sla_checks >= sla + n, 30, 0.05
    )


def test_an_analytics_event_becomes_one_alert_with_its_procedure_also_after_a_restart(
    pg_dsn: str, pg_index: PgSegmentIndex, desks: list[AlertDesk], pushes: _Pushes
) -> None:
    pool = pg_index.pool
    pg_index.upsert_camera(CameraRow("cam0", "commune-a", "Parvis", 15))
    desk = _desk(desks, pg_dsn, pool)
    now = datetime.now(UTC)
    first = _event(pool, "cam0", "intrusion", now)
    _event(pool, "cam0", "comptage", now, label="Passage")  # a statistic: never an alert
    assert wait_for(lambda: bool(_rows(pool, "SELECT 1 FROM alerts")), 30)
    assert _checks(desk)
    rows = _rows(
        pool,
        "SELECT tenant_id, camera_id, source, kind, priority, title, event_id, state, "
        "raised_at, ack_due_at, detail, id FROM alerts",
    )
    assert len(rows) == 1
    tenant, camera, source, kind, priority, title, event_id, state, raised, due, detail, aid = rows[
        0
    ]
    assert (tenant, camera, source, kind, priority, event_id, state) == (
        "commune-a", "cam0", "analytique", "intrusion", 2, first, "nouvelle",
    )  # fmt: skip
    assert title == "Intrusion dans la zone parvis"
    assert due - raised == timedelta(seconds=120)  # the intrusion procedure's deadline
    assert detail["rule_id"] == "intrusion" and detail["confidence"] == pytest.approx(0.9)
    assert _rows(pool, "SELECT actor, action, from_state, to_state FROM alert_history") == [
        ("systeme", "create", None, "nouvelle")
    ]
    assert _rows(pool, "SELECT actor, action, target FROM audit WHERE action LIKE 'alert.%%'") == [
        ("systeme", "alert.create", f"alert:{aid}")
    ]
    assert wait_for(lambda: {"id": aid, "tenant_id": "commune-a"} in pushes.payloads, 10)
    # stopped desk: the next event's notification is lost; the restart catches it up
    desk.stop()
    second = _event(pool, "cam0", "personne_au_sol", now + timedelta(seconds=1), label="Chute")
    third = _event(pool, "cam0", "objet_abandonne", now, label="Sac", notify=False)
    desk = _desk(desks, pg_dsn, pool)
    assert _checks(desk)  # the catch-up ran before the first check
    by_event = _rows(
        pool, "SELECT event_id, kind, priority, count(*) FROM alerts GROUP BY 1, 2, 3 ORDER BY 1"
    )
    assert by_event == [
        (first, "intrusion", 2, 1),
        (second, "personne_au_sol", 1, 1),
        (third, "objet_abandonne", 2, 1),
    ]
    with pool.connection() as conn:
        assert verify(conn)[1] is None  # the audit chain is intact


def test_a_stopped_camera_raises_one_stream_alert_and_ticket_closed_when_it_is_back(
    pg_dsn: str,
    pg_index: PgSegmentIndex,
    desks: list[AlertDesk],
    sim_cameras: Any,
    tmp_path: Path,
) -> None:
    sim: SimCameras = sim_cameras(loop=1)
    pool = pg_index.pool
    spool = tmp_path / "spool"
    with (
        FaultProxy("127.0.0.1", sim.port) as proxy,
        Recording(pg_index, stores(tmp_path), spool, {"cam0": proxy.url_for(sim.url(0))}),
    ):
        assert wait_for(lambda: bool(pg_index.segments("cam0")), 60)
        desk = _desk(desks, pg_dsn, pool, ("cam0",))
        # recording: no fault, even once the desk has run longer than the timeout
        checks = int(FAST.stream_timeout_s / FAST.check_interval_s) + 3
        assert _checks(desk, checks)
        assert _rows(pool, "SELECT id FROM alerts") == []
        proxy.down()
        assert wait_for(lambda: bool(_rows(pool, "SELECT 1 FROM tickets")), 60)
        assert _checks(desk)
        alerts = _rows(pool, "SELECT id, source, kind, dedup_key, state, priority FROM alerts")
        assert len(alerts) == 1
        alert_id = alerts[0][0]
        assert alerts[0][1:] == ("technique", "technique", "cam0:flux_interrompu", "nouvelle", 3)
        tickets = _rows(
            pool, "SELECT alert_id, dedup_key, state, declarer, description FROM tickets"
        )
        assert tickets == [
            (alert_id, "cam0:flux_interrompu", "ouvert", "systeme", "Flux vidéo interrompu")
        ]
        proxy.up()
        assert wait_for(lambda: _rows(pool, "SELECT state FROM tickets") == [("resolu",)], 60), (
            _rows(pool, "SELECT state FROM tickets")
        )
        assert _checks(desk)
    closed = _rows(pool, "SELECT state, closed_by, qualification, report FROM alerts")
    assert closed == [
        ("cloturee", "systeme", "technique", "Rétabli automatiquement : flux vidéo rétabli")
    ]
    assert _rows(pool, "SELECT count(*) FROM tickets") == [(1,)]
    assert _rows(pool, "SELECT action FROM alert_history ORDER BY id") == [("create",), ("close",)]
    assert _rows(pool, "SELECT action FROM audit ORDER BY seq") == [
        ("alert.create",), ("ticket.open",), ("alert.close",), ("ticket.resolve",)
    ]  # fmt: skip


def test_technical_events_raise_and_clear_one_alert_and_one_ticket(
    pg_dsn: str, pg_index: PgSegmentIndex, desks: list[AlertDesk]
) -> None:
    pool = pg_index.pool
    pg_index.upsert_camera(CameraRow("cam0", "commune-a", "Parvis", 15, "Place de la mairie"))
    desk = _desk(desks, pg_dsn, pool)
    now = datetime.now(UTC)

    def technical(state: str, at: datetime, cls: str = "flou") -> int:
        label = "Image floue" if state == "raised" else "Fin : image floue"
        return _event(pool, "cam0", "technique", at, cls=cls, label=label,
                      detail={"state": state, "value": 12.0, "threshold": 40.0})  # fmt: skip

    raised = technical("raised", now)
    technical("raised", now + timedelta(seconds=5))  # the same fault again: no duplicate
    assert wait_for(lambda: bool(_rows(pool, "SELECT 1 FROM tickets")), 30)
    assert _checks(desk)
    assert _rows(pool, "SELECT kind, dedup_key, event_id, title, state FROM alerts") == [
        ("technique", "cam0:flou", raised, "Image floue", "nouvelle")
    ]
    assert _rows(pool, "SELECT dedup_key, state, element, site FROM tickets") == [
        ("cam0:flou", "ouvert", "Caméra Parvis", "Place de la mairie")
    ]
    technical("cleared", now + timedelta(seconds=10))
    assert wait_for(lambda: _rows(pool, "SELECT state FROM tickets") == [("resolu",)], 30)
    assert _rows(pool, "SELECT state, closed_by, report FROM alerts") == [
        ("cloturee", "systeme", "Rétabli automatiquement : fin : image floue")
    ]
    # a restart replays the last technical event of each fault: nothing new
    desk.stop()
    desk = _desk(desks, pg_dsn, pool)
    assert _checks(desk)
    assert _rows(pool, "SELECT count(*) FROM alerts") == [(1,)]
    assert _rows(pool, "SELECT count(*) FROM tickets") == [(1,)]
    # raised again later (while the desk is stopped): a new alert and a new ticket
    desk.stop()
    again = technical("raised", now + timedelta(seconds=20), cls="flou")
    desk = _desk(desks, pg_dsn, pool)
    assert _checks(desk)
    assert _rows(pool, "SELECT event_id, state FROM alerts ORDER BY id") == [
        (raised, "cloturee"), (again, "nouvelle")
    ]  # fmt: skip
    assert _rows(pool, "SELECT state FROM tickets ORDER BY id") == [("resolu",), ("ouvert",)]


def test_an_overdue_new_alert_is_escalated_once(
    pg_dsn: str, pg_index: PgSegmentIndex, desks: list[AlertDesk], pushes: _Pushes
) -> None:
    pool = pg_index.pool
    pg_index.upsert_camera(CameraRow("cam0", "commune-a", "Parvis", 15))
    now = datetime.now(UTC)
    late = _event(pool, "cam0", "intrusion", now - timedelta(seconds=200), notify=False)
    fresh = _event(pool, "cam0", "intrusion", now, notify=False)
    desk = _desk(desks, pg_dsn, pool)
    assert wait_for(
        lambda: bool(_rows(pool, "SELECT 1 FROM alerts WHERE overdue_at IS NOT NULL")), 30
    )
    assert _checks(desk, 5)
    rows = _rows(pool, "SELECT event_id, priority, overdue_at IS NOT NULL, state, id FROM alerts "
                       "ORDER BY event_id")  # fmt: skip
    assert [r[:4] for r in rows] == [(late, 1, True, "nouvelle"), (fresh, 2, False, "nouvelle")]
    late_id = rows[0][4]
    history = _rows(
        pool, "SELECT actor, action, detail FROM alert_history WHERE alert_id = %s ORDER BY id",
        late_id,
    )  # fmt: skip
    assert [h[:2] for h in history] == [("systeme", "create"), ("systeme", "overdue")]
    assert history[1][2]["priorite"] == 1
    assert _rows(pool, "SELECT count(*) FROM audit WHERE action = 'alert.overdue'") == [(1,)]
    # pushed again to the consoles: created, then escalated
    pushed = [p for p in pushes.payloads if p["id"] == late_id]
    assert len(pushed) == 2


def test_the_app_starts_the_desk_and_stops_it_on_close(
    pg_dsn: str, pg_pool: ConnectionPool, tmp_path: Path
) -> None:
    from vms.app import App
    from vms.config import parse_config

    config = parse_config({"data_dir": str(tmp_path), "database": {"dsn": pg_dsn},
                           "alerts": {"sla_interval_s": 1}})  # fmt: skip
    with App(config) as app:
        desk = app.start_alerts()
        assert desk.running
        assert desk.settings == DeskSettings(60.0, 10.0, 1.0)
        with pg_pool.connection() as conn:
            conn.execute("INSERT INTO tenants (id, name) VALUES ('commune-a', 'Commune A')")
            conn.execute("INSERT INTO cameras (id, tenant_id, name, retention_days) "
                         "VALUES ('cam0', 'commune-a', 'Parvis', 15)")  # fmt: skip
        _event(pg_pool, "cam0", "arme", datetime.now(UTC), label="Arme détectée")
        assert wait_for(lambda: _rows(pg_pool, "SELECT kind, priority FROM alerts")
                        == [("arme", 1)], 30)  # fmt: skip
    assert not desk.running
    with pytest.raises(VmsError) as err:
        parse_config({"ingest": {"segment_duration_s": 60}})
    assert err.value.message == (
        "Configuration invalide, champ « (racine) » : alerts.stream_timeout_s doit dépasser "
        "ingest.segment_duration_s (un segment n'est enregistré qu'une fois fini)"
    )
    parse_config({"ingest": {"segment_duration_s": 60}, "alerts": {"enabled": False}})
