"""PostgreSQL adapter of the SegmentIndex port (segments, runs, gaps, health, holds,
destruction register). Sync psycopg with a pool: ingest threads call it."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from vms.db.migrate import PARTITIONED_TABLES, DailyPartitions, partitioning_mode
from vms.domain.model import Gap, GapCause, HealthSample, LegalHold, SegmentRecord
from vms.domain.ports import CameraRow, ExpiredEvent, PurgeCandidate
from vms.domain.retention import validate_retention_days
from vms.errors import invalid, not_found, unavailable
from vms.messages import msg

logger = logging.getLogger(__name__)

_SEGMENT_COLUMNS = (
    "id, camera_id, stream, run_id, start_at, end_at, media_start_90k, duration_90k, "
    "frames, bytes, sha256, key, codec, width, height, encrypted, replicas"
)


def _segment(row: tuple[Any, ...]) -> SegmentRecord:
    (id_, camera_id, stream, run_id, start_at, end_at, media_start, duration, frames,
     size, sha256, key, codec, width, height, encrypted, replicas) = row  # fmt: skip
    return SegmentRecord(
        camera_id=camera_id, stream=stream, start_at=start_at, end_at=end_at,
        media_start_90k=media_start, duration_90k=duration, frames=frames, bytes=size,
        sha256=sha256, key=key, run_id=run_id, replicas=tuple(replicas),
        encrypted=encrypted, codec=codec, width=width, height=height, id=id_,
    )  # fmt: skip


class PgSegmentIndex:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool
        with self._conn() as conn:
            self.mode = partitioning_mode(conn)
        self._partitions = DailyPartitions(self.mode)

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection]:
        """A pooled connection in a transaction; database errors become UNAVAILABLE."""
        try:
            with self.pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as err:
            raise unavailable(msg("db.unavailable", detail=err), str(err)) from err

    # -- cameras -------------------------------------------------------------------

    def upsert_camera(self, camera: CameraRow) -> None:
        validate_retention_days(camera.retention_days)
        with self._conn() as conn:
            conn.execute(
                "INSERT INTO tenants (id, name) VALUES (%s, %s) ON CONFLICT (id) DO NOTHING",
                (camera.tenant, camera.tenant),
            )
            conn.execute(
                "INSERT INTO cameras (id, tenant_id, name, retention_days, location) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET "
                "tenant_id = EXCLUDED.tenant_id, name = EXCLUDED.name, "
                "retention_days = EXCLUDED.retention_days, location = EXCLUDED.location, "
                "updated_at = now()",
                (camera.id, camera.tenant, camera.name, camera.retention_days, camera.location),
            )

    def cameras(self) -> list[CameraRow]:
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT id, tenant_id, name, retention_days, location FROM cameras ORDER BY id"
            ).fetchall()
        return [CameraRow(*r) for r in rows]

    # -- runs and gaps -------------------------------------------------------------

    def open_run(self, camera_id: str, stream: str, start_at: datetime, run_id: int) -> None:
        with self._conn() as conn:
            conn.execute(
                "INSERT INTO runs (id, camera_id, stream, start_at) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (id) DO NOTHING",
                (run_id, camera_id, stream, start_at),
            )

    def close_run(self, run_id: int, end_at: datetime, cause: GapCause | None) -> None:
        with self._conn() as conn:
            conn.execute(
                "UPDATE runs SET end_at = greatest(%s, start_at), end_cause = %s WHERE id = %s",
                (end_at, cause.value if cause else None, run_id),
            )

    def last_run_end(self, camera_id: str, stream: str) -> tuple[datetime, GapCause | None] | None:
        with self._conn() as conn:
            row = conn.execute(
                "SELECT end_at, end_cause FROM runs WHERE camera_id = %s AND stream = %s "
                "AND end_at IS NOT NULL ORDER BY start_at DESC LIMIT 1",
                (camera_id, stream),
            ).fetchone()
        if row is None:
            return None
        return row[0], GapCause(row[1]) if row[1] else None

    def close_dangling_runs(self, cause: GapCause, camera_id: str | None = None) -> int:
        with self._conn() as conn:
            cur = conn.execute(
                "UPDATE runs r SET end_cause = %s, end_at = coalesce("
                " (SELECT max(s.end_at) FROM segments s WHERE s.run_id = r.id), r.start_at) "
                "WHERE r.end_at IS NULL AND (%s::text IS NULL OR r.camera_id = %s)",
                (cause.value, camera_id, camera_id),
            )
            return cur.rowcount

    def extend_closed_run(self, run_id: int, end_at: datetime) -> bool:
        with self._conn() as conn, conn.transaction():
            row = conn.execute(
                "SELECT camera_id, stream, end_at FROM runs WHERE id = %s "
                "AND end_at IS NOT NULL AND end_at < %s FOR UPDATE",
                (run_id, end_at),
            ).fetchone()
            if row is None:
                return False
            camera_id, stream, old_end = row
            conn.execute("UPDATE runs SET end_at = %s WHERE id = %s", (end_at, run_id))
            conn.execute(
                "UPDATE gaps SET start_at = %s WHERE camera_id = %s AND stream = %s "
                "AND start_at = %s AND end_at >= %s",
                (end_at, camera_id, stream, old_end, end_at),
            )
            return True

    def add_gap(self, gap: Gap) -> None:
        with self._conn() as conn:
            conn.execute(
                "INSERT INTO gaps (camera_id, stream, start_at, end_at, cause, detail) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                (gap.camera_id, gap.stream, gap.start_at, gap.end_at, gap.cause.value, gap.detail),
            )

    def gaps(self, camera_id: str, stream: str | None = None) -> list[Gap]:
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT camera_id, stream, start_at, end_at, cause, detail FROM gaps "
                "WHERE camera_id = %s AND (%s::text IS NULL OR stream = %s) ORDER BY start_at",
                (camera_id, stream, stream),
            ).fetchall()
        return [Gap(r[0], r[1], r[2], r[3], GapCause(r[4]), r[5]) for r in rows]

    # -- segments ------------------------------------------------------------------

    def add_segment(self, segment: SegmentRecord) -> int:
        s = segment
        with self._conn() as conn:
            self._partitions.ensure(conn, s.start_at)
            row = conn.execute(
                "INSERT INTO segments (camera_id, stream, run_id, start_at, end_at, "
                "media_start_90k, duration_90k, frames, bytes, sha256, key, codec, width, "
                "height, encrypted, replicas) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
                "%s, %s, %s, %s, %s, %s) ON CONFLICT (key, start_at) DO NOTHING RETURNING id",
                (
                    s.camera_id,
                    s.stream,
                    s.run_id,
                    s.start_at,
                    s.end_at,
                    s.media_start_90k,
                    s.duration_90k,
                    s.frames,
                    s.bytes,
                    s.sha256,
                    s.key,
                    s.codec,
                    s.width,
                    s.height,
                    s.encrypted,
                    list(s.replicas),
                ),
            ).fetchone()
            if row is None:  # already indexed by an earlier attempt: merge replicas
                row = conn.execute(
                    "UPDATE segments SET replicas = ARRAY(SELECT DISTINCT unnest("
                    "replicas || %s::text[]) ORDER BY 1) WHERE key = %s AND start_at = %s "
                    "RETURNING id",
                    (list(s.replicas), s.key, s.start_at),
                ).fetchone()
            assert row is not None
            return int(row[0])

    def set_replicas(self, segment_id: int, start_at: datetime, replicas: Sequence[str]) -> None:
        with self._conn() as conn:
            conn.execute(
                "UPDATE segments SET replicas = %s WHERE id = %s AND start_at = %s",
                (sorted(replicas), segment_id, start_at),
            )

    def segments(
        self,
        camera_id: str | None = None,
        start_at: datetime | None = None,
        end_at: datetime | None = None,
    ) -> list[SegmentRecord]:
        with self._conn() as conn:
            rows = conn.execute(
                f"SELECT {_SEGMENT_COLUMNS} FROM segments WHERE "
                "(%(cam)s::text IS NULL OR camera_id = %(cam)s) "
                "AND (%(start)s::timestamptz IS NULL OR end_at > %(start)s) "
                "AND (%(end)s::timestamptz IS NULL OR start_at < %(end)s) "
                "ORDER BY camera_id, stream, start_at",
                {"cam": camera_id, "start": start_at, "end": end_at},
            ).fetchall()
        return [_segment(r) for r in rows]

    def segments_missing_replica(self, replica: str, limit: int = 1000) -> list[SegmentRecord]:
        with self._conn() as conn:
            rows = conn.execute(
                f"SELECT {_SEGMENT_COLUMNS} FROM segments WHERE NOT (%s = ANY (replicas)) "
                "ORDER BY start_at LIMIT %s",
                (replica, limit),
            ).fetchall()
        return [_segment(r) for r in rows]

    # -- retention -----------------------------------------------------------------

    def purge_candidates(self, now: datetime, limit: int = 10_000) -> list[PurgeCandidate]:
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT s.id, s.camera_id, s.start_at, s.end_at, s.key, s.replicas "
                "FROM segments s JOIN cameras c ON c.id = s.camera_id "
                "WHERE s.end_at + make_interval(days => c.retention_days) <= %(now)s "
                "AND NOT EXISTS (SELECT 1 FROM legal_holds h WHERE h.released_at IS NULL "
                "  AND (h.expires_at IS NULL OR h.expires_at > %(now)s) "
                "  AND s.camera_id = ANY (h.camera_ids) "
                "  AND s.start_at < h.end_at AND s.end_at > h.start_at) "
                "AND NOT EXISTS (SELECT 1 FROM event_protections p WHERE p.released_at IS NULL "
                "  AND p.camera_id = s.camera_id "
                "  AND s.start_at < p.end_at AND s.end_at > p.start_at) "
                "ORDER BY s.start_at LIMIT %(limit)s",
                {"now": now, "limit": limit},
            ).fetchall()
        return [PurgeCandidate(r[0], r[1], r[2], r[3], r[4], tuple(r[5])) for r in rows]

    def delete_segments(self, ids: Sequence[int], now: datetime, reason: str) -> int:
        if not ids:
            return 0
        with self._conn() as conn:
            cur = conn.execute(
                "WITH gone AS (DELETE FROM segments WHERE id = ANY (%s) RETURNING *) "
                "INSERT INTO destruction_register (destroyed_at, camera_id, stream, start_at, "
                "end_at, key, sha256, replicas, reason) SELECT %s, camera_id, stream, "
                "start_at, end_at, key, sha256, replicas, %s FROM gone",
                (list(ids), now, reason),
            )
            return cur.rowcount

    def destruction_register(self, camera_id: str | None = None) -> list[dict[str, Any]]:
        with self._conn() as conn:
            cur = conn.execute(
                "SELECT destroyed_at, camera_id, stream, start_at, end_at, key, reason "
                "FROM destruction_register WHERE (%s::text IS NULL OR camera_id = %s) "
                "ORDER BY id",
                (camera_id, camera_id),
            )
            names = [d.name for d in cur.description or []]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def drop_expired_partitions(self, older_than: datetime) -> list[str]:
        """Drop whole daily partitions older than ``older_than`` that hold no row."""
        dropped: list[str] = []
        with self._conn() as conn:
            if self.mode == "timescaledb":
                for table in PARTITIONED_TABLES:
                    rows = conn.execute(
                        "SELECT drop_chunks(%s::regclass, older_than => %s)", (table, older_than)
                    ).fetchall()
                    dropped += [str(r[0]) for r in rows]
                return dropped
            for table in PARTITIONED_TABLES:
                parts = conn.execute(
                    "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
                    "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
                    (table,),
                ).fetchall()
                for name, bound in parts:
                    upper = _upper_bound(bound)
                    if upper is None or upper > older_than:
                        continue
                    if conn.execute(f'SELECT 1 FROM "{name}" LIMIT 1'.encode()).fetchone():
                        continue
                    conn.execute(f'DROP TABLE "{name}"'.encode())
                    dropped.append(name)
                    self._partitions.forget(upper.date() - timedelta(days=1))
        return dropped

    # -- legal holds ---------------------------------------------------------------

    def add_hold(self, hold: LegalHold) -> int:
        if not hold.reference.strip():
            raise invalid(msg("hold.reference_missing"))
        if hold.end_at <= hold.start_at:
            raise invalid(msg("hold.range_invalid"))
        with self._conn() as conn:
            row = conn.execute(
                "INSERT INTO legal_holds (reference, procedure, requested_by, camera_ids, "
                "start_at, end_at, expires_at) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (
                    hold.reference.strip(),
                    hold.procedure,
                    hold.requested_by,
                    list(hold.camera_ids),
                    hold.start_at,
                    hold.end_at,
                    hold.expires_at,
                ),
            ).fetchone()
            assert row is not None
            logger.info("legal hold %s placed: %s", row[0], hold.reference)
            return int(row[0])

    def release_hold(self, hold_id: int, by: str) -> None:
        with self._conn() as conn:
            cur = conn.execute(
                "UPDATE legal_holds SET released_at = now(), released_by = %s "
                "WHERE id = %s AND released_at IS NULL",
                (by, hold_id),
            )
            if cur.rowcount == 0:
                raise not_found(f"Conservation judiciaire n° {hold_id} introuvable ou déjà levée.")
        logger.info("legal hold %s released by %s", hold_id, by)

    def holds(self, now: datetime) -> list[LegalHold]:
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT id, reference, procedure, requested_by, camera_ids, start_at, end_at, "
                "expires_at FROM legal_holds WHERE released_at IS NULL "
                "AND (expires_at IS NULL OR expires_at > %s) ORDER BY id",
                (now,),
            ).fetchall()
        return [
            LegalHold(reference=r[1], camera_ids=tuple(r[4]), start_at=r[5], end_at=r[6],
                      expires_at=r[7], procedure=r[2], requested_by=r[3], id=r[0])
            for r in rows
        ]  # fmt: skip

    def protections(self, now: datetime) -> list[LegalHold]:
        """Open event protections, as holds of their camera (procedure "alerte"):
        the purge keeps the segments they cover, as for a legal hold."""
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT id, event_id, camera_id, start_at, end_at FROM event_protections "
                "WHERE released_at IS NULL ORDER BY id"
            ).fetchall()
        return [
            LegalHold(reference=f"événement {r[1]}", camera_ids=(r[2],), start_at=r[3],
                      end_at=r[4], expires_at=None, procedure="alerte", id=r[0])
            for r in rows
        ]  # fmt: skip

    # -- analytics events ----------------------------------------------------------

    def expired_events(self, now: datetime, limit: int = 10_000) -> list[ExpiredEvent]:
        """Events older than their camera's video retention, unless their alert is
        open (an open protection keeps the event, its snapshot and its clip)."""
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT e.id, e.at, e.camera_id, e.snapshot_key FROM events e "
                "JOIN cameras c ON c.id = e.camera_id "
                "WHERE e.at + make_interval(days => c.retention_days) <= %(now)s "
                "AND NOT EXISTS (SELECT 1 FROM event_protections p "
                "  WHERE p.event_id = e.id AND p.released_at IS NULL) "
                "ORDER BY e.at LIMIT %(limit)s",
                {"now": now, "limit": limit},
            ).fetchall()
        return [ExpiredEvent(*r) for r in rows]

    def delete_events(self, events: Sequence[ExpiredEvent]) -> int:
        """Delete the events (their snapshots are already gone) and their released
        protections."""
        if not events:
            return 0
        ids, ats = [e.id for e in events], [e.at for e in events]
        with self._conn() as conn:
            cur = conn.execute(
                "DELETE FROM events e USING unnest(%s::bigint[], %s::timestamptz[]) AS g(id, at) "
                "WHERE e.id = g.id AND e.at = g.at",
                (ids, ats),
            )
            conn.execute(
                "DELETE FROM event_protections WHERE event_id = ANY (%s) "
                "AND released_at IS NOT NULL",
                (ids,),
            )
            return cur.rowcount

    def snapshot_keys(self) -> set[str]:
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT snapshot_key FROM events WHERE snapshot_key IS NOT NULL"
            ).fetchall()
        return {r[0] for r in rows}

    # -- health --------------------------------------------------------------------

    def add_health(self, sample: HealthSample) -> None:
        s = sample
        with self._conn() as conn:
            self._partitions.ensure(conn, s.at)
            conn.execute(
                "INSERT INTO health_samples (camera_id, stream, at, window_s, bitrate_bps, fps, "
                "width, height, gop_frames, clock_drift_ms, frames) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    s.camera_id,
                    s.stream,
                    s.at,
                    s.window_s,
                    s.bitrate_bps,
                    s.fps,
                    s.width,
                    s.height,
                    s.gop_frames,
                    s.clock_drift_ms,
                    s.frames,
                ),
            )


def _upper_bound(bound: str) -> datetime | None:
    """Parse "FOR VALUES FROM ('2026-11-20 00:00:00+00') TO ('2026-11-21 00:00:00+00')"."""
    try:
        upper = bound.split(" TO ('", 1)[1].split("')", 1)[0]
        return datetime.fromisoformat(upper).astimezone(UTC)
    except (IndexError, ValueError):
        return None
