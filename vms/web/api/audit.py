"""Audit search and CSV export (LAW-04), scoped to the tenants where the caller holds
``read_audit``. The auditor of a CSD who holds it on the CSD itself also reads the
entries that concern no commune (unknown logins, system events)."""

from __future__ import annotations

import csv
import io
import json

from aiohttp import web

from vms.db import accounts
from vms.db.audit import AuditQuery
from vms.db.scope import service
from vms.domain.access import Action, visible_tenants
from vms.domain.spreadsheet import spreadsheet_safe
from vms.web.auth import Caller, caller_of, client_ip, services
from vms.web.http import ok, query_int, query_time, refuse
from vms.web.routes import Param, Route

_COLUMNS = ("seq", "at", "actor", "tenant", "action", "target", "detail", "source_ip", "hash")


async def _search(request: web.Request, caller: Caller, limit_max: int) -> list[dict[str, object]]:
    svc = services(request)
    tenants = visible_tenants(caller.principal, Action.READ_AUDIT, svc.clock.now().date())
    if not tenants:
        await refuse(request, caller, "droit « read_audit » requis")
    everything = False
    if caller.user.home_tenant_id in tenants:
        async with service(svc.pool) as conn:
            kinds = {str(t["id"]): t["kind"] for t in await accounts.all_tenants(conn)}
        everything = kinds.get(caller.user.home_tenant_id) == "csd"
    camera = request.query.get("camera")
    query = AuditQuery(
        since=query_time(request, "since"),
        until=query_time(request, "until"),
        actor=request.query.get("actor") or None,
        target=f"camera:{camera}" if camera else (request.query.get("target") or None),
        action=request.query.get("action") or None,
        limit=query_int(request, "limit", 200, 1, limit_max),
    )
    entries = await svc.audit.search(tenants, query, everything=everything)
    return [e.public() for e in entries]


async def _record_read(request: web.Request, caller: Caller, action: str, n: int) -> None:
    await services(request).audit.append(
        caller.actor, action, tenant=caller.user.home_tenant_id,
        detail={"filtres": dict(request.query), "entrees": n}, source_ip=client_ip(request),
    )  # fmt: skip


async def search(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    entries = await _search(request, caller, 1000)
    await _record_read(request, caller, "audit.read", len(entries))
    return ok({"entries": entries})


async def export(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    entries = await _search(request, caller, 10_000)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(_COLUMNS)
    for e in entries:
        writer.writerow(
            spreadsheet_safe(
                json.dumps(e[c], ensure_ascii=False) if c == "detail" else str(e[c] or "")
            )
            for c in _COLUMNS
        )
    await _record_read(request, caller, "audit.export", len(entries))
    return web.Response(
        text=out.getvalue(), content_type="text/csv", charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="journal-audit.csv"'},
    )  # fmt: skip


_FILTERS = (
    Param("since", {"type": "string", "format": "date-time"}, "Depuis (ISO 8601 avec fuseau)"),
    Param("until", {"type": "string", "format": "date-time"}, "Jusqu'à (exclu)"),
    Param("actor", {"type": "string", "maxLength": 200}, "Utilisateur"),
    Param("camera", {"type": "string", "maxLength": 64}, "Caméra"),
    Param("target", {"type": "string", "maxLength": 200}, "Objet (ex. utilisateur:dupont)"),
    Param("action", {"type": "string", "maxLength": 100}, "Action ou préfixe (ex. auth.)"),
    Param("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "Nombre maximal"),
)
ROUTES = (
    Route("GET", "/api/v1/audit", search, "Recherche dans le journal d'audit", "audit",
          query=_FILTERS, responses={200: "Entrées, les plus récentes d'abord",
                                     400: "Filtre invalide", 403: "Droit read_audit requis"}),
    Route("GET", "/api/v1/audit.csv", export, "Export CSV du journal d'audit", "audit",
          query=_FILTERS[:-1], response_media="text/csv",
          responses={200: "Fichier CSV", 403: "Droit read_audit requis"}),
)  # fmt: skip
