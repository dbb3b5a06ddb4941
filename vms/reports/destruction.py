"""End-of-contract destruction of a commune's data (CONF-05), after its reversibility
archive: ``vms report destruction --tenant X --archive F.zip --confirmer X``.

Order (docs/design/reversibility.md): check every precondition (nothing is touched if
one fails); record the start in ``tenant_destructions``; destroy the recordings and
the analytics snapshots on every replica through the retention purge's own code path
(``Purger`` over an index restricted to the commune's cameras: a segment leaves the
index, and enters the destruction register, only once every replica deleted it);
delete the export bundles; then, in one transaction, every row of the commune, the
destruction record and its audit entry. Each step is idempotent, so a rerun after a
crash finishes the job. The audit log, the destruction register and the destruction
record are kept (their own legal retention)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from vms.db.audit import append_sync
from vms.db.index import PgSegmentIndex
from vms.domain.clock import Clock
from vms.domain.ports import BlobStore, ExpiredEvent, PurgeCandidate
from vms.errors import invalid, not_found, precondition, unavailable
from vms.storage.purge import Purger

logger = logging.getLogger(__name__)

REASON = "fin_de_contrat"
"""``destruction_register.reason`` of the segments destroyed here."""

REQUIRED_FILES = (
    "LISEZMOI.txt", "commune.json", "cameras.csv", "groupes_cameras.csv", "utilisateurs.csv",
    "droits.csv", "alertes.csv", "historique_alertes.csv", "tickets.csv", "extraits.csv",
    "requisitions.csv", "journal_audit.csv",
)  # fmt: skip
"""The files of a reversibility archive (vms/reports/generate.py)."""

# archive file -> the ids the commune has now: an id missing from the archive is data
# created after it, which the commune would never get back
_ARCHIVED_IDS: Sequence[tuple[str, str, str]] = (
    ("cameras.csv", "caméra(s)", "SELECT id::text FROM cameras WHERE tenant_id = %(t)s"),
    ("utilisateurs.csv", "compte(s)", "SELECT id::text FROM users WHERE home_tenant_id = %(t)s"),
    ("alertes.csv", "alerte(s)", "SELECT id::text FROM alerts WHERE tenant_id = %(t)s"),
    ("tickets.csv", "ticket(s)", "SELECT id::text FROM tickets WHERE tenant_id = %(t)s"),
    ("extraits.csv", "extrait(s)", "SELECT id::text FROM exports WHERE tenant_id = %(t)s"),
    ("rapports/", "rapport(s)", "SELECT id::text FROM reports WHERE tenant_id = %(t)s"),
)  # fmt: skip

# What the final transaction does, in this order (foreign keys), with the label the
# operator reads. Parameters: t = the commune, cams = its cameras. Rows that cascade
# (group members, sessions and tokens of deleted accounts, live relays, analytics
# settings and counts, event protections, PTZ locks) are not counted.
_STEPS: Sequence[tuple[str, str]] = (
    ("tickets", "DELETE FROM tickets WHERE tenant_id = %(t)s"),
    ("historique_alertes", "DELETE FROM alert_history WHERE tenant_id = %(t)s"),
    ("alertes", "DELETE FROM alerts WHERE tenant_id = %(t)s"),
    # copies of the alerts queued for the outgoing webhooks (migration 0013)
    ("file_alertes_sortantes", "DELETE FROM alert_outbox WHERE alert ->> 'tenant_id' = %(t)s"),
    ("maintenances", "DELETE FROM camera_maintenance WHERE tenant_id = %(t)s "
     "OR camera_id = ANY (%(cams)s)"),
    ("liens_direct", "DELETE FROM live_links WHERE tenant_id = %(t)s "
     "OR camera_id = ANY (%(cams)s)"),
    ("sessions_relecture", "DELETE FROM playback_sessions WHERE tenant_id = %(t)s "
     "OR camera_ids && %(cams)s::text[]"),
    ("extraits", "DELETE FROM exports WHERE tenant_id = %(t)s OR camera_ids && %(cams)s::text[]"),
    # a hold placed from the CLI may cover cameras of several communes: the others keep it
    ("requisitions_partagees", "UPDATE legal_holds SET camera_ids = ARRAY(SELECT c FROM "
     "unnest(camera_ids) c WHERE c <> ALL (%(cams)s)) WHERE camera_ids && %(cams)s::text[] "
     "AND NOT camera_ids <@ %(cams)s::text[] AND tenant_id IS DISTINCT FROM %(t)s"),
    ("requisitions", "DELETE FROM legal_holds WHERE tenant_id = %(t)s "
     "OR camera_ids <@ %(cams)s::text[]"),
    ("rapports", "DELETE FROM reports WHERE tenant_id = %(t)s"),
    ("vues", "DELETE FROM wall_views WHERE tenant_id = %(t)s"),
    # an account of the commune that also holds grants elsewhere keeps them: it moves to
    # (the first of) those other tenants
    ("comptes_rattaches_ailleurs", "UPDATE users u SET home_tenant_id = (SELECT "
     "min(g.tenant_id) FROM grants g WHERE g.user_id = u.id AND g.tenant_id <> %(t)s) "
     "WHERE u.home_tenant_id = %(t)s AND EXISTS (SELECT 1 FROM grants g "
     "WHERE g.user_id = u.id AND g.tenant_id <> %(t)s)"),
    ("droits", "DELETE FROM grants WHERE tenant_id = %(t)s"),
    ("comptes", "DELETE FROM users WHERE home_tenant_id = %(t)s"),
    ("groupes_cameras", "DELETE FROM camera_groups WHERE tenant_id = %(t)s"),
    ("interruptions", "DELETE FROM gaps WHERE camera_id = ANY (%(cams)s)"),
    ("sessions_enregistrement", "DELETE FROM runs WHERE camera_id = ANY (%(cams)s)"),
    ("mesures_sante", "DELETE FROM health_samples WHERE camera_id = ANY (%(cams)s)"),
    ("cameras", "DELETE FROM cameras WHERE tenant_id = %(t)s"),
    ("conventions", "DELETE FROM conventions WHERE commune_id = %(t)s OR csd_id = %(t)s"),
    ("cles", "DELETE FROM tenant_keys WHERE tenant_id = %(t)s"),
    ("commune", "DELETE FROM tenants WHERE id = %(t)s"),
)  # fmt: skip

LABELS = {
    "segments": "segments vidéo",
    "octets_segments": "octets de vidéo (par réplique)",
    "evenements": "événements d'analyse",
    "photos_evenements": "photos d'événements",
    "fichiers_extraits": "fichiers d'extraits",
    "octets_extraits": "octets d'extraits",
    "tickets": "tickets",
    "historique_alertes": "transitions d'alertes",
    "alertes": "alertes",
    "file_alertes_sortantes": "alertes en file pour les webhooks",
    "maintenances": "fenêtres de maintenance",
    "liens_direct": "liens de partage du direct",
    "sessions_relecture": "sessions de relecture",
    "extraits": "extraits (journal)",
    "requisitions_partagees": "réquisitions partagées (caméras retirées)",
    "requisitions": "réquisitions levées",
    "rapports": "rapports enregistrés",
    "vues": "vues de mur",
    "comptes_rattaches_ailleurs": "comptes conservés (droits ailleurs)",
    "droits": "droits sur la commune",
    "comptes": "comptes supprimés",
    "groupes_cameras": "groupes de caméras",
    "interruptions": "interruptions d'enregistrement",
    "sessions_enregistrement": "sessions d'enregistrement",
    "mesures_sante": "mesures de santé des flux",
    "cameras": "caméras",
    "conventions": "conventions",
    "cles": "clés de chiffrement",
    "commune": "commune",
}


@dataclass(frozen=True, slots=True)
class DestructionRequest:
    tenant: str
    archive: Path
    confirmation: str | None
    simulation: bool = False
    actor: str = "cli"


@dataclass(frozen=True, slots=True)
class Archive:
    path: Path
    sha256: str
    tenant: str
    ids: dict[str, frozenset[str]]


@dataclass
class DestructionResult:
    tenant: str
    archive_sha256: str
    simulation: bool
    counts: dict[str, int] = field(default_factory=dict)
    replicas: tuple[str, ...] = ()
    already_done: datetime | None = None
    audit_seq: int | None = None

    def text(self) -> str:
        t = self.tenant
        if self.already_done is not None:
            return (
                f"la commune « {t} » a déjà été détruite le {self.already_done:%Y-%m-%d %H:%M} "
                f"UTC (archive sha256 {self.archive_sha256}) : rien à faire"
            )
        head = (
            f"simulation de la destruction de la commune « {t} »"
            if self.simulation
            else f"commune « {t} » détruite"
        )
        lines = [f"{head} (archive de réversibilité sha256 {self.archive_sha256})"]
        if self.replicas:
            lines.append(f"  répliques : {', '.join(self.replicas)}")
        for kind in sorted(self.counts, key=lambda k: list(LABELS).index(k) if k in LABELS else 99):
            lines.append(f"  {LABELS.get(kind, kind)} : {self.counts[kind]}")
        if self.simulation:
            lines.append("rien n'a été détruit (simulation)")
        else:
            lines.append(
                f"entrée n° {self.audit_seq} du journal d'audit (tenant.destroy) ; le journal "
                "d'audit et le registre des destructions sont conservés"
            )
        return "\n".join(lines)


# -- archive ---------------------------------------------------------------------------


def _first_column(data: bytes) -> frozenset[str]:
    rows = csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";")
    next(rows, None)  # header
    return frozenset(r[0] for r in rows if r)


def read_archive(path: Path) -> Archive:
    """The reversibility archive's commune, digest and archived ids; raises
    INVALID_ARGUMENT when the file is not a complete reversibility archive."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise invalid(f"Archive illisible : « {path} » ({err.strerror}).") from err
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = set(z.namelist())
            missing = [n for n in REQUIRED_FILES if n not in names]
            if missing:
                raise invalid(
                    f"« {path} » n'est pas une archive de réversibilité complète "
                    f"(manquant : {', '.join(missing)})."
                )
            if z.testzip() is not None:
                raise invalid(f"Archive de réversibilité corrompue : « {path} ».")
            commune = json.loads(z.read("commune.json"))
            ids = {name: _first_column(z.read(name)) for name, _, _ in _ARCHIVED_IDS[:-1]}
            ids["rapports/"] = frozenset(
                n.removesuffix(".csv").rsplit("-", 1)[-1]
                for n in names
                if n.startswith("rapports/") and n.endswith(".csv")
            )
    except (zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError, KeyError) as err:
        raise invalid(f"« {path} » n'est pas une archive de réversibilité lisible.") from err
    if not isinstance(commune, dict) or not isinstance(commune.get("id"), str):
        raise invalid(f"« {path} » n'est pas une archive de réversibilité (commune.json).")
    return Archive(path, hashlib.sha256(data).hexdigest(), commune["id"], ids)


# -- preconditions ---------------------------------------------------------------------


def _scalars(conn: psycopg.Connection[Any], sql: str, args: dict[str, Any]) -> list[Any]:
    return [r[0] for r in conn.execute(sql, args).fetchall()]


def refusals(
    conn: psycopg.Connection[Any],
    tenant: str,
    archive: Archive,
    configured: Iterable[str],
    cameras: Sequence[str],
    now: datetime,
) -> list[str]:
    """Every reason to refuse, in French (empty: the destruction may go ahead)."""
    out: list[str] = []
    args = {"t": tenant, "cams": list(cameras), "now": now}
    if archive.tenant != tenant:
        out.append(
            f"l'archive « {archive.path} » est celle de la commune « {archive.tenant} », "
            f"pas de « {tenant} »"
        )
    else:
        late: list[str] = []
        for name, label, sql in _ARCHIVED_IDS:
            extra = set(_scalars(conn, sql, args)) - archive.ids[name]
            if extra:
                late.append(f"{len(extra)} {label}")
        if late:
            out.append(
                f"données postérieures à l'archive ({', '.join(late)}) : produisez une "
                "nouvelle archive de réversibilité"
            )
    still = sorted(set(configured))
    if still:
        out.append(
            f"caméras encore dans la configuration : {', '.join(still)} ; retirez-les de la "
            "configuration et redémarrez l'enregistrement"
        )
    holds = conn.execute(
        "SELECT id, reference, procedure FROM legal_holds WHERE released_at IS NULL "
        "AND (expires_at IS NULL OR expires_at > %(now)s) "
        "AND (tenant_id = %(t)s OR camera_ids && %(cams)s::text[]) ORDER BY id",
        args,
    ).fetchall()
    for hold_id, reference, procedure in holds:
        out.append(
            f"réquisition en cours n° {hold_id} « {reference} » ({procedure or 'procédure'}) : "
            "la réquisition judiciaire prime, attendez sa levée"
        )
    pending = conn.execute(
        "SELECT id, status, reference FROM exports WHERE (tenant_id = %(t)s "
        "OR camera_ids && %(cams)s::text[]) AND (status IN ('a_valider', 'en_file', "
        "'en_cours') OR (status = 'pret' AND delivered_at IS NULL)) ORDER BY id",
        args,
    ).fetchall()
    for export_id, status, reference in pending:
        out.append(
            f"extrait n° {export_id} « {reference} » non remis (statut {status}) : "
            "attendez sa remise ou refusez-le"
        )
    children = _scalars(conn, "SELECT id FROM tenants WHERE parent_id = %(t)s ORDER BY id", args)
    if children:
        out.append(f"communes rattachées à « {tenant} » : {', '.join(children)}")
    return out


# -- the index restricted to the commune ------------------------------------------------


class _CommuneIndex(PgSegmentIndex):
    """The segment index as the purge sees it, narrowed to one commune's cameras, every
    segment and event of which is due (end of contract); what is destroyed is counted
    into the destruction record as it goes."""

    def __init__(self, pool: ConnectionPool, tenant: str, cameras: Sequence[str]) -> None:
        super().__init__(pool)
        self.tenant = tenant
        self.camera_ids = list(cameras)

    def purge_candidates(self, now: datetime, limit: int = 10_000) -> list[PurgeCandidate]:
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT id, camera_id, start_at, end_at, key, replicas FROM segments "
                "WHERE camera_id = ANY (%s) ORDER BY start_at LIMIT %s",
                (self.camera_ids, limit),
            ).fetchall()
        return [PurgeCandidate(r[0], r[1], r[2], r[3], r[4], tuple(r[5])) for r in rows]

    def delete_segments(self, ids: Sequence[int], now: datetime, reason: str) -> int:
        with self._conn() as conn:
            row = conn.execute(
                "SELECT coalesce(sum(bytes), 0) FROM segments WHERE id = ANY (%s)", (list(ids),)
            ).fetchone()
        size = int(row[0]) if row else 0
        count = super().delete_segments(ids, now, REASON)
        with self._conn() as conn:
            add_counts(conn, self.tenant, {"segments": count, "octets_segments": size})
        return count

    def expired_events(self, now: datetime, limit: int = 10_000) -> list[ExpiredEvent]:
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT id, at, camera_id, snapshot_key FROM events WHERE camera_id = ANY (%s) "
                "ORDER BY at LIMIT %s",
                (self.camera_ids, limit),
            ).fetchall()
        return [ExpiredEvent(*r) for r in rows]

    def delete_events(self, events: Sequence[ExpiredEvent]) -> int:
        count = super().delete_events(events)
        snapshots = sum(1 for e in events if e.snapshot_key)
        with self._conn() as conn:
            add_counts(conn, self.tenant, {"evenements": count, "photos_evenements": snapshots})
        return count

    def drop_expired_partitions(self, older_than: datetime) -> list[str]:
        return []  # the retention purge's business


def add_counts(conn: psycopg.Connection[Any], tenant: str, counts: dict[str, int]) -> None:
    """Add ``counts`` to the destruction record's (kept over reruns)."""
    conn.execute(
        "UPDATE tenant_destructions d SET counts = d.counts || coalesce((SELECT "
        "jsonb_object_agg(e.key, coalesce((d.counts ->> e.key)::bigint, 0) + e.value::bigint) "
        "FROM jsonb_each_text(%s) e), '{}') WHERE tenant_id = %s",
        (Jsonb(counts), tenant),
    )


# -- the command -----------------------------------------------------------------------


def _inventory(
    conn: psycopg.Connection[Any], tenant: str, cameras: Sequence[str]
) -> dict[str, int]:
    """What is left on the replicas and in the export folder."""
    seg = conn.execute(
        "SELECT count(*), coalesce(sum(bytes), 0) FROM segments WHERE camera_id = ANY (%s)",
        (list(cameras),),
    ).fetchone()
    ev = conn.execute(
        "SELECT count(*), count(snapshot_key) FROM events WHERE camera_id = ANY (%s)",
        (list(cameras),),
    ).fetchone()
    bundles = conn.execute(
        "SELECT count(*), coalesce(sum(bundle_bytes), 0) FROM exports WHERE (tenant_id = %s "
        "OR camera_ids && %s::text[]) AND bundle_path IS NOT NULL",
        (tenant, list(cameras)),
    ).fetchone()
    assert seg is not None and ev is not None and bundles is not None
    return {
        "segments": int(seg[0]), "octets_segments": int(seg[1]), "evenements": int(ev[0]),
        "photos_evenements": int(ev[1]), "fichiers_extraits": int(bundles[0]),
        "octets_extraits": int(bundles[1]),
    }  # fmt: skip


def _rows(conn: psycopg.Connection[Any], tenant: str, cameras: Sequence[str]) -> dict[str, int]:
    args = {"t": tenant, "cams": list(cameras)}
    return {kind: conn.execute(sql, args).rowcount for kind, sql in _STEPS}


def _delete_bundles(
    pool: ConnectionPool, tenant: str, cameras: Sequence[str], export_dir: Path
) -> None:
    """Delete the export bundles of the commune (the files; their rows go with the rest).
    Like the export worker, only files inside the export folder are touched."""
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT id, bundle_path FROM exports WHERE (tenant_id = %s "
            "OR camera_ids && %s::text[]) AND bundle_path IS NOT NULL",
            (tenant, list(cameras)),
        ).fetchall()
    for export_id, bundle in rows:
        path = Path(str(bundle))
        size = 0
        if path.parent.resolve() == export_dir.resolve():
            size = path.stat().st_size if path.exists() else 0
            path.unlink(missing_ok=True)
        else:
            logger.warning("export %s: bundle %s outside %s left in place", export_id, path,
                           export_dir)  # fmt: skip
        with pool.connection() as conn:
            conn.execute("UPDATE exports SET bundle_path = NULL WHERE id = %s", (export_id,))
            add_counts(conn, tenant, {"fichiers_extraits": 1, "octets_extraits": size})
        logger.info("export %s: bundle destroyed (end of contract of %s)", export_id, tenant)


def destroy(
    pool: ConnectionPool,
    stores: Sequence[BlobStore],
    clock: Clock,
    export_dir: Path,
    request: DestructionRequest,
    configured: Iterable[str],
    batch: int = 5000,
) -> DestructionResult:
    """Destroy (or, with ``simulation``, count) one commune's data. ``configured``: the
    ids of the commune's cameras still in the configuration (any refuses)."""
    r = request
    if not r.simulation and r.confirmation != r.tenant:
        raise invalid(
            f"Confirmation incorrecte : répétez l'identifiant de la commune "
            f"(--confirmer {r.tenant}). Rien n'a été détruit."
        )
    now = clock.now()
    with pool.connection() as conn:
        exists = conn.execute("SELECT 1 FROM tenants WHERE id = %s", (r.tenant,)).fetchone()
        record = conn.execute(
            "SELECT archive_sha256, finished_at FROM tenant_destructions WHERE tenant_id = %s",
            (r.tenant,),
        ).fetchone()
        if exists is None:
            if record is not None and record[1] is not None:
                return DestructionResult(r.tenant, record[0], r.simulation, already_done=record[1])
            raise not_found(f"Commune inconnue : « {r.tenant} ».")
        cameras = _scalars(
            conn, "SELECT id FROM cameras WHERE tenant_id = %(t)s ORDER BY id", {"t": r.tenant}
        )
        archive = read_archive(r.archive)
        refused = refusals(conn, r.tenant, archive, configured, cameras, now)
        if refused:
            raise precondition(
                f"Destruction de la commune « {r.tenant} » refusée, rien n'a été détruit :\n"
                + "\n".join(f"- {x}" for x in refused)
            )
        result = DestructionResult(r.tenant, archive.sha256, r.simulation)
        result.replicas = tuple(s.name for s in stores)
        if r.simulation:
            result.counts = _inventory(conn, r.tenant, cameras)
            with conn.transaction(force_rollback=True):
                result.counts |= _rows(conn, r.tenant, cameras)
            return result
        cur = conn.execute(
            "INSERT INTO tenant_destructions (tenant_id, archive_sha256, requested_by, "
            "started_at) VALUES (%s, %s, %s, %s) ON CONFLICT (tenant_id) DO NOTHING",
            (r.tenant, archive.sha256, r.actor, now),
        )
        if cur.rowcount:
            append_sync(conn, now, r.actor, "tenant.destroy.start", target=f"commune:{r.tenant}",
                        detail={"archive_sha256": archive.sha256, "cameras": cameras})  # fmt: skip
        else:
            logger.info("%s: resuming an unfinished destruction", r.tenant)
    logger.info("%s: destroying %d camera(s) of recordings", r.tenant, len(cameras))
    purger = Purger(_CommuneIndex(pool, r.tenant, cameras), list(stores), clock)
    while True:
        report = purger.run_once(batch)
        if report.deferred or report.events_deferred:
            raise unavailable(
                f"Réplique indisponible : {report.deferred} segment(s) et "
                f"{report.events_deferred} photo(s) d'événement de « {r.tenant} » restent à "
                "détruire. Relancez la même commande quand toutes les répliques répondent : "
                "elle reprendra où elle s'est arrêtée."
            )
        if not report.destroyed and not report.events_destroyed:
            break
    _delete_bundles(pool, r.tenant, cameras, export_dir)
    with pool.connection() as conn:
        left = _inventory(conn, r.tenant, cameras)
        if left["segments"] or left["evenements"]:
            raise unavailable(
                f"Des enregistrements de « {r.tenant} » restent indexés ({left['segments']} "
                f"segment(s), {left['evenements']} événement(s)) : relancez la commande."
            )
        add_counts(conn, r.tenant, _rows(conn, r.tenant, cameras))
        row = conn.execute(
            "UPDATE tenant_destructions SET finished_at = %s WHERE tenant_id = %s "
            "RETURNING counts, archive_sha256, started_at",
            (now, r.tenant),
        ).fetchone()
        assert row is not None
        result.counts = {str(k): int(v) for k, v in dict(row[0]).items()}
        entry = append_sync(
            conn, now, r.actor, "tenant.destroy", target=f"commune:{r.tenant}",
            detail={"archive_sha256": row[1], "debut": row[2].isoformat(),
                    "cameras": cameras, "repliques": list(result.replicas),
                    "detruit": result.counts},
        )  # fmt: skip
        result.audit_seq = entry.seq
    logger.info("%s: destroyed at the end of its contract: %s", r.tenant, result.counts)
    return result
