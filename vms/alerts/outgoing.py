"""Outgoing alerts for a hypervisor (CSD-13): every alert created or changed is POSTed as
JSON to each configured webhook, signed with HMAC-SHA256 (header ``X-Vms-Signature:
sha256=<hex of the body>``).

Durable (transactional outbox, migration 0013): a trigger on ``alerts`` appends each
change, as the change left the alert, to ``alert_outbox`` in the transaction of the
change. Each webhook (identified by the sha256 of its URL) has a sender thread that
delivers the rows it has not acknowledged, in id order, and records each 2xx in
``alert_outbox_delivered`` (a set, not a cursor: a change committing after a later one
is not skipped). A failed delivery is retried with exponential backoff (``retry_base_s``
doubling up to ``retry_max_s``) until it succeeds or the row passes the retention
(``retention_s``, then dropped and logged). ``NOTIFY vms_alerts`` only wakes the
senders; they also poll every ``poll_s``. Several desks: a sender delivers only while it
holds its webhook's session advisory lock (released if its process dies), so one desk
sends at a time. At least once: a delivery not recorded (crash, lost connection) is sent
again with the same ``X-Vms-Delivery`` (derived from the webhook and the outbox row), on
which a receiver deduplicates. A maintenance thread purges the rows every known webhook
acknowledged, the expired ones, and webhooks no desk has had for the retention."""

from __future__ import annotations

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

from vms.db import alerts as q
from vms.db.pool import listen_forever
from vms.domain.clock import Clock

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Vms-Signature"
DELIVERY_HEADER = "X-Vms-Delivery"
_DELIVERY_NAMESPACE = uuid.UUID("6f1d2a9e-4c1b-5e0a-9d8e-2b7c3f4a5e61")
_LOCK_PREFIX = b"vms-alert-webhook:"


@dataclass(frozen=True, slots=True)
class Webhook:
    url: str
    secret: str

    @property
    def key(self) -> str:
        """The webhook's identity in the database: sha256 (hex) of its URL."""
        return hashlib.sha256(self.url.encode()).hexdigest()

    @property
    def lock_id(self) -> int:
        """Its session advisory lock (one sending desk at a time)."""
        digest = hashlib.sha256(_LOCK_PREFIX + self.url.encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)


@dataclass(frozen=True, slots=True)
class OutgoingSettings:
    retry_base_s: float = 1.0
    retry_max_s: float = 60.0
    timeout_s: float = 10.0
    poll_s: float = 5.0
    """Safety net: pending rows are looked for this often without a notification."""
    batch: int = 100
    retention_s: float = 7 * 86400.0
    """Undelivered changes older than this are dropped (logged)."""
    purge_interval_s: float = 300.0


def sign(secret: str, body: bytes) -> str:
    """The ``X-Vms-Signature`` value of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def backoff_s(attempt: int, settings: OutgoingSettings) -> float:
    """Wait before retry number ``attempt`` (1-based)."""
    return float(min(settings.retry_max_s, settings.retry_base_s * 2 ** (min(attempt, 60) - 1)))


def delivery_id(hook_key: str, outbox_id: int) -> str:
    """``X-Vms-Delivery``: the same for every try of one change to one webhook, across
    restarts and desks."""
    return str(uuid.uuid5(_DELIVERY_NAMESPACE, f"{hook_key}:{outbox_id}"))


def document(alert: dict[str, Any], changed_at: datetime, sent_at: datetime) -> bytes:
    """The JSON body POSTed for one change."""
    return json.dumps({"type": "alert", "sent_at": sent_at.isoformat(),
                       "changed_at": changed_at.isoformat(), "alert": alert}).encode()  # fmt: skip


class _Sender:
    """One webhook: its thread, delivering the outbox while it holds the webhook's lock."""

    def __init__(
        self, dsn: str, hook: Webhook, clock: Clock, settings: OutgoingSettings,
        stop: threading.Event,
    ) -> None:  # fmt: skip
        self.dsn = dsn
        self.hook = hook
        self.clock = clock
        self.settings = settings
        self.stop = stop
        self.wake = threading.Event()
        self.delivered = 0
        """Changes acknowledged by this sender (tests wait on it)."""
        self.active = threading.Event()
        """Set while this sender holds the webhook's lock."""
        self.thread = threading.Thread(target=self._run, name="alert-webhook", daemon=True)

    def _run(self) -> None:
        delay = 1.0
        while not self.stop.is_set():
            try:
                with psycopg.connect(self.dsn, autocommit=True) as conn:
                    row = conn.execute(
                        q.REGISTER_WEBHOOK_SQL, {"key": self.hook.key, "url": self.hook.url}
                    ).fetchone()
                    assert row is not None
                    floor = int(row[0])
                    delay = 1.0
                    self._serve(conn, floor)
            except psycopg.Error as err:
                log.warning("webhook %s: database lost (%s); retrying in %.0f s",
                            self.hook.url, err, delay)  # fmt: skip
            self.active.clear()
            self.stop.wait(delay)
            delay = min(delay * 2, 30.0)

    def _serve(self, conn: psycopg.Connection[Any], floor: int) -> None:
        while not self.stop.is_set():
            if not self.active.is_set():
                got = conn.execute("SELECT pg_try_advisory_lock(%s)", (self.hook.lock_id,))
                if not (row := got.fetchone()) or not row[0]:
                    self.stop.wait(self.settings.poll_s)  # another desk sends
                    continue
                self.active.set()
                log.info("webhook %s: this desk delivers", self.hook.url)
            self.wake.clear()
            rows = conn.execute(q.PENDING_SQL, {
                "floor": floor, "key": self.hook.key, "limit": self.settings.batch,
                "retention_s": self.settings.retention_s}).fetchall()  # fmt: skip
            if not rows:
                self.wake.wait(self.settings.poll_s)
                continue
            for outbox_id, changed_at, alert in rows:
                if not self._deliver(int(outbox_id), changed_at, alert):
                    return  # stopping: not acknowledged, sent again by the next sender
                conn.execute(q.DELIVERED_SQL, (self.hook.key, outbox_id))
                self.delivered += 1

    def _deliver(self, outbox_id: int, changed_at: datetime, alert: dict[str, Any]) -> bool:
        """POST one change until a 2xx (True), or until stopped (False)."""
        delivery = delivery_id(self.hook.key, outbox_id)
        attempt = 0
        while True:
            attempt += 1
            body = document(alert, changed_at, self.clock.now())
            request = urllib.request.Request(self.hook.url, data=body, method="POST", headers={
                "Content-Type": "application/json", SIGNATURE_HEADER: sign(self.hook.secret, body),
                DELIVERY_HEADER: delivery, "User-Agent": "vms-alert-desk"})  # fmt: skip
            try:
                with urllib.request.urlopen(request, timeout=self.settings.timeout_s) as r:
                    r.read()
                return True
            except (urllib.error.URLError, OSError, ValueError) as err:
                log.warning("webhook %s: change %d, attempt %d failed (%s)", self.hook.url,
                            outbox_id, attempt, err)  # fmt: skip
            if self.stop.wait(backoff_s(attempt, self.settings)):
                return False


class WebhookPublisher:
    """Publishes the alerts' changes to the webhooks from the outbox (a desk worker).
    Runs with no webhook too: it then only purges the outbox."""

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
        self.senders = [_Sender(dsn, h, clock, self.settings, self._stop) for h in hooks]
        self.listening = threading.Event()
        self._purge_now = threading.Event()
        self._listener = threading.Thread(target=self._listen, name="alert-outgoing", daemon=True)
        self._janitor = threading.Thread(target=self._maintain, name="alert-outbox", daemon=True)

    def start(self) -> None:
        for s in self.senders:
            s.thread.start()
        if self.senders:
            self._listener.start()
        self._janitor.start()
        log.info("alert desk: %d webhook(s) receive the alerts", len(self.senders))

    def stop(self) -> None:
        self._stop.set()
        for s in self.senders:
            s.wake.set()
        for t in [self._listener, self._janitor, *(s.thread for s in self.senders)]:
            if t.ident is not None:
                t.join(self.settings.timeout_s + 5)

    def purge(self) -> None:
        """Run the outbox maintenance now (tests)."""
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            self._purge(conn)

    def _listen(self) -> None:
        listen_forever(self.dsn, q.CHANNEL, self._stop, self._wake_on_notify, "alert webhooks")

    def _wake_on_notify(self, conn: psycopg.Connection[Any]) -> None:
        self.listening.set()
        try:
            self._wake_all()  # what was notified while not listening
            while not self._stop.is_set():
                if any(True for _ in conn.notifies(timeout=0.5)):
                    self._wake_all()
        finally:
            self.listening.clear()

    def _wake_all(self) -> None:
        for s in self.senders:
            s.wake.set()

    def _maintain(self) -> None:
        while not self._stop.is_set():
            try:
                self.purge()
            except psycopg.Error as err:
                log.warning("alert outbox: purge failed (%s)", err)
            self._stop.wait(self.settings.purge_interval_s)

    def _purge(self, conn: psycopg.Connection[Any]) -> None:
        retention = {"retention_s": self.settings.retention_s}
        with conn.transaction():
            for s in self.senders:  # known (and seen) before anything is purged
                conn.execute(q.REGISTER_WEBHOOK_SQL, {"key": s.hook.key, "url": s.hook.url})
            for url, count in conn.execute(q.EXPIRED_UNDELIVERED_SQL, retention).fetchall():
                log.error("webhook %s: %d alert change(s) older than %.0f days dropped "
                          "undelivered", url, count, self.settings.retention_s / 86400)  # fmt: skip
            expired = conn.execute(q.PURGE_EXPIRED_SQL, retention).rowcount
            delivered = conn.execute(q.PURGE_DELIVERED_SQL).rowcount
            for (url,) in conn.execute(q.FORGET_WEBHOOKS_SQL, retention).fetchall():
                log.warning("webhook %s: configured on no desk for the retention, forgotten", url)
        if expired or delivered:
            log.info("alert outbox: %d delivered and %d expired change(s) purged",
                     delivered, expired)  # fmt: skip
