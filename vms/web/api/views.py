"""Saved layouts of the video wall ("vues"): each user's own views, and the views a
supervisor or administrator shares with the users of their home tenant.

Only cameras the author may watch live can be saved. A view is returned with every
camera the reader may not watch live masked (``{"camera": null, "masque": true}``),
so a shared view never leaks the ids or names of another commune's cameras. Every
change is audited (target ``vue:<id>``).
"""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from vms.db import accounts, views
from vms.db.scope import scoped
from vms.db.views import ViewRow
from vms.domain.access import Action, Role, decide, visible_tenants
from vms.errors import precondition
from vms.web.api.cameras import camera_ref
from vms.web.auth import Caller, caller_of, client_ip, services
from vms.web.context import Services
from vms.web.http import body_of, ok, path_int, refuse
from vms.web.routes import Route

LAYOUTS = (1, 4, 9, 16)
CAMERA_ID = r"^[a-z0-9][a-z0-9_-]{0,63}$"
SHARING_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})
MAX_VIEWS = 200
"""Views one user may keep."""


class ViewBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(
        min_length=1, max_length=100, description="Nom de la vue (unique parmi les vôtres)."
    )
    layout: int = Field(
        description="Nombre de tuiles : 1, 4, 9 ou 16.",
        json_schema_extra={"enum": list(LAYOUTS)},
    )
    tiles: list[Annotated[str, Field(pattern=CAMERA_ID)] | None] = Field(
        max_length=16,
        description="Caméra de chaque tuile, dans l'ordre de lecture (null : tuile vide) ; "
        "au plus une entrée par tuile, les tuiles omises sont vides.",
    )
    shared: bool = Field(
        False,
        description="Proposer la vue aux utilisateurs de votre commune de rattachement "
        "(superviseurs et administrateurs seulement).",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = value.strip()
        if not value or not value.isprintable():
            raise ValueError("nom vide ou contenant des caractères non imprimables")
        return value

    @field_validator("layout")
    @classmethod
    def _layout(cls, value: int) -> int:
        if value not in LAYOUTS:
            raise ValueError("disposition non permise : 1, 4, 9 ou 16 tuiles")
        return value

    @field_validator("tiles")
    @classmethod
    def _fit_layout(cls, value: list[str | None], info: ValidationInfo) -> list[str | None]:
        """At most one entry per tile; the tiles left out are empty."""
        layout = info.data.get("layout")
        if layout is None:
            return value
        if len(value) > layout:
            raise ValueError(
                f"trop d'entrées ({len(value)}) pour {layout} tuile(s) : "
                "une caméra ou null par tuile"
            )
        return value + [None] * (layout - len(value))


def _may_share(caller: Caller) -> bool:
    return caller.principal.role in SHARING_ROLES


async def _live_cameras(svc: Services, caller: Caller) -> dict[str, dict[str, object]]:
    """The cameras the caller may watch live, by id (group grants narrow per camera)."""
    now = svc.clock.now()
    tenants = visible_tenants(caller.principal, Action.VIEW_LIVE, now.date())
    if not tenants:
        return {}
    async with scoped(svc.pool, tenants) as conn:
        rows = await accounts.cameras(conn, now)
    live = {}
    for row in rows:
        ref = camera_ref(row)
        if decide(caller.principal, Action.VIEW_LIVE, ref, now.date()):
            live[ref.camera_id] = row
    return live


def present(view: ViewRow, caller: Caller, live: dict[str, dict[str, object]]) -> dict[str, object]:
    """The view as ``caller`` may see it: cameras they may not watch live are masked."""
    tiles: list[dict[str, object]] = []
    for camera_id in view.tiles:
        if camera_id is None:
            tiles.append({"camera": None, "name": None, "masque": False})
        elif camera_id in live:
            tiles.append({"camera": camera_id, "name": live[camera_id]["name"], "masque": False})
        else:
            tiles.append({"camera": None, "name": None, "masque": True})
    mine = view.owner_id == caller.user.id
    return {
        "id": view.id,
        "name": view.name,
        "layout": view.layout,
        "tiles": tiles,
        "shared": view.shared,
        "owner": view.owner_login,
        "owner_name": view.owner_name,
        "mine": mine,
        "editable": mine,
        "deletable": mine or (view.shared and _may_share(caller)),
        "created_at": view.created_at,
        "updated_at": view.updated_at,
    }


def _summary(name: str, layout: int, tiles: list[str | None], shared: bool) -> dict[str, object]:
    """What the audit keeps of a view."""
    return {"nom": name, "disposition": layout, "tuiles": tiles, "partagee": shared}


async def _check_body(
    request: web.Request, caller: Caller, body: ViewBody, target: str
) -> dict[str, dict[str, object]]:
    """Refuse (audited, 403) sharing by a role that may not, and cameras the caller
    may not watch live; return the cameras they may."""
    if body.shared and not _may_share(caller):
        await refuse(
            request, caller, "seuls les superviseurs et les administrateurs partagent une vue",
            target=target,
        )  # fmt: skip
    live = await _live_cameras(services(request), caller)
    foreign = sorted({c for c in body.tiles if c is not None} - live.keys())
    if foreign:
        # unknown and forbidden ids get the same answer: existence does not leak
        reason = f"direct non autorisé sur ces caméras : {', '.join(foreign[:10])}"
        await refuse(request, caller, reason, target=target)
    return live


async def _readable(request: web.Request, caller: Caller) -> ViewRow:
    """The view of the path if the caller may see it (own, or shared in their home
    tenant); 404, audited, otherwise."""
    view_id = path_int(request, "view_id")
    svc = services(request)
    async with scoped(svc.pool, {caller.user.home_tenant_id}) as conn:
        view = await views.view(conn, view_id)
    if view is None or not (view.owner_id == caller.user.id or view.shared):
        await refuse(request, caller, "vue inconnue", target=f"vue:{view_id}", hide=True)
    assert view is not None
    return view


async def list_views(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    svc = services(request)
    home = caller.user.home_tenant_id
    async with scoped(svc.pool, {home}) as conn:
        rows = await views.views_for(conn, caller.user.id, home)
    live = await _live_cameras(svc, caller)
    return ok({"views": [present(v, caller, live) for v in rows], "can_share": _may_share(caller)})


async def create_view(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    svc = services(request)
    body = await body_of(request, ViewBody)
    live = await _check_body(request, caller, body, "vue:nouvelle")
    home = caller.user.home_tenant_id
    async with scoped(svc.pool, {home}) as conn:
        if await views.count_own(conn, caller.user.id) >= MAX_VIEWS:
            raise precondition(f"Vous avez atteint le maximum de {MAX_VIEWS} vues enregistrées.")
        view_id = await views.create_view(
            conn, caller.user.id, home, body.name, body.layout, body.tiles, body.shared,
            svc.clock.now(),
        )  # fmt: skip
        view = await views.view(conn, view_id)
    assert view is not None
    await svc.audit.append(
        caller.actor, "wall_view.create", tenant=home, target=f"vue:{view_id}",
        detail=_summary(body.name, body.layout, body.tiles, body.shared),
        source_ip=client_ip(request),
    )  # fmt: skip
    return ok(present(view, caller, live), status=201)


async def update_view(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    svc = services(request)
    view = await _readable(request, caller)
    target = f"vue:{view.id}"
    body = await body_of(request, ViewBody)
    if view.owner_id != caller.user.id:
        await refuse(request, caller, "seul l'auteur d'une vue peut la modifier", target=target)
    live = await _check_body(request, caller, body, target)
    async with scoped(svc.pool, {caller.user.home_tenant_id}) as conn:
        await views.update_view(
            conn, view.id, caller.user.id, body.name, body.layout, body.tiles, body.shared,
            svc.clock.now(),
        )  # fmt: skip
        updated = await views.view(conn, view.id)
    if updated is None:
        raise precondition("La vue a été supprimée entre-temps.")
    await svc.audit.append(
        caller.actor, "wall_view.update", tenant=view.tenant_id, target=target,
        detail={"avant": _summary(view.name, view.layout, view.tiles, view.shared),
                "apres": _summary(body.name, body.layout, body.tiles, body.shared)},
        source_ip=client_ip(request),
    )  # fmt: skip
    return ok(present(updated, caller, live))


async def delete_view(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    svc = services(request)
    view = await _readable(request, caller)
    target = f"vue:{view.id}"
    if view.owner_id != caller.user.id and not _may_share(caller):
        await refuse(
            request, caller,
            "une vue partagée ne peut être supprimée que par son auteur, un superviseur "
            "ou un administrateur", target=target,
        )  # fmt: skip
    async with scoped(svc.pool, {caller.user.home_tenant_id}) as conn:
        await views.delete_view(conn, view.id)
    await svc.audit.append(
        caller.actor, "wall_view.delete", tenant=view.tenant_id, target=target,
        detail={**_summary(view.name, view.layout, view.tiles, view.shared),
                "auteur": view.owner_login},
        source_ip=client_ip(request),
    )  # fmt: skip
    return web.Response(status=204)


ROUTES = (
    Route("GET", "/api/v1/views", list_views, "Vues du mur d'images (les miennes et les "
          "vues partagées de ma commune)", "views",
          responses={200: "Vues ; les caméras hors de votre droit de direct sont masquées"}),
    Route("POST", "/api/v1/views", create_view, "Enregistre une vue du mur d'images", "views",
          body=ViewBody,
          responses={201: "Vue enregistrée", 400: "Disposition ou tuiles invalides",
                     403: "Caméra hors de votre droit de direct, ou partage non permis",
                     409: "Nom déjà utilisé"}),
    Route("PUT", "/api/v1/views/{view_id}", update_view, "Remplace une de mes vues", "views",
          body=ViewBody,
          responses={200: "Vue modifiée", 400: "Disposition ou tuiles invalides",
                     403: "Vue d'un autre auteur, caméra hors de votre droit de direct, ou "
                          "partage non permis",
                     404: "Vue inconnue", 409: "Nom déjà utilisé"}),
    Route("DELETE", "/api/v1/views/{view_id}", delete_view, "Supprime une vue", "views",
          responses={204: "Vue supprimée",
                     403: "Vue partagée d'un autre auteur (superviseur ou administrateur requis)",
                     404: "Vue inconnue"}),
)  # fmt: skip
