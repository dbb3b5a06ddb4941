"""Legal holds from the console (LAW-01): footage under a judicial procedure is kept
past its retention on every replica until the hold is released or expires. Placing
and releasing need the ``manage_holds`` right on every camera covered; both are
audited. The purger (vms/storage/purge.py) skips held segments."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from vms.db import evidence
from vms.db.scope import scoped
from vms.domain.access import Action, visible_tenants
from vms.errors import invalid, not_found
from vms.web.api.live import camera_for
from vms.web.auth import caller_of, client_ip, services
from vms.web.http import body_of, ok, path_int, query_int, refuse
from vms.web.routes import Param, Route

PROCEDURES = {
    "flagrant_delit": "Flagrant délit",
    "enquete_preliminaire": "Enquête préliminaire",
    "information_judiciaire": "Information judiciaire",
    "requisition": "Réquisition",
}


class HoldBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reference: str = Field(min_length=2, max_length=200, description="N° de PV ou de réquisition.")
    procedure: Literal[
        "flagrant_delit", "enquete_preliminaire", "information_judiciaire", "requisition"
    ] = Field("requisition", description="Type de procédure.")
    requested_by: str = Field(
        min_length=2, max_length=200, description="Officier requérant (nom, grade, service)."
    )
    cameras: list[str] = Field(min_length=1, max_length=64, description="Caméras concernées.")
    start: AwareDatetime = Field(alias="from", description="Début de la plage protégée.")
    end: AwareDatetime = Field(alias="to", description="Fin de la plage protégée.")
    expires_at: AwareDatetime | None = Field(
        None, description="Échéance de la conservation ; vide : jusqu'à sa levée."
    )


def _hold_tenants(request: web.Request) -> frozenset[str]:
    caller = caller_of(request)
    return visible_tenants(
        caller.principal, {Action.MANAGE_HOLDS}, services(request).clock.now().date()
    )


async def list_holds(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    tenants = _hold_tenants(request)
    if not tenants:
        await refuse(request, caller, "droit « manage_holds » requis")
    days = query_int(request, "expiring_days", 0, 0, 365)
    svc = services(request)
    now = svc.clock.now()
    async with scoped(svc.pool, tenants) as conn:
        rows = await evidence.holds(conn, active_only=request.query.get("all") != "1")
    if days:
        limit = now + timedelta(days=days)
        rows = [
            r for r in rows
            if r["released_at"] is None and r["expires_at"] is not None and r["expires_at"] <= limit
        ]  # fmt: skip
    for r in rows:
        r["procedure_label"] = PROCEDURES.get(str(r["procedure"]), r["procedure"])
        r["expiring"] = bool(
            r["released_at"] is None
            and r["expires_at"] is not None
            and r["expires_at"] <= now + timedelta(days=7)
        )
    return ok({"holds": rows})


async def place_hold(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    body = await body_of(request, HoldBody)
    if body.end <= body.start:
        raise invalid("Plage horaire invalide : la fin doit suivre le début.")
    svc = services(request)
    now = svc.clock.now()
    if body.expires_at is not None and body.expires_at <= now:
        raise invalid("L'échéance de la conservation doit être dans le futur.")
    rows = [await camera_for(request, caller, Action.MANAGE_HOLDS, c) for c in body.cameras]
    tenants = {str(r["tenant"]) for r in rows}
    if len(tenants) != 1:
        raise invalid("Une conservation porte sur les caméras d'une seule commune.")
    tenant = tenants.pop()
    async with scoped(svc.pool, {tenant}) as conn:
        hold_id = await evidence.add_hold(
            conn, reference=body.reference.strip(), procedure=body.procedure,
            requested_by=body.requested_by.strip(), cameras=sorted(set(body.cameras)),
            start=body.start, end=body.end, expires=body.expires_at, tenant=tenant,
            created_by=caller.actor, now=now,
        )  # fmt: skip
    await svc.audit.append(
        caller.actor, "hold.place", tenant=tenant, target=f"hold:{hold_id}",
        detail={"reference": body.reference.strip(), "procedure": body.procedure,
                "requerant": body.requested_by.strip(), "cameras": sorted(set(body.cameras)),
                "debut": body.start.isoformat(), "fin": body.end.isoformat(),
                "echeance": body.expires_at.isoformat() if body.expires_at else None},
        source_ip=client_ip(request),
    )  # fmt: skip
    return ok({"id": hold_id}, status=201)


async def release_hold(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    tenants = _hold_tenants(request)
    if not tenants:
        await refuse(request, caller, "droit « manage_holds » requis")
    hold_id = path_int(request, "hold_id")
    svc = services(request)
    now = svc.clock.now()
    async with scoped(svc.pool, tenants) as conn:
        rows = {int(str(r["id"])): r for r in await evidence.holds(conn)}
        hold = rows.get(hold_id)
        if hold is None:
            raise not_found("Conservation introuvable ou déjà levée.")
        cameras = list(hold["cameras"])
    # the right is needed on every camera the hold protects
    for camera in cameras:
        await camera_for(request, caller, Action.MANAGE_HOLDS, str(camera))
    async with scoped(svc.pool, tenants) as conn:
        if not await evidence.release_hold(conn, hold_id, caller.actor, now):
            raise not_found("Conservation introuvable ou déjà levée.")
    await svc.audit.append(
        caller.actor, "hold.release", tenant=str(hold["tenant"] or caller.user.home_tenant_id),
        target=f"hold:{hold_id}", detail={"reference": hold["reference"], "cameras": cameras},
        source_ip=client_ip(request),
    )  # fmt: skip
    return web.Response(status=204)


ROUTES = [
    Route(
        "GET", "/api/v1/holds", list_holds, "Conservations judiciaires", "conservations",
        query=(
            Param("expiring_days", {"type": "integer"}, "Celles qui expirent d'ici N jours"),
            Param("all", {"type": "string"}, "1 : aussi les conservations levées"),
        ),
    ),
    Route("POST", "/api/v1/holds", place_hold, "Placer une conservation judiciaire",
          "conservations", body=HoldBody, responses={201: "Conservation placée"}),
    Route("POST", "/api/v1/holds/{hold_id}/release", release_hold,
          "Lever une conservation judiciaire", "conservations", responses={204: "Levée"}),
]  # fmt: skip
