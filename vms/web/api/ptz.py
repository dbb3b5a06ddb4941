"""PTZ from the console: continuous move, zoom, stop, presets and home, forwarded to
the ingest worker that holds the camera's ONVIF credentials; and the ONVIF probe an
administrator runs to add a camera by its address.

One operator steers a camera at a time: the first command takes the PTZ lock, every
command renews it, it lapses after ``[live] ptz_lock_seconds`` without a command, and
a user of a higher rank may take it over (supervisor > administrator > the others).
Every command, lock taken, takeover and release is audited.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

import aiohttp
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from vms.db import live
from vms.db.scope import Conn, scoped
from vms.domain.access import Action, Role, visible_tenants
from vms.errors import not_found, precondition, unavailable
from vms.web.api.live import camera_for, relay_error
from vms.web.auth import Caller, caller_of, client_ip, services
from vms.web.http import body_of, ok, refuse
from vms.web.routes import Route

RANKS = {Role.SUPERVISOR: 3, Role.ADMIN: 2}
"""Who may take the PTZ lock over from whom; every other role ranks 1."""


def rank_of(caller: Caller) -> int:
    return RANKS.get(caller.principal.role, 1)


class PtzCommand(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal[
        "move", "stop", "goto_preset", "set_preset", "remove_preset", "home", "set_home"
    ] = Field(description="Commande PTZ.")
    pan: float = Field(0.0, ge=-1, le=1, description="Vitesse horizontale (move).")
    tilt: float = Field(0.0, ge=-1, le=1, description="Vitesse verticale (move).")
    zoom: float = Field(0.0, ge=-1, le=1, description="Vitesse de zoom (move).")
    preset: str = Field("", max_length=64, description="Identifiant du préréglage.")
    name: str = Field("", max_length=64, description="Nom d'un nouveau préréglage.")


class LockRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    takeover: bool = Field(False, description="Prendre la main sur un opérateur de rang inférieur.")


class ProbeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    address: str = Field(min_length=1, max_length=300, description="hôte, hôte:port ou URL.")
    username: str = Field("", max_length=128, description="Utilisateur ONVIF.")
    password: str = Field("", max_length=256, description="Mot de passe ONVIF (non conservé).")


def _lock_json(lock: dict[str, Any] | None, caller: Caller, now: datetime) -> dict[str, Any] | None:
    if lock is None or lock["expires_at"] <= now:
        return None
    return {
        "holder": lock["holder"],
        "mine": lock["holder_id"] == caller.user.id,
        "expires_at": lock["expires_at"],
    }


async def _relay(request: web.Request, relay: str, path: str, body: dict[str, Any]) -> Any:
    svc = services(request)
    assert svc.http is not None
    headers = {"Authorization": f"Bearer {svc.relay_secret}"}
    try:
        async with svc.http.post(f"{relay}{path}", json=body, headers=headers) as r:
            data = await r.json(content_type=None)
            if r.status != 200:
                raise relay_error(r.status, data, "La caméra n'a pas exécuté la commande PTZ.")
            return data
    except (aiohttp.ClientError, TimeoutError, ValueError) as err:
        raise unavailable(
            "Serveur d'acquisition injoignable : PTZ indisponible.", str(err)
        ) from err


async def _ptz_camera(request: web.Request) -> tuple[Caller, dict[str, Any], str]:
    caller = caller_of(request)
    row = await camera_for(request, caller, Action.PTZ)
    svc = services(request)
    if not svc.relay_secret or svc.http is None or svc.locator is None:
        raise precondition("Le pilotage des caméras n'est pas activé sur ce serveur.")
    holding = await svc.locator.locate(str(row["id"]), str(row["tenant"]))
    if holding is None or not holding.ptz:
        raise not_found("Cette caméra n'est pas orientable (PTZ) ou n'est pas joignable.")
    return caller, row, holding.relay_url


async def _serialise(conn: Conn, camera_id: str) -> None:
    """One lock decision at a time per camera (the lock row may not exist yet)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('ptz:' || %s))", (camera_id,))


async def _take_lock(
    request: web.Request, caller: Caller, row: dict[str, Any], takeover: bool
) -> dict[str, Any] | None:
    """Take or renew the caller's PTZ lock; returns the lock taken over, if any."""
    svc = services(request)
    now = svc.clock.now()
    camera_id, tenant = str(row["id"]), str(row["tenant"])
    async with scoped(svc.pool, {tenant}) as conn:
        await _serialise(conn, camera_id)
        held = await live.ptz_lock(conn, camera_id)
        other = (
            held is not None and held["expires_at"] > now and held["holder_id"] != caller.user.id
        )
        if other:
            assert held is not None
            if not takeover:
                raise precondition(
                    f"Caméra pilotée par {held['holder']} : attendez que la main soit rendue."
                )
            if rank_of(caller) <= int(held["rank"]):
                raise precondition(
                    f"Caméra pilotée par {held['holder']} : seul un rang supérieur peut "
                    "prendre la main."
                )
        expires = now + timedelta(seconds=svc.live.ptz_lock_seconds)
        holder = caller.user.display_name or caller.user.login
        await live.put_ptz_lock(
            conn, camera_id, tenant, caller.user.id, holder, rank_of(caller), expires
        )
    fresh = held is None or held["expires_at"] <= now
    if other or fresh:
        await svc.audit.append(
            caller.actor,
            "ptz.takeover" if other else "ptz.lock",
            tenant=tenant,
            target=f"camera:{camera_id}",
            detail={"precedent": held["holder"]} if other and held else {},
            source_ip=client_ip(request),
        )
    return held if other else None


async def ptz_state(request: web.Request) -> web.StreamResponse:
    """The lock, the presets and the position of a PTZ camera."""
    caller, row, relay = await _ptz_camera(request)
    svc = services(request)
    async with scoped(svc.pool, {str(row["tenant"])}) as conn:
        lock = await live.ptz_lock(conn, str(row["id"]))
    presets = await _relay(
        request, relay, f"/relay/v1/cameras/{row['id']}/ptz", {"action": "presets"}
    )
    status = await _relay(
        request, relay, f"/relay/v1/cameras/{row['id']}/ptz", {"action": "status"}
    )
    return ok(
        {
            "lock": _lock_json(lock, caller, svc.clock.now()),
            "presets": presets["presets"],
            "status": status["status"],
            "rank": rank_of(caller),
        }
    )


async def ptz_command(request: web.Request) -> web.StreamResponse:
    caller, row, relay = await _ptz_camera(request)
    body = await body_of(request, PtzCommand)
    await _take_lock(request, caller, row, takeover=False)
    command: dict[str, Any] = {"action": body.action}
    detail: dict[str, object] = {}
    if body.action == "move":
        command.update(pan=body.pan, tilt=body.tilt, zoom=body.zoom)
        detail = {"pan": body.pan, "tilt": body.tilt, "zoom": body.zoom}
    elif body.action in ("goto_preset", "remove_preset"):
        if not body.preset:
            raise precondition("Choisissez un préréglage.")
        command["token"] = detail["preset"] = body.preset
    elif body.action == "set_preset":
        if not body.name.strip():
            raise precondition("Donnez un nom au préréglage.")
        command["name"] = detail["nom"] = body.name.strip()
    result = await _relay(request, relay, f"/relay/v1/cameras/{row['id']}/ptz", command)
    if "token" in result:
        detail["preset"] = result["token"]
    await services(request).audit.append(
        caller.actor,
        f"ptz.{body.action}",
        tenant=str(row["tenant"]),
        target=f"camera:{row['id']}",
        detail=detail,
        source_ip=client_ip(request),
    )
    return ok(result)


async def take_lock(request: web.Request) -> web.StreamResponse:
    caller, row, _ = await _ptz_camera(request)
    body = await body_of(request, LockRequest)
    previous = await _take_lock(request, caller, row, body.takeover)
    svc = services(request)
    async with scoped(svc.pool, {str(row["tenant"])}) as conn:
        lock = await live.ptz_lock(conn, str(row["id"]))
    return ok(
        {
            "lock": _lock_json(lock, caller, svc.clock.now()),
            "previous": previous["holder"] if previous else None,
        }
    )


async def release_lock(request: web.Request) -> web.StreamResponse:
    """Give the camera back (it stops first)."""
    caller, row, relay = await _ptz_camera(request)
    svc = services(request)
    camera_id, tenant = str(row["id"]), str(row["tenant"])
    async with scoped(svc.pool, {tenant}) as conn:
        await _serialise(conn, camera_id)
        dropped = await live.drop_ptz_lock(conn, camera_id, caller.user.id)
    if not dropped:
        raise not_found("Vous ne pilotez pas cette caméra.")
    await _relay(request, relay, f"/relay/v1/cameras/{camera_id}/ptz", {"action": "stop"})
    await svc.audit.append(
        caller.actor,
        "ptz.release",
        tenant=tenant,
        target=f"camera:{camera_id}",
        source_ip=client_ip(request),
    )
    return web.Response(status=204)


async def onvif_probe(request: web.Request) -> web.StreamResponse:
    """Read a camera's ONVIF facts (device, profiles, stream and snapshot URIs, PTZ,
    clock drift) through an ingest worker, to add it; the password is not kept."""
    caller = caller_of(request)
    svc = services(request)
    tenants = visible_tenants(caller.principal, {Action.ADMIN_CAMERAS}, svc.clock.now().date())
    if not tenants:
        await refuse(request, caller, "droit d'administration des caméras requis")
    body = await body_of(request, ProbeRequest)
    relay = await svc.locator.any_relay(tenants) if svc.locator else None
    if relay is None or not svc.relay_secret:
        raise precondition("Aucun serveur d'acquisition disponible pour interroger la caméra.")
    audit = {"adresse": body.address, "utilisateur": body.username}
    try:
        result = await _relay(request, relay, "/relay/v1/onvif/probe", body.model_dump())
    except Exception as err:
        await svc.audit.append(
            caller.actor,
            "onvif.probe",
            detail={**audit, "resultat": "echec", "erreur": str(getattr(err, "message", err))},
            source_ip=client_ip(request),
        )
        raise
    device = result.get("device") or {}
    await svc.audit.append(
        caller.actor,
        "onvif.probe",
        detail={
            **audit,
            "resultat": "ok",
            "modele": device.get("model"),
            "serie": device.get("serial"),
        },
        source_ip=client_ip(request),
    )
    return ok(result)


async def onvif_discover(request: web.Request) -> web.StreamResponse:
    """WS-Discovery of ONVIF devices from an ingest worker's configured interface (an
    option, off unless ``[onvif] discovery_interface`` is set there)."""
    caller = caller_of(request)
    svc = services(request)
    tenants = visible_tenants(caller.principal, {Action.ADMIN_CAMERAS}, svc.clock.now().date())
    if not tenants:
        await refuse(request, caller, "droit d'administration des caméras requis")
    relay = await svc.locator.any_relay(tenants) if svc.locator else None
    if relay is None or not svc.relay_secret:
        raise precondition("Aucun serveur d'acquisition disponible pour la découverte.")
    result = await _relay(request, relay, "/relay/v1/onvif/discover", {})
    await svc.audit.append(
        caller.actor, "onvif.discover", detail={"appareils": len(result.get("devices", []))},
        source_ip=client_ip(request),
    )  # fmt: skip
    return ok(result)


_PTZ = "/api/v1/cameras/{camera_id}/ptz"
ROUTES = [
    Route("GET", _PTZ, ptz_state, "PTZ : verrou, préréglages et position", "ptz"),
    Route(
        "POST",
        _PTZ,
        ptz_command,
        "PTZ : déplacer, zoomer, arrêter, préréglages, position d'origine (prend le verrou)",
        "ptz",
        body=PtzCommand,
        responses={409: "Caméra pilotée par un autre opérateur"},
    ),
    Route(
        "POST",
        _PTZ + "/lock",
        take_lock,
        "PTZ : prendre ou renouveler le verrou (prise de main par un rang supérieur)",
        "ptz",
        body=LockRequest,
        responses={409: "Caméra pilotée par un autre opérateur"},
    ),
    Route(
        "DELETE",
        _PTZ + "/lock",
        release_lock,
        "PTZ : rendre la main",
        "ptz",
        responses={204: "Verrou rendu"},
    ),
    Route(
        "POST",
        "/api/v1/onvif/probe",
        onvif_probe,
        "ONVIF : interroger une caméra par son adresse (ajout d'une caméra)",
        "caméras",
        body=ProbeRequest,
    ),
    Route(
        "POST",
        "/api/v1/onvif/discover",
        onvif_discover,
        "ONVIF : découvrir les caméras du réseau (WS-Discovery, si activée)",
        "caméras",
    ),
]
