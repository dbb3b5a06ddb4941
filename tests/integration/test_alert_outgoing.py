"""Outgoing alerts (CSD-13) against real parts: PostgreSQL notifications and a real
local HTTP receiver that fails the first delivery: the alert arrives signed
(HMAC-SHA256), after a retry, and a dead receiver does not hold up a live one."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.fixtures.s3 import free_port
from tests.integration.harness import wait_for
from vms.alerts.outgoing import OutgoingSettings, Webhook, WebhookPublisher, backoff_s
from vms.alerts.store import AlertStore, Fault
from vms.db.index import PgSegmentIndex
from vms.domain.clock import SystemClock
from vms.domain.ports import CameraRow

pytestmark = pytest.mark.integration

SECRET = "un-secret-partage-de-test"


class Receiver:
    def __init__(self, fail_first: int) -> None:
        self.fail_first = fail_first
        self.calls = 0
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls += 1
                if receiver.calls <= receiver.fail_first:
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

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(fail_first=1)
    yield r
    r.close()


def test_backoff() -> None:
    s = OutgoingSettings(retry_base_s=1, retry_max_s=10)
    assert [backoff_s(n, s) for n in (1, 2, 3, 4, 5)] == [1, 2, 4, 8, 10]


def test_alerts_are_posted_signed_and_retried(
    receiver: Receiver, pg_dsn: str, pg_index: PgSegmentIndex
) -> None:
    pool = pg_index.pool
    pg_index.upsert_camera(CameraRow("cam0", "commune-a", "Parvis", 15))
    dead = Webhook(f"http://127.0.0.1:{free_port()}/nobody", SECRET)
    publisher = WebhookPublisher(
        pg_dsn, [dead, Webhook(receiver.url, SECRET)], SystemClock(),
        OutgoingSettings(max_attempts=3, retry_base_s=0.05, retry_max_s=0.2, timeout_s=2),
    )  # fmt: skip
    publisher.start()
    try:
        assert publisher.listening.wait(10)
        store = AlertStore(pool)
        from datetime import UTC, datetime

        now = datetime.now(UTC)
        alert_id, _ = store.raise_fault(Fault("cam0", "flou", "Image floue", now), now)
        assert wait_for(lambda: receiver.calls >= 1, 20, 0.05)  # read before the change
        store.clear_fault("cam0", "flou", "image nette", now)
        assert wait_for(lambda: len(receiver.received) >= 2, 20, 0.05), receiver.calls
        assert wait_for(lambda: publisher.senders[0].dropped == 2, 20, 0.05)
    finally:
        publisher.stop()
    assert receiver.calls == 3  # one refused, retried
    states = []
    for headers, body in receiver.received:
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert headers["X-Vms-Signature"] == expected
        doc = json.loads(body)
        assert doc["type"] == "alert" and doc["alert"]["id"] == alert_id
        assert doc["alert"]["camera_id"] == "cam0" and doc["alert"]["source"] == "technique"
        states.append(doc["alert"]["state"])
    assert states == ["nouvelle", "cloturee"]
