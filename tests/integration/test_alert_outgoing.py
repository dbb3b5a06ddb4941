"""Outgoing alerts (CSD-13) against real parts: PostgreSQL (the outbox trigger,
notifications, advisory locks) and a real local HTTP receiver. Every change reaches
every webhook signed, in order, at least once: through a receiver that is down for a
while, a publisher that was stopped, two publishers at once (each change sent once) and
a publisher killed before the acknowledgement (sent again, same ``X-Vms-Delivery``)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
import pytest

from tests.fixtures.s3 import free_port
from tests.integration.harness import wait_for
from vms.alerts.outgoing import (
    OutgoingSettings,
    Webhook,
    WebhookPublisher,
    backoff_s,
    delivery_id,
)
from vms.alerts.store import AlertStore, Fault
from vms.db.index import PgSegmentIndex
from vms.domain.clock import SystemClock
from vms.domain.ports import CameraRow

pytestmark = pytest.mark.integration

SECRET = "un-secret-partage-de-test"
FAST = OutgoingSettings(retry_base_s=0.05, retry_max_s=0.2, timeout_s=2, poll_s=0.5)


class Receiver:
    """A real HTTP receiver: answers 503 while ``up`` is false; with ``hang`` set, takes
    the next request, records it, and never answers it (closed unanswered)."""

    def __init__(self) -> None:
        self.up = True
        self.hang = False
        self.calls = 0
        self.hung: list[dict[str, str]] = []
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls += 1
                if receiver.hang:
                    receiver.hang = False
                    receiver.hung.append(dict(self.headers))
                    receiver.release.wait(20)
                    self.close_connection = True
                    return
                if not receiver.up:
                    self.send_response(503)
                else:
                    receiver.received.append((dict(self.headers), body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def deliveries(self) -> list[str]:
        return [h["X-Vms-Delivery"] for h, _ in self.received]

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def store(pg_index: PgSegmentIndex) -> AlertStore:
    pg_index.upsert_camera(CameraRow("cam0", "commune-a", "Parvis", 15))
    return AlertStore(pg_index.pool)


def _outbox(dsn: str) -> list[tuple[int, dict[str, Any]]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT id, alert FROM alert_outbox ORDER BY id").fetchall()
    return [(int(i), a) for i, a in rows]


def _changes(store: AlertStore, n: int, start: int = 0) -> None:
    """``n`` alerts raised then closed: 2n changes (raise, clear) at least."""
    now = datetime.now(UTC)
    for i in range(start, start + n):
        store.raise_fault(Fault("cam0", f"defaut{i}", f"Défaut {i}", now), now)
        store.clear_fault("cam0", f"defaut{i}", "rétabli", now)


def _check_all(receiver: Receiver, hook: Webhook, outbox: list[tuple[int, dict[str, Any]]]) -> None:
    """The receiver got every outbox row once, in order, signed, as recorded."""
    assert receiver.deliveries() == [delivery_id(hook.key, i) for i, _ in outbox]
    for (headers, body), (_, alert) in zip(receiver.received, outbox, strict=True):
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert headers["X-Vms-Signature"] == expected
        doc = json.loads(body)
        assert doc["type"] == "alert" and doc["alert"] == alert


def test_backoff() -> None:
    s = OutgoingSettings(retry_base_s=1, retry_max_s=10)
    assert [backoff_s(n, s) for n in (1, 2, 3, 4, 5, 500)] == [1, 2, 4, 8, 10, 10]


def test_receiver_down_then_up_gets_every_change_in_order(
    receiver: Receiver, pg_dsn: str, store: AlertStore
) -> None:
    receiver.up = False
    hook = Webhook(receiver.url, SECRET)
    dead = Webhook(f"http://127.0.0.1:{free_port()}/nobody", SECRET)
    publisher = WebhookPublisher(pg_dsn, [dead, hook], SystemClock(), FAST)
    publisher.start()
    try:
        assert publisher.listening.wait(10)
        _changes(store, 3)
        assert wait_for(lambda: receiver.calls >= 4, 20, 0.05)  # refused, retried
        assert receiver.received == []
        receiver.up = True
        outbox = _outbox(pg_dsn)
        assert len(outbox) >= 6
        assert wait_for(lambda: len(receiver.received) >= len(outbox), 20, 0.05)
        assert publisher.senders[0].delivered == 0  # the dead one holds nothing up
    finally:
        publisher.stop()
    _check_all(receiver, hook, outbox)
    states = [json.loads(b)["alert"]["state"] for _, b in receiver.received]
    assert states[:2] == ["nouvelle", "cloturee"]  # every change, not only the last state
    # delivered to the live webhook only: kept for the dead one
    publisher.purge()
    assert len(_outbox(pg_dsn)) == len(outbox)


def test_stopped_publisher_delivers_what_changed_meanwhile(
    receiver: Receiver, pg_dsn: str, store: AlertStore
) -> None:
    hook = Webhook(receiver.url, SECRET)
    _changes(store, 1)  # before any publisher ran: the last minute is delivered
    before = _outbox(pg_dsn)  # the first publisher's purge may remove these once delivered
    first = WebhookPublisher(pg_dsn, [hook], SystemClock(), FAST)
    first.start()
    try:
        assert wait_for(lambda: len(receiver.received) == 2, 20, 0.05), receiver.calls
    finally:
        first.stop()
    _changes(store, 2, start=1)  # the desk is stopped
    outbox = sorted(dict(before + _outbox(pg_dsn)).items())
    second = WebhookPublisher(pg_dsn, [hook], SystemClock(), FAST)
    second.start()
    try:
        assert wait_for(lambda: len(receiver.received) >= len(outbox), 20, 0.05)
        second.purge()
    finally:
        second.stop()
    _check_all(receiver, hook, outbox)
    assert _outbox(pg_dsn) == []  # delivered to every webhook: purged


def test_two_publishers_send_each_change_once(
    receiver: Receiver, pg_dsn: str, store: AlertStore
) -> None:
    hook = Webhook(receiver.url, SECRET)
    publishers = [WebhookPublisher(pg_dsn, [hook], SystemClock(), FAST) for _ in range(2)]
    for p in publishers:
        p.start()
    try:
        assert wait_for(lambda: any(p.senders[0].active.is_set() for p in publishers), 10, 0.05)
        _changes(store, 5)
        outbox = _outbox(pg_dsn)
        assert wait_for(lambda: len(receiver.received) >= len(outbox), 20, 0.05)
        threading.Event().wait(1.5)  # three polls: nothing sent twice
        assert sum(p.senders[0].active.is_set() for p in publishers) == 1
    finally:
        for p in publishers:
            p.stop()
    _check_all(receiver, hook, outbox)


_KILLED = """
import sys, threading
from vms.alerts.outgoing import OutgoingSettings, Webhook, WebhookPublisher
from vms.domain.clock import SystemClock
p = WebhookPublisher(sys.argv[1], [Webhook(sys.argv[2], sys.argv[3])], SystemClock(),
                     OutgoingSettings(retry_base_s=0.05, retry_max_s=0.2, timeout_s=30,
                                      poll_s=0.5))
p.start()
threading.Event().wait()
"""


def test_killed_before_acknowledgement_sends_again_same_delivery(
    receiver: Receiver, pg_dsn: str, store: AlertStore
) -> None:
    hook = Webhook(receiver.url, SECRET)
    _changes(store, 1)
    outbox = _outbox(pg_dsn)
    receiver.hang = True
    proc = subprocess.Popen([sys.executable, "-c", _KILLED, pg_dsn, hook.url, SECRET],
                            cwd=os.getcwd())  # fmt: skip
    try:
        assert wait_for(lambda: receiver.hung != [], 30, 0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    receiver.release.set()
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM alert_outbox_delivered").fetchone() == (0,)
    publisher = WebhookPublisher(pg_dsn, [hook], SystemClock(), FAST)
    publisher.start()  # the killed one's lock went with its connection
    try:
        assert wait_for(lambda: len(receiver.received) >= len(outbox), 20, 0.05)
    finally:
        publisher.stop()
    assert receiver.hung[0]["X-Vms-Delivery"] == delivery_id(hook.key, outbox[0][0])
    _check_all(receiver, hook, outbox)


def test_retention_drops_undelivered_changes_logged(
    pg_dsn: str, store: AlertStore, caplog: pytest.LogCaptureFixture
) -> None:
    dead = Webhook(f"http://127.0.0.1:{free_port()}/nobody", SECRET)
    publisher = WebhookPublisher(pg_dsn, [dead], SystemClock(), FAST)
    publisher.purge()  # known: its changes are kept
    _changes(store, 2)
    publisher.purge()
    assert len(_outbox(pg_dsn)) >= 4
    with psycopg.connect(pg_dsn) as conn:
        aged = conn.execute("UPDATE alert_outbox SET created_at = created_at - interval '8 "
                            "days' WHERE alert_id = (SELECT min(alert_id) FROM alert_outbox)"
                            ).rowcount  # fmt: skip
    assert aged >= 2
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="vms.alerts.outgoing"):
        publisher.purge()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [
        f"webhook {dead.url}: {aged} alert change(s) older than 7 days dropped undelivered"
    ]
    assert {a["id"] for _, a in _outbox(pg_dsn)} == {max(a["id"] for _, a in _outbox(pg_dsn))}


def test_operator_changes_reach_the_outbox(pg_dsn: str, store: AlertStore) -> None:
    """The operator service changes alerts as ``vms_app``, which may not touch the outbox:
    the trigger appends as the owner."""
    _changes(store, 1)
    before = len(_outbox(pg_dsn))
    with psycopg.connect(pg_dsn) as conn, conn.transaction():
        conn.execute("SET LOCAL ROLE vms_app")
        conn.execute("SELECT set_config('vms.tenants', 'commune-a', true)")
        conn.execute("UPDATE alerts SET assigned_to = 'dupont'")
        with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
            conn.execute("SELECT 1 FROM alert_outbox")
    outbox = _outbox(pg_dsn)
    assert len(outbox) == before + 1 and outbox[-1][1]["assigned_to"] == "dupont"
    assert outbox[-1][1]["raised_at"].endswith("+00:00")
