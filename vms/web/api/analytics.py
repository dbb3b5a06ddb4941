"""Analytics in the console (CSD-05, CSD-12, LAW-10): the events the analytics workers
raise (list, polling, snapshot), each camera's analytics configuration (legal basis,
models, rules with their zones and lines), the latest tracked objects for the live
overlay, and anonymous line-crossing counts.

Permissions are checked per camera as elsewhere: 404 (audited) outside the caller's
perimeter, 403 (audited) inside it without the right. Events and snapshots need
``view_live`` or ``playback`` on their camera, the configuration
``configure_analytics``, the overlay ``view_live``, counts any right on the camera.
Saving or deleting a configuration and viewing a snapshot are audited; a saved
configuration is validated by ``analytics.rules.config`` (LAW-10 refusals included)
and the workers are told on the channel ``vms_analytics_config``.
"""

from __future__ import annotations

import asyncio
import json
import re
import typing
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from analytics.rules.config import RuleConfig, parse_camera_analytics
from analytics.rules.counting import LOCAL_TZ_NAME, local_tz
from vms.db import accounts
from vms.db import analytics as db
from vms.db.scope import scoped
from vms.domain.access import CAMERA_ACTIONS, Action, decide, visible_tenants
from vms.errors import ErrorKind, VmsError, invalid, not_found, unavailable
from vms.storage.crypto import MAGIC
from vms.storage.reader import SegmentReader
from vms.web.api.cameras import IDENT, camera_ref
from vms.web.api.live import camera_for
from vms.web.auth import Caller, caller_of, client_ip, services
from vms.web.http import body_of, ok, path_int, query_int, query_time, refuse
from vms.web.routes import Param, Route

EVENT_ACTIONS = (Action.VIEW_LIVE, Action.PLAYBACK)
"""Either right on a camera shows its events and their snapshots."""
MAX_EVENTS = 500
MAX_COUNT_RANGE = timedelta(days=366)
STEPS: tuple[db.Step, ...] = ("15min", "hour", "day")
_STEP_LENGTH = {"15min": timedelta(minutes=15), "hour": timedelta(hours=1)}
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_JPEG = b"\xff\xd8"


def rule_kinds() -> list[str]:
    """The rule kinds a configuration may use (the decree's events and counting)."""
    union = typing.get_args(RuleConfig)[0]
    return [
        kind
        for model in typing.get_args(union)
        for kind in typing.get_args(model.model_fields["kind"].annotation)
    ]


def _name_param(request: web.Request, name: str) -> str | None:
    value = request.query.get(name) or None
    if value is not None and not _NAME.fullmatch(value):
        raise invalid(f"Paramètre « {name} » : identifiant invalide.")
    return value


async def _camera(
    request: web.Request, caller: Caller, actions: Iterable[Action], camera_id: str
) -> dict[str, object]:
    """The camera if the caller holds one of ``actions`` on it: 404 (audited) outside
    the caller's perimeter, 403 (audited) inside it without any of them."""
    svc = services(request)
    now = svc.clock.now()
    async with scoped(svc.pool, visible_tenants(caller.principal, CAMERA_ACTIONS, now.date())) as c:
        row = await accounts.camera(c, camera_id, now)
    ref = camera_ref(row) if row is not None else None
    if row is None or not any(decide(caller.principal, a, ref, now.date()) for a in CAMERA_ACTIONS):
        await refuse(request, caller, "caméra hors du périmètre", target=camera_id[:64], hide=True)
    decisions = [decide(caller.principal, a, ref, now.date()) for a in actions]
    if not any(decisions):
        await refuse(
            request, caller, decisions[0], target=f"camera:{row['id']}", tenant=str(row["tenant"])
        )
    return row


# -- events -------------------------------------------------------------------------------


def _event_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "camera_id": row["camera_id"],
        "camera_name": row["camera_name"],
        "at": row["at"],
        "rule_id": row["rule_id"],
        "kind": row["kind"],
        "cls": row["cls"],
        "track_id": row["track_id"],
        "confidence": round(float(row["confidence"]), 4),
        "boxes": row["boxes"],
        "label": row["label"],
        "detail": row["detail"],
        "model": row["model"],
        "snapshot": f"/api/v1/events/{row['id']}/snapshot" if row["snapshot_key"] else None,
    }


async def list_events(request: web.Request) -> web.StreamResponse:
    """Events of the cameras where the caller may watch live or play back, newest
    first; ``after_id`` for polling. A listing is audited, the polls that follow it
    (``after_id`` > 0, every few seconds) are not."""
    caller = caller_of(request)
    svc = services(request)
    now = svc.clock.now()
    camera = request.query.get("camera") or None
    if camera is not None and not re.fullmatch(IDENT, camera):
        raise invalid("Paramètre « camera » : identifiant de caméra invalide.")
    kind, rule = _name_param(request, "kind"), _name_param(request, "rule")
    since, until = query_time(request, "since"), query_time(request, "until")
    if since is not None and until is not None and until <= since:
        raise invalid("Plage horaire invalide : la fin doit suivre le début.")
    after_id = query_int(request, "after_id", 0, 0, 2**63 - 1)
    limit = query_int(request, "limit", 100, 1, MAX_EVENTS)
    tenants = visible_tenants(caller.principal, EVENT_ACTIONS, now.date())
    events: list[dict[str, Any]] = []
    async with scoped(svc.pool, tenants) as conn:
        ids = [
            str(r["id"])
            for r in await accounts.cameras(conn, now)
            if any(decide(caller.principal, a, camera_ref(r), now.date()) for a in EVENT_ACTIONS)
            and (camera is None or r["id"] == camera)
        ]
        if ids:
            rows = await db.events(conn, ids, kind=kind, rule=rule, since=since, until=until,
                                   after_id=after_id, limit=limit)  # fmt: skip
            events = [_event_json(r) for r in rows]
    if after_id == 0:  # a consultation; the console's polls for new events are not
        criteria = {"camera": camera, "kind": kind, "rule": rule, "limit": limit,
                    "since": since.isoformat() if since else None,
                    "until": until.isoformat() if until else None}  # fmt: skip
        await svc.audit.append(
            caller.actor, "events.list", tenant=caller.user.home_tenant_id,
            detail={"criteres": criteria, "resultats": len(events)},
            source_ip=client_ip(request),
        )  # fmt: skip
    return ok({"events": events})


def _read_snapshot(reader: SegmentReader, key: str) -> bytes:
    """The JPEG from the first replica that holds it, decrypted if encrypted at rest."""
    failure: VmsError | None = None
    for store in reader.stores.values():
        try:
            data: bytes = store.get(key)
        except VmsError as err:
            failure = err
            continue
        if data[:4] == MAGIC and reader.decrypt is not None:
            data = reader.decrypt(data, key)
        if data[:2] == _JPEG:
            return data
        failure = VmsError(ErrorKind.INTERNAL, "Image de l'événement illisible.", key)
    if failure is not None and failure.kind is not ErrorKind.NOT_FOUND:
        raise failure
    raise not_found("Image de l'événement introuvable (purgée avec les enregistrements ?).")


async def snapshot(request: web.Request) -> web.StreamResponse:
    """The picture the event was raised on (JPEG, no boxes drawn); audited."""
    caller = caller_of(request)
    svc = services(request)
    event_id = path_int(request, "event_id")
    tenants = visible_tenants(caller.principal, CAMERA_ACTIONS, svc.clock.now().date())
    async with scoped(svc.pool, tenants) as conn:
        row = await db.event(conn, event_id)
    if row is None:
        await refuse(request, caller, "événement hors du périmètre", target=f"event:{event_id}",
                     hide=True)  # fmt: skip
    cam = await _camera(request, caller, EVENT_ACTIONS, str(row["camera_id"]))
    if not row["snapshot_key"]:
        raise not_found("Cet événement n'a pas d'image.")
    if svc.reader is None:
        raise unavailable("Les enregistrements ne sont pas lisibles depuis ce serveur.")
    jpeg = await asyncio.to_thread(_read_snapshot, svc.reader, str(row["snapshot_key"]))
    await svc.audit.append(
        caller.actor, "analytics.snapshot", tenant=str(cam["tenant"]),
        target=f"camera:{cam['id']}",
        detail={"evenement": event_id, "instant": row["at"].isoformat(), "type": row["kind"]},
        source_ip=client_ip(request),
    )  # fmt: skip
    return web.Response(
        body=jpeg, content_type="image/jpeg", headers={"Cache-Control": "private, no-store"}
    )


# -- configuration ------------------------------------------------------------------------


class AnalyticsConfigBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    config: dict[str, Any] = Field(
        description="Configuration d'analyse de la caméra : base légale (arrêté préfectoral), "
        "modèles de détection et leurs classes, règles avec zones et lignes en coordonnées "
        "normalisées 0..1 (origine en haut à gauche). L'identifiant de caméra est celui du "
        "chemin. Les analyses exclues par la loi (LAW-10) sont refusées."
    )


async def get_config(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    cam = await camera_for(request, caller, Action.CONFIGURE_ANALYTICS)
    svc = services(request)
    async with scoped(svc.pool, {str(cam["tenant"])}) as conn:
        row = await db.config(conn, str(cam["id"]))
    return ok({
        "config": row["config"] if row else None,
        "updated_by": row["updated_by"] if row else None,
        "updated_at": row["updated_at"] if row else None,
        "kinds": rule_kinds(),
        "models": {path: list(classes) for path, classes in svc.analytics_models.items()},
    })  # fmt: skip


async def put_config(request: web.Request) -> web.StreamResponse:
    """Validate (LAW-10 included), store, audit and tell the workers."""
    caller = caller_of(request)
    cam = await camera_for(request, caller, Action.CONFIGURE_ANALYTICS)
    body = await body_of(request, AnalyticsConfigBody)
    config = parse_camera_analytics({**body.config, "camera_id": cam["id"]}, from_json=True)
    data = config.model_dump(mode="json")
    svc = services(request)
    async with scoped(svc.pool, {str(cam["tenant"])}) as conn:
        await db.save_config(conn, str(cam["id"]), json.dumps(data), caller.user.login,
                             svc.clock.now())  # fmt: skip
    basis = config.legal_basis
    await svc.audit.append(
        caller.actor, "analytics.config", tenant=str(cam["tenant"]), target=f"camera:{cam['id']}",
        detail={
            "active": config.enabled,
            "base_legale": basis.reference if basis else None,
            "modeles": [m.label for m in config.models],
            "regles": [{"id": r.id, "type": r.kind, "active": r.enabled} for r in config.rules],
        },
        source_ip=client_ip(request),
    )  # fmt: skip
    return ok({"config": data})


async def delete_config(request: web.Request) -> web.StreamResponse:
    """Stop analytics on the camera (its events and counts stay)."""
    caller = caller_of(request)
    cam = await camera_for(request, caller, Action.CONFIGURE_ANALYTICS)
    svc = services(request)
    async with scoped(svc.pool, {str(cam["tenant"])}) as conn:
        deleted = await db.delete_config(conn, str(cam["id"]))
    if deleted:
        await svc.audit.append(
            caller.actor, "analytics.config.delete", tenant=str(cam["tenant"]),
            target=f"camera:{cam['id']}", source_ip=client_ip(request),
        )  # fmt: skip
    return web.Response(status=204)


# -- live overlay and counts ----------------------------------------------------------------


async def live(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    cam = await camera_for(request, caller, Action.VIEW_LIVE)
    svc = services(request)
    async with scoped(svc.pool, {str(cam["tenant"])}) as conn:
        row = await db.live(conn, str(cam["id"]))
    if row is None:
        raise not_found("Aucune analyse en cours sur cette caméra.")
    return ok(row)


def _bucket_end(start: datetime, step: str) -> datetime:
    if step in _STEP_LENGTH:
        return start + _STEP_LENGTH[step]
    # a local day: 23 or 25 hours on DST changes
    local = start.astimezone(local_tz())
    following = local.date() + timedelta(days=1)
    return datetime(following.year, following.month, following.day, tzinfo=local_tz())


async def counts(request: web.Request) -> web.StreamResponse:
    """Crossings per 15-minute bucket, hour (UTC hours, which are Paris hours) or
    Europe/Paris local day, per rule, class and direction."""
    caller = caller_of(request)
    cam = await _camera(request, caller, CAMERA_ACTIONS, request.match_info["camera_id"])
    step = request.query.get("step") or "hour"
    if step not in STEPS:
        raise invalid("Paramètre « step » : 15min, hour ou day attendu.")
    rule = _name_param(request, "rule")
    svc = services(request)
    until = query_time(request, "until") or svc.clock.now()
    since = query_time(request, "since") or until - timedelta(days=1)
    if until <= since or until - since > MAX_COUNT_RANGE:
        raise invalid("Plage horaire invalide : 366 jours au plus, la fin après le début.")
    async with scoped(svc.pool, {str(cam["tenant"])}) as conn:
        rows = await db.counts(conn, str(cam["id"]), step, since, until, rule, LOCAL_TZ_NAME)
    buckets = []
    for r in rows:
        start = r["start"].astimezone(local_tz()) if step == "day" else r["start"]
        buckets.append({
            "start": start, "end": _bucket_end(start, step), "rule_id": r["rule_id"],
            "cls": r["cls"], "direction": r["direction"], "count": int(r["count"]),
        })  # fmt: skip
    return ok({"step": step, "since": since, "until": until, "buckets": buckets})


_STR: dict[str, object] = {"type": "string"}
_TIME: dict[str, object] = {"type": "string", "format": "date-time"}
_CONFIG = "/api/v1/cameras/{camera_id}/analytics"
ROUTES = [
    Route(
        "GET", "/api/v1/events", list_events,
        "Événements d'analyse des caméras visibles (du plus récent au plus ancien)", "analyse",
        query=(
            Param("camera", _STR, "Identifiant de caméra"),
            Param("kind", _STR, "Type d'événement (intrusion, comptage…)"),
            Param("rule", _STR, "Identifiant de règle"),
            Param("since", _TIME, "Depuis (ISO 8601, inclus)"),
            Param("until", _TIME, "Jusqu'à (ISO 8601, exclu)"),
            Param("after_id", {"type": "integer"}, "Seulement les événements d'identifiant "
                  "supérieur (interrogation périodique)"),
            Param("limit", {"type": "integer"}, f"Nombre maximal (100 par défaut, {MAX_EVENTS} "
                  "au plus)"),
        ),
        responses={200: "Événements, les plus récents d'abord"},
    ),
    Route(
        "GET", "/api/v1/events/{event_id}/snapshot", snapshot,
        "Image de l'événement (JPEG, sans cadres ; journalisée)", "analyse",
        response_media="image/jpeg",
        responses={404: "Inconnu, hors du périmètre ou sans image"},
    ),
    Route("GET", _CONFIG, get_config,
          "Configuration d'analyse d'une caméra, types de règles et modèles disponibles",
          "analyse", responses={200: "Configuration (null : aucune)"}),
    Route("PUT", _CONFIG, put_config,
          "Enregistrer la configuration d'analyse d'une caméra (LAW-10 ; journalisé)",
          "analyse", body=AnalyticsConfigBody,
          responses={200: "Configuration enregistrée", 400: "Invalide ou interdite (LAW-10)"}),
    Route("DELETE", _CONFIG, delete_config, "Arrêter l'analyse d'une caméra (journalisé)",
          "analyse", responses={204: "Analyse arrêtée"}),
    Route("GET", _CONFIG + "/live", live,
          "Derniers objets suivis par l'analyse (incrustation du direct)", "analyse",
          responses={200: "Objets suivis", 404: "Aucune analyse en cours"}),
    Route(
        "GET", "/api/v1/cameras/{camera_id}/counts", counts,
        "Comptages anonymes par quart d'heure, heure ou jour (heure de Paris)", "analyse",
        query=(
            Param("rule", _STR, "Identifiant de la règle de comptage"),
            Param("step", {"type": "string", "enum": list(STEPS)}, "Pas : 15min, hour "
                  "(défaut) ou day (jour civil, heure de Paris)"),
            Param("since", _TIME, "Début (défaut : 24 h avant la fin)"),
            Param("until", _TIME, "Fin (défaut : maintenant)"),
        ),
        responses={200: "Comptages par tranche, règle, classe et sens"},
    ),
]  # fmt: skip
