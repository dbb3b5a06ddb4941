"""Camera health read by the operator service (« Santé des caméras »): stream-health
samples, recording runs and gaps (migration 0001, written by the ingest tier) and the
open technical faults (migration 0010, written by the alert desk).

Every function runs inside ``scoped()``: row-level security hides other communes'
rows, and the callers narrow further to the cameras the caller's grants cover."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from vms.db.scope import Conn


async def open_faults(conn: Conn, camera_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The open technical alerts of ``camera_ids`` (one per camera and fault)."""
    cur = await conn.execute(
        "SELECT id, camera_id, detail->>'fault' AS fault, title, state, raised_at FROM alerts "
        "WHERE source = 'technique' AND state <> 'cloturee' AND camera_id = ANY (%s) "
        "ORDER BY raised_at",
        (list(camera_ids),),
    )
    return list(await cur.fetchall())


async def runs(
    conn: Conn, camera_ids: Sequence[str], since: datetime, until: datetime
) -> list[dict[str, Any]]:
    """Recording runs of any stream of ``camera_ids`` overlapping ``[since, until)``."""
    cur = await conn.execute(
        "SELECT camera_id, start_at, end_at FROM runs WHERE camera_id = ANY (%s) "
        "AND start_at < %s AND (end_at IS NULL OR end_at > %s)",
        (list(camera_ids), until, since),
    )
    return list(await cur.fetchall())


async def last_samples(
    conn: Conn, camera_ids: Sequence[str], since: datetime
) -> list[dict[str, Any]]:
    """The last health sample of each camera and stream since ``since``."""
    cur = await conn.execute(
        "SELECT DISTINCT ON (camera_id, stream) camera_id, stream, at, bitrate_bps, fps, "
        "width, height, gop_frames, clock_drift_ms FROM health_samples "
        "WHERE camera_id = ANY (%s) AND at >= %s ORDER BY camera_id, stream, at DESC",
        (list(camera_ids), since),
    )
    return list(await cur.fetchall())


async def samples(
    conn: Conn, camera_id: str, since: datetime, until: datetime, limit: int
) -> list[dict[str, Any]]:
    """Health samples of one camera in ``[since, until)``, oldest first."""
    cur = await conn.execute(
        "SELECT stream, at, window_s, bitrate_bps, fps, width, height, gop_frames, "
        "clock_drift_ms FROM health_samples WHERE camera_id = %s AND at >= %s AND at < %s "
        "ORDER BY at LIMIT %s",
        (camera_id, since, until, limit),
    )
    return list(await cur.fetchall())


async def gaps(
    conn: Conn, camera_id: str, since: datetime, until: datetime, limit: int
) -> list[dict[str, Any]]:
    """Recording gaps of one camera overlapping ``[since, until)``, oldest first."""
    cur = await conn.execute(
        "SELECT stream, start_at, end_at, cause, detail FROM gaps WHERE camera_id = %s "
        "AND start_at < %s AND end_at > %s ORDER BY start_at LIMIT %s",
        (camera_id, until, since, limit),
    )
    return list(await cur.fetchall())


async def faults(
    conn: Conn, camera_id: str, since: datetime, until: datetime, limit: int
) -> list[dict[str, Any]]:
    """Technical alerts of one camera open during ``[since, until)``, newest first."""
    cur = await conn.execute(
        "SELECT id, detail->>'fault' AS fault, title, state, raised_at, closed_at FROM alerts "
        "WHERE source = 'technique' AND camera_id = %s AND raised_at < %s "
        "AND (closed_at IS NULL OR closed_at > %s) ORDER BY raised_at DESC LIMIT %s",
        (camera_id, until, since, limit),
    )
    return list(await cur.fetchall())
