"""Multi-criteria search (EVD-09): time range, commune, camera (name, group), operator,
event type, hold or requisition reference. Results are scoped by the caller's rights
(recordings: playback; exports: export; holds: manage_holds; the operator's actions:
read_audit) and carry thumbnail URLs. Each search is audited with its criteria."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from aiohttp import web

from vms.db import accounts, evidence
from vms.db.audit import AuditQuery
from vms.db.scope import scoped
from vms.domain.access import Action, decide, visible_tenants
from vms.errors import invalid
from vms.web.api.cameras import camera_ref
from vms.web.auth import caller_of, client_ip, services
from vms.web.http import ok, query_int, query_time, refuse
from vms.web.routes import Param, Route

EVENTS = {"enregistrement", "interruption", "conservation", "extrait", "acces"}
MAX_RANGE = timedelta(days=31)


async def search(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    svc = services(request)
    now = svc.clock.now()
    today = now.date()
    start = query_time(request, "from") or now - timedelta(days=1)
    end = query_time(request, "to") or now
    if end <= start or end - start > MAX_RANGE:
        raise invalid("Plage horaire invalide : 31 jours au plus, la fin après le début.")
    q = (request.query.get("q") or "").strip().lower()[:100]
    tenant = request.query.get("tenant") or None
    camera = request.query.get("camera") or None
    operator = (request.query.get("operator") or "").strip()[:128] or None
    reference = (request.query.get("reference") or "").strip()[:200] or None
    event = request.query.get("event") or None
    if event is not None and event not in EVENTS:
        raise invalid(f"Type d'événement inconnu : {', '.join(sorted(EVENTS))} attendu.")
    limit = query_int(request, "limit", 50, 1, 200)
    wanted = {event} if event else EVENTS

    playback = visible_tenants(caller.principal, {Action.PLAYBACK}, today)
    exporting = visible_tenants(caller.principal, {Action.EXPORT}, today)
    holding = visible_tenants(caller.principal, {Action.MANAGE_HOLDS}, today)
    auditing = visible_tenants(caller.principal, {Action.READ_AUDIT}, today)
    if not (playback or exporting or holding or auditing):
        await refuse(request, caller, "aucun droit de recherche")
    if tenant is not None:
        playback, exporting, holding, auditing = (
            t & {tenant} for t in (playback, exporting, holding, auditing)
        )

    results: dict[str, list[dict[str, object]]] = {}
    cameras: list[dict[str, object]] = []
    if playback:
        async with scoped(svc.pool, playback) as conn:
            for row in await accounts.cameras(conn, now):
                ref = camera_ref(row)
                if not decide(caller.principal, Action.PLAYBACK, ref, today):
                    continue
                if camera and row["id"] != camera:
                    continue
                text = " ".join([str(row["name"]), str(row["id"]), *ref.groups]).lower()
                if q and q not in text:
                    continue
                cameras.append({"id": row["id"], "name": row["name"], "tenant": row["tenant"]})
            ids = [str(c["id"]) for c in cameras]
            if ids and "enregistrement" in wanted and not (operator or reference):
                rows = await evidence.search_recordings(conn, ids, start, end, limit)
                results["enregistrements"] = [
                    r | {"thumbnail": f"/api/v1/cameras/{r['camera']}/thumbnail?"
                         + urlencode({"at": r["start"].isoformat()})}
                    for r in rows
                ]  # fmt: skip
            if ids and "interruption" in wanted and not (operator or reference):
                results["interruptions"] = await evidence.search_gaps(conn, ids, start, end, limit)
    if holding and reference and "conservation" in wanted:
        async with scoped(svc.pool, holding) as conn:
            results["conservations"] = await evidence.search_holds(conn, reference, limit)
    if exporting and (reference or operator) and "extrait" in wanted:
        async with scoped(svc.pool, exporting) as conn:
            results["extraits"] = await evidence.search_exports(conn, reference, operator, limit)
    if auditing and operator and "acces" in wanted:
        entries = await svc.audit.search(
            auditing, AuditQuery(since=start, until=end, actor=operator, limit=limit)
        )
        results["acces"] = [e.public() for e in entries]
    names = {str(c["id"]): c["name"] for c in cameras}
    for rows in results.values():
        for r in rows:
            if "camera" in r:
                r["camera_name"] = names.get(str(r["camera"]), r["camera"])
    criteria = {k: v for k, v in request.query.items() if k != "limit"}
    await svc.audit.append(
        caller.actor, "search", tenant=caller.user.home_tenant_id,
        detail={"criteres": criteria, "resultats": {k: len(v) for k, v in results.items()}},
        source_ip=client_ip(request),
    )  # fmt: skip
    return ok({"from": start, "to": end, "cameras": cameras, "results": results})


_STR: dict[str, object] = {"type": "string"}
ROUTES = [
    Route(
        "GET", "/api/v1/search", search,
        "Recherche multicritère (enregistrements, interruptions, conservations, extraits, accès)",
        "recherche",
        query=(
            Param("from", {"type": "string", "format": "date-time"}, "Début (défaut : -24 h)"),
            Param("to", {"type": "string", "format": "date-time"}, "Fin (défaut : maintenant)"),
            Param("tenant", _STR, "Commune"),
            Param("camera", _STR, "Identifiant de caméra"),
            Param("q", _STR, "Nom de caméra ou de groupe"),
            Param("operator", _STR, "Identifiant d'un opérateur"),
            Param("event", _STR, "Type : " + ", ".join(sorted(EVENTS))),
            Param("reference", _STR, "N° de PV, de réquisition ou de procédure"),
            Param("limit", {"type": "integer"}, "Résultats par catégorie (50 par défaut)"),
        ),
    ),
]  # fmt: skip
