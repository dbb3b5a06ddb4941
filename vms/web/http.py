"""Request helpers shared by the handlers: typed bodies, query values, refusals."""

from __future__ import annotations

import json
from datetime import datetime
from typing import NoReturn, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from vms.config import first_error
from vms.domain.access import Decision
from vms.errors import denied, invalid, not_found
from vms.web.auth import Caller, client_ip, services

M = TypeVar("M", bound=BaseModel)
MAX_JSON = 64 * 1024


async def body_of(request: web.Request, model: type[M]) -> M:
    """The JSON body validated against ``model``; a French 400 otherwise."""
    if request.content_length is not None and request.content_length > MAX_JSON:
        raise invalid("Corps de requête trop volumineux.")
    raw = await request.read()
    if len(raw) > MAX_JSON:
        raise invalid("Corps de requête trop volumineux.")
    try:
        data = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError) as err:
        raise invalid("Corps de requête invalide : JSON attendu.") from err
    try:
        return model.model_validate(data)
    except ValidationError as err:
        field, error = first_error(err)
        raise invalid(f"Champ « {field} » : {error}") from err


def query_time(request: web.Request, name: str) -> datetime | None:
    text = request.query.get(name)
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError as err:
        raise invalid(f"Paramètre « {name} » : date ISO 8601 attendue.") from err
    if value.tzinfo is None:
        raise invalid(f"Paramètre « {name} » : précisez le fuseau horaire (ex. +01:00 ou Z).")
    return value


def query_int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    text = request.query.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError as err:
        raise invalid(f"Paramètre « {name} » : nombre entier attendu.") from err
    if not low <= value <= high:
        raise invalid(f"Paramètre « {name} » : entre {low} et {high}.")
    return value


def path_int(request: web.Request, name: str) -> int:
    try:
        value = int(request.match_info[name])
    except ValueError as err:
        raise not_found("Ressource introuvable.") from err
    if not 0 < value < 2**63:
        raise not_found("Ressource introuvable.")
    return value


def _json_default(value: object) -> str:
    iso = getattr(value, "isoformat", None)
    return str(iso()) if callable(iso) else str(value)


def ok(data: object, status: int = 200) -> web.Response:
    return web.json_response(
        data, status=status, dumps=lambda o: json.dumps(o, default=_json_default)
    )


async def refuse(
    request: web.Request,
    caller: Caller,
    decision: Decision | str,
    *,
    target: str | None = None,
    tenant: str | None = None,
    hide: bool = False,
) -> NoReturn:
    """Log a refused request in the audit, then answer 403 (or 404 where the
    resource's existence must not leak)."""
    svc = services(request)
    svc.metrics.denied += 1
    reason = decision.reason if isinstance(decision, Decision) else decision
    await svc.audit.append(
        caller.actor, "access.denied", tenant=tenant or caller.user.home_tenant_id,
        target=target, detail={"requete": f"{request.method} {request.path}", "raison": reason},
        source_ip=client_ip(request),
    )  # fmt: skip
    if hide:
        raise not_found("Ressource introuvable.")
    raise denied(f"Accès refusé : {reason}.")
