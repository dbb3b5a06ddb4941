"""Reports for administrators and auditors (EVD-12, CONF-02, CONF-03, ALR-03/05,
LAW-04, CONF-05): the stored monthly recordings reports, every report as CSV on demand
over a month or any period, and a commune's reversibility archive.

Rights, held on the whole commune (a grant without a camera group), since every report
aggregates all of a commune's cameras:

- ``admin_cameras`` for the figures about the installation (recordings, alerts,
  tickets, availability) and the stored monthly reports: those who run the cameras,
  the recording and the alert desk;
- ``admin_users`` for usage (who watched which camera, CONF-02: administrators only)
  and the reversibility archive (accounts, grants: the commune's administrator);
- ``read_audit`` for the LAW-04 register, the prefecture's view of the log;
- ``read_statistics`` (committees, ALR-05) or ``admin_cameras`` for the alert
  statistics per type and per camera and the anonymised per-alert view (``comite``):
  no image, no login, no free text.

Every report is offered as CSV (``/reports/csv``) and as JSON rows with field names,
units and French labels (``/reports/stats``, for the console's charts), from the same
figures. Every reading and every archive is audited (``report.read``,
``report.reversibility``).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from aiohttp import web

from vms.db.scope import scoped
from vms.domain.access import Action, Principal
from vms.errors import invalid, not_found
from vms.reports import figures, generate
from vms.web.auth import Caller, caller_of, client_ip, services
from vms.web.http import ok, path_int, query_time, refuse
from vms.web.routes import Param, Route

MAX_PERIOD = timedelta(days=400)
YEARS = (2000, 2100)
_COMMITTEE = (Action.ADMIN_CAMERAS, Action.READ_STATISTICS)
RIGHTS: dict[str, tuple[Action, ...]] = {
    "enregistrements": (Action.ADMIN_CAMERAS,),
    "alertes": _COMMITTEE,
    "alertes_camera": _COMMITTEE,
    "comite": _COMMITTEE,
    "tickets": (Action.ADMIN_CAMERAS,),
    "disponibilite": (Action.ADMIN_CAMERAS,),
    "usage": (Action.ADMIN_USERS,),
    "registre": (Action.READ_AUDIT,),
}
# the reports the JSON statistics serve (the others are lists, not figures to chart)
STATS = ("alertes", "alertes_camera", "comite", "tickets", "disponibilite")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_TENANT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def report_tenants(principal: Principal, actions: Action | tuple[Action, ...]) -> frozenset[str]:
    """Communes where ``principal`` holds ``actions`` (one of them) on every camera (no
    group)."""
    if principal.disabled:
        return frozenset()
    wanted = (actions,) if isinstance(actions, Action) else actions
    return frozenset(
        g.tenant for g in principal.grants if g.action in wanted and g.camera_group is None
    )


def _period(request: web.Request) -> tuple[datetime, datetime]:
    month = request.query.get("mois")
    if month:
        if not _MONTH.fullmatch(month) or not YEARS[0] <= int(month[:4]) <= YEARS[1]:
            raise invalid("Paramètre « mois » : AAAA-MM attendu (années 2000 à 2100).")
        return figures.month_bounds(month)
    since, until = query_time(request, "since"), query_time(request, "until")
    if since is None or until is None:
        raise invalid("Période requise : « mois » (AAAA-MM) ou « since » et « until ».")
    if not (YEARS[0] <= since.year <= YEARS[1] and YEARS[0] <= until.year <= YEARS[1]):
        raise invalid("Période invalide : années 2000 à 2100.")
    if until <= since:
        raise invalid("Période invalide : la fin doit suivre le début.")
    if until - since > MAX_PERIOD:
        raise invalid("Période trop longue : 400 jours au plus.")
    return since, until


async def _scope(
    request: web.Request, caller: Caller, actions: Action | tuple[Action, ...]
) -> frozenset[str]:
    tenants = report_tenants(caller.principal, actions)
    names = " ou ".join(
        f"« {a.value} »" for a in ((actions,) if isinstance(actions, Action) else actions)
    )
    commune = request.query.get("commune")
    if commune:
        if not _TENANT.fullmatch(commune):
            raise invalid("Paramètre « commune » : identifiant invalide.")
        if commune not in tenants:
            await refuse(request, caller, f"aucun droit {names} sur {commune}",
                         target=f"commune:{commune}")  # fmt: skip
        tenants = frozenset({commune})
    if not tenants:
        await refuse(request, caller, f"droit {names} sur une commune entière requis")
    return tenants


def _csv(text: str, name: str) -> web.Response:
    return web.Response(
        body=text.encode("utf-8"), content_type="text/csv", charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )  # fmt: skip


async def _table(
    request: web.Request, kinds: tuple[str, ...], view: str
) -> tuple[str, datetime, datetime, frozenset[str], generate.Table]:
    """Checks, scopes, computes and audits one report for the CSV or the JSON ``view``."""
    caller = caller_of(request)
    svc = services(request)
    kind = request.query.get("type", "")
    if kind not in kinds:
        raise invalid(f"Paramètre « type » : un de {', '.join(kinds)}.")
    step = request.query.get("pas", "jour")
    if step not in generate.USAGE_STEPS:
        raise invalid("Paramètre « pas » : detail, jour ou mois.")
    since, until = _period(request)
    tenants = await _scope(request, caller, RIGHTS[kind])
    now = svc.clock.now()
    async with scoped(svc.pool, tenants, audit_all=False) as conn:
        table = await generate.report_table(conn, kind, since, until, now, step)
    await svc.audit.append(
        caller.actor, "report.read", tenant=caller.user.home_tenant_id,
        detail={"type": kind, "debut": since.isoformat(), "fin": until.isoformat(),
                "pas": step if kind == "usage" else None, "communes": sorted(tenants),
                "vue": view},
        source_ip=client_ip(request),
    )  # fmt: skip
    return kind, since, until, tenants, table


async def report(request: web.Request) -> web.StreamResponse:
    kind, since, _, _, table = await _table(request, tuple(RIGHTS), "csv")
    local = since.astimezone(figures.LOCAL_TZ)
    return _csv(figures.to_csv(*table), f"rapport-{kind}-{local:%Y-%m-%d}.csv")


async def stats(request: web.Request) -> web.StreamResponse:
    """The figures of one report as JSON rows (the console's charts): the same table as
    the CSV, with each field's unit and French label."""
    kind, since, until, tenants, (header, rows) = await _table(request, STATS, "json")
    return ok({"type": kind, "debut": since, "fin": until, "communes": sorted(tenants),
               **generate.table_json(header, rows)})  # fmt: skip


def _stored_json(row: dict[str, object]) -> dict[str, object]:
    return {
        "id": row["id"], "commune": row["tenant_id"], "type": row["kind"],
        "debut": row["period_start"], "fin": row["period_end"],
        "cree_le": row["created_at"], "cree_par": row["created_by"],
        "csv": f"/api/v1/reports/{row['id']}/csv",
    }  # fmt: skip


async def list_stored(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    svc = services(request)
    tenants = await _scope(request, caller, Action.ADMIN_CAMERAS)
    async with scoped(svc.pool, tenants) as conn:
        rows = await generate.stored(conn)
    return ok({"reports": [_stored_json(r) for r in rows]})


async def read_stored(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    svc = services(request)
    report_id = path_int(request, "report_id")
    tenants = report_tenants(caller.principal, Action.ADMIN_CAMERAS)
    async with scoped(svc.pool, tenants) as conn:
        rows = await generate.stored(conn, report_id)
    if not rows:
        await refuse(request, caller, "rapport hors du périmètre", target=f"rapport:{report_id}",
                     hide=True)  # fmt: skip
    row = rows[0]
    await svc.audit.append(
        caller.actor, "report.read", tenant=str(row["tenant_id"]), target=f"rapport:{report_id}",
        detail={"type": row["kind"], "enregistre": True}, source_ip=client_ip(request),
    )  # fmt: skip
    local = row["period_start"].astimezone(figures.LOCAL_TZ)
    return _csv(str(row["content"]), f"rapport-{row['kind']}-{row['tenant_id']}-{local:%Y-%m}.csv")


async def reversibility(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    svc = services(request)
    tenant = request.query.get("commune", "")
    if not _TENANT.fullmatch(tenant):
        raise invalid("Paramètre « commune » requis : identifiant de la commune.")
    if tenant not in report_tenants(caller.principal, Action.ADMIN_USERS):
        await refuse(request, caller, f"aucun droit « admin_users » sur {tenant}",
                     target=f"commune:{tenant}", hide=True)  # fmt: skip
    now = svc.clock.now()
    async with scoped(svc.pool, {tenant}) as conn:
        try:
            data, counts = await generate.reversibility_zip(conn, tenant, now, caller.actor)
        except LookupError as err:
            raise not_found("Commune introuvable.") from err
    await svc.audit.append(
        caller.actor, "report.reversibility", tenant=tenant, target=f"commune:{tenant}",
        detail={"fichiers": counts, "octets": len(data)}, source_ip=client_ip(request),
    )  # fmt: skip
    return web.Response(
        body=data, content_type="application/zip",
        headers={"Content-Disposition":
                 f'attachment; filename="reversibilite-{tenant}-{now:%Y%m%d}.zip"'},
    )  # fmt: skip


_PERIOD = (
    Param("mois", {"type": "string", "pattern": r"^\d{4}-(0[1-9]|1[0-2])$"},
          "Mois civil (AAAA-MM, heure de Paris) ; sinon since et until"),
    Param("since", {"type": "string", "format": "date-time"}, "Début (ISO 8601 avec fuseau)"),
    Param("until", {"type": "string", "format": "date-time"}, "Fin (exclue)"),
    Param("commune", {"type": "string", "maxLength": 64}, "Une seule commune"),
)  # fmt: skip
ROUTES = (
    Route("GET", "/api/v1/reports", list_stored, "Rapports mensuels enregistrés", "rapports",
          query=(_PERIOD[3],),
          responses={200: "Rapports, les plus récents d'abord", 403: "Droit admin_cameras requis"}),
    Route("GET", "/api/v1/reports/{report_id}/csv", read_stored, "Rapport enregistré (CSV)",
          "rapports", response_media="text/csv",
          responses={200: "Fichier CSV", 404: "Rapport introuvable"}),
    Route("GET", "/api/v1/reports/csv", report, "Rapport à la demande (CSV)", "rapports",
          query=(Param("type", {"type": "string", "enum": list(RIGHTS)}, "Type de rapport",
                       required=True),
                 Param("pas", {"type": "string", "enum": list(generate.USAGE_STEPS)},
                       "Usage : detail, jour ou mois"), *_PERIOD),
          response_media="text/csv",
          responses={200: "Fichier CSV", 400: "Paramètre invalide", 403: "Droit requis"}),
    Route("GET", "/api/v1/reports/stats", stats,
          "Statistiques d'un rapport (JSON : champs, unités, lignes)", "rapports",
          query=(Param("type", {"type": "string", "enum": list(STATS)}, "Type de statistiques",
                       required=True), *_PERIOD),
          responses={200: "Lignes du rapport avec leurs champs et unités",
                     400: "Paramètre invalide", 403: "Droit requis"}),
    Route("GET", "/api/v1/reports/reversibility", reversibility,
          "Réversibilité : toutes les données d'une commune (zip)", "rapports",
          query=(Param("commune", {"type": "string", "maxLength": 64}, "Commune", required=True),),
          response_media="application/zip",
          responses={200: "Archive zip", 404: "Commune hors du périmètre"}),
)  # fmt: skip
