"""Playback, search and evidence persistence: the timeline of a camera (runs, gaps,
holds), the segments of a time range, playback sessions, export requests and the
export journal, legal holds placed from the console.

Async queries run inside ``scoped()`` (row-level security applies); the export worker
uses the synchronous functions at the end, with the service role."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import psycopg

from vms.db.index import _SEGMENT_COLUMNS, _segment
from vms.db.scope import Conn
from vms.domain.model import Gap, GapCause, SegmentRecord

Owner = psycopg.AsyncConnection[Any]
"""A connection with the service (owner) role: the export worker serves every commune."""

# -- timeline and segments --------------------------------------------------------------


async def timeline(
    conn: Conn, camera_id: str, stream: str, start: datetime, end: datetime
) -> dict[str, list[dict[str, Any]]]:
    """Runs, gaps and legal holds of one camera stream overlapping [start, end)."""
    runs = await conn.execute(
        "SELECT start_at AS start, coalesce(end_at, now()) AS end, end_cause AS cause, "
        "end_at IS NULL AS open FROM runs WHERE camera_id = %s AND stream = %s "
        "AND start_at < %s AND (end_at IS NULL OR end_at > %s) ORDER BY start_at",
        (camera_id, stream, end, start),
    )
    gaps = await conn.execute(
        "SELECT start_at AS start, end_at AS end, cause, detail FROM gaps "
        "WHERE camera_id = %s AND stream = %s AND start_at < %s AND end_at > %s "
        "ORDER BY start_at",
        (camera_id, stream, end, start),
    )
    holds = await conn.execute(
        "SELECT id, reference, procedure, start_at AS start, end_at AS end, expires_at "
        "FROM legal_holds WHERE %s = ANY (camera_ids) AND released_at IS NULL "
        "AND (expires_at IS NULL OR expires_at > now()) AND start_at < %s AND end_at > %s "
        "ORDER BY start_at",
        (camera_id, end, start),
    )
    return {
        "runs": list(await runs.fetchall()),
        "gaps": list(await gaps.fetchall()),
        "holds": list(await holds.fetchall()),
    }


async def segments(
    conn: Conn, camera_id: str, stream: str, start: datetime, end: datetime
) -> list[SegmentRecord]:
    cur = await conn.execute(
        f"SELECT {_SEGMENT_COLUMNS} FROM segments WHERE camera_id = %s AND stream = %s "
        "AND end_at > %s AND start_at < %s ORDER BY start_at",
        (camera_id, stream, start, end),
    )
    return [_segment(tuple(r.values())) for r in await cur.fetchall()]


async def segment(conn: Conn, segment_id: int, camera_id: str) -> SegmentRecord | None:
    cur = await conn.execute(
        f"SELECT {_SEGMENT_COLUMNS} FROM segments WHERE id = %s AND camera_id = %s",
        (segment_id, camera_id),
    )
    row = await cur.fetchone()
    return _segment(tuple(row.values())) if row else None


# -- playback sessions ----------------------------------------------------------------


async def add_playback(conn: Conn, **row: Any) -> None:
    await conn.execute(
        "INSERT INTO playback_sessions (id, user_id, actor, tenant_id, camera_ids, stream, "
        "start_at, end_at, motive, unmasked, source_ip, created_at, expires_at) VALUES "
        "(%(id)s, %(user_id)s, %(actor)s, %(tenant)s, %(cameras)s, %(stream)s, %(start)s, "
        "%(end)s, %(motive)s, %(unmasked)s, %(source_ip)s, %(now)s, %(expires)s)",
        row,
    )


async def playback(conn: Conn, session_id: str) -> dict[str, Any] | None:
    cur = await conn.execute(
        "SELECT id, user_id, actor, tenant_id AS tenant, camera_ids AS cameras, stream, "
        "start_at AS start, end_at AS end, motive, unmasked, created_at, expires_at, ended_at "
        "FROM playback_sessions WHERE id = %s",
        (session_id,),
    )
    return await cur.fetchone()


async def end_playback(conn: Conn, session_id: str, at: datetime) -> bool:
    cur = await conn.execute(
        "UPDATE playback_sessions SET ended_at = %s WHERE id = %s AND ended_at IS NULL",
        (at, session_id),
    )
    return cur.rowcount > 0


# -- exports ------------------------------------------------------------------------------

_EXPORT_COLUMNS = (
    "id, tenant_id AS tenant, camera_ids AS cameras, start_at AS start, end_at AS end, "
    "motive, service, officer, reference, overlay, requested_by, requester_id, status, "
    "approved_by, approved_at, refusal, progress, error, bundle_sha256, bundle_bytes, "
    "created_at, ready_at, downloads, delivered_at, expires_at, destroyed_at"
)


async def add_export(conn: psycopg.AsyncConnection[Any], **row: Any) -> int:
    """Record a request; ``conn`` scoped to its commune, or the service role (CLI)."""
    cur = await conn.execute(
        "INSERT INTO exports (tenant_id, camera_ids, start_at, end_at, motive, service, "
        "officer, reference, overlay, requested_by, requester_id, status, created_at) VALUES "
        "(%(tenant)s, %(cameras)s, %(start)s, %(end)s, %(motive)s, %(service)s, %(officer)s, "
        "%(reference)s, %(overlay)s, %(requested_by)s, %(requester_id)s, %(status)s, %(now)s) "
        "RETURNING id",
        row,
    )
    got = await cur.fetchone()
    assert got is not None
    return int(str(got["id"]))


async def export(conn: Conn, export_id: int) -> dict[str, Any] | None:
    cur = await conn.execute(
        f"SELECT {_EXPORT_COLUMNS}, bundle_path FROM exports WHERE id = %s", (export_id,)
    )
    return await cur.fetchone()


async def exports(conn: Conn, limit: int = 200) -> list[dict[str, Any]]:
    cur = await conn.execute(
        f"SELECT {_EXPORT_COLUMNS} FROM exports ORDER BY id DESC LIMIT %s", (limit,)
    )
    return list(await cur.fetchall())


async def decide_export(
    conn: Conn, export_id: int, approved: bool, by: str, at: datetime, refusal: str = ""
) -> bool:
    cur = await conn.execute(
        "UPDATE exports SET status = %s, approved_by = %s, approved_at = %s, refusal = %s "
        "WHERE id = %s AND status = 'a_valider'",
        ("en_file" if approved else "refuse", by, at, refusal or None, export_id),
    )
    return cur.rowcount > 0


async def delivered(conn: Conn, export_id: int, at: datetime, keep: timedelta) -> None:
    """A download: the first one starts the bundle's retention period (``keep``)."""
    await conn.execute(
        "UPDATE exports SET downloads = downloads + 1, "
        "delivered_at = coalesce(delivered_at, %(at)s), "
        "expires_at = coalesce(expires_at, %(at)s + %(keep)s) WHERE id = %(id)s",
        {"at": at, "keep": keep, "id": export_id},
    )


# -- legal holds ----------------------------------------------------------------------


async def add_hold(conn: Conn, **row: Any) -> int:
    cur = await conn.execute(
        "INSERT INTO legal_holds (reference, procedure, requested_by, camera_ids, start_at, "
        "end_at, expires_at, tenant_id, created_by, created_at) VALUES (%(reference)s, "
        "%(procedure)s, %(requested_by)s, %(cameras)s, %(start)s, %(end)s, %(expires)s, "
        "%(tenant)s, %(created_by)s, %(now)s) RETURNING id",
        row,
    )
    got = await cur.fetchone()
    assert got is not None
    return int(str(got["id"]))


async def holds(conn: Conn, active_only: bool = True) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "SELECT id, reference, procedure, requested_by, camera_ids AS cameras, "
        "start_at AS start, end_at AS end, expires_at, created_at, created_by, released_at, "
        "released_by, tenant_id AS tenant FROM legal_holds "
        + ("WHERE released_at IS NULL " if active_only else "")
        + "ORDER BY id DESC"
    )
    return list(await cur.fetchall())


async def release_hold(conn: Conn, hold_id: int, by: str, at: datetime) -> bool:
    cur = await conn.execute(
        "UPDATE legal_holds SET released_at = %s, released_by = %s "
        "WHERE id = %s AND released_at IS NULL",
        (at, by, hold_id),
    )
    return cur.rowcount > 0


# -- export worker (service role: every commune's exports) ---------------------------------


async def claim_export(conn: Owner, export_id: int | None = None) -> dict[str, Any] | None:
    """Take the oldest queued export, or ``export_id`` if queued (several workers may
    run: SKIP LOCKED), with its cameras' names, places and communes."""
    async with conn.transaction():
        cur = await conn.execute(
            "SELECT id FROM exports WHERE status = 'en_file' "
            "AND (%s::bigint IS NULL OR id = %s) ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1",
            (export_id, export_id),
        )
        row = await cur.fetchone()
        if row is None:
            return None
        await conn.execute(
            "UPDATE exports SET status = 'en_cours', progress = 0 WHERE id = %s", (row["id"],)
        )
    cur = await conn.execute(
        f"SELECT {_EXPORT_COLUMNS}, (SELECT json_agg(json_build_object('id', c.id, "
        "'name', c.name, 'location', c.location, 'tenant', c.tenant_id, 'tenant_name', t.name) "
        "ORDER BY c.id) "
        "FROM cameras c JOIN tenants t ON t.id = c.tenant_id "
        "WHERE c.id = ANY (e.camera_ids)) AS camera_rows FROM exports e WHERE id = %s",
        (row["id"],),
    )
    return await cur.fetchone()


async def export_progress(conn: Owner, export_id: int, progress: float) -> None:
    await conn.execute(
        "UPDATE exports SET progress = %s WHERE id = %s AND status = 'en_cours'",
        (min(1.0, max(0.0, progress)), export_id),
    )


async def finish_export(
    conn: Owner,
    export_id: int,
    at: datetime,
    *,
    path: str | None = None,
    sha256: str | None = None,
    size: int | None = None,
    manifest: str | None = None,
    error: str | None = None,
) -> None:
    if error is not None:
        await conn.execute(
            "UPDATE exports SET status = 'echec', error = %s WHERE id = %s", (error, export_id)
        )
        return
    await conn.execute(
        "UPDATE exports SET status = 'pret', progress = 1, bundle_path = %s, "
        "bundle_sha256 = %s, bundle_bytes = %s, manifest = %s::jsonb, ready_at = %s "
        "WHERE id = %s",
        (path, sha256, size, manifest, at, export_id),
    )


async def export_footage(
    conn: Owner, camera_ids: Sequence[str], start: datetime, end: datetime
) -> tuple[list[SegmentRecord], list[Gap]]:
    """Segments and gaps of the main stream of these cameras overlapping the range."""
    cur = await conn.execute(
        f"SELECT {_SEGMENT_COLUMNS} FROM segments WHERE camera_id = ANY (%s) AND stream = 'main' "
        "AND end_at > %s AND start_at < %s ORDER BY camera_id, start_at",
        (list(camera_ids), start, end),
    )
    segments = [_segment(tuple(r.values())) for r in await cur.fetchall()]
    cur = await conn.execute(
        "SELECT camera_id, stream, start_at, end_at, cause, detail FROM gaps "
        "WHERE camera_id = ANY (%s) AND stream = 'main' AND end_at > %s AND start_at < %s "
        "ORDER BY camera_id, start_at",
        (list(camera_ids), start, end),
    )
    gaps = [
        Gap(str(r["camera_id"]), str(r["stream"]), r["start_at"], r["end_at"],
            GapCause(str(r["cause"])), str(r["detail"]))
        for r in await cur.fetchall()
    ]  # fmt: skip
    return segments, gaps


async def expired_bundles(conn: Owner, now: datetime) -> list[dict[str, Any]]:
    """Delivered bundles past their retention, unless a hold covers their footage."""
    cur = await conn.execute(
        "SELECT e.id, e.tenant_id AS tenant, e.bundle_path, e.reference FROM exports e "
        "WHERE e.status = 'pret' AND e.expires_at <= %(now)s AND NOT EXISTS ("
        "SELECT 1 FROM legal_holds h WHERE h.released_at IS NULL "
        "AND (h.expires_at IS NULL OR h.expires_at > %(now)s) AND h.camera_ids && e.camera_ids "
        "AND h.start_at < e.end_at AND h.end_at > e.start_at)",
        {"now": now},
    )
    return list(await cur.fetchall())


async def destroyed(conn: Owner, export_id: int, at: datetime) -> None:
    await conn.execute(
        "UPDATE exports SET status = 'detruit', destroyed_at = %s, bundle_path = NULL "
        "WHERE id = %s",
        (at, export_id),
    )


# -- search (EVD-09) --------------------------------------------------------------------


async def search_recordings(
    conn: Conn, camera_ids: Sequence[str], start: datetime, end: datetime, limit: int
) -> list[dict[str, Any]]:
    """Recorded runs of the main stream overlapping [start, end), clipped to it."""
    cur = await conn.execute(
        "SELECT camera_id AS camera, greatest(start_at, %(s)s) AS start, "
        "least(coalesce(end_at, now()), %(e)s) AS end FROM runs WHERE camera_id = ANY (%(c)s) "
        "AND stream = 'main' AND start_at < %(e)s AND (end_at IS NULL OR end_at > %(s)s) "
        "ORDER BY start_at DESC LIMIT %(n)s",
        {"s": start, "e": end, "c": list(camera_ids), "n": limit},
    )
    return list(await cur.fetchall())


async def search_gaps(
    conn: Conn, camera_ids: Sequence[str], start: datetime, end: datetime, limit: int
) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "SELECT camera_id AS camera, start_at AS start, end_at AS end, cause, detail FROM gaps "
        "WHERE camera_id = ANY (%s) AND stream = 'main' AND start_at < %s AND end_at > %s "
        "ORDER BY start_at DESC LIMIT %s",
        (list(camera_ids), end, start, limit),
    )
    return list(await cur.fetchall())


async def search_holds(conn: Conn, reference: str, limit: int) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "SELECT id, reference, procedure, requested_by, camera_ids AS cameras, "
        "start_at AS start, end_at AS end, released_at FROM legal_holds "
        "WHERE reference ILIKE %s ORDER BY id DESC LIMIT %s",
        (f"%{_like(reference)}%", limit),
    )
    return list(await cur.fetchall())


async def search_exports(
    conn: Conn, reference: str | None, operator: str | None, limit: int
) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "SELECT id, reference, camera_ids AS cameras, start_at AS start, end_at AS end, "
        "requested_by, approved_by, status, service, officer FROM exports "
        "WHERE (%(r)s::text IS NULL OR reference ILIKE %(r)s) "
        "AND (%(o)s::text IS NULL OR requested_by = %(o)s OR approved_by = %(o)s) "
        "ORDER BY id DESC LIMIT %(n)s",
        {"r": f"%{_like(reference)}%" if reference else None, "o": operator, "n": limit},
    )
    return list(await cur.fetchall())


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
