"""The alert desk in the console (ALR-01..03, CSD-10): alerts (list, card, actions,
manual alerts), their live push over a WebSocket, and intervention tickets.

Permissions are checked per camera as elsewhere: 404 (audited) outside the caller's
perimeter, 403 (audited) inside it without the right. Analytics, external and manual
alerts need ``handle_alerts`` on their camera; technical alerts and tickets
``handle_alerts`` or ``admin_cameras``. An alert without a camera needs the right on
its whole commune. Every action goes through the pure state machine
(``vms.domain.alerts.apply``, ``vms.domain.tickets.apply``) and writes the row, its
history, the audit entry and ``NOTIFY vms_alerts`` in one transaction.

The push: one LISTEN connection per web server (``AlertHub``) fans each notification
out to the sockets whose caller may see that alert. Each socket has its own bounded
queue and writer, so a slow console never delays the others: one that falls too far
behind is closed (the console reconnects and reloads the list).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import psycopg
from aiohttp import WSMsgType, web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from vms.alerts import inputs
from vms.db import accounts
from vms.db import alerts as db
from vms.db.scope import Conn, scoped
from vms.domain import alerts as machine
from vms.domain import tickets as ticket_machine
from vms.domain.access import (
    CAMERA_ACTIONS,
    Action,
    CameraRef,
    Decision,
    Principal,
    decide,
    visible_tenants,
)
from vms.errors import VmsError, denied, invalid, precondition
from vms.web.api.cameras import IDENT, camera_ref
from vms.web.api.live import camera_for
from vms.web.auth import Caller, authenticate, caller_of, client_ip, services
from vms.web.context import SERVICES, Services
from vms.web.http import body_of, ok, path_int, query_int, query_time, refuse
from vms.web.routes import Param, Route

logger = logging.getLogger(__name__)

HANDLE = (Action.HANDLE_ALERTS,)
INPUT = (Action.ALERT_INPUT,)
MAX_MAINTENANCE = timedelta(days=31)
TECHNICAL = (Action.HANDLE_ALERTS, Action.ADMIN_CAMERAS)
"""Technical alerts and tickets: the alert desk or the camera administrators."""
MAX_ALERTS = 500
PING_S = 20.0
QUEUE_SIZE = 256
"""Messages waiting for one socket; beyond, the socket is closed (too slow)."""
SEND_TIMEOUT_S = 10.0
CLIP_BEFORE = timedelta(seconds=20)
CLIP_AFTER = timedelta(seconds=10)
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_STATES: dict[str, db.StateFilter] = {"open": "open", "closed": "closed", "all": "all"}


def rights_for(source: str) -> tuple[Action, ...]:
    return TECHNICAL if source == "technique" else HANDLE


def _ref(row: dict[str, Any]) -> CameraRef | None:
    if row["camera_id"] is None:
        return None
    return CameraRef(str(row["camera_id"]), str(row["tenant_id"]),
                     frozenset(str(g) for g in row["camera_groups"]))  # fmt: skip


def _decisions(
    principal: Principal, row: dict[str, Any], actions: Iterable[Action], today: date
) -> list[Decision]:
    ref, tenant = _ref(row), str(row["tenant_id"])
    return [decide(principal, a, ref, today, tenant=tenant) for a in actions]


def may_handle(principal: Principal, row: dict[str, Any], today: date) -> bool:
    """May ``principal`` see and handle the alert ``row``?"""
    return any(_decisions(principal, row, rights_for(str(row["source"])), today))


async def _check(
    request: web.Request,
    caller: Caller,
    row: dict[str, Any] | None,
    what: str,
    ident: int,
    rights: tuple[Action, ...] | None = None,
) -> dict[str, Any]:
    """``row`` if the caller holds one of ``rights`` on it (default: those its source
    needs): 404 (audited) when it lies outside the caller's perimeter, 403 (audited)
    when visible but not allowed."""
    today = services(request).clock.now().date()
    target = f"{what}:{ident}"
    label = "alerte" if what == "alert" else "ticket"
    if row is None or not any(_decisions(caller.principal, row, CAMERA_ACTIONS, today)):
        await refuse(request, caller, f"{label} hors du périmètre", target=target, hide=True)
    rights = rights or rights_for(str(row["source"]))
    decisions = _decisions(caller.principal, row, rights, today)
    if not any(decisions):
        await refuse(request, caller, decisions[0], target=target, tenant=str(row["tenant_id"]))
    return row


async def _perimeter(conn: Conn, principal: Principal, now: datetime) -> db.Perimeter:
    """The cameras and communes where ``principal`` handles alerts, and those where
    they administer cameras only (technical alerts, tickets)."""
    today = now.date()
    handle: list[str] = []
    admin: list[str] = []
    for r in await accounts.cameras(conn, now):
        ref = camera_ref(r)
        if decide(principal, Action.HANDLE_ALERTS, ref, today):
            handle.append(ref.camera_id)
        elif decide(principal, Action.ADMIN_CAMERAS, ref, today):
            admin.append(ref.camera_id)

    def whole(action: Action) -> list[str]:
        return sorted(t for t in visible_tenants(principal, action, today)
                      if decide(principal, action, None, today, tenant=t))  # fmt: skip

    return db.Perimeter(handle, admin, whole(Action.HANDLE_ALERTS),
                        whole(Action.ADMIN_CAMERAS))  # fmt: skip


def _desk_tenants(principal: Principal, today: date) -> frozenset[str]:
    return visible_tenants(principal, TECHNICAL, today)


def _camera_param(request: web.Request) -> str | None:
    camera = request.query.get("camera") or None
    if camera is not None and not re.fullmatch(IDENT, camera):
        raise invalid("Paramètre « camera » : identifiant de caméra invalide.")
    return camera


# -- alerts -------------------------------------------------------------------------------


def summary(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    """AlertSummary (docs/design/alerts.md)."""
    state = machine.State(row["state"])
    late: int | None = None
    if row["acknowledged_at"] is not None or state is machine.State.NEW:
        late = machine.lateness_s(row["ack_due_at"], row["acknowledged_at"], now) or None
    overdue = row["overdue_at"] is not None or (
        state is machine.State.NEW and now >= row["ack_due_at"]
    )
    return {
        "id": row["id"],
        "tenant_id": row["tenant_id"],
        "tenant_name": row["tenant_name"],
        "camera_id": row["camera_id"],
        "camera_name": row["camera_name"],
        "source": row["source"],
        "kind": row["kind"],
        "priority": row["priority"],
        "title": row["title"],
        "state": state.value,
        "state_label": state.label,
        "raised_at": row["raised_at"],
        "ack_due_at": row["ack_due_at"],
        "overdue": overdue,
        "late_s": late,
        "assigned_to": row["assigned_to"],
        "acknowledged_by": row["acknowledged_by"],
        "closed_at": row["closed_at"],
        "qualification": row["qualification"],
    }


async def _card(conn: Conn, row: dict[str, Any], now: datetime) -> dict[str, Any]:
    extra = await db.card(conn, row)
    event_at = row["event_at"]
    clip = None
    if row["camera_id"] is not None and event_at is not None:
        clip = {"camera_id": row["camera_id"], "from": event_at - CLIP_BEFORE,
                "to": event_at + CLIP_AFTER}  # fmt: skip
    snapshot = None
    if row["source"] == "analytique" and row["event_id"] is not None:
        snapshot = f"/api/v1/events/{row['event_id']}/snapshot"
    return {
        **summary(row, now),
        "procedure": extra["procedure"],
        "camera": extra["camera"],
        "referents": extra["referents"],
        "snapshot": snapshot,
        "clip": clip,
        "forces_calls": row["forces_calls"],
        "report": row["report"],
        "detail": row["detail"],
        "history": extra["history"],
    }


async def list_alerts(request: web.Request) -> web.StreamResponse:
    """Alerts of the caller's perimeter, newest first."""
    caller = caller_of(request)
    svc = services(request)
    now = svc.clock.now()
    state = _STATES.get(request.query.get("state") or "open")
    if state is None:
        raise invalid("Paramètre « state » : open, closed ou all attendu.")
    camera = _camera_param(request)
    kind = request.query.get("kind") or None
    if kind is not None and not _NAME.fullmatch(kind):
        raise invalid("Paramètre « kind » : identifiant invalide.")
    since, until = query_time(request, "since"), query_time(request, "until")
    if since is not None and until is not None and until <= since:
        raise invalid("Plage horaire invalide : la fin doit suivre le début.")
    limit = query_int(request, "limit", 200, 1, MAX_ALERTS)
    async with scoped(svc.pool, _desk_tenants(caller.principal, now.date())) as conn:
        perimeter = await _perimeter(conn, caller.principal, now)
        rows = await db.alerts(conn, perimeter, state=state, camera=camera, kind=kind,
                               since=since, until=until, limit=limit)  # fmt: skip
    return ok({"alerts": [summary(r, now) for r in rows]})


async def get_alert(request: web.Request) -> web.StreamResponse:
    """The alert card (ALR-01); audited."""
    caller = caller_of(request)
    svc = services(request)
    now = svc.clock.now()
    alert_id = path_int(request, "alert_id")
    async with scoped(svc.pool, visible_tenants(caller.principal, CAMERA_ACTIONS, now.date())) as c:
        row = await _check(request, caller, await db.alert(c, alert_id), "alert", alert_id)
        card = await _card(c, row, now)
    await svc.audit.append(
        caller.actor, "alert.view", tenant=str(row["tenant_id"]), target=f"alert:{alert_id}",
        source_ip=client_ip(request),
    )  # fmt: skip
    return ok(card)


class AlertActionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: str = Field(
        description="acknowledge, assign, start, escalate, close ou reopen", max_length=32
    )
    assigned_to: str | None = Field(None, description="assign : identifiant de l'opérateur",
                                    max_length=64)  # fmt: skip
    keep_assignee: bool = Field(False, description="acknowledge : garder l'opérateur affecté")
    service: str | None = Field(None, description="escalate : police_nationale, gendarmerie, "
                                "police_municipale, pompiers ou samu", max_length=32)  # fmt: skip
    reference: str | None = Field(None, description="escalate : référence de l'appel",
                                  max_length=200)  # fmt: skip
    share_link_id: int | None = Field(None, description="escalate : lien de partage du direct "
                                      "transmis", ge=1, lt=2**63)  # fmt: skip
    qualification: str | None = Field(None, description="close : incident_reel, fausse_alerte, "
                                      "test ou technique", max_length=32)  # fmt: skip
    report: str | None = Field(None, description="close : compte rendu (obligatoire)",
                               max_length=4000)  # fmt: skip
    reason: str | None = Field(None, description="reopen : motif (obligatoire)", max_length=1000)


async def alert_action(request: web.Request) -> web.StreamResponse:
    """One transition of the state machine; the updated card."""
    caller = caller_of(request)
    svc = services(request)
    alert_id = path_int(request, "alert_id")
    body = await body_of(request, AlertActionBody)
    params = body.model_dump(exclude={"action"}, exclude_none=True)
    now = svc.clock.now()
    async with scoped(svc.pool, visible_tenants(caller.principal, CAMERA_ACTIONS, now.date())) as c:
        row = await _check(request, caller, await db.alert(c, alert_id, lock=True), "alert",
                           alert_id)  # fmt: skip
        view = machine.AlertView(
            machine.State(row["state"]), row["raised_at"], int(row["ack_deadline_s"]),
            int(row["priority"]), str(row["source"]), tuple(row["forces_calls"]),
        )  # fmt: skip
        t = machine.apply(view, body.action, params, caller.user.login, now)
        await db.change(c, row, t.changes, at=now, actor=caller.user.login, action=body.action,
                        from_state=t.from_state.value, to_state=t.to_state.value,
                        detail=t.detail)  # fmt: skip
        entry = await svc.audit.append_in(
            c, caller.actor, f"alert.{body.action}", tenant=str(row["tenant_id"]),
            target=f"alert:{alert_id}",
            detail={"de": t.from_state.value, "vers": t.to_state.value, **t.detail},
            source_ip=client_ip(request),
        )  # fmt: skip
        changed = await db.alert(c, alert_id)
        assert changed is not None
        card = await _card(c, changed, now)
    svc.audit.committed(entry)
    return ok(card)


class ManualAlertBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    camera_id: str = Field(description="Caméra concernée", pattern=IDENT)
    title: str = Field(description="Intitulé de l'alerte", min_length=1, max_length=200)
    detail: str = Field("", description="Description", max_length=4000)


async def create_alert(request: web.Request) -> web.StreamResponse:
    """A manual alert on a camera (an operator's own observation); audited."""
    caller = caller_of(request)
    svc = services(request)
    body = await body_of(request, ManualAlertBody)
    if not body.title.strip():
        raise invalid("L'intitulé de l'alerte est obligatoire.")
    cam = await camera_for(request, caller, Action.HANDLE_ALERTS, body.camera_id)
    tenant, now = str(cam["tenant"]), svc.clock.now()
    async with scoped(svc.pool, {tenant}) as conn:
        priority, deadline = await db.deadline_s(conn, "manuelle")
        detail = {"description": body.detail.strip()} if body.detail.strip() else {}
        alert_id = await db.insert(
            conn, tenant_id=tenant, camera_id=str(cam["id"]), source="manuelle", kind="manuelle",
            priority=priority, title=body.title.strip(), raised_at=now,
            ack_due_at=machine.ack_due(now, deadline), detail=detail,
        )  # fmt: skip
        await db.add_history(conn, alert_id, tenant, now, caller.user.login, "create", None,
                             machine.State.NEW.value, {})  # fmt: skip
        await db.notify(conn, alert_id, tenant)
        entry = await svc.audit.append_in(
            conn, caller.actor, "alert.create", tenant=tenant, target=f"alert:{alert_id}",
            detail={"camera": cam["id"], "titre": body.title.strip()},
            source_ip=client_ip(request),
        )  # fmt: skip
        row = await db.alert(conn, alert_id)
        assert row is not None
        card = await _card(conn, row, now)
    svc.audit.committed(entry)
    return ok(card, status=201)


# -- external inputs (CSD-13) and maintenance windows ---------------------------------------


async def _input_target(
    request: web.Request, caller: Caller, msg: inputs.ExternalInput
) -> tuple[str, str | None]:
    """(tenant, camera) of an external alarm if the caller may post it there
    (``alert_input`` on the camera, or on the whole commune): 404/403 audited."""
    svc = services(request)
    now = svc.clock.now()
    today = now.date()
    if msg.camera_id is not None:
        async with scoped(svc.pool, visible_tenants(caller.principal, INPUT, today)) as c:
            row = await accounts.camera(c, msg.camera_id, now)
        ref = camera_ref(row) if row is not None else None
        if row is None or not decide(caller.principal, Action.ALERT_INPUT, ref, today):
            await refuse(request, caller, "caméra hors du périmètre", target=msg.camera_id,
                         hide=True)  # fmt: skip
        return str(row["tenant"]), str(row["id"])
    tenant = str(msg.commune)
    decision = decide(caller.principal, Action.ALERT_INPUT, None, today, tenant=tenant)
    if not decision:
        await refuse(request, caller, "commune hors du périmètre", target=tenant, hide=True)
    return tenant, None


async def post_input(request: web.Request) -> web.StreamResponse:
    """An external alarm (webhook of a hypervisor or an alarm panel); idempotent on
    ``external_id``; audited."""
    caller = caller_of(request)
    svc = services(request)
    source = request.match_info["source"]
    if not inputs.SOURCE.fullmatch(source):
        raise invalid("Source invalide : minuscules, chiffres, « _ », « . » ou « - ».")
    msg = await body_of(request, inputs.ExternalInput)
    tenant, camera = await _input_target(request, caller, msg)
    now = svc.clock.now()
    async with scoped(svc.pool, {tenant}) as conn:
        if msg.kind not in await db.external_kinds(conn):
            raise invalid(f"Type d'alarme externe inconnu : {msg.kind}.")
        if msg.external_id is not None:
            known = await db.existing_external(conn, tenant, source, msg.external_id)
            if known is not None:
                row = await db.alert(conn, known)
                assert row is not None
                return ok({**summary(row, now), "doublon": True})
        priority, deadline = await db.deadline_s(conn, msg.kind)
        window = await db.active_maintenance(conn, camera, inputs.raised_at(msg, now))
        columns = inputs.columns(msg, tenant_id=tenant, input_source=source, priority=priority,
                                 ack_deadline_s=deadline, maintenance=window, now=now)  # fmt: skip
        alert_id = await db.insert_external(conn, columns)
        if alert_id is None:  # the same alarm received at the same time
            known = await db.existing_external(conn, tenant, source, str(msg.external_id))
            row = await db.alert(conn, int(known or 0))
            assert row is not None
            return ok({**summary(row, now), "doublon": True})
        detail: dict[str, object] = {"source": source, "kind": msg.kind, "camera": camera,
                  "external_id": msg.external_id}  # fmt: skip
        await db.add_history(conn, alert_id, tenant, now, caller.user.login, "create", None,
                             machine.State.NEW.value, detail)  # fmt: skip
        if window is not None:
            await db.add_history(conn, alert_id, tenant, now, machine.SYSTEM_ACTOR, "close",
                                 machine.State.NEW.value, machine.State.CLOSED.value,
                                 {"maintenance": window[0]})  # fmt: skip
            detail["maintenance"] = window[0]
        await db.notify(conn, alert_id, tenant)
        entry = await svc.audit.append_in(
            conn, caller.actor, "alert.create", tenant=tenant, target=f"alert:{alert_id}",
            detail=detail, source_ip=client_ip(request),
        )  # fmt: skip
        row = await db.alert(conn, alert_id)
        assert row is not None
    svc.audit.committed(entry)
    return ok(summary(row, now), status=201)


def _window_json(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("id", "tenant_id", "camera_id", "camera_name", "from_at", "to_at",
                                "reason", "created_by", "created_at")}  # fmt: skip


async def list_maintenance(request: web.Request) -> web.StreamResponse:
    """Maintenance windows of the cameras the caller administers."""
    caller = caller_of(request)
    svc = services(request)
    now = svc.clock.now()
    camera = _camera_param(request)
    past = request.query.get("past") in ("1", "true")
    tenants = visible_tenants(caller.principal, Action.ADMIN_CAMERAS, now.date())
    async with scoped(svc.pool, tenants) as conn:
        cams = [
            str(r["id"])
            for r in await accounts.cameras(conn, now)
            if decide(caller.principal, Action.ADMIN_CAMERAS, camera_ref(r), now.date())
        ]
        rows = await db.maintenance_windows(conn, cams, camera=camera, include_past=past, now=now)
    return ok({"windows": [_window_json(r) for r in rows]})


class MaintenanceBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    camera_id: str = Field(description="Caméra en maintenance", pattern=IDENT)
    from_at: AwareDatetime = Field(description="Début (ISO 8601, avec fuseau)")
    to_at: AwareDatetime = Field(description="Fin (ISO 8601, avec fuseau, exclue)")
    reason: str = Field(description="Motif", min_length=1, max_length=1000)


async def create_maintenance(request: web.Request) -> web.StreamResponse:
    """Declare a maintenance window on a camera (admin_cameras); audited."""
    caller = caller_of(request)
    svc = services(request)
    body = await body_of(request, MaintenanceBody)
    if body.to_at <= body.from_at:
        raise invalid("Plage horaire invalide : la fin doit suivre le début.")
    if body.to_at - body.from_at > MAX_MAINTENANCE:
        raise invalid("Une maintenance dure 31 jours au plus.")
    if not body.reason.strip():
        raise invalid("Le motif de la maintenance est obligatoire.")
    cam = await camera_for(request, caller, Action.ADMIN_CAMERAS, body.camera_id)
    tenant, now = str(cam["tenant"]), svc.clock.now()
    async with scoped(svc.pool, {tenant}) as conn:
        window_id = await db.insert_maintenance(
            conn, tenant_id=tenant, camera_id=str(cam["id"]), from_at=body.from_at,
            to_at=body.to_at, reason=body.reason.strip(), by=caller.user.login, now=now,
        )  # fmt: skip
        entry = await svc.audit.append_in(
            conn, caller.actor, "maintenance.create", tenant=tenant,
            target=f"maintenance:{window_id}",
            detail={"camera": cam["id"], "de": body.from_at.isoformat(),
                    "a": body.to_at.isoformat(), "motif": body.reason.strip()},
            source_ip=client_ip(request),
        )  # fmt: skip
        rows = await db.maintenance_windows(conn, [str(cam["id"])], camera=None,
                                            include_past=True, now=now)  # fmt: skip
    svc.audit.committed(entry)
    return ok(_window_json(next(r for r in rows if r["id"] == window_id)), status=201)


async def _window(
    request: web.Request, caller: Caller, conn: Conn, window_id: int, today: date
) -> dict[str, Any]:
    """The maintenance window ``window_id`` (locked) if the caller administers its
    camera: 404 (audited) outside the perimeter, 403 (audited) without the right."""
    target = f"maintenance:{window_id}"
    row = await db.maintenance_window(conn, window_id)
    ref = None if row is None else CameraRef(
        str(row["camera_id"]), str(row["tenant_id"]),
        frozenset(str(g) for g in row["camera_groups"]))  # fmt: skip
    if row is None or not any(decide(caller.principal, a, ref, today) for a in CAMERA_ACTIONS):
        await refuse(request, caller, "maintenance hors du périmètre", target=target,
                     hide=True)  # fmt: skip
    decision = decide(caller.principal, Action.ADMIN_CAMERAS, ref, today)
    if not decision:
        await refuse(request, caller, decision, target=target, tenant=str(row["tenant_id"]))
    return row


async def delete_maintenance(request: web.Request) -> web.StreamResponse:
    """Withdraw a maintenance window (kept for the record); audited."""
    caller = caller_of(request)
    svc = services(request)
    window_id = path_int(request, "window_id")
    now = svc.clock.now()
    today = now.date()
    async with scoped(svc.pool, visible_tenants(caller.principal, CAMERA_ACTIONS, today)) as c:
        row = await _window(request, caller, c, window_id, today)
        await db.withdraw_maintenance(c, window_id, caller.user.login, now)
        entry = await svc.audit.append_in(
            c, caller.actor, "maintenance.delete", tenant=str(row["tenant_id"]),
            target=f"maintenance:{window_id}", detail={"camera": row["camera_id"]},
            source_ip=client_ip(request),
        )  # fmt: skip
    svc.audit.committed(entry)
    return web.Response(status=204)


_END_MAINTENANCE_SQL = "UPDATE camera_maintenance SET to_at = %s WHERE id = %s"


async def end_maintenance(request: web.Request) -> web.StreamResponse:
    """End a maintenance window in force now (its end brought to now: from then on the
    camera's alerts are raised as usual; the window is kept as it ran); audited."""
    caller = caller_of(request)
    svc = services(request)
    window_id = path_int(request, "window_id")
    now = svc.clock.now()
    today = now.date()
    async with scoped(svc.pool, visible_tenants(caller.principal, CAMERA_ACTIONS, today)) as c:
        row = await _window(request, caller, c, window_id, today)
        if row["from_at"] > now:
            raise precondition("Cette maintenance n'a pas commencé : annulez-la plutôt.")
        if row["to_at"] <= now:
            raise precondition("Cette maintenance est déjà terminée.")
        await c.execute(_END_MAINTENANCE_SQL, (now, window_id))
        entry = await svc.audit.append_in(
            c, caller.actor, "maintenance.end", tenant=str(row["tenant_id"]),
            target=f"maintenance:{window_id}",
            detail={"camera": row["camera_id"], "fin_prevue": row["to_at"].isoformat(),
                    "fin": now.isoformat()},
            source_ip=client_ip(request),
        )  # fmt: skip
        rows = await db.maintenance_windows(c, [str(row["camera_id"])], camera=None,
                                            include_past=True, now=now)  # fmt: skip
    svc.audit.committed(entry)
    return ok(_window_json(next(r for r in rows if r["id"] == window_id)))


# -- the push -----------------------------------------------------------------------------


@dataclass(eq=False)
class Subscriber:
    """One console's socket: its caller and the messages waiting for it."""

    caller: Caller
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    overflowed: asyncio.Event = field(default_factory=asyncio.Event)

    def offer(self, message: str) -> None:
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed.set()


class AlertHub:
    """LISTEN ``vms_alerts`` on one connection and fan each alert out to the
    subscribers that may see it. Dispatching never waits on a socket."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self.subscribers: set[Subscriber] = set()
        self.listening = asyncio.Event()

    async def run(self) -> None:
        """Listen until cancelled, reconnecting with backoff."""
        delay = 1.0
        while True:
            try:
                await self._listen()
            except (psycopg.Error, OSError) as err:
                logger.warning("alert listener lost (%s); retrying in %.0f s", err, delay)
            self.listening.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    async def _listen(self) -> None:
        conninfo = self.svc.pool.conninfo
        assert isinstance(conninfo, str)
        conn = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
        async with conn:
            await conn.execute(f"LISTEN {db.CHANNEL}")
            self.listening.set()
            async for notice in conn.notifies():
                try:
                    await self.dispatch(notice.payload)
                except psycopg.Error as err:
                    logger.warning("alert push of %s failed: %s", notice.payload, err)

    async def dispatch(self, payload: str) -> None:
        try:
            data = json.loads(payload)
            alert_id, tenant = int(data["id"]), str(data["tenant_id"])
        except (ValueError, KeyError, TypeError):
            logger.warning("unexpected %s payload: %r", db.CHANNEL, payload)
            return
        now = self.svc.clock.now()
        today = now.date()
        targets = [s for s in self.subscribers
                   if tenant in _desk_tenants(s.caller.principal, today)]  # fmt: skip
        if not targets:
            return
        async with scoped(self.svc.pool, {tenant}) as conn:
            row = await db.alert(conn, alert_id)
        if row is None:
            return
        message = json.dumps({"type": "alert", "alert": summary(row, now)}, default=_iso)
        for s in targets:
            if may_handle(s.caller.principal, row, today):
                s.offer(message)


def _iso(value: object) -> str:
    iso = getattr(value, "isoformat", None)
    return str(iso()) if callable(iso) else str(value)


HUB = web.AppKey("alert_hub", AlertHub)


async def _hub_context(app: web.Application) -> AsyncIterator[None]:
    hub = AlertHub(app[SERVICES])
    app[HUB] = hub
    task = asyncio.create_task(hub.run(), name="alert-hub")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _close_streams(app: web.Application) -> None:
    """On shutdown: end every console's stream so that its handler returns."""
    for s in list(app[HUB].subscribers):
        s.overflowed.set()


def install(app: web.Application) -> None:
    """Start the hub with the application and end the streams on shutdown."""
    app.cleanup_ctx.append(_hub_context)
    app.on_shutdown.append(_close_streams)


async def _still_allowed(request: web.Request, sub: Subscriber) -> bool:
    """Re-read the caller (session revoked, grants changed) at every ping."""
    try:
        caller = await authenticate(request)
    except (VmsError, psycopg.Error):  # signed out, or the database is away
        return False
    if caller is None:
        return False
    sub.caller = caller
    return True


async def stream(request: web.Request) -> web.StreamResponse:
    """WebSocket: ``{"type": "alert", "alert": AlertSummary}`` for every alert created or
    changed in the caller's perimeter, ``{"type": "ping"}`` every 20 s."""
    caller = caller_of(request)
    svc = services(request)
    origin = request.headers.get("Origin")
    if origin is not None and origin != f"https://{request.host}":
        raise denied("Origine de la connexion refusée.")
    if not _desk_tenants(caller.principal, svc.clock.now().date()):
        await refuse(request, caller, "aucun droit de traiter les alertes")
    ws = web.WebSocketResponse(heartbeat=PING_S * 2)
    if not ws.can_prepare(request).ok:
        raise invalid("Connexion WebSocket attendue.")
    hub = request.app[HUB]
    with contextlib.suppress(TimeoutError):  # so that what follows the opening is pushed
        await asyncio.wait_for(hub.listening.wait(), 5)
    sub = Subscriber(caller)
    hub.subscribers.add(sub)
    try:
        await ws.prepare(request)
        await _serve(request, ws, sub)
    except ConnectionError:
        pass
    finally:
        hub.subscribers.discard(sub)
        with contextlib.suppress(ConnectionError):
            await ws.close()
    return ws


async def _serve(request: web.Request, ws: web.WebSocketResponse, sub: Subscriber) -> None:
    async def read() -> None:  # the console sends nothing; this notices its departure
        async for msg in ws:
            if msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                break

    async def write() -> None:
        while True:
            try:
                message = await asyncio.wait_for(sub.queue.get(), PING_S)
            except TimeoutError:
                if not await _still_allowed(request, sub):
                    return
                message = '{"type": "ping"}'
            await asyncio.wait_for(ws.send_str(message), SEND_TIMEOUT_S)

    tasks = [asyncio.create_task(read()), asyncio.create_task(write()),
             asyncio.create_task(sub.overflowed.wait())]  # fmt: skip
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


# -- tickets ------------------------------------------------------------------------------


def _ticket_json(row: dict[str, Any]) -> dict[str, Any]:
    state = ticket_machine.TicketState(row["state"])
    return {
        "id": row["id"],
        "tenant_id": row["tenant_id"],
        "tenant_name": row["tenant_name"],
        "camera_id": row["camera_id"],
        "camera_name": row["camera_name"],
        "alert_id": row["alert_id"],
        "state": state.value,
        "state_label": state.label,
        "declarer": row["declarer"],
        "element": row["element"],
        "site": row["site"],
        "description": row["description"],
        "resolution": row["resolution"],
        "assigned_to": row["assigned_to"],
        "opened_at": row["opened_at"],
        "resolved_at": row["resolved_at"],
        "closed_at": row["closed_at"],
    }


async def list_tickets(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    svc = services(request)
    now = svc.clock.now()
    state = request.query.get("state") or "open"
    if state not in ("open", "all"):
        raise invalid("Paramètre « state » : open ou all attendu.")
    camera = _camera_param(request)
    limit = query_int(request, "limit", 200, 1, MAX_ALERTS)
    async with scoped(svc.pool, _desk_tenants(caller.principal, now.date())) as conn:
        perimeter = await _perimeter(conn, caller.principal, now)
        rows = await db.tickets(conn, perimeter, active_only=state == "open", camera=camera,
                                limit=limit)  # fmt: skip
    return ok({"tickets": [_ticket_json(r) for r in rows]})


class TicketBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    camera_id: str = Field(description="Caméra concernée", pattern=IDENT)
    element: str = Field(description="Élément en défaut (caméra, alimentation, lien…)",
                         min_length=1, max_length=200)  # fmt: skip
    site: str = Field("", description="Lieu d'intervention", max_length=200)
    description: str = Field(description="Description du défaut", min_length=1, max_length=4000)


async def create_ticket(request: web.Request) -> web.StreamResponse:
    """A ticket opened by hand; audited."""
    caller = caller_of(request)
    svc = services(request)
    body = await body_of(request, TicketBody)
    if not body.element.strip() or not body.description.strip():
        raise invalid("L'élément et la description sont obligatoires.")
    cam = await _ticket_camera(request, caller, body.camera_id)
    tenant, now = str(cam["tenant"]), svc.clock.now()
    async with scoped(svc.pool, {tenant}) as conn:
        ticket_id = await db.insert_ticket(
            conn, tenant_id=tenant, camera_id=str(cam["id"]), declarer=caller.user.login,
            element=body.element.strip(), site=body.site.strip(),
            description=body.description.strip(), opened_at=now,
        )  # fmt: skip
        entry = await svc.audit.append_in(
            conn, caller.actor, "ticket.create", tenant=tenant, target=f"ticket:{ticket_id}",
            detail={"camera": cam["id"], "element": body.element.strip()},
            source_ip=client_ip(request),
        )  # fmt: skip
        row = await db.ticket(conn, ticket_id)
        assert row is not None
    svc.audit.committed(entry)
    return ok(_ticket_json(row), status=201)


async def _ticket_camera(request: web.Request, caller: Caller, camera_id: str) -> dict[str, Any]:
    """The camera if the caller handles alerts or administers it (404/403 audited)."""
    svc = services(request)
    now = svc.clock.now()
    today = now.date()
    async with scoped(svc.pool, visible_tenants(caller.principal, CAMERA_ACTIONS, today)) as c:
        row = await accounts.camera(c, camera_id, now)
    ref = camera_ref(row) if row is not None else None
    if row is None or not any(decide(caller.principal, a, ref, today) for a in CAMERA_ACTIONS):
        await refuse(request, caller, "caméra hors du périmètre", target=camera_id[:64], hide=True)
    decisions = [decide(caller.principal, a, ref, today) for a in TECHNICAL]
    if not any(decisions):
        await refuse(request, caller, decisions[0], target=f"camera:{row['id']}",
                     tenant=str(row["tenant"]))  # fmt: skip
    return row


class TicketActionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: str = Field(description="assign, on_site, resolve ou close", max_length=32)
    assigned_to: str | None = Field(None, description="assign : technicien affecté",
                                    max_length=64)  # fmt: skip
    resolution: str | None = Field(None, description="resolve : résolution (obligatoire)",
                                   max_length=4000)  # fmt: skip


async def ticket_action(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    svc = services(request)
    ticket_id = path_int(request, "ticket_id")
    body = await body_of(request, TicketActionBody)
    params = body.model_dump(exclude={"action"}, exclude_none=True)
    now = svc.clock.now()
    async with scoped(svc.pool, visible_tenants(caller.principal, CAMERA_ACTIONS, now.date())) as c:
        row = await _check(request, caller, await db.ticket(c, ticket_id, lock=True), "ticket",
                           ticket_id, TECHNICAL)  # fmt: skip
        state = ticket_machine.TicketState(row["state"])
        changes = ticket_machine.apply(state, body.action, params, caller.user.login, now)
        await db.change_ticket(c, ticket_id, changes)
        entry = await svc.audit.append_in(
            c, caller.actor, f"ticket.{body.action}", tenant=str(row["tenant_id"]),
            target=f"ticket:{ticket_id}",
            detail={"de": state.value, "vers": changes["state"], **params},
            source_ip=client_ip(request),
        )  # fmt: skip
        changed = await db.ticket(c, ticket_id)
        assert changed is not None
    svc.audit.committed(entry)
    return ok(_ticket_json(changed))


_STR: dict[str, object] = {"type": "string"}
_TIME: dict[str, object] = {"type": "string", "format": "date-time"}
_REFUSED = {403: "Sans le droit sur cette caméra", 404: "Inconnue ou hors du périmètre"}
ROUTES = [
    Route(
        "GET", "/api/v1/alerts", list_alerts,
        "Alertes du périmètre (des plus récentes aux plus anciennes)", "alertes",
        query=(
            Param("state", {"type": "string", "enum": ["open", "closed", "all"]},
                  "En cours (défaut), clôturées ou toutes"),
            Param("camera", _STR, "Identifiant de caméra"),
            Param("kind", _STR, "Type d'alerte (intrusion, technique…)"),
            Param("since", _TIME, "Levées depuis (ISO 8601, inclus)"),
            Param("until", _TIME, "Levées jusqu'à (ISO 8601, exclu)"),
            Param("limit", {"type": "integer"}, f"Nombre maximal (200 par défaut, {MAX_ALERTS} "
                  "au plus)"),
        ),
        responses={200: "Alertes, les plus récentes d'abord"},
    ),
    Route("POST", "/api/v1/alerts", create_alert,
          "Lever une alerte manuelle sur une caméra (journalisé)", "alertes",
          body=ManualAlertBody, responses={201: "Fiche de l'alerte créée", **_REFUSED}),
    Route("GET", "/api/v1/alerts/stream", stream,
          "Flux WebSocket des alertes créées ou modifiées dans le périmètre", "alertes",
          responses={101: "Connexion WebSocket établie", 403: "Aucun droit sur les alertes"}),
    Route("GET", "/api/v1/alerts/{alert_id}", get_alert,
          "Fiche d'une alerte : procédure, caméra, référents, historique (journalisé)",
          "alertes", responses={200: "Fiche de l'alerte", **_REFUSED}),
    Route("POST", "/api/v1/alerts/{alert_id}/actions", alert_action,
          "Traiter une alerte : prise en compte, affectation, levée de doute, escalade, "
          "clôture, réouverture (journalisé)", "alertes", body=AlertActionBody,
          responses={200: "Fiche de l'alerte modifiée", 400: "Champ manquant ou invalide",
                     409: "Transition interdite dans l'état actuel", **_REFUSED}),
    Route("POST", "/api/v1/alerts/inputs/{source}", post_input,
          "Alarme externe (hyperviseur, centrale d'alarme, capteur) : droit alert_input, "
          "sans doublon sur external_id (journalisé)", "alertes", body=inputs.ExternalInput,
          responses={200: "Alarme déjà reçue (doublon)", 201: "Alerte créée",
                     400: "Champ manquant ou invalide", **_REFUSED}),
    Route("GET", "/api/v1/maintenance", list_maintenance,
          "Fenêtres de maintenance des caméras administrées", "alertes",
          query=(Param("camera", _STR, "Identifiant de caméra"),
                 Param("past", {"type": "string", "enum": ["0", "1", "true", "false"]},
                       "Inclure les maintenances terminées")),
          responses={200: "Fenêtres de maintenance"}),
    Route("POST", "/api/v1/maintenance", create_maintenance,
          "Déclarer une maintenance de caméra : alertes techniques non levées, autres "
          "alertes consignées clôturées (journalisé)", "alertes", body=MaintenanceBody,
          responses={201: "Maintenance déclarée", 400: "Champ manquant ou invalide",
                     **_REFUSED}),
    Route("DELETE", "/api/v1/maintenance/{window_id}", delete_maintenance,
          "Retirer une maintenance (conservée pour l'historique ; journalisé)", "alertes",
          responses={204: "Retirée", **_REFUSED}),
    Route("POST", "/api/v1/maintenance/{window_id}/end", end_maintenance,
          "Terminer maintenant une maintenance en cours (conservée pour l'historique ; "
          "journalisé)", "alertes",
          responses={200: "Maintenance terminée", 409: "Maintenance pas commencée ou déjà "
                     "terminée", **_REFUSED}),
    Route(
        "GET", "/api/v1/tickets", list_tickets, "Tickets d'intervention du périmètre",
        "alertes",
        query=(
            Param("state", {"type": "string", "enum": ["open", "all"]},
                  "À traiter (défaut) ou tous"),
            Param("camera", _STR, "Identifiant de caméra"),
            Param("limit", {"type": "integer"}, f"Nombre maximal (200 par défaut, {MAX_ALERTS} "
                  "au plus)"),
        ),
        responses={200: "Tickets, les plus récents d'abord"},
    ),
    Route("POST", "/api/v1/tickets", create_ticket,
          "Ouvrir un ticket d'intervention sur une caméra (journalisé)", "alertes",
          body=TicketBody, responses={201: "Ticket ouvert", **_REFUSED}),
    Route("POST", "/api/v1/tickets/{ticket_id}/actions", ticket_action,
          "Faire avancer un ticket : affectation, sur site, résolution, clôture (journalisé)",
          "alertes", body=TicketActionBody,
          responses={200: "Ticket modifié", 400: "Champ manquant ou invalide",
                     409: "Transition interdite dans l'état actuel", **_REFUSED}),
]  # fmt: skip
