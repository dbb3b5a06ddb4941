"""Analytics persistence read and edited by the operator service: events, per-camera
analytics configuration, line-crossing counts and the latest tracked objects
(migration 0009; the analytics workers write events, counts and live rows).

Every function runs inside ``scoped()``: row-level security hides other communes'
rows, and the callers narrow further to the cameras the caller's grants cover."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from vms.db.scope import Conn

CONFIG_CHANNEL = "vms_analytics_config"
"""NOTIFY channel: payload a camera id whose analytics configuration was saved or
deleted; the analytics workers reload that camera."""

Step = Literal["15min", "hour", "day"]

_EVENT_COLUMNS = (
    "e.id, e.camera_id, c.name AS camera_name, e.at, e.rule_id, e.kind, e.cls, e.track_id, "
    "e.confidence, e.boxes, e.label, e.detail, e.model, e.snapshot_key"
)

# -- events -------------------------------------------------------------------------------


async def events(
    conn: Conn,
    camera_ids: Sequence[str],
    *,
    kind: str | None = None,
    rule: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Events of ``camera_ids`` matching the filters, newest first; ``after_id`` keeps
    only events with a greater id (polling)."""
    cur = await conn.execute(
        f"SELECT {_EVENT_COLUMNS} FROM events e JOIN cameras c ON c.id = e.camera_id "
        "WHERE e.camera_id = ANY (%(cameras)s) AND e.id > %(after)s "
        "AND (%(kind)s::text IS NULL OR e.kind = %(kind)s) "
        "AND (%(rule)s::text IS NULL OR e.rule_id = %(rule)s) "
        "AND (%(since)s::timestamptz IS NULL OR e.at >= %(since)s) "
        "AND (%(until)s::timestamptz IS NULL OR e.at < %(until)s) "
        "ORDER BY e.at DESC, e.id DESC LIMIT %(limit)s",
        {"cameras": list(camera_ids), "after": after_id, "kind": kind, "rule": rule,
         "since": since, "until": until, "limit": limit},
    )  # fmt: skip
    return list(await cur.fetchall())


async def event(conn: Conn, event_id: int) -> dict[str, Any] | None:
    cur = await conn.execute(
        f"SELECT {_EVENT_COLUMNS} FROM events e JOIN cameras c ON c.id = e.camera_id "
        "WHERE e.id = %s",
        (event_id,),
    )
    return await cur.fetchone()


# -- configuration ------------------------------------------------------------------------


async def config(conn: Conn, camera_id: str) -> dict[str, Any] | None:
    cur = await conn.execute(
        "SELECT config, updated_at, updated_by FROM camera_analytics WHERE camera_id = %s",
        (camera_id,),
    )
    return await cur.fetchone()


async def save_config(conn: Conn, camera_id: str, config_json: str, by: str, at: datetime) -> None:
    """Insert or replace the camera's configuration and tell the workers (the
    notification is delivered when the transaction commits)."""
    await conn.execute(
        "INSERT INTO camera_analytics (camera_id, config, updated_at, updated_by) "
        "VALUES (%s, %s::jsonb, %s, %s) ON CONFLICT (camera_id) DO UPDATE SET "
        "config = EXCLUDED.config, updated_at = EXCLUDED.updated_at, "
        "updated_by = EXCLUDED.updated_by",
        (camera_id, config_json, at, by),
    )
    await notify_config(conn, camera_id)


async def delete_config(conn: Conn, camera_id: str) -> bool:
    cur = await conn.execute("DELETE FROM camera_analytics WHERE camera_id = %s", (camera_id,))
    if cur.rowcount == 0:
        return False
    await notify_config(conn, camera_id)
    return True


async def notify_config(conn: Conn, camera_id: str) -> None:
    await conn.execute("SELECT pg_notify(%s, %s)", (CONFIG_CHANNEL, camera_id))


# -- live overlay and counts --------------------------------------------------------------


async def live(conn: Conn, camera_id: str) -> dict[str, Any] | None:
    cur = await conn.execute(
        "SELECT at, model, detections, stats FROM analytics_live WHERE camera_id = %s",
        (camera_id,),
    )
    return await cur.fetchone()


_STEP_START = {
    "15min": "bucket_start",
    "hour": "date_trunc('hour', bucket_start, 'UTC')",
    "day": "date_trunc('day', bucket_start, %(tz)s)",
}


async def counts(
    conn: Conn,
    camera_id: str,
    step: Step,
    since: datetime,
    until: datetime,
    rule: str | None = None,
    tz: str = "UTC",
) -> list[dict[str, Any]]:
    """Crossings of the quarters starting in [since, until), summed per ``step``
    bucket (UTC hours; days of the time zone ``tz``), rule, class and direction."""
    start = _STEP_START[step]
    cur = await conn.execute(
        f"SELECT {start} AS start, rule_id, cls, direction, sum(count)::bigint AS count "
        "FROM line_counts WHERE camera_id = %(camera)s "
        "AND bucket_start >= %(since)s AND bucket_start < %(until)s "
        "AND (%(rule)s::text IS NULL OR rule_id = %(rule)s) "
        "GROUP BY 1, rule_id, cls, direction ORDER BY 1, rule_id, cls, direction",
        {"camera": camera_id, "since": since, "until": until, "rule": rule, "tz": tz},
    )
    return list(await cur.fetchall())
