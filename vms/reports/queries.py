"""The queries that feed the reports, each inside a transaction scoped by row-level
security to the tenants the caller may see for the report (``vms.db.scope.scoped``):
a query returns only rows of those tenants even without its WHERE clause."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vms.db.scope import Conn
from vms.reports.figures import AlertFact, Segment, TicketFact, Viewing


async def _rows(conn: Conn, sql: str, args: tuple[object, ...]) -> list[dict[str, Any]]:
    cur = await conn.execute(sql, args)
    return [dict(r) for r in await cur.fetchall()]


async def segments(conn: Conn, since: datetime, until: datetime) -> list[Segment]:
    """Stored segments starting in the period, and those already destroyed (from the
    destruction register, without size)."""
    rows = await _rows(conn, """
        SELECT c.tenant_id, s.camera_id, s.stream, s.start_at, s.end_at, s.bytes
          FROM segments s JOIN cameras c ON c.id = s.camera_id
         WHERE s.start_at >= %s AND s.start_at < %s
        UNION ALL
        SELECT c.tenant_id, d.camera_id, d.stream, d.start_at, d.end_at, NULL
          FROM destruction_register d JOIN cameras c ON c.id = d.camera_id
         WHERE d.start_at >= %s AND d.start_at < %s""", (since, until, since, until))  # fmt: skip
    return [
        Segment(
            r["tenant_id"],
            r["camera_id"],
            r["stream"],
            r["start_at"],
            r["end_at"],
            None if r["bytes"] is None else int(r["bytes"]),
        )
        for r in rows
    ]


async def cameras(conn: Conn) -> list[dict[str, Any]]:
    return await _rows(conn, """
        SELECT id, tenant_id, name, location, retention_days, latitude, longitude
          FROM cameras ORDER BY tenant_id, id""", ())  # fmt: skip


async def alerts(conn: Conn, since: datetime, until: datetime) -> list[AlertFact]:
    """Alerts raised in the period, without any free text (title, report, detail and
    the forces' references are not read: the committees' view is built from these)."""
    rows = await _rows(conn, """
        SELECT tenant_id AS tenant, kind, raised_at, ack_due_at, acknowledged_at, closed_at,
               qualification, jsonb_array_length(forces_calls) > 0 AS escalated,
               camera_id AS camera, id AS alert_id, source, priority, acknowledged_by,
               closed_by, jsonb_array_length(forces_calls) AS forces_calls
          FROM alerts WHERE raised_at >= %s AND raised_at < %s
         ORDER BY raised_at, id""", (since, until))  # fmt: skip
    return [AlertFact(**r) for r in rows]


async def tickets(conn: Conn, since: datetime, until: datetime) -> list[TicketFact]:
    rows = await _rows(conn, """
        SELECT tenant_id, opened_at, resolved_at FROM tickets
         WHERE opened_at >= %s AND opened_at < %s""", (since, until))  # fmt: skip
    return [TicketFact(r["tenant_id"], r["opened_at"], r["resolved_at"]) for r in rows]


async def viewings(conn: Conn, since: datetime, until: datetime, now: datetime) -> list[Viewing]:
    """CONF-02: live sessions (their ``live.end`` audit entries, which carry the
    duration), playback sessions (one per camera watched) and exports (the duration of
    the footage extracted), started in the period."""
    live = await _rows(conn, """
        SELECT tenant_id, actor, substr(target, 8) AS camera,
               at - make_interval(secs => coalesce((detail->>'duree_s')::float8, 0)) AS started,
               coalesce((detail->>'duree_s')::float8, 0) AS seconds
          FROM audit
         WHERE action = 'live.end' AND target LIKE 'camera:%%' AND tenant_id IS NOT NULL
           AND at >= %s AND at < %s""", (since, until))  # fmt: skip
    playback = await _rows(conn, """
        SELECT tenant_id, actor, unnest(camera_ids) AS camera, created_at AS started,
               extract(epoch FROM coalesce(ended_at, least(expires_at, %s)) - created_at)
                 AS seconds
          FROM playback_sessions WHERE created_at >= %s AND created_at < %s""",
        (now, since, until))  # fmt: skip
    exports = await _rows(conn, """
        SELECT tenant_id, requested_by AS actor, unnest(camera_ids) AS camera,
               created_at AS started, extract(epoch FROM end_at - start_at) AS seconds
          FROM exports WHERE created_at >= %s AND created_at < %s""", (since, until))  # fmt: skip
    out: list[Viewing] = []
    for kind, rows in (("direct", live), ("relecture", playback), ("extrait", exports)):
        out += [
            Viewing(
                r["tenant_id"],
                r["actor"],
                r["camera"],
                kind,
                r["started"],
                max(0.0, float(r["seconds"])),
            )
            for r in rows
        ]
    return [v for v in out if since <= v.at < until or v.kind == "direct"]


async def destructions(conn: Conn, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """LAW-04: per camera, what the purge destroyed in the period."""
    return await _rows(conn, """
        SELECT c.tenant_id, d.camera_id, count(*) AS segments, min(d.start_at) AS first_start,
               max(d.end_at) AS last_end, min(d.destroyed_at) AS first_destroyed,
               max(d.destroyed_at) AS last_destroyed, string_agg(DISTINCT d.reason, ', ') AS reasons
          FROM destruction_register d JOIN cameras c ON c.id = d.camera_id
         WHERE d.destroyed_at >= %s AND d.destroyed_at < %s
         GROUP BY c.tenant_id, d.camera_id ORDER BY c.tenant_id, d.camera_id""",
        (since, until))  # fmt: skip


async def holds(conn: Conn, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Legal holds in force at some point of the period."""
    return await _rows(conn, """
        SELECT id, tenant_id, reference, procedure, requested_by, camera_ids, start_at, end_at,
               created_at, released_at
          FROM legal_holds
         WHERE created_at < %s AND (released_at IS NULL OR released_at >= %s)
         ORDER BY created_at""", (until, since))  # fmt: skip


async def exports(conn: Conn, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Exports (transmissions to the authorities) requested in the period."""
    return await _rows(conn, """
        SELECT id, tenant_id, camera_ids, start_at, end_at, motive, service, officer, reference,
               requested_by, approved_by, status, created_at, delivered_at, destroyed_at
          FROM exports WHERE created_at >= %s AND created_at < %s ORDER BY created_at""",
        (since, until))  # fmt: skip
