"""What the alert desk reads from and writes to PostgreSQL (synchronous: the desk's
thread calls it). See docs/design/alerts.md.

Every change of an alert is one transaction: the alert row, its ``alert_history`` row,
the audit entry (``alert.<action>``, actor ``systeme``) and ``NOTIFY vms_alerts`` with
``{"id", "tenant_id"}`` (delivered at commit). Tickets likewise (``ticket.<action>``).
Idempotence rests on the unique indexes of migration 0010: one alert per event
(``alerts_event``), one open alert and one open ticket per ``dedup_key``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from vms.alerts.inputs import ExternalInput, columns, in_scope, raised_at
from vms.alerts.suppression import FLAPPING, FlapSettings, flapping, maintenance_report
from vms.db.alerts import (
    ACTIVE_MAINTENANCE_SQL,
    EXISTING_EXTERNAL_SQL,
    EXTERNAL_KINDS_SQL,
    INSERT_EXTERNAL_SQL,
)
from vms.db.audit import append_sync
from vms.domain.alerts import (
    SYSTEM_ACTOR,
    AlertView,
    State,
    Transition,
    ack_due,
    overdue,
    system_close,
)
from vms.errors import invalid

log = logging.getLogger(__name__)


class OutOfScope(Exception):
    """An external alarm for a commune outside its input's scope (the MQTT input's
    ``communes``): nothing stored."""

    def __init__(self, tenant: str) -> None:
        super().__init__(tenant)
        self.tenant = tenant


EVENTS_CHANNEL = "vms_events"
"""Where the analytics tier announces each stored event (``analytics.store``)."""
ALERTS_CHANNEL = "vms_alerts"
"""Where the desk announces each created or changed alert (payload ``{"id", "tenant_id"}``)."""
NOT_ALERTS = frozenset({"comptage"})
"""Event kinds that never become alerts (statistics)."""
TECHNICAL = "technique"
"""Kind of the technical alerts and of the analytics tier's technical events."""
STREAM_FAULT = "flux_interrompu"
"""The desk's own fault: no segment stored for a while."""
FALLBACK_PRIORITY = 2
FALLBACK_DEADLINE_S = 300
"""Priority and deadline of an alert whose kind has no procedure (logged)."""

_ALERT_COLUMNS = "id, tenant_id, state, raised_at, ack_due_at, priority, source, overdue_at"


@dataclass(frozen=True, slots=True)
class Procedure:
    kind: str
    title: str
    priority: int
    ack_deadline_s: int


@dataclass(frozen=True, slots=True)
class EventRow:
    """An analytics event as the desk reads it (with its camera's tenant)."""

    id: int
    at: datetime
    camera_id: str
    tenant_id: str
    kind: str
    cls: str
    rule_id: str
    label: str
    confidence: float
    boxes: list[Any]
    model: str
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Fault:
    """A technical fault of a camera, raised (by an event or the health check)."""

    camera_id: str
    fault: str
    title: str
    at: datetime
    detail: dict[str, Any] = field(default_factory=dict)
    event: tuple[int, datetime] | None = None  # the ``technique`` event that raised it

    @property
    def dedup_key(self) -> str:
        return dedup_key(self.camera_id, self.fault)


def dedup_key(camera_id: str, fault: str) -> str:
    return f"{camera_id}:{fault}"


@dataclass(frozen=True, slots=True)
class CommuneFault:
    """A technical fault of the installation (a replica's disk, the health checks
    themselves) raised once per commune whose cameras it affects: its alert and ticket
    have no camera. ``subject`` tells apart faults of one kind (the replica)."""

    tenant_id: str
    fault: str
    title: str
    at: datetime
    subject: str = ""
    element: str = ""
    """The ticket's element (default: the title)."""
    description: str = ""
    """The ticket's description (default: the title)."""
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def dedup_key(self) -> str:
        return commune_key(self.tenant_id, self.fault, self.subject)


def commune_key(tenant_id: str, fault: str, subject: str = "") -> str:
    """Dedup key of a commune's fault: never a camera's (a camera key has one colon
    and no ``commune:`` prefix with a fault after the tenant)."""
    return f"commune:{tenant_id}:{fault}" + (f":{subject}" if subject else "")


@dataclass(frozen=True, slots=True)
class _Alert:
    id: int
    tenant_id: str
    view: AlertView


def _alert(row: tuple[Any, ...]) -> _Alert:
    alert_id, tenant, state, raised_at, due, priority, source, overdue_at = row
    deadline_s = int((due - raised_at).total_seconds())
    view = AlertView(State(state), raised_at, deadline_s, priority, source, overdue_at=overdue_at)
    return _Alert(alert_id, tenant, view)


_EVENT_COLUMNS = (
    "e.id, e.at, e.camera_id, c.tenant_id, e.kind, e.cls, e.rule_id, e.label, e.confidence, "
    "e.boxes, e.model, e.detail"
)


def _event(row: tuple[Any, ...]) -> EventRow:
    return EventRow(
        int(row[0]), row[1], row[2], row[3], row[4], row[5], row[6], row[7], float(row[8]),
        list(row[9] or []), row[10], dict(row[11] or {}),
    )  # fmt: skip


def append_audit(
    conn: psycopg.Connection[Any],
    at: datetime,
    action: str,
    tenant: str | None,
    target: str,
    detail: dict[str, object],
    actor: str = SYSTEM_ACTOR,
) -> None:
    """An audit entry of the desk, inside the caller's transaction."""
    append_sync(conn, at, actor, action, tenant=tenant, target=target, detail=detail)


class AlertStore:
    """The desk's database adapter."""

    def __init__(self, pool: ConnectionPool, flap: FlapSettings | None = None) -> None:
        self.pool = pool
        self.flap = flap or FlapSettings()
        self._procedures: dict[str, Procedure] | None = None
        self._unknown_kinds: set[str] = set()

    # -- procedures ----------------------------------------------------------------

    def procedure(self, kind: str) -> Procedure:
        """The procedure of ``kind`` (read once), or a fallback (logged once per kind)."""
        if self._procedures is None:
            with self.pool.connection() as conn:
                rows = conn.execute(
                    "SELECT kind, title, priority, ack_deadline_s FROM alert_procedures"
                ).fetchall()
            self._procedures = {r[0]: Procedure(r[0], r[1], r[2], r[3]) for r in rows}
        found = self._procedures.get(kind)
        if found is not None:
            return found
        if kind not in self._unknown_kinds:
            self._unknown_kinds.add(kind)
            log.warning("alert kind %r has no procedure: priority %d, deadline %d s",
                        kind, FALLBACK_PRIORITY, FALLBACK_DEADLINE_S)  # fmt: skip
        return Procedure(kind, kind, FALLBACK_PRIORITY, FALLBACK_DEADLINE_S)

    # -- events --------------------------------------------------------------------

    def event(self, event_id: int, at: datetime | None = None) -> EventRow | None:
        with self.pool.connection() as conn:
            row = conn.execute(
                f"SELECT {_EVENT_COLUMNS} FROM events e JOIN cameras c ON c.id = e.camera_id "
                "WHERE e.id = %s AND (%s::timestamptz IS NULL OR e.at = %s)",
                (event_id, at, at),
            ).fetchone()
        return None if row is None else _event(row)

    def events_without_alert(self, limit: int = 1000) -> list[EventRow]:
        """The oldest analytics events (neither statistics nor technical) that have no
        alert yet."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {_EVENT_COLUMNS} FROM events e JOIN cameras c ON c.id = e.camera_id "
                "WHERE e.kind <> ALL (%s) AND NOT EXISTS (SELECT 1 FROM alerts a "
                "WHERE a.event_id = e.id AND a.event_at = e.at) ORDER BY e.at, e.id LIMIT %s",
                ([*NOT_ALERTS, TECHNICAL], limit),
            ).fetchall()
        return [_event(r) for r in rows]

    def latest_technical_events(self) -> list[EventRow]:
        """The last ``technique`` event of each camera and fault."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT DISTINCT ON (e.camera_id, e.cls) {_EVENT_COLUMNS} FROM events e "
                "JOIN cameras c ON c.id = e.camera_id WHERE e.kind = %s "
                "ORDER BY e.camera_id, e.cls, e.at DESC, e.id DESC",
                (TECHNICAL,),
            ).fetchall()
        return [_event(r) for r in rows]

    def fault_seen(self, key: str, at: datetime) -> bool:
        """Whether an alert of ``key`` was raised by an event at or after ``at``."""
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT 1 FROM alerts WHERE dedup_key = %s AND event_at >= %s LIMIT 1", (key, at)
            ).fetchone()
        return row is not None

    # -- creation ------------------------------------------------------------------

    def create_event_alert(self, ev: EventRow, now: datetime) -> int | None:
        """The alert of an analytics event (raised at the event's time); None if it
        already has one."""
        proc = self.procedure(ev.kind)
        detail = {
            "label": ev.label, "cls": ev.cls, "confidence": ev.confidence, "boxes": ev.boxes,
            "model": ev.model, "rule_id": ev.rule_id, "event": ev.detail,
        }  # fmt: skip
        with self.pool.connection() as conn, conn.transaction():
            row = conn.execute(
                "INSERT INTO alerts (tenant_id, camera_id, source, kind, priority, title, "
                "event_id, event_at, raised_at, ack_due_at, detail) VALUES (%s, %s, "
                "'analytique', %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (event_id, event_at) WHERE event_id IS NOT NULL DO NOTHING "
                "RETURNING id",
                (ev.tenant_id, ev.camera_id, ev.kind, proc.priority, ev.label or proc.title,
                 ev.id, ev.at, ev.at, ack_due(ev.at, proc.ack_deadline_s), Jsonb(detail)),
            ).fetchone()  # fmt: skip
            if row is None:
                return None
            alert_id = int(row[0])
            self._created(conn, alert_id, ev.tenant_id, now, {"evenement": ev.id, "kind": ev.kind})
            window = _maintenance(conn, ev.camera_id, ev.at)
            if window is not None:
                self._suppress(conn, alert_id, ev.tenant_id, window, now)
        log.info("%s: alert %d raised (%s, event %d)", ev.camera_id, alert_id, ev.kind, ev.id)
        return alert_id

    def raise_fault(self, fault: Fault, now: datetime) -> tuple[int | None, int | None]:
        """The technical alert and ticket of ``fault``, each unless one is open for its
        camera and fault; (new alert id, new ticket id)."""
        proc = self.procedure(TECHNICAL)
        key = fault.dedup_key
        with self.pool.connection() as conn, conn.transaction():
            cam = conn.execute(
                "SELECT tenant_id, name, location FROM cameras WHERE id = %s", (fault.camera_id,)
            ).fetchone()
            if cam is None:
                log.warning("%s: fault %s on an unknown camera", fault.camera_id, fault.fault)
                return None, None
            tenant, name, location = cam
            window = _maintenance(conn, fault.camera_id, fault.at)
            if window is not None:
                log.debug("%s: fault %s not raised: maintenance %d", fault.camera_id,
                         fault.fault, window[0])  # fmt: skip
                return None, None
            event_id, event_at = fault.event or (None, None)
            row = conn.execute(
                "INSERT INTO alerts (tenant_id, camera_id, source, kind, priority, title, "
                "event_id, event_at, dedup_key, raised_at, ack_due_at, detail) VALUES (%s, %s, "
                "'technique', %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (dedup_key) "
                "WHERE dedup_key IS NOT NULL AND state <> 'cloturee' DO NOTHING RETURNING id",
                (tenant, fault.camera_id, TECHNICAL, proc.priority, fault.title, event_id,
                 event_at, key, fault.at, ack_due(fault.at, proc.ack_deadline_s),
                 Jsonb({"fault": fault.fault, **fault.detail})),
            ).fetchone()  # fmt: skip
            alert_id = linked = None if row is None else int(row[0])
            if alert_id is not None:
                self._created(conn, alert_id, tenant, now, {"defaut": fault.fault})
            else:  # the ticket points at the alert already open
                found = conn.execute(
                    "SELECT id FROM alerts WHERE dedup_key = %s AND state <> 'cloturee'", (key,)
                ).fetchone()
                linked = None if found is None else int(found[0])
            row = conn.execute(
                "INSERT INTO tickets (tenant_id, camera_id, alert_id, dedup_key, declarer, "
                "element, site, description, opened_at) VALUES (%s, %s, %s, %s, %s, %s, %s, "
                "%s, %s) ON CONFLICT (dedup_key) WHERE dedup_key IS NOT NULL AND state NOT IN "
                "('resolu', 'clos') DO NOTHING RETURNING id",
                (tenant, fault.camera_id, linked, key,
                 SYSTEM_ACTOR, f"Caméra {name}", location, fault.title, now),
            ).fetchone()  # fmt: skip
            ticket_id = None if row is None else int(row[0])
            if ticket_id is not None:
                append_audit(conn, now, "ticket.open", tenant, f"ticket:{ticket_id}",
                             {"camera": fault.camera_id, "defaut": fault.fault})  # fmt: skip
        if alert_id is not None or ticket_id is not None:
            log.info("%s: fault %s raised (alert %s, ticket %s)",
                     fault.camera_id, fault.fault, alert_id, ticket_id)  # fmt: skip
        return alert_id, ticket_id

    def raise_commune_fault(
        self, fault: CommuneFault, now: datetime
    ) -> tuple[int | None, int | None]:
        """The technical alert and ticket of a commune's ``fault`` (no camera), each
        unless one is open for its key; (new alert id, new ticket id). Maintenance
        windows, being a camera's, do not apply."""
        proc = self.procedure(TECHNICAL)
        key = fault.dedup_key
        with self.pool.connection() as conn, conn.transaction():
            found = conn.execute(
                "SELECT name FROM tenants WHERE id = %s", (fault.tenant_id,)
            ).fetchone()
            if found is None:
                log.warning("fault %s on an unknown commune %s", fault.fault, fault.tenant_id)
                return None, None
            row = conn.execute(
                "INSERT INTO alerts (tenant_id, camera_id, source, kind, priority, title, "
                "dedup_key, raised_at, ack_due_at, detail) VALUES (%s, NULL, 'technique', %s, "
                "%s, %s, %s, %s, %s, %s) ON CONFLICT (dedup_key) WHERE dedup_key IS NOT NULL "
                "AND state <> 'cloturee' DO NOTHING RETURNING id",
                (fault.tenant_id, TECHNICAL, proc.priority, fault.title, key, fault.at,
                 ack_due(fault.at, proc.ack_deadline_s),
                 Jsonb({"fault": fault.fault, **fault.detail})),
            ).fetchone()  # fmt: skip
            alert_id = linked = None if row is None else int(row[0])
            if alert_id is not None:
                self._created(conn, alert_id, fault.tenant_id, now, {"defaut": fault.fault})
            else:
                open_row = conn.execute(
                    "SELECT id FROM alerts WHERE dedup_key = %s AND state <> 'cloturee'", (key,)
                ).fetchone()
                linked = None if open_row is None else int(open_row[0])
            row = conn.execute(
                "INSERT INTO tickets (tenant_id, camera_id, alert_id, dedup_key, declarer, "
                "element, site, description, opened_at) VALUES (%s, NULL, %s, %s, %s, %s, %s, "
                "%s, %s) ON CONFLICT (dedup_key) WHERE dedup_key IS NOT NULL AND state NOT IN "
                "('resolu', 'clos') DO NOTHING RETURNING id",
                (fault.tenant_id, linked, key, SYSTEM_ACTOR, fault.element or fault.title,
                 str(found[0]), fault.description or fault.title, now),
            ).fetchone()  # fmt: skip
            ticket_id = None if row is None else int(row[0])
            if ticket_id is not None:
                append_audit(conn, now, "ticket.open", fault.tenant_id, f"ticket:{ticket_id}",
                             {"commune": fault.tenant_id, "defaut": fault.fault,
                              **({"objet": fault.subject} if fault.subject else {})})  # fmt: skip
        if alert_id is not None or ticket_id is not None:
            log.info("commune %s: fault %s %s raised (alert %s, ticket %s)",
                     fault.tenant_id, fault.fault, fault.subject, alert_id, ticket_id)  # fmt: skip
        return alert_id, ticket_id

    def _created(
        self,
        conn: psycopg.Connection[Any],
        alert_id: int,
        tenant: str,
        now: datetime,
        detail: dict[str, object],
    ) -> None:
        self._history(conn, alert_id, tenant, now, "create", None, State.NEW, detail)
        append_audit(conn, now, "alert.create", tenant, f"alert:{alert_id}", detail)
        self._notify(conn, alert_id, tenant)

    # -- clearing ------------------------------------------------------------------

    def clear_fault(
        self,
        camera_id: str,
        fault: str,
        reason: str,
        now: datetime,
        raised_before: datetime | None = None,
    ) -> tuple[int | None, int | None]:
        """The fault cleared: the system closes its open alert (``raised_before``: only
        one raised by an event up to then) and resolves its open ticket; (closed alert
        id, resolved ticket id)."""
        return self._clear(dedup_key(camera_id, fault), camera_id, {"camera": camera_id},
                           fault, reason, now, raised_before)  # fmt: skip

    def clear_commune_fault(
        self, tenant_id: str, fault: str, reason: str, now: datetime, subject: str = ""
    ) -> tuple[int | None, int | None]:
        """A commune's fault cleared: as ``clear_fault``, for its key."""
        detail: dict[str, object] = {"commune": tenant_id}
        if subject:
            detail["objet"] = subject
        return self._clear(commune_key(tenant_id, fault, subject), f"commune {tenant_id}",
                           detail, fault, reason, now, None)  # fmt: skip

    def _clear(
        self,
        key: str,
        who: str,
        about: dict[str, object],
        fault: str,
        reason: str,
        now: datetime,
        raised_before: datetime | None,
    ) -> tuple[int | None, int | None]:
        closed = resolved = None
        with self.pool.connection() as conn, conn.transaction():
            row = conn.execute(
                f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE dedup_key = %s AND state <> "
                "'cloturee' AND (%s::timestamptz IS NULL OR event_at IS NULL OR event_at <= %s) "
                "FOR UPDATE",
                (key, raised_before, raised_before),
            ).fetchone()
            if row is not None and self._flapping(conn, key, now):
                alert = _alert(row)
                held = conn.execute(
                    "SELECT 1 FROM alert_history WHERE alert_id = %s AND action = %s "
                    "AND at >= %s LIMIT 1",
                    (alert.id, FLAPPING, alert.view.raised_at),
                ).fetchone()
                if held is None:
                    detail = {"motif": reason, "levees": self.flap.count,
                              "fenetre_s": self.flap.window_s}  # fmt: skip
                    self._history(conn, alert.id, alert.tenant_id, now, FLAPPING,
                                  alert.view.state, alert.view.state, detail)  # fmt: skip
                    append_audit(conn, now, f"alert.{FLAPPING}", alert.tenant_id,
                                 f"alert:{alert.id}", detail)  # fmt: skip
                    self._notify(conn, alert.id, alert.tenant_id)
                log.info("%s: fault %s flaps: alert %d held open", who, fault, alert.id)
                return None, None
            if row is not None:
                alert = _alert(row)
                self._apply(conn, alert, system_close(alert.view, reason, now), "close", now)
                closed = alert.id
            row = conn.execute(
                "UPDATE tickets SET state = 'resolu', resolution = %s, resolved_at = %s "
                "WHERE dedup_key = %s AND state NOT IN ('resolu', 'clos') "
                "RETURNING id, tenant_id",
                (f"Rétabli automatiquement : {reason}", now, key),
            ).fetchone()
            if row is not None:
                resolved = int(row[0])
                append_audit(conn, now, "ticket.resolve", row[1], f"ticket:{resolved}",
                             {**about, "defaut": fault})  # fmt: skip
        if closed is not None or resolved is not None:
            log.info("%s: fault %s cleared (alert %s closed, ticket %s resolved)",
                     who, fault, closed, resolved)  # fmt: skip
        return closed, resolved

    def open_faults(self, keys: Iterable[str]) -> set[str]:
        """Those of ``keys`` with an open alert or ticket."""
        wanted = list(keys)
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT dedup_key FROM alerts WHERE dedup_key = ANY (%s) AND state <> 'cloturee' "
                "UNION SELECT dedup_key FROM tickets WHERE dedup_key = ANY (%s) "
                "AND state NOT IN ('resolu', 'clos')",
                (wanted, wanted),
            ).fetchall()
        return {r[0] for r in rows}

    # -- stream health -------------------------------------------------------------

    def last_segments(
        self, camera_ids: Sequence[str], since: datetime, max_segment_s: float = 300.0
    ) -> dict[str, datetime]:
        """The end of the last segment stored for each of ``camera_ids`` that has one
        ending after ``since`` (``max_segment_s``: longer than any segment, to bound the
        scan by start time, the partitioning key)."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT camera_id, max(end_at) FROM segments WHERE camera_id = ANY (%s) "
                "AND start_at >= %s AND end_at >= %s GROUP BY camera_id",
                (list(camera_ids), since - timedelta(seconds=max_segment_s), since),
            ).fetchall()
        return {r[0]: r[1] for r in rows}

    # -- deadlines -----------------------------------------------------------------

    def escalate_overdue(self, now: datetime, limit: int = 500) -> list[int]:
        """Escalate the alerts still new past their deadline (ALR-03), once each."""
        done: list[int] = []
        with self.pool.connection() as conn, conn.transaction():
            rows = conn.execute(
                f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE state = 'nouvelle' AND "
                "overdue_at IS NULL AND ack_due_at <= %s ORDER BY ack_due_at LIMIT %s "
                "FOR UPDATE SKIP LOCKED",
                (now, limit),
            ).fetchall()
            for row in rows:
                alert = _alert(row)
                transition = overdue(alert.view, now)
                if transition is not None:
                    self._apply(conn, alert, transition, "overdue", now)
                    done.append(alert.id)
        if done:
            log.info("alerts %s escalated: acknowledgement deadline passed", done)
        return done

    # -- external inputs (MQTT) ----------------------------------------------------

    def create_external(
        self,
        msg: ExternalInput,
        input_source: str,
        now: datetime,
        communes: Sequence[str] | None = None,
    ) -> tuple[int, bool]:
        """The alert of an external alarm, as the webhook stores it (actor: the input);
        (alert id, created). VmsError (INVALID_ARGUMENT) for an unknown camera, commune
        or kind."""
        with self.pool.connection() as conn, conn.transaction():
            if msg.camera_id is not None:
                row = conn.execute(
                    "SELECT tenant_id FROM cameras WHERE id = %s", (msg.camera_id,)
                ).fetchone()
            else:
                row = conn.execute(
                    "SELECT id FROM tenants WHERE id = %s", (msg.commune,)
                ).fetchone()
            if row is None:
                raise invalid(f"Caméra ou commune inconnue : {msg.camera_id or msg.commune}.")
            tenant = str(row[0])
            if communes is not None and not in_scope(communes, tenant):
                raise OutOfScope(tenant)
            kinds = {r[0] for r in conn.execute(EXTERNAL_KINDS_SQL).fetchall()}
            if msg.kind not in kinds:
                raise invalid(f"Type d'alarme externe inconnu : {msg.kind}.")
            if msg.external_id is not None:
                found = conn.execute(
                    EXISTING_EXTERNAL_SQL, (tenant, input_source, msg.external_id)
                ).fetchone()
                if found is not None:
                    return int(found[0]), False
            proc = self.procedure(msg.kind)
            at = raised_at(msg, now)
            window = None if msg.camera_id is None else _maintenance(conn, msg.camera_id, at)
            values = columns(msg, tenant_id=tenant, input_source=input_source,
                             priority=proc.priority, ack_deadline_s=proc.ack_deadline_s,
                             maintenance=window, now=now)  # fmt: skip
            row = conn.execute(
                INSERT_EXTERNAL_SQL, {**values, "detail": Jsonb(values["detail"])}
            ).fetchone()
            if row is None:  # received twice at the same time
                found = conn.execute(
                    EXISTING_EXTERNAL_SQL, (tenant, input_source, msg.external_id)
                ).fetchone()
                assert found is not None
                return int(found[0]), False
            alert_id = int(row[0])
            detail: dict[str, object] = {"source": input_source, "kind": msg.kind,
                                         "camera": msg.camera_id,
                                         "external_id": msg.external_id}  # fmt: skip
            self._history(conn, alert_id, tenant, now, "create", None, State.NEW, detail,
                          actor=input_source)  # fmt: skip
            if window is not None:
                self._history(conn, alert_id, tenant, now, "close", State.NEW, State.CLOSED,
                              {"maintenance": window[0]})  # fmt: skip
                detail["maintenance"] = window[0]
            append_audit(conn, now, "alert.create", tenant, f"alert:{alert_id}", detail,
                         actor=input_source)  # fmt: skip
            self._notify(conn, alert_id, tenant)
        log.info("external alert %d raised (%s, %s)", alert_id, input_source, msg.kind)
        return alert_id, True

    # -- suppression rules ---------------------------------------------------------

    def _flapping(self, conn: psycopg.Connection[Any], key: str, now: datetime) -> bool:
        since = now - timedelta(seconds=self.flap.window_s)
        rows = conn.execute(
            "SELECT raised_at FROM alerts WHERE dedup_key = %s AND raised_at >= %s",
            (key, since),
        ).fetchall()
        return flapping((r[0] for r in rows), now, self.flap)

    def _suppress(
        self,
        conn: psycopg.Connection[Any],
        alert_id: int,
        tenant: str,
        window: tuple[int, str],
        now: datetime,
    ) -> None:
        """Close at once an alert raised during a maintenance window (kept on record)."""
        conn.execute(
            "UPDATE alerts SET state = 'cloturee', closed_at = %s, closed_by = %s, "
            "qualification = 'technique', report = %s, suppressed_by = %s WHERE id = %s",
            (now, SYSTEM_ACTOR, maintenance_report(window[1]), window[0], alert_id),
        )
        conn.execute(
            "UPDATE event_protections p SET released_at = %s, released_by = %s FROM alerts a "
            "WHERE a.id = %s AND p.event_id = a.event_id AND p.event_at = a.event_at "
            "AND p.released_at IS NULL",
            (now, SYSTEM_ACTOR, alert_id),
        )
        detail = {"maintenance": window[0]}
        self._history(conn, alert_id, tenant, now, "close", State.NEW, State.CLOSED, detail)
        append_audit(conn, now, "alert.close", tenant, f"alert:{alert_id}",
                     {"de": State.NEW.value, "vers": State.CLOSED.value, **detail})  # fmt: skip
        log.info("alert %d recorded closed: maintenance %d", alert_id, window[0])

    # -- common --------------------------------------------------------------------

    def _apply(
        self,
        conn: psycopg.Connection[Any],
        alert: _Alert,
        transition: Transition,
        action: str,
        now: datetime,
    ) -> None:
        """Store ``transition`` of ``alert``: row, history, audit, notification."""
        log.debug("alert %d - %s -> %s", alert.id, transition.from_state, transition.to_state)
        changes = {
            k: Jsonb(v) if isinstance(v, (dict, list)) else v for k, v in transition.changes.items()
        }
        sets = ", ".join(f"{column} = %s" for column in changes)  # keys: the domain's columns
        conn.execute(f"UPDATE alerts SET {sets} WHERE id = %s", (*changes.values(), alert.id))
        self._history(conn, alert.id, alert.tenant_id, now, action, transition.from_state,
                      transition.to_state, transition.detail)  # fmt: skip
        append_audit(conn, now, f"alert.{action}", alert.tenant_id, f"alert:{alert.id}",
                     {"de": transition.from_state.value, "vers": transition.to_state.value,
                      **transition.detail})  # fmt: skip
        self._notify(conn, alert.id, alert.tenant_id)

    @staticmethod
    def _history(
        conn: psycopg.Connection[Any],
        alert_id: int,
        tenant: str,
        at: datetime,
        action: str,
        from_state: State | None,
        to_state: State,
        detail: dict[str, Any],
        actor: str = SYSTEM_ACTOR,
    ) -> None:
        conn.execute(
            "INSERT INTO alert_history (alert_id, tenant_id, at, actor, action, from_state, "
            "to_state, detail) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (alert_id, tenant, at, actor, action,
             None if from_state is None else from_state.value, to_state.value,
             Jsonb(json.loads(json.dumps(detail, default=str)))),
        )  # fmt: skip

    @staticmethod
    def _notify(conn: psycopg.Connection[Any], alert_id: int, tenant: str) -> None:
        payload = json.dumps({"id": alert_id, "tenant_id": tenant})
        conn.execute("SELECT pg_notify(%s, %s)", (ALERTS_CHANNEL, payload))


def _maintenance(
    conn: psycopg.Connection[Any], camera_id: str, at: datetime
) -> tuple[int, str] | None:
    """(id, reason) of the camera's maintenance window in force at ``at``."""
    row = conn.execute(ACTIVE_MAINTENANCE_SQL, (camera_id, at, at)).fetchone()
    return None if row is None else (int(row[0]), str(row[1]))
