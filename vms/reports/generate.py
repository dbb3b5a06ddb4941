"""Reports as delivered: CSV texts computed from the queries, the monthly recordings
report stored on the 1st (EVD-12), and a commune's reversibility archive (CONF-05).

Every function takes a connection already scoped to the tenants the report may show
(row-level security does the isolation); the caller audits the reading."""

from __future__ import annotations

import csv
import io
import json
import logging
import zipfile
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg_pool import AsyncConnectionPool

from vms.db.audit import AuditLog
from vms.db.scope import Conn
from vms.domain.spreadsheet import spreadsheet_safe
from vms.reports import figures as f
from vms.reports import queries as q

logger = logging.getLogger(__name__)

KINDS = (
    "enregistrements", "usage", "alertes", "alertes_camera", "tickets", "disponibilite",
    "registre", "comite",
)  # fmt: skip
USAGE_STEPS = ("detail", "jour", "mois")
AVAILABILITY_HEADER = ("commune", "camera", "part_periode_enregistree")

Table = tuple[Sequence[str], list[list[object]]]


async def recordings_table(conn: Conn, since: datetime, until: datetime) -> Table:
    rows = f.recording_rows(f.recordings(await q.segments(conn, since, until)), since, until)
    return f.RECORDING_HEADER, rows


async def usage_table(
    conn: Conn, since: datetime, until: datetime, now: datetime, step: str
) -> Table:
    viewings = await q.viewings(conn, since, until, now)
    if step == "detail":
        return f.USAGE_DETAIL_HEADER, f.usage_detail_rows(viewings)
    return f.USAGE_HEADER, f.usage_rows(viewings, step)


async def alerts_table(conn: Conn, since: datetime, until: datetime, now: datetime) -> Table:
    return f.ALERT_HEADER, f.alert_rows(await q.alerts(conn, since, until), now)


async def alerts_camera_table(conn: Conn, since: datetime, until: datetime, now: datetime) -> Table:
    return f.ALERT_CAMERA_HEADER, f.alert_camera_rows(await q.alerts(conn, since, until), now)


async def committee_table(conn: Conn, since: datetime, until: datetime, now: datetime) -> Table:
    """ALR-05 anonymised per-alert detail (see ``figures.committee_rows``)."""
    return f.COMMITTEE_HEADER, f.committee_rows(await q.alerts(conn, since, until), now)


async def tickets_table(conn: Conn, since: datetime, until: datetime) -> Table:
    return f.TICKET_HEADER, f.ticket_rows(await q.tickets(conn, since, until))


async def availability_table(conn: Conn, since: datetime, until: datetime) -> Table:
    segs = await q.segments(conn, since, until)
    cams = [(str(c["tenant_id"]), str(c["id"])) for c in await q.cameras(conn)]
    spans = [(s.tenant, s.camera, s.stream, s.start, s.end) for s in segs]
    return AVAILABILITY_HEADER, f.availability(spans, cams, since, until)


REGISTER_HEADER = (
    "rubrique", "commune", "cameras", "debut", "fin", "nombre", "duree_s", "date", "reference",
    "destinataire", "detail",
)  # fmt: skip


async def register_table(conn: Conn, since: datetime, until: datetime) -> Table:
    """LAW-04: recordings per camera, destructions, legal holds, exports."""
    rows: list[list[object]] = []
    by_camera: dict[tuple[str, str], list[f.Segment]] = {}
    for s in await q.segments(conn, since, until):
        by_camera.setdefault((s.tenant, s.camera), []).append(s)
    for (tenant, camera), segs in sorted(by_camera.items()):
        (summary,) = f.recordings(segs)
        rows.append(["enregistrements", tenant, camera, min(s.start for s in segs),
                     max(s.end for s in segs), summary.recordings, round(summary.total_s, 1),
                     "", "", "", ""])  # fmt: skip
    for d in await q.destructions(conn, since, until):
        rows.append(["destruction", d["tenant_id"], d["camera_id"], d["first_start"],
                     d["last_end"], d["segments"], "", d["last_destroyed"], "", "",
                     f"première : {d['first_destroyed']:%Y-%m-%d} ; {d['reasons']}"])  # fmt: skip
    for h in await q.holds(conn, since, until):
        released = h["released_at"].isoformat() if h["released_at"] else "en cours"
        rows.append(["requisition", h["tenant_id"] or "", " ".join(h["camera_ids"]),
                     h["start_at"], h["end_at"], "", "", h["created_at"], h["reference"],
                     h["requested_by"], f"{h['procedure']} ; levée : {released}"])  # fmt: skip
    for e in await q.exports(conn, since, until):
        rows.append(["extrait", e["tenant_id"], " ".join(e["camera_ids"]), e["start_at"],
                     e["end_at"], "", round((e["end_at"] - e["start_at"]).total_seconds(), 1),
                     e["created_at"], e["reference"], f"{e['service']} — {e['officer']}",
                     f"statut {e['status']} ; demandé par {e['requested_by']} ; "
                     f"motif : {e['motive']}"])  # fmt: skip
    return REGISTER_HEADER, rows


async def report_table(
    conn: Conn, kind: str, since: datetime, until: datetime, now: datetime, step: str = "jour"
) -> Table:
    """The header and rows of one report: what the CSV and the JSON statistics show."""
    if kind == "enregistrements":
        return await recordings_table(conn, since, until)
    if kind == "usage":
        return await usage_table(conn, since, until, now, step)
    if kind == "alertes":
        return await alerts_table(conn, since, until, now)
    if kind == "alertes_camera":
        return await alerts_camera_table(conn, since, until, now)
    if kind == "comite":
        return await committee_table(conn, since, until, now)
    if kind == "tickets":
        return await tickets_table(conn, since, until)
    if kind == "disponibilite":
        return await availability_table(conn, since, until)
    if kind == "registre":
        return await register_table(conn, since, until)
    raise ValueError(f"Type de rapport inconnu : « {kind} ».")


async def report_csv(
    conn: Conn, kind: str, since: datetime, until: datetime, now: datetime, step: str = "jour"
) -> str:
    return f.to_csv(*await report_table(conn, kind, since, until, now, step))


# Unit and French label of every field the JSON statistics show.
FIELDS: dict[str, tuple[str, str]] = {
    "commune": ("", "Commune"),
    "camera": ("", "Caméra"),
    "type": ("", "Type d'alerte"),
    "alertes": ("nombre", "Alertes levées"),
    "prises_en_compte": ("nombre", "Alertes prises en compte"),
    "delai_prise_en_compte_median_s": ("s", "Délai de prise en compte médian"),
    "delai_prise_en_compte_p90_s": ("s", "Délai de prise en compte (90e centile)"),
    "escaladees": ("nombre", "Alertes escaladées aux forces de l'ordre"),
    "cloturees": ("nombre", "Alertes clôturées"),
    "fausses_alertes": ("nombre", "Fausses alertes"),
    "taux_fausses_alertes": ("ratio", "Taux de fausses alertes (sur les clôturées)"),
    "en_retard": ("nombre", "Alertes en retard de prise en compte"),
    "retard_cumule_s": ("s", "Retard cumulé"),
    "traitees": ("nombre", "Alertes traitées (clôturées)"),
    "incidents_reels": ("nombre", "Incidents réels"),
    "delai_resolution_incident_median_s": ("s", "Délai de résolution des incidents médian"),
    "delai_resolution_incident_p90_s": ("s", "Délai de résolution des incidents (90e centile)"),
    "trimestre": ("", "Trimestre d'ouverture"),
    "tickets_ouverts": ("nombre", "Tickets ouverts"),
    "tickets_resolus": ("nombre", "Tickets résolus"),
    "delai_resolution_moyen_s": ("s", "Délai de résolution moyen"),
    "delai_resolution_median_s": ("s", "Délai de résolution médian"),
    "delai_resolution_p90_s": ("s", "Délai de résolution (90e centile)"),
    "part_periode_enregistree": ("ratio", "Part de la période enregistrée"),
    "numero": ("", "N°"),
    "source": ("", "Source"),
    "priorite": ("", "Priorité"),
    "levee_a": ("date-heure", "Levée à (minute)"),
    "echeance_a": ("date-heure", "Échéance de prise en compte (minute)"),
    "prise_en_compte_a": ("date-heure", "Prise en compte à (minute)"),
    "prise_en_compte_par": ("", "Prise en compte par"),
    "cloturee_a": ("date-heure", "Clôturée à (minute)"),
    "cloturee_par": ("", "Clôturée par"),
    "qualification": ("", "Qualification"),
    "appels_forces": ("nombre", "Appels aux forces de l'ordre"),
    "hors_delai": ("", "Prise en compte hors délai"),
}


def table_json(header: Sequence[str], rows: list[list[object]]) -> dict[str, object]:
    """``{"champs": [{"nom", "unite", "libelle"}], "lignes": [{nom: valeur}]}``; an empty
    cell (no value, such as a median of nothing) is null."""
    fields = [
        {"nom": h, "unite": FIELDS.get(h, ("", h))[0], "libelle": FIELDS.get(h, ("", h))[1]}
        for h in header
    ]
    lines = [{h: None if v == "" else v for h, v in zip(header, row, strict=True)} for row in rows]
    return {"champs": fields, "lignes": lines}


# -- stored monthly report (EVD-12) -----------------------------------------------------


async def generate_monthly(
    pool: AsyncConnectionPool, audit: AuditLog, month: str, now: datetime, actor: str = "systeme"
) -> list[int]:
    """Store the recordings report of ``month`` for every commune with cameras, once
    (an existing report of that period is kept); the ids created, each audited."""
    since, until = f.month_bounds(month)
    created: list[int] = []
    async with pool.connection() as raw, raw.transaction():
        conn: Conn = raw  # type: ignore[assignment]
        cur = await conn.execute(
            "SELECT DISTINCT c.tenant_id FROM cameras c WHERE NOT EXISTS (SELECT 1 FROM reports "
            "r WHERE r.tenant_id = c.tenant_id AND r.kind = 'enregistrements' "
            "AND r.period_start = %s AND r.period_end = %s) ORDER BY c.tenant_id",
            (since, until),
        )
        tenants = [str(r["tenant_id"]) for r in await cur.fetchall()]
        if not tenants:
            return created
        summaries = {s.tenant: s for s in f.recordings(await q.segments(conn, since, until))}
        for tenant in tenants:
            summary = summaries.get(tenant, f.RecordingSummary(tenant, 0, 0.0, 0, 0, 0, 0))
            content = f.to_csv(f.RECORDING_HEADER, f.recording_rows([summary], since, until))
            cur = await conn.execute(
                "INSERT INTO reports (tenant_id, kind, period_start, period_end, created_at, "
                "created_by, content) VALUES (%s, 'enregistrements', %s, %s, %s, %s, %s) "
                "ON CONFLICT DO NOTHING RETURNING id",
                (tenant, since, until, now, actor, content),
            )
            row = await cur.fetchone()
            if row is None:
                continue
            created.append(int(str(row["id"])))
            entry = await audit.append_in(
                conn, actor, "report.generate", tenant=tenant, target=f"rapport:{row['id']}",
                detail={"type": "enregistrements", "mois": month,
                        "enregistrements": summary.recordings},
            )  # fmt: skip
            audit.committed(entry)
    logger.info("monthly report %s: %d commune(s) stored", month, len(created))
    return created


async def stored(conn: Conn, report_id: int | None = None) -> list[dict[str, Any]]:
    """Stored reports of the tenants in scope (without content unless one is asked)."""
    content = ", content" if report_id is not None else ""
    where = "WHERE id = %s" if report_id is not None else ""
    args: tuple[object, ...] = (report_id,) if report_id is not None else ()
    cur = await conn.execute(
        f"SELECT id, tenant_id, kind, period_start, period_end, created_at, created_by{content} "
        f"FROM reports {where} ORDER BY period_start DESC, tenant_id LIMIT 1000",
        args,
    )
    return list(await cur.fetchall())


# -- reversibility (CONF-05) ------------------------------------------------------------

_README = """Réversibilité — données de la commune {tenant} ({name})
Archive produite le {at} par {actor}.

Chaque fichier CSV est séparé par « ; », encodé en UTF-8 avec marque d'ordre
d'octets ; les noms de colonnes sont ceux du schéma de la base (décrits dans
vms/db/migrations/*.sql, un commentaire par colonne). Les valeurs structurées sont en
JSON. Les mots de passe, secrets TOTP et jetons ne sont jamais exportés.

commune.json            la commune, ses référents et ses conventions
cameras.csv             caméras (nom, emplacement, rétention, coordonnées)
groupes_cameras.csv     groupes de caméras et leurs membres
utilisateurs.csv        comptes rattachés à la commune (sans secret)
droits.csv              droits accordés sur la commune
alertes.csv             alertes
historique_alertes.csv  transitions des alertes
tickets.csv             tickets d'incident
extraits.csv            extraits (exports) demandés
requisitions.csv        réquisitions (gels judiciaires)
journal_audit.csv       entrées du journal d'audit concernant la commune
rapports/               rapports mensuels enregistrés
"""

_TABLES: Sequence[tuple[str, str]] = (
    ("cameras.csv", "SELECT id, name, location, retention_days, latitude, longitude, "
     "updated_at FROM cameras WHERE tenant_id = %(t)s ORDER BY id"),
    ("groupes_cameras.csv", "SELECT g.id, g.name, array_agg(m.camera_id ORDER BY m.camera_id) "
     "FILTER (WHERE m.camera_id IS NOT NULL) AS cameras FROM camera_groups g "
     "LEFT JOIN camera_group_members m ON m.group_id = g.id WHERE g.tenant_id = %(t)s "
     "GROUP BY g.id, g.name ORDER BY g.id"),
    ("utilisateurs.csv", "SELECT id, login, display_name, email, role, habilitation, "
     "habilitation_ref, habilitation_expires_on, mfa_required, disabled, created_at "
     "FROM users WHERE home_tenant_id = %(t)s ORDER BY login"),
    ("droits.csv", "SELECT u.login, g.action, g.tenant_id, g.camera_group_id FROM grants g "
     "JOIN users u ON u.id = g.user_id WHERE g.tenant_id = %(t)s ORDER BY u.login, g.action"),
    ("alertes.csv", "SELECT * FROM alerts WHERE tenant_id = %(t)s ORDER BY id"),
    ("historique_alertes.csv", "SELECT * FROM alert_history WHERE tenant_id = %(t)s "
     "ORDER BY id"),
    ("tickets.csv", "SELECT * FROM tickets WHERE tenant_id = %(t)s ORDER BY id"),
    ("extraits.csv", "SELECT id, camera_ids, start_at, end_at, motive, service, officer, "
     "reference, requested_by, approved_by, approved_at, status, created_at, ready_at, "
     "delivered_at, destroyed_at FROM exports WHERE tenant_id = %(t)s ORDER BY id"),
    ("requisitions.csv", "SELECT * FROM legal_holds WHERE tenant_id = %(t)s ORDER BY id"),
    ("journal_audit.csv", "SELECT seq, at, actor, action, target, detail, source_ip, hash "
     "FROM audit WHERE tenant_id = %(t)s ORDER BY seq"),
)  # fmt: skip


def _value(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, dict | list):
        return json.dumps(v, ensure_ascii=False, default=str)
    return str(v)


async def _table(conn: Conn, sql: str, tenant: str) -> tuple[str, int]:
    cur = await conn.execute(sql, {"t": tenant})
    rows = await cur.fetchall()
    names = [d.name for d in cur.description or ()]
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(names)
    for r in rows:
        writer.writerow(spreadsheet_safe(_value(r[n])) for n in names)
    return f.BOM + out.getvalue(), len(rows)


async def reversibility_zip(
    conn: Conn, tenant: str, now: datetime, actor: str
) -> tuple[bytes, dict[str, int]]:
    """All of one commune's data in one zip (``conn`` scoped to that commune, the
    queries filter on it explicitly too: ``users`` has no row-level security); the zip
    and the row count per file."""
    cur = await conn.execute(
        "SELECT id, name, kind, parent_id, referents FROM tenants WHERE id = %s", (tenant,)
    )
    info = await cur.fetchone()
    if info is None:
        raise LookupError(tenant)
    cur = await conn.execute(
        "SELECT csd_id, reference, starts_on, ends_on FROM conventions WHERE commune_id = %s",
        (tenant,),
    )
    conventions = [{k: _value(v) for k, v in r.items()} for r in await cur.fetchall()]
    counts: dict[str, int] = {}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("LISEZMOI.txt", _README.format(
            tenant=tenant, name=info["name"], at=now.isoformat(), actor=actor))  # fmt: skip
        commune = {k: _value(v) if not isinstance(v, list) else v for k, v in info.items()}
        z.writestr("commune.json", json.dumps(
            commune | {"conventions": conventions}, ensure_ascii=False, indent=2))  # fmt: skip
        for name, sql in _TABLES:
            text, counts[name] = await _table(conn, sql, tenant)
            z.writestr(name, text.encode("utf-8"))
        cur = await conn.execute(
            "SELECT id, kind, period_start, content FROM reports WHERE tenant_id = %s "
            "ORDER BY id", (tenant,))  # fmt: skip
        reports: list[dict[str, Any]] = [dict(r) for r in await cur.fetchall()]
        for r in reports:
            local = r["period_start"].astimezone(f.LOCAL_TZ)
            z.writestr(f"rapports/{r['kind']}-{local:%Y-%m}-{r['id']}.csv",
                       str(r["content"]).encode("utf-8"))  # fmt: skip
        counts["rapports"] = len(reports)
    return buf.getvalue(), counts
