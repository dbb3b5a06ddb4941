"""The alert desk's worker (ALR-01..03, CSD-10): turns analytics events into alerts,
supervises the cameras' streams, escalates missed acknowledgement deadlines.

One thread, one PostgreSQL connection LISTENing on ``vms_events``:

- an analytics event (any kind but ``comptage``) becomes one alert, with its kind's
  procedure (priority, deadline); at start and after each reconnection (notifications
  may have been missed) every event without an alert gets one (catch-up);
- a ``technique`` event raised/cleared raises/clears the fault ``<camera>:<cls>``:
  one open technical alert and one open ticket per camera and fault; clearing closes
  the alert (system, qualification ``technique``) and resolves the ticket. The
  catch-up replays only the last such event of each camera and fault;
- every ``check_interval_s``, the stream check: a configured camera with no segment
  stored for ``stream_timeout_s`` (counted from the desk's start at the earliest)
  raises ``flux_interrompu`` the same way; a segment stored again clears it;
- every ``health.settings.interval_s``, the health checks of ``vms.alerts.health``
  (quality floors, gaps, clock drift, replicas, free space, checks run late);
- every ``sla_interval_s``, the alerts still ``nouvelle`` past their deadline are
  escalated once (``vms.domain.alerts.overdue``).

Everything runs in the desk's thread, so nothing here races with itself; several desks
(several hosts) stay correct through the unique indexes the store relies on.
See docs/design/alerts.md.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

import psycopg

from vms.alerts.health import HealthChecker
from vms.alerts.store import (
    EVENTS_CHANNEL,
    NOT_ALERTS,
    STREAM_FAULT,
    TECHNICAL,
    AlertStore,
    EventRow,
    Fault,
    dedup_key,
)
from vms.db.pool import listen_forever
from vms.domain.clock import Clock

log = logging.getLogger(__name__)

T = TypeVar("T")

STREAM_FAULT_TITLE = "Flux vidéo interrompu"
STREAM_BACK = "flux vidéo rétabli"


class Worker(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


@dataclass(frozen=True, slots=True)
class DeskSettings:
    stream_timeout_s: float = 60.0
    check_interval_s: float = 10.0
    sla_interval_s: float = 5.0


class AlertDesk:
    def __init__(
        self,
        dsn: str,
        store: AlertStore,
        cameras: Iterable[str],
        clock: Clock,
        settings: DeskSettings | None = None,
        health: HealthChecker | None = None,
    ) -> None:
        self.dsn = dsn
        self.store = store
        self.cameras = sorted(set(cameras))
        """The configured cameras whose streams are supervised."""
        self.clock = clock
        self.settings = settings or DeskSettings()
        self.health = health
        """The periodic health checks (``vms.alerts.health``), run in this thread."""
        self.stream_checks = 0
        self.sla_checks = 0
        """Runs of each periodic check so far (tests wait on them, not on time)."""
        self._started_at: datetime | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alert-desk", daemon=True)
        self._workers: list[Worker] = []

    # -- lifecycle -----------------------------------------------------------------

    def attach(self, *workers: Worker) -> None:
        """Workers started and stopped with the desk (MQTT input, outgoing webhooks)."""
        self._workers.extend(workers)

    def start(self) -> None:
        self._started_at = self.clock.now()
        self._thread.start()
        for w in self._workers:
            w.start()
        log.info(
            "alert desk: %d camera(s) supervised, stream timeout %s s",
            len(self.cameras), self.settings.stream_timeout_s,
        )  # fmt: skip

    def stop(self) -> None:
        for w in self._workers:
            w.stop()
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(10)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    # -- analytics events ----------------------------------------------------------

    def catch_up(self) -> int:
        """Alerts for the events that have none (missed notifications, desk stopped),
        and the last technical event of each camera and fault; returns the alerts
        created."""
        created = 0
        while not self._stop.is_set():
            events = self.store.events_without_alert()
            for ev in events:
                created += (
                    self._safely(ev, lambda e: self.store.create_event_alert(e, self.clock.now()))
                    is not None
                )
            if len(events) < 1000:
                break
        for ev in self.store.latest_technical_events():
            self._safely(ev, self.technical_event)
        if created:
            log.info("alert desk: %d alert(s) caught up", created)
        return created

    def notified(self, payload: str) -> None:
        """A ``vms_events`` notification (``{"id", "camera_id", "at", "kind"}``)."""
        try:
            data = json.loads(payload)
            event_id = int(data["id"])
            at = datetime.fromisoformat(data["at"]) if data.get("at") else None
            kind = str(data.get("kind", ""))
        except (ValueError, KeyError, TypeError) as err:
            log.warning("alert desk: event notification not understood (%s): %r", err, payload)
            return
        if kind in NOT_ALERTS:
            return
        ev = self.store.event(event_id, at)
        if ev is None:
            log.warning("alert desk: event %d notified but not found", event_id)
            return
        self._safely(ev, self.event)

    @staticmethod
    def _safely(ev: EventRow, handle: Callable[[EventRow], T]) -> T | None:
        """``handle(ev)``; an event it cannot handle is logged and skipped, so that it
        does not block the others (database errors propagate: reconnect)."""
        try:
            return handle(ev)
        except psycopg.Error:
            raise
        except Exception:
            log.exception("%s: event %d not turned into an alert", ev.camera_id, ev.id)
            return None

    def event(self, ev: EventRow) -> None:
        if ev.kind in NOT_ALERTS:
            return
        if ev.kind == TECHNICAL:
            self.technical_event(ev)
        else:
            self.store.create_event_alert(ev, self.clock.now())

    def technical_event(self, ev: EventRow) -> None:
        """A fault raised or cleared by the analytics tier (``detail.state``)."""
        state = ev.detail.get("state")
        now = self.clock.now()
        if state == "raised":
            key = dedup_key(ev.camera_id, ev.cls)
            if self.store.fault_seen(key, ev.at):
                return  # this event (or a later one) already raised it
            detail: dict[str, object] = {
                k: ev.detail[k] for k in ("value", "threshold") if k in ev.detail
            }
            fault = Fault(ev.camera_id, ev.cls, ev.label, ev.at, detail, (ev.id, ev.at))
            self.store.raise_fault(fault, now)
        elif state == "cleared":
            self.store.clear_fault(ev.camera_id, ev.cls, ev.label.lower(), now, ev.at)
        else:
            log.warning("%s: technical event %d without a known state: %r",
                        ev.camera_id, ev.id, ev.detail)  # fmt: skip

    # -- periodic checks -----------------------------------------------------------

    def check_streams(self) -> None:
        """Raise ``flux_interrompu`` on the cameras with no segment stored for
        ``stream_timeout_s``, clear it on those recording again."""
        self.stream_checks += 1
        if not self.cameras:
            return
        now = self.clock.now()
        timeout = timedelta(seconds=self.settings.stream_timeout_s)
        since = now - timeout
        last = self.store.last_segments(self.cameras, since)
        started = self._started_at or now
        faulty = self.store.open_faults(dedup_key(c, STREAM_FAULT) for c in self.cameras)
        for camera_id in self.cameras:
            key = dedup_key(camera_id, STREAM_FAULT)
            if camera_id in last:
                if key in faulty:
                    self.store.clear_fault(camera_id, STREAM_FAULT, STREAM_BACK, now)
            elif started <= since and key not in faulty:
                fault = Fault(
                    camera_id, STREAM_FAULT, STREAM_FAULT_TITLE, now,
                    {"delai_s": self.settings.stream_timeout_s},
                )  # fmt: skip
                self.store.raise_fault(fault, now)

    def check_sla(self) -> list[int]:
        self.sla_checks += 1
        return self.store.escalate_overdue(self.clock.now())

    # -- loop ----------------------------------------------------------------------

    def _run(self) -> None:
        listen_forever(self.dsn, EVENTS_CHANNEL, self._stop, self._serve, "alert desk")

    def _serve(self, conn: psycopg.Connection[Any]) -> None:
        self.catch_up()  # whatever was stored while not listening
        s = self.settings
        next_check = time.monotonic() + min(s.check_interval_s, s.stream_timeout_s)
        next_sla = time.monotonic()
        next_health = time.monotonic() if self.health is not None else float("inf")
        while not self._stop.is_set():
            wait_s = min(next_check, next_sla, next_health, time.monotonic() + 1.0)
            wait_s -= time.monotonic()
            payloads = [n.payload for n in conn.notifies(timeout=max(0.01, wait_s))]
            for payload in payloads:
                self.notified(payload)
            if time.monotonic() >= next_sla:
                next_sla = time.monotonic() + s.sla_interval_s
                self.check_sla()
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + s.check_interval_s
                self.check_streams()
            if self.health is not None and time.monotonic() >= next_health:
                next_health = time.monotonic() + self.health.settings.interval_s
                try:
                    self.health.run(self.clock.now())
                except psycopg.Error:
                    raise
                except Exception:  # the other checks and the alerts go on
                    log.exception("alert desk: health checks failed")
