"""Live video: WHEP signalling (RFC 9725) and the fMP4 WebSocket fallback, forwarded
to the ingest worker that relays the camera after the caller's live-view permission
is checked; the per-camera live switches (EVD-15).

The relay writes each session's start, end and duration to the audit log; refusals
are audited here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re

import aiohttp
from aiohttp import WSMsgType, web
from pydantic import BaseModel, ConfigDict, Field

from vms.db import accounts, live
from vms.db.scope import scoped
from vms.domain.access import CAMERA_ACTIONS, Action, decide, visible_tenants
from vms.errors import ErrorKind, VmsError, not_found, precondition, unavailable
from vms.web.api.cameras import camera_ref
from vms.web.auth import Caller, caller_of, client_ip, services
from vms.web.http import body_of, ok, refuse
from vms.web.routes import Route

STREAM = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
MAX_SDP = 64 * 1024


async def camera_for(
    request: web.Request, caller: Caller, action: Action, camera_id: str | None = None
) -> dict[str, object]:
    """The camera of the path (or ``camera_id``) if the caller may do ``action`` on it:
    404 (audited) when it lies outside the caller's perimeter, 403 (audited) when
    visible but not allowed."""
    svc = services(request)
    now = svc.clock.now()
    camera_id = request.match_info["camera_id"] if camera_id is None else camera_id
    tenants = visible_tenants(caller.principal, CAMERA_ACTIONS, now.date())
    async with scoped(svc.pool, tenants) as conn:
        row = await accounts.camera(conn, camera_id, now)
    if row is None:
        await refuse(request, caller, "caméra hors du périmètre", target=camera_id[:64], hide=True)
    ref = camera_ref(row)
    if not any(decide(caller.principal, a, ref, now.date()) for a in CAMERA_ACTIONS):
        await refuse(request, caller, "caméra hors du périmètre", target=camera_id[:64], hide=True)
    decision = decide(caller.principal, action, ref, now.date())
    if not decision:
        await refuse(
            request, caller, decision, target=f"camera:{row['id']}", tenant=str(row["tenant"])
        )
    return row


def stream_of(request: web.Request) -> str:
    stream = request.match_info["stream"]
    if not STREAM.fullmatch(stream):
        raise not_found("Flux inconnu.")
    return stream


async def relay_of(request: web.Request, camera_id: str, tenant: str, stream: str) -> str:
    svc = services(request)
    if not svc.relay_secret or svc.http is None or svc.locator is None:
        raise unavailable("Le direct n'est pas activé sur ce serveur.")
    holding = await svc.locator.locate(camera_id, tenant)
    if holding is None:  # no worker holds it now (starting, or moving to another worker)
        raise unavailable(
            "Cette caméra n'est reprise par aucun serveur d'acquisition pour le moment : "
            "nouvelle tentative dans quelques secondes."
        )
    if stream not in holding.streams:
        raise not_found(f"Le flux « {stream} » de cette caméra n'est pas disponible en direct.")
    return holding.relay_url


def watcher_header(
    actor: str, tenant: str, source_ip: str | None, via: str = "console", recipient: str = ""
) -> str:
    return json.dumps(
        {
            "actor": actor,
            "tenant": tenant,
            "source_ip": source_ip,
            "via": via,
            "recipient": recipient,
        }
    )


def relay_error(
    status: int, data: object, message: str = "Le serveur d'acquisition a refusé la session."
) -> VmsError:
    """The relay's refusal as the caller sees it (its French message when it gave one)."""
    if isinstance(data, dict) and isinstance(data.get("erreur"), dict):
        message = str(data["erreur"].get("message") or message)
    kind = {
        400: ErrorKind.INVALID_ARGUMENT,
        404: ErrorKind.NOT_FOUND,
        409: ErrorKind.FAILED_PRECONDITION,
    }.get(status, ErrorKind.UNAVAILABLE)
    return VmsError(kind, message, detail=f"relay answered {status}")


async def forward_offer(
    request: web.Request, relay: str, camera_id: str, stream: str, watcher: str, base: str
) -> web.StreamResponse:
    """Send the browser's SDP offer to the relay; answer as WHEP does (201, the SDP
    answer, the session's URL in Location)."""
    svc = services(request)
    assert svc.http is not None
    if request.content_type != "application/sdp":
        raise VmsError(ErrorKind.INVALID_ARGUMENT, "Offre attendue au format application/sdp.")
    offer = await request.content.read(MAX_SDP + 1)
    if len(offer) > MAX_SDP:
        raise VmsError(ErrorKind.INVALID_ARGUMENT, "Offre SDP trop volumineuse.")
    headers = {
        "Authorization": f"Bearer {svc.relay_secret}",
        "X-Vms-Watcher": watcher,
        "Content-Type": "application/sdp",
    }
    url = f"{relay}/relay/v1/streams/{camera_id}/{stream}/webrtc"
    try:
        async with svc.http.post(url, data=offer, headers=headers) as r:
            data = await r.json(content_type=None)
            if r.status != 201:
                raise relay_error(r.status, data)
    except (aiohttp.ClientError, TimeoutError, ValueError) as err:
        raise unavailable(
            "Serveur d'acquisition injoignable : direct indisponible.", detail=str(err)
        ) from err
    return web.Response(
        status=201,
        body=str(data["answer"]).encode(),
        content_type="application/sdp",
        headers={"Location": f"{base}/{data['session']}"},
    )


async def pipe(upstream: aiohttp.ClientWebSocketResponse, ws: web.WebSocketResponse) -> None:
    """Relay an upstream WebSocket's messages to a browser's until either side ends."""

    async def down() -> None:
        async for msg in upstream:
            if msg.type == WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
            elif msg.type == WSMsgType.TEXT:
                await ws.send_str(msg.data)
            else:
                break

    async def up() -> None:
        async for msg in ws:
            if msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                break

    tasks = [asyncio.ensure_future(down()), asyncio.ensure_future(up())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()


async def forward_fmp4(
    request: web.Request, relay: str, path: str, watcher: str
) -> web.WebSocketResponse:
    """Pipe the relay's fMP4 WebSocket to the browser's."""
    svc = services(request)
    origin = request.headers.get("Origin")
    if origin is not None and origin != f"https://{request.host}":
        raise VmsError(ErrorKind.PERMISSION_DENIED, "Origine de la connexion refusée.")
    assert svc.http is not None
    headers = {"Authorization": f"Bearer {svc.relay_secret}", "X-Vms-Watcher": watcher}
    try:
        upstream = await svc.http.ws_connect(f"{relay}{path}", headers=headers, heartbeat=20)
    except (aiohttp.ClientError, TimeoutError) as err:
        raise unavailable(
            "Serveur d'acquisition injoignable : direct indisponible.", detail=str(err)
        ) from err
    ws = web.WebSocketResponse(heartbeat=20)
    try:
        await ws.prepare(request)
        await pipe(upstream, ws)
    except ConnectionError:
        pass
    finally:
        await upstream.close()
        with contextlib.suppress(ConnectionError):
            await ws.close()
    return ws


async def _live_camera(request: web.Request) -> tuple[Caller, dict[str, object], str, str]:
    caller = caller_of(request)
    row = await camera_for(request, caller, Action.VIEW_LIVE)
    if not row["live_enabled"]:
        await services(request).audit.append(
            caller.actor,
            "access.denied",
            tenant=str(row["tenant"]),
            target=f"camera:{row['id']}",
            detail={"requete": f"{request.method} {request.path}", "raison": "direct désactivé"},
            source_ip=client_ip(request),
        )
        raise precondition("Le direct de cette caméra est désactivé par un administrateur.")
    stream = stream_of(request)
    relay = await relay_of(request, str(row["id"]), str(row["tenant"]), stream)
    return caller, row, stream, relay


async def whep_offer(request: web.Request) -> web.StreamResponse:
    caller, row, stream, relay = await _live_camera(request)
    watcher = watcher_header(caller.actor, str(row["tenant"]), client_ip(request))
    base = f"/api/v1/live/sessions/{row['id']}/{stream}"
    return await forward_offer(request, relay, str(row["id"]), stream, watcher, base)


async def live_fmp4(request: web.Request) -> web.StreamResponse:
    caller, row, stream, relay = await _live_camera(request)
    watcher = watcher_header(caller.actor, str(row["tenant"]), client_ip(request))
    return await forward_fmp4(
        request, relay, f"/relay/v1/streams/{row['id']}/{stream}/fmp4", watcher
    )


async def close_on_relay(request: web.Request, relay: str, session: str, actor: str) -> None:
    """End a session on its relay; the relay checks that ``actor`` owns it."""
    svc = services(request)
    assert svc.http is not None
    headers = {"Authorization": f"Bearer {svc.relay_secret}"}
    url = f"{relay}/relay/v1/sessions/{session[:64]}"
    try:
        async with svc.http.delete(url, params={"actor": actor}, headers=headers) as r:
            status = r.status
    except (aiohttp.ClientError, TimeoutError) as err:
        raise unavailable("Serveur d'acquisition injoignable.", detail=str(err)) from err
    if status == 404:
        raise not_found("Session de direct introuvable.")
    if status != 204:
        raise unavailable("Le serveur d'acquisition n'a pas pu fermer la session.")


async def end_session(request: web.Request) -> web.StreamResponse:
    """WHEP DELETE: end one's own live session."""
    caller = caller_of(request)
    row = await camera_for(request, caller, Action.VIEW_LIVE)
    stream = stream_of(request)
    relay = await relay_of(request, str(row["id"]), str(row["tenant"]), stream)
    await close_on_relay(request, relay, request.match_info["session_id"], caller.actor)
    return web.Response(status=204)


class LiveSwitches(BaseModel):
    model_config = ConfigDict(extra="forbid")
    live_enabled: bool | None = Field(None, description="Direct dans le centre.")
    share_enabled: bool | None = Field(
        None, description="Transmission hors du centre (partages, liens publics)."
    )


async def set_switches(request: web.Request) -> web.StreamResponse:
    """EVD-15: an administrator switches live viewing and live transmission per camera."""
    caller = caller_of(request)
    body = await body_of(request, LiveSwitches)
    row = await camera_for(request, caller, Action.ADMIN_CAMERAS)
    svc = services(request)
    async with scoped(svc.pool, {str(row["tenant"])}) as conn:
        after = await live.set_live_switches(
            conn, str(row["id"]), body.live_enabled, body.share_enabled
        )
    if after is None:
        raise precondition("Caméra modifiée entre-temps : réessayez.")
    await svc.audit.append(
        caller.actor,
        "camera.live_switches",
        tenant=str(row["tenant"]),
        target=f"camera:{row['id']}",
        detail={
            "avant": {"direct": row["live_enabled"], "transmission": row["live_share_enabled"]},
            "apres": {
                "direct": after["live_enabled"],
                "transmission": after["live_share_enabled"],
            },
        },
        source_ip=client_ip(request),
    )
    return ok({"live_enabled": after["live_enabled"], "share_enabled": after["live_share_enabled"]})


_CAMERA = "/api/v1/cameras/{camera_id}"
ROUTES = [
    Route(
        "POST",
        _CAMERA + "/live/{stream}/whep",
        whep_offer,
        "Ouvrir le direct d'une caméra en WebRTC (WHEP : offre SDP, réponse SDP)",
        "direct",
        body_media="application/sdp",
        response_media="application/sdp",
        responses={201: "Réponse SDP ; l'URL de la session dans Location", 409: "Direct désactivé"},
    ),
    Route(
        "GET",
        _CAMERA + "/live/{stream}/fmp4",
        live_fmp4,
        "Direct en fMP4 sur WebSocket (repli quand WebRTC ne passe pas)",
        "direct",
        responses={101: "WebSocket : codec (texte JSON), segment d'initialisation, fragments"},
    ),
    Route(
        "DELETE",
        "/api/v1/live/sessions/{camera_id}/{stream}/{session_id}",
        end_session,
        "Fermer sa session de direct (WHEP)",
        "direct",
        responses={204: "Session fermée"},
    ),
    Route(
        "PATCH",
        _CAMERA + "/live",
        set_switches,
        "Activer ou désactiver le direct et sa transmission pour une caméra (EVD-15)",
        "direct",
        body=LiveSwitches,
    ),
]
