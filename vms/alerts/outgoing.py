"""Outgoing alerts for a hypervisor (CSD-13): every alert created or changed
(``NOTIFY vms_alerts``) is POSTed as JSON to each configured webhook, signed with
HMAC-SHA256 (header ``X-Vms-Signature: sha256=<hex of the body>``).

It never blocks the desk: one thread LISTENs on its own connection and reads each
notified alert once; each webhook has its own bounded queue and sender thread, which
retries a failed delivery with exponential backoff (``retry_base_s`` doubling, up to
``retry_max_s``) for ``max_attempts`` attempts, then drops it (logged). A queue that
overflows drops its oldest message (logged). Deliveries are in order per webhook, at
least once: a receiver deduplicates on ``X-Vms-Delivery``. The document carries the
alert as read when its notification arrives: after a burst of changes, the latest
state may be sent more than once and an intermediate one not at all."""

from __future__ import annotations

import collections
import hashlib
import hmac
import json
import logging
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from vms.db.alerts import CHANNEL
from vms.domain.clock import Clock

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Vms-Signature"
_COLUMNS = (
    "id", "tenant_id", "camera_id", "source", "kind", "priority", "title", "state",
    "raised_at", "ack_due_at", "acknowledged_at", "acknowledged_by", "assigned_to",
    "overdue_at", "closed_at", "qualification", "input_source", "external_id", "suppressed_by",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Webhook:
    url: str
    secret: str


@dataclass(frozen=True, slots=True)
class OutgoingSettings:
    max_attempts: int = 8
    retry_base_s: float = 1.0
    retry_max_s: float = 60.0
    timeout_s: float = 10.0
    queue_size: int = 1000


def sign(secret: str, body: bytes) -> str:
    """The ``X-Vms-Signature`` value of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def backoff_s(attempt: int, settings: OutgoingSettings) -> float:
    """Wait before retry number ``attempt`` (1-based)."""
    return float(min(settings.retry_max_s, settings.retry_base_s * 2 ** (attempt - 1)))


class _Sender:
    """One webhook: its queue and its thread."""

    def __init__(self, hook: Webhook, settings: OutgoingSettings, stop: threading.Event) -> None:
        self.hook = hook
        self.settings = settings
        self.stop = stop
        self.queue: collections.deque[bytes] = collections.deque()
        self.ready = threading.Condition()
        self.delivered = 0
        self.dropped = 0
        self.thread = threading.Thread(target=self._run, name="alert-webhook", daemon=True)

    def offer(self, body: bytes) -> None:
        with self.ready:
            if len(self.queue) >= self.settings.queue_size:
                self.queue.popleft()
                self.dropped += 1
                log.warning("webhook %s: queue full, oldest alert dropped", self.hook.url)
            self.queue.append(body)
            self.ready.notify()

    def _run(self) -> None:
        while not self.stop.is_set():
            with self.ready:
                while not self.queue and not self.stop.is_set():
                    self.ready.wait(0.5)
                if self.stop.is_set():
                    return
                body = self.queue[0]
            self._deliver(body)
            with self.ready:
                if self.queue and self.queue[0] is body:
                    self.queue.popleft()

    def _deliver(self, body: bytes) -> None:
        delivery = str(uuid.uuid4())
        for attempt in range(1, self.settings.max_attempts + 1):
            request = urllib.request.Request(self.hook.url, data=body, method="POST", headers={
                "Content-Type": "application/json", SIGNATURE_HEADER: sign(self.hook.secret, body),
                "X-Vms-Delivery": delivery, "User-Agent": "vms-alert-desk"})  # fmt: skip
            try:
                with urllib.request.urlopen(request, timeout=self.settings.timeout_s) as r:
                    r.read()
                self.delivered += 1
                return
            except (urllib.error.URLError, OSError, ValueError) as err:
                log.warning("webhook %s: attempt %d failed (%s)", self.hook.url, attempt, err)
            if attempt < self.settings.max_attempts and self.stop.wait(
                backoff_s(attempt, self.settings)
            ):
                return
        self.dropped += 1
        log.error("webhook %s: alert dropped after %d attempts", self.hook.url, attempt)


class WebhookPublisher:
    """Publishes the alerts' changes to the webhooks (a desk worker)."""

    def __init__(
        self,
        dsn: str,
        hooks: Sequence[Webhook],
        clock: Clock,
        settings: OutgoingSettings | None = None,
    ) -> None:
        self.dsn = dsn
        self.clock = clock
        self.settings = settings or OutgoingSettings()
        self._stop = threading.Event()
        self.senders = [_Sender(h, self.settings, self._stop) for h in hooks]
        self.listening = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alert-outgoing", daemon=True)

    def start(self) -> None:
        for s in self.senders:
            s.thread.start()
        self._thread.start()
        log.info("alert desk: %d webhook(s) receive the alerts", len(self.senders))

    def stop(self) -> None:
        self._stop.set()
        for t in [self._thread, *(s.thread for s in self.senders)]:
            if t.ident is not None:
                t.join(10)

    def _run(self) -> None:
        delay = 1.0
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    delay = 1.0
                    while not self._stop.is_set():
                        # read first: the connection is busy while notifies() runs
                        payloads = [n.payload for n in conn.notifies(timeout=0.5)]
                        for payload in payloads:
                            self.publish(conn, payload)
            except psycopg.Error as err:
                log.warning("alert webhooks: listener lost (%s); retrying in %.0f s", err, delay)
            self.listening.clear()
            self._stop.wait(delay)
            delay = min(delay * 2, 30.0)

    def publish(self, conn: psycopg.Connection[Any], payload: str) -> None:
        try:
            alert_id = int(json.loads(payload)["id"])
        except (ValueError, KeyError, TypeError):
            log.warning("unexpected %s payload: %r", CHANNEL, payload)
            return
        row = conn.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM alerts WHERE id = %s", (alert_id,)
        ).fetchone()
        if row is None:
            log.debug("alert %d notified but not visible", alert_id)
            return
        alert = {k: v.isoformat() if isinstance(v, datetime) else v
                 for k, v in zip(_COLUMNS, row, strict=True)}  # fmt: skip
        body = json.dumps({"type": "alert", "sent_at": self.clock.now().isoformat(),
                           "alert": alert}).encode()  # fmt: skip
        for s in self.senders:
            s.offer(body)
