"""Live links: a time-limited single-camera link for one named police or fire-service
recipient (CSD-08), and a public link that one stream serves to many viewers
(CONF-01, off unless ``[live] public_links``). Both need the camera's live
transmission switched on by an administrator (EVD-15); creation, revocation and every
use are audited (the relay writes each viewing session with the recipient).

The token is shown once, in the link's fragment (``/partage#<token>``: never sent in a
Referer nor written in access logs); the database keeps its SHA-256.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from vms.db import live
from vms.db.scope import scoped
from vms.domain.access import Action, decide, visible_tenants
from vms.errors import denied, not_found, precondition
from vms.web.api.live import (
    STREAM,
    camera_for,
    close_on_relay,
    forward_fmp4,
    forward_offer,
    relay_of,
    watcher_header,
)
from vms.web.auth import caller_of, client_ip, services, throttle, token_hash
from vms.web.http import body_of, ok, path_int, refuse
from vms.web.routes import Route

SERVICES_FR = ("police_nationale", "gendarmerie", "police_municipale", "pompiers", "autre")


class LinkBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["partage", "public"] = Field(
        "partage", description="partage : un destinataire nommé ; public : diffusion large."
    )
    stream: str = Field("sub", pattern=STREAM.pattern, description="Flux transmis.")
    recipient: str = Field(
        "",
        max_length=200,
        description="Nom et grade du destinataire (obligatoire pour un partage).",
    )
    service: Literal[
        "police_nationale", "gendarmerie", "police_municipale", "pompiers", "autre", ""
    ] = Field("", description="Service du destinataire.")
    motif: str = Field(min_length=3, max_length=500, description="Motif de la transmission.")
    hours: int = Field(2, ge=1, le=168, description="Durée de validité en heures.")


async def create_link(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    svc = services(request)
    body = await body_of(request, LinkBody)
    if body.kind == "partage" and (not body.recipient.strip() or not body.service):
        raise precondition("Un partage exige un destinataire nommé et son service.")
    if body.hours > svc.live.share_max_hours:
        raise precondition(f"Durée limitée à {svc.live.share_max_hours} h.")
    action = Action.EXPORT if body.kind == "partage" else Action.ADMIN_CAMERAS
    row = await camera_for(request, caller, action)
    if body.kind == "public" and not svc.live.public_links:
        raise precondition(
            "Les liens publics sont désactivés sur ce serveur ([live] public_links)."
        )
    if not row["live_enabled"] or not row["live_share_enabled"]:
        raise precondition(
            "La transmission du direct de cette caméra n'est pas autorisée : "
            "un administrateur doit l'activer."
        )
    token = secrets.token_urlsafe(32)
    now = svc.clock.now()
    async with scoped(svc.pool, {str(row["tenant"])}) as conn:
        link = await live.add_link(
            conn,
            token_hash=token_hash(token),
            kind=body.kind,
            camera_id=str(row["id"]),
            tenant=str(row["tenant"]),
            stream=body.stream,
            recipient=body.recipient.strip(),
            service=body.service,
            motif=body.motif.strip(),
            created_by=caller.actor,
            now=now,
            expires_at=now + timedelta(hours=body.hours),
        )
    await svc.audit.append(
        caller.actor,
        "live_link.create",
        tenant=str(row["tenant"]),
        target=f"camera:{row['id']}",
        detail={
            "lien": link["id"],
            "type": body.kind,
            "flux": body.stream,
            "destinataire": link["recipient"],
            "service": body.service,
            "motif": link["motif"],
            "expire": str(link["expires_at"]),
        },
        source_ip=client_ip(request),
    )
    return ok(link | {"token": token, "url": f"/partage#{token}"}, status=201)


def _link_tenants(request: web.Request) -> frozenset[str] | set[str]:
    caller = caller_of(request)
    today = services(request).clock.now().date()
    return visible_tenants(caller.principal, (Action.EXPORT, Action.ADMIN_CAMERAS), today)


async def list_links(request: web.Request) -> web.StreamResponse:
    svc = services(request)
    async with scoped(svc.pool, _link_tenants(request)) as conn:
        rows = await live.links(conn, svc.clock.now())
    return ok({"links": rows})


async def revoke_link(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    svc = services(request)
    link_id = path_int(request, "link_id")
    now = svc.clock.now()
    async with scoped(svc.pool, _link_tenants(request)) as conn:
        row = await live.link(conn, link_id)
        if row is None:
            await refuse(
                request, caller, "lien hors du périmètre", target=f"lien:{link_id}", hide=True
            )
        admin = decide(
            caller.principal, Action.ADMIN_CAMERAS, None, now.date(), tenant=str(row["tenant"])
        )
        if row["created_by"] != caller.actor and not admin:
            await refuse(
                request, caller, "seul l'auteur ou un administrateur révoque un lien",
                target=f"lien:{link_id}", tenant=str(row["tenant"]),
            )  # fmt: skip
        await live.revoke_link(conn, link_id, caller.actor, now)
    await svc.audit.append(
        caller.actor,
        "live_link.revoke",
        tenant=str(row["tenant"]),
        target=f"camera:{row['camera']}",
        detail={"lien": link_id, "destinataire": row["recipient"]},
        source_ip=client_ip(request),
    )
    return web.Response(status=204)


# -- use of a link (no account: the token is the credential) --------------------------


async def _valid_link(request: web.Request) -> dict[str, object]:
    svc = services(request)
    token = request.match_info["token"]
    row = None
    if 20 <= len(token) <= 100:
        async with scoped(svc.pool, ()) as conn:
            row = await live.use_link(conn, token_hash(token), svc.clock.now())
    if row is None:
        throttle(request)  # guesses are limited per address; valid links are not
        raise not_found("Lien invalide, expiré ou révoqué.")
    if row["kind"] == "public" and not svc.live.public_links:
        raise denied("Les liens publics sont désactivés sur ce serveur.")
    return row


def _link_watcher(request: web.Request, row: dict[str, object]) -> str:
    via = "partage" if row["kind"] == "partage" else "public"
    return watcher_header(
        f"{via}:{row['id']}", str(row["tenant"]), client_ip(request), via, str(row["recipient"])
    )


async def link_info(request: web.Request) -> web.StreamResponse:
    row = await _valid_link(request)
    return ok(
        {
            "type": row["kind"],
            "destinataire": row["recipient"],
            "expire": row["expires_at"],
            "webrtc": row["kind"] == "partage",
        }
    )


async def link_whep(request: web.Request) -> web.StreamResponse:
    row = await _valid_link(request)
    if row["kind"] != "partage":
        raise precondition("Un lien public se regarde en fMP4 (diffusion partagée).")
    camera, stream, tenant = str(row["camera"]), str(row["stream"]), str(row["tenant"])
    relay = await relay_of(request, camera, tenant, stream)
    base = f"/api/v1/links/{request.match_info['token']}/sessions"
    return await forward_offer(request, relay, camera, stream, _link_watcher(request, row), base)


async def link_fmp4(request: web.Request) -> web.StreamResponse:
    row = await _valid_link(request)
    camera, stream, tenant = str(row["camera"]), str(row["stream"]), str(row["tenant"])
    relay = await relay_of(request, camera, tenant, stream)
    path = f"/relay/v1/streams/{camera}/{stream}/fmp4"
    return await forward_fmp4(request, relay, path, _link_watcher(request, row))


async def link_end(request: web.Request) -> web.StreamResponse:
    row = await _valid_link(request)
    relay = await relay_of(request, str(row["camera"]), str(row["tenant"]), str(row["stream"]))
    await close_on_relay(request, relay, request.match_info["session_id"], f"partage:{row['id']}")
    return web.Response(status=204)


_LINK = "/api/v1/links/{token}"
ROUTES = [
    Route("GET", "/api/v1/live/links", list_links, "Liens de direct en cours", "direct"),
    Route(
        "POST",
        "/api/v1/cameras/{camera_id}/live/links",
        create_link,
        "Partager le direct d'une caméra (destinataire nommé) ou créer un lien public",
        "direct",
        body=LinkBody,
        responses={201: "Le lien, avec son jeton (montré une seule fois)"},
    ),
    Route(
        "DELETE",
        "/api/v1/live/links/{link_id}",
        revoke_link,
        "Révoquer un lien de direct",
        "direct",
        responses={204: "Lien révoqué"},
    ),
    Route("GET", _LINK, link_info, "Lien de direct : validité", "lien", access="public"),
    Route(
        "POST",
        _LINK + "/whep",
        link_whep,
        "Lien de partage : ouvrir le direct en WebRTC (WHEP)",
        "lien",
        access="public",
        body_media="application/sdp",
        response_media="application/sdp",
    ),
    Route(
        "GET",
        _LINK + "/fmp4",
        link_fmp4,
        "Lien de direct : fMP4 sur WebSocket",
        "lien",
        access="public",
    ),
    Route(
        "DELETE",
        _LINK + "/sessions/{session_id}",
        link_end,
        "Lien de partage : fermer la session",
        "lien",
        access="public",
    ),
]
