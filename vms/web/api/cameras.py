"""Communes and cameras as the caller may see them (the console's camera tree),
and camera groups, the unit of per-camera grants."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from vms.db import accounts
from vms.db.scope import scoped
from vms.domain.access import CAMERA_ACTIONS, Action, CameraRef, decide, visible_tenants
from vms.errors import invalid
from vms.web.auth import Caller, caller_of, client_ip, services
from vms.web.http import body_of, ok, refuse
from vms.web.routes import Route

IDENT = r"^[a-z0-9][a-z0-9_-]{0,63}$"
ONLINE_WITHIN = timedelta(seconds=60)


def status_of(row: dict[str, object], now: datetime) -> str:
    """Recording state shown in the tree."""
    last = row.get("last_segment_at")
    fresh = isinstance(last, datetime) and now - last <= ONLINE_WITHIN
    if row.get("recording") and fresh:
        return "enregistrement"
    if row.get("recording"):
        return "interrompu"
    return "hors_ligne"


def camera_ref(row: dict[str, object]) -> CameraRef:
    """What permission decisions need of a camera row (accounts.camera/cameras)."""
    groups = row["groups"]
    assert isinstance(groups, list)
    return CameraRef(str(row["id"]), str(row["tenant"]), frozenset(str(g) for g in groups))


def allowed_actions(caller: Caller, row: dict[str, object], today: date) -> list[str]:
    ref = camera_ref(row)
    return [a.value for a in CAMERA_ACTIONS if decide(caller.principal, a, ref, today)]


def present(caller: Caller, row: dict[str, object], now: datetime) -> dict[str, object] | None:
    """The camera as the API shows it, or None if no grant covers it (a group grant
    lets row-level security through for the whole commune: narrow here)."""
    rights = allowed_actions(caller, row, now.date())
    if not rights:
        return None
    return {
        "id": row["id"],
        "name": row["name"],
        "tenant": row["tenant"],
        "tenant_name": row["tenant_name"],
        "groups": row["groups"],
        "status": status_of(row, now),
        "last_segment_at": row["last_segment_at"],
        "rights": sorted(rights),
        "live": {
            "enabled": row["live_enabled"],
            "share_enabled": row["live_share_enabled"],
            "streams": row["live_streams"],
        },
        "ptz": row["ptz"],
    }


async def list_cameras(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    svc = services(request)
    now = svc.clock.now()
    tenants = visible_tenants(caller.principal, CAMERA_ACTIONS, now.date())
    async with scoped(svc.pool, tenants) as conn:
        rows = await accounts.cameras(conn, now)
    shown = [c for c in (present(caller, r, now) for r in rows) if c is not None]
    return ok({"cameras": shown})


async def get_camera(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    svc = services(request)
    now = svc.clock.now()
    camera_id = request.match_info["camera_id"]
    tenants = visible_tenants(caller.principal, CAMERA_ACTIONS, now.date())
    async with scoped(svc.pool, tenants) as conn:
        row = await accounts.camera(conn, camera_id, now)
    shown = present(caller, row, now) if row is not None else None
    if shown is None:
        await refuse(request, caller, "caméra hors du périmètre", target=camera_id[:64], hide=True)
    return ok(shown)


async def list_tenants(request: web.Request) -> web.StreamResponse:
    """Communes (and CSD) where the caller holds any right, and their intercommunality."""
    caller = caller_of(request)
    svc = services(request)
    tenants = visible_tenants(caller.principal, list(Action), svc.clock.now().date())
    tenants |= {caller.user.home_tenant_id}
    async with scoped(svc.pool, tenants) as conn:
        rows = await accounts.tenants(conn)
    parents = {r["parent_id"] for r in rows if r["id"] in tenants and r["parent_id"]}
    # the intercommunalities of one's communes are shown too, to name the tree's branches
    return ok({"tenants": [r for r in rows if r["id"] in tenants or r["id"] in parents]})


async def list_groups(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    svc = services(request)
    tenants = visible_tenants(
        caller.principal, (Action.ADMIN_CAMERAS, Action.ADMIN_USERS), svc.clock.now().date()
    )
    async with scoped(svc.pool, tenants) as conn:
        groups = await accounts.camera_groups(conn)
    return ok({"groups": groups})


class GroupBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tenant: str = Field(pattern=IDENT, description="Commune du groupe.")
    name: str = Field(min_length=1, max_length=200, description="Nom affiché.")
    cameras: list[str] = Field(max_length=5000, description="Caméras de la commune.")


async def put_group(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    svc = services(request)
    group_id = request.match_info["group_id"]
    body = await body_of(request, GroupBody)
    if not re.fullmatch(IDENT, group_id):
        raise invalid("Identifiant de groupe invalide (minuscules, chiffres, - et _).")
    today = svc.clock.now().date()
    decision = decide(caller.principal, Action.ADMIN_CAMERAS, None, today, tenant=body.tenant)
    if not decision:
        await refuse(request, caller, decision, target=f"groupe:{group_id}", tenant=body.tenant)
    async with scoped(svc.pool, {body.tenant}) as conn:
        owner = await accounts.group_tenant(conn, group_id)
        if owner is not None and owner != body.tenant:
            raise invalid("Ce groupe appartient à une autre commune.")
        rows = await accounts.cameras(conn, svc.clock.now())
        own = {str(r["id"]) for r in rows if r["tenant"] == body.tenant}
        foreign = sorted(set(body.cameras) - own)
        if foreign:
            raise invalid(f"Caméras inconnues dans cette commune : {', '.join(foreign[:10])}.")
        await accounts.put_camera_group(conn, group_id, body.tenant, body.name, body.cameras)
    await svc.audit.append(
        caller.actor, "camera_group.put", tenant=body.tenant, target=f"groupe:{group_id}",
        detail={"nom": body.name, "cameras": sorted(set(body.cameras))},
        source_ip=client_ip(request),
    )  # fmt: skip
    return ok({"id": group_id, "tenant": body.tenant, "name": body.name,
               "cameras": sorted(set(body.cameras))})  # fmt: skip


ROUTES = (
    Route("GET", "/api/v1/tenants", list_tenants, "Communes visibles", "cameras",
          responses={200: "Communes, intercommunalités et CSD où l'appelant a un droit"}),
    Route("GET", "/api/v1/cameras", list_cameras, "Arborescence des caméras visibles", "cameras",
          responses={200: "Caméras avec état d'enregistrement et droits de l'appelant"}),
    Route("GET", "/api/v1/cameras/{camera_id}", get_camera, "Une caméra", "cameras",
          responses={200: "La caméra", 404: "Inconnue ou hors du périmètre"}),
    Route("GET", "/api/v1/camera-groups", list_groups, "Groupes de caméras administrables",
          "cameras", responses={200: "Groupes"}),
    Route("PUT", "/api/v1/camera-groups/{group_id}", put_group,
          "Crée ou remplace un groupe de caméras", "cameras", body=GroupBody,
          responses={200: "Groupe enregistré", 400: "Caméras hors de la commune",
                     403: "Droit admin_cameras requis"}),
)  # fmt: skip
