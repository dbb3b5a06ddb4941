"""Alert desk persistence read and changed by the operator service: alerts, their
history, procedures, commune referents and intervention tickets (migration 0010; the
desk service ``vms.alerts`` raises most alerts and tickets).

Every function runs inside ``scoped()``: row-level security hides other communes'
rows, and the callers narrow further to the cameras the caller's grants cover
(``Perimeter``). A change writes its row, its history row and ``NOTIFY vms_alerts``
in the caller's transaction, with the audit entry, so that they commit together."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from psycopg.types.json import Jsonb

from vms.db.scope import Conn

CHANNEL = "vms_alerts"
"""NOTIFY channel: payload ``{"id", "tenant_id"}`` of an alert created or changed."""
DEFAULT_ACK_DEADLINE_S = 600
"""Deadline of an alert whose kind and source have no procedure."""

StateFilter = Literal["open", "closed", "all"]


@dataclass(frozen=True, slots=True)
class Perimeter:
    """What a caller may handle: cameras and (for alerts without a camera) tenants
    with ``handle_alerts`` (every source), and with ``admin_cameras`` only (technical
    alerts and tickets)."""

    handle_cameras: Sequence[str] = ()
    admin_cameras: Sequence[str] = ()
    handle_tenants: Sequence[str] = ()
    admin_tenants: Sequence[str] = ()

    def params(self) -> dict[str, object]:
        return {
            "hc": list(self.handle_cameras),
            "ac": list(self.admin_cameras),
            "ht": list(self.handle_tenants),
            "at": list(self.admin_tenants),
        }


_IN_PERIMETER = (
    "(a.camera_id = ANY (%(hc)s) OR (a.source = 'technique' AND a.camera_id = ANY (%(ac)s)) "
    "OR (a.camera_id IS NULL AND (a.tenant_id = ANY (%(ht)s) "
    "OR (a.source = 'technique' AND a.tenant_id = ANY (%(at)s)))))"
)
_TICKET_IN_PERIMETER = (
    "(k.camera_id = ANY (%(hc)s) OR k.camera_id = ANY (%(ac)s) "
    "OR (k.camera_id IS NULL AND (k.tenant_id = ANY (%(ht)s) OR k.tenant_id = ANY (%(at)s))))"
)
_ALERT_SELECT = """
    SELECT a.*, t.name AS tenant_name, c.name AS camera_name,
           coalesce((SELECT array_agg(m.group_id ORDER BY m.group_id)
                       FROM camera_group_members m WHERE m.camera_id = a.camera_id), '{}')
             AS camera_groups,
           coalesce(p.ack_deadline_s, ps.ack_deadline_s, %(default_deadline)s)
             AS ack_deadline_s
      FROM alerts a
      JOIN tenants t ON t.id = a.tenant_id
      LEFT JOIN cameras c ON c.id = a.camera_id
      LEFT JOIN alert_procedures p ON p.kind = a.kind
      LEFT JOIN alert_procedures ps ON ps.kind = a.source
"""
_STATE_WHERE = {
    "open": "a.state <> 'cloturee'",
    "closed": "a.state = 'cloturee'",
    "all": "true",
}


async def alerts(
    conn: Conn,
    perimeter: Perimeter,
    *,
    state: StateFilter = "open",
    camera: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Alerts of the perimeter matching the filters, newest first."""
    cur = await conn.execute(
        f"{_ALERT_SELECT} WHERE {_IN_PERIMETER} AND {_STATE_WHERE[state]} "
        "AND (%(camera)s::text IS NULL OR a.camera_id = %(camera)s) "
        "AND (%(kind)s::text IS NULL OR a.kind = %(kind)s) "
        "AND (%(since)s::timestamptz IS NULL OR a.raised_at >= %(since)s) "
        "AND (%(until)s::timestamptz IS NULL OR a.raised_at < %(until)s) "
        "ORDER BY a.raised_at DESC, a.id DESC LIMIT %(limit)s",
        {**perimeter.params(), "camera": camera, "kind": kind, "since": since, "until": until,
         "limit": limit, "default_deadline": DEFAULT_ACK_DEADLINE_S},
    )  # fmt: skip
    return list(await cur.fetchall())


async def alert(conn: Conn, alert_id: int, *, lock: bool = False) -> dict[str, Any] | None:
    """One alert visible to the transaction (``lock``: FOR UPDATE of the alert row, for
    a change)."""
    cur = await conn.execute(
        f"{_ALERT_SELECT} WHERE a.id = %(id)s" + (" FOR UPDATE OF a" if lock else ""),
        {"id": alert_id, "default_deadline": DEFAULT_ACK_DEADLINE_S},
    )
    return await cur.fetchone()


async def card(conn: Conn, row: dict[str, Any]) -> dict[str, Any]:
    """What the alert card adds to an alert: its procedure, camera, commune referents
    and history."""
    cur = await conn.execute(
        "SELECT title, instructions, checklist FROM alert_procedures "
        "WHERE kind IN (%s, %s) ORDER BY kind = %s DESC LIMIT 1",
        (row["kind"], row["source"], row["kind"]),
    )
    procedure = await cur.fetchone()
    camera = None
    if row["camera_id"] is not None:
        cur = await conn.execute(
            "SELECT id, name, latitude, longitude, live_enabled FROM cameras WHERE id = %s",
            (row["camera_id"],),
        )
        camera = await cur.fetchone()
    cur = await conn.execute("SELECT referents FROM tenants WHERE id = %s", (row["tenant_id"],))
    tenant = await cur.fetchone()
    cur = await conn.execute(
        "SELECT at, actor, action, from_state, to_state, detail FROM alert_history "
        "WHERE alert_id = %s ORDER BY id",
        (row["id"],),
    )
    history = list(await cur.fetchall())
    return {
        "procedure": procedure,
        "camera": camera,
        "referents": tenant["referents"] if tenant else [],
        "history": history,
    }


RELEASE_PROTECTION = (
    "UPDATE event_protections SET released_at = %s, released_by = %s "
    "WHERE event_id = %s AND event_at = %s AND released_at IS NULL"
)
"""Closing an analytics alert releases the protection of the clip around its event."""
RESTORE_PROTECTION = (
    "UPDATE event_protections SET released_at = NULL, released_by = NULL "
    "WHERE event_id = %s AND event_at = %s"
)


async def change(
    conn: Conn,
    row: dict[str, Any],
    changes: dict[str, Any],
    *,
    at: datetime,
    actor: str,
    action: str,
    from_state: str | None,
    to_state: str,
    detail: dict[str, Any],
) -> None:
    """Store a transition: the alert's columns, its history row, the notification."""
    columns = sorted(changes)
    values = [Jsonb(changes[c]) if c in ("forces_calls", "detail") else changes[c]
              for c in columns]  # fmt: skip
    assignments = ", ".join(f"{c} = %s" for c in columns)
    await conn.execute(f"UPDATE alerts SET {assignments} WHERE id = %s", (*values, row["id"]))
    if row.get("event_id") is not None and to_state != from_state:
        if to_state == "cloturee":  # the clip around the event follows normal retention
            await conn.execute(RELEASE_PROTECTION, (at, actor, row["event_id"], row["event_at"]))
        elif from_state == "cloturee":  # reopened: protected again (what is left of it)
            await conn.execute(RESTORE_PROTECTION, (row["event_id"], row["event_at"]))
    await add_history(conn, row["id"], row["tenant_id"], at, actor, action, from_state, to_state,
                      detail)  # fmt: skip
    await notify(conn, row["id"], row["tenant_id"])


async def add_history(
    conn: Conn,
    alert_id: int,
    tenant_id: str,
    at: datetime,
    actor: str,
    action: str,
    from_state: str | None,
    to_state: str,
    detail: dict[str, Any],
) -> None:
    await conn.execute(
        "INSERT INTO alert_history (alert_id, tenant_id, at, actor, action, from_state, "
        "to_state, detail) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (alert_id, tenant_id, at, actor, action, from_state, to_state, Jsonb(detail)),
    )


async def deadline_s(conn: Conn, kind: str) -> tuple[int, int]:
    """(priority, acknowledgement deadline) of a kind of alert."""
    cur = await conn.execute(
        "SELECT priority, ack_deadline_s FROM alert_procedures WHERE kind = %s", (kind,)
    )
    row = await cur.fetchone()
    if row is None:
        return 3, DEFAULT_ACK_DEADLINE_S
    return _int(row["priority"]), _int(row["ack_deadline_s"])


async def insert(
    conn: Conn,
    *,
    tenant_id: str,
    camera_id: str | None,
    source: str,
    kind: str,
    priority: int,
    title: str,
    raised_at: datetime,
    ack_due_at: datetime,
    detail: dict[str, Any],
) -> int:
    cur = await conn.execute(
        "INSERT INTO alerts (tenant_id, camera_id, source, kind, priority, title, raised_at, "
        "ack_due_at, detail) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (tenant_id, camera_id, source, kind, priority, title, raised_at, ack_due_at,
         Jsonb(detail)),
    )  # fmt: skip
    row = await cur.fetchone()
    assert row is not None
    return _int(row["id"])


async def notify(conn: Conn, alert_id: int, tenant_id: str) -> None:
    """Tell the consoles (delivered when the transaction commits)."""
    payload = json.dumps({"id": alert_id, "tenant_id": tenant_id})
    await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))


def _int(value: object) -> int:
    assert isinstance(value, int)
    return value


# -- tickets ------------------------------------------------------------------------------

_TICKET_SELECT = """
    SELECT k.*, t.name AS tenant_name, c.name AS camera_name,
           coalesce((SELECT array_agg(m.group_id ORDER BY m.group_id)
                       FROM camera_group_members m WHERE m.camera_id = k.camera_id), '{}')
             AS camera_groups
      FROM tickets k
      JOIN tenants t ON t.id = k.tenant_id
      LEFT JOIN cameras c ON c.id = k.camera_id
"""


async def tickets(
    conn: Conn, perimeter: Perimeter, *, active_only: bool, camera: str | None, limit: int
) -> list[dict[str, Any]]:
    cur = await conn.execute(
        f"{_TICKET_SELECT} WHERE {_TICKET_IN_PERIMETER} "
        "AND (NOT %(active)s OR k.state NOT IN ('resolu', 'clos')) "
        "AND (%(camera)s::text IS NULL OR k.camera_id = %(camera)s) "
        "ORDER BY k.opened_at DESC, k.id DESC LIMIT %(limit)s",
        {**perimeter.params(), "active": active_only, "camera": camera, "limit": limit},
    )
    return list(await cur.fetchall())


async def ticket(conn: Conn, ticket_id: int, *, lock: bool = False) -> dict[str, Any] | None:
    cur = await conn.execute(
        f"{_TICKET_SELECT} WHERE k.id = %s" + (" FOR UPDATE OF k" if lock else ""),
        (ticket_id,),
    )
    return await cur.fetchone()


async def insert_ticket(
    conn: Conn,
    *,
    tenant_id: str,
    camera_id: str | None,
    declarer: str,
    element: str,
    site: str,
    description: str,
    opened_at: datetime,
) -> int:
    cur = await conn.execute(
        "INSERT INTO tickets (tenant_id, camera_id, declarer, element, site, description, "
        "opened_at) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (tenant_id, camera_id, declarer, element, site, description, opened_at),
    )
    row = await cur.fetchone()
    assert row is not None
    return _int(row["id"])


async def change_ticket(conn: Conn, ticket_id: int, changes: dict[str, Any]) -> None:
    columns = sorted(changes)
    assignments = ", ".join(f"{c} = %s" for c in columns)
    await conn.execute(
        f"UPDATE tickets SET {assignments} WHERE id = %s",
        (*(changes[c] for c in columns), ticket_id),
    )


# -- external inputs and maintenance windows (migration 0012) -----------------------------

EXTERNAL_KINDS_SQL = "SELECT kind FROM alert_procedures WHERE external ORDER BY kind"
"""The kinds external inputs may raise (shared with the desk's MQTT input)."""
ACTIVE_MAINTENANCE_SQL = (
    "SELECT id, reason FROM camera_maintenance WHERE camera_id = %s AND deleted_at IS NULL "
    "AND from_at <= %s AND to_at > %s ORDER BY id LIMIT 1"
)
"""The maintenance window of a camera in force at a time (shared with the desk)."""
INSERT_EXTERNAL_SQL = (
    "INSERT INTO alerts (tenant_id, camera_id, source, kind, priority, title, raised_at, "
    "ack_due_at, detail, input_source, external_id, suppressed_by, state, closed_at, "
    "closed_by, qualification, report) VALUES (%(tenant)s, %(camera)s, 'externe', %(kind)s, "
    "%(priority)s, %(title)s, %(raised_at)s, %(ack_due_at)s, %(detail)s, %(input_source)s, "
    "%(external_id)s, %(suppressed_by)s, %(state)s, %(closed_at)s, %(closed_by)s, "
    "%(qualification)s, %(report)s) ON CONFLICT (tenant_id, input_source, external_id) "
    "WHERE external_id IS NOT NULL DO NOTHING RETURNING id"
)
"""One external alert, nothing if its ``external_id`` was already received (shared with
the desk's MQTT input; parameters from ``vms.alerts.inputs.columns``)."""
EXISTING_EXTERNAL_SQL = (
    "SELECT id FROM alerts WHERE tenant_id = %s AND input_source = %s AND external_id = %s"
)


async def external_kinds(conn: Conn) -> list[str]:
    cur = await conn.execute(EXTERNAL_KINDS_SQL)
    return [str(r["kind"]) for r in await cur.fetchall()]


async def active_maintenance(
    conn: Conn, camera_id: str | None, at: datetime
) -> tuple[int, str] | None:
    """(window id, reason) of the camera's maintenance window in force at ``at``."""
    if camera_id is None:
        return None
    cur = await conn.execute(ACTIVE_MAINTENANCE_SQL, (camera_id, at, at))
    row = await cur.fetchone()
    return None if row is None else (_int(row["id"]), str(row["reason"]))


async def insert_external(conn: Conn, columns: dict[str, Any]) -> int | None:
    """The new external alert's id; None if its ``external_id`` was already received."""
    cur = await conn.execute(INSERT_EXTERNAL_SQL, {**columns, "detail": Jsonb(columns["detail"])})
    row = await cur.fetchone()
    return None if row is None else _int(row["id"])


async def existing_external(
    conn: Conn, tenant_id: str, input_source: str, external_id: str
) -> int | None:
    cur = await conn.execute(EXISTING_EXTERNAL_SQL, (tenant_id, input_source, external_id))
    row = await cur.fetchone()
    return None if row is None else _int(row["id"])


async def maintenance_windows(
    conn: Conn, cameras: Sequence[str], *, camera: str | None, include_past: bool, now: datetime
) -> list[dict[str, Any]]:
    """Windows of ``cameras`` not withdrawn (``include_past``: also the finished ones)."""
    cur = await conn.execute(
        "SELECT w.id, w.tenant_id, w.camera_id, c.name AS camera_name, w.from_at, w.to_at, "
        "w.reason, w.created_by, w.created_at FROM camera_maintenance w "
        "JOIN cameras c ON c.id = w.camera_id WHERE w.camera_id = ANY (%(cams)s) "
        "AND w.deleted_at IS NULL AND (%(past)s OR w.to_at > %(now)s) "
        "AND (%(camera)s::text IS NULL OR w.camera_id = %(camera)s) "
        "ORDER BY w.from_at DESC, w.id DESC LIMIT 500",
        {"cams": list(cameras), "past": include_past, "now": now, "camera": camera},
    )
    return list(await cur.fetchall())


async def maintenance_window(conn: Conn, window_id: int) -> dict[str, Any] | None:
    cur = await conn.execute(
        "SELECT w.*, coalesce((SELECT array_agg(m.group_id ORDER BY m.group_id) FROM "
        "camera_group_members m WHERE m.camera_id = w.camera_id), '{}') AS camera_groups "
        "FROM camera_maintenance w WHERE w.id = %s AND w.deleted_at IS NULL FOR UPDATE",
        (window_id,),
    )
    return await cur.fetchone()


async def insert_maintenance(
    conn: Conn,
    *,
    tenant_id: str,
    camera_id: str,
    from_at: datetime,
    to_at: datetime,
    reason: str,
    by: str,
    now: datetime,
) -> int:
    cur = await conn.execute(
        "INSERT INTO camera_maintenance (tenant_id, camera_id, from_at, to_at, reason, "
        "created_by, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (tenant_id, camera_id, from_at, to_at, reason, by, now),
    )
    row = await cur.fetchone()
    assert row is not None
    return _int(row["id"])


async def withdraw_maintenance(conn: Conn, window_id: int, by: str, now: datetime) -> None:
    await conn.execute(
        "UPDATE camera_maintenance SET deleted_at = %s, deleted_by = %s WHERE id = %s",
        (now, by, window_id),
    )


# -- outbox of the outgoing webhooks (migration 0013; the desk, as the owner) ---------

REGISTER_WEBHOOK_SQL = """
    INSERT INTO alert_webhooks (key, url, floor_id, seen_at)
    SELECT %(key)s, %(url)s,
           coalesce((SELECT max(id) FROM alert_outbox
                      WHERE created_at < now() - interval '1 minute'), 0), now()
    ON CONFLICT (key) DO UPDATE SET url = excluded.url, seen_at = excluded.seen_at
    RETURNING floor_id
"""
"""A webhook a desk runs: known from now on (its floor: the changes of the last minute
are its first ones, so that one committing while it registers is not missed)."""
PENDING_SQL = """
    SELECT o.id, o.created_at, o.alert FROM alert_outbox o
     WHERE o.id > %(floor)s AND o.created_at >= now() - make_interval(secs => %(retention_s)s)
       AND NOT EXISTS (SELECT 1 FROM alert_outbox_delivered d
                        WHERE d.webhook_key = %(key)s AND d.outbox_id = o.id)
     ORDER BY o.id LIMIT %(limit)s
"""
"""The next changes a webhook has not acknowledged, in order."""
DELIVERED_SQL = (
    "INSERT INTO alert_outbox_delivered (webhook_key, outbox_id, delivered_at) "
    "VALUES (%s, %s, now()) ON CONFLICT DO NOTHING"
)
EXPIRED_UNDELIVERED_SQL = """
    SELECT w.url, count(*) FROM alert_webhooks w JOIN alert_outbox o ON o.id > w.floor_id
     WHERE o.created_at < now() - make_interval(secs => %(retention_s)s)
       AND NOT EXISTS (SELECT 1 FROM alert_outbox_delivered d
                        WHERE d.webhook_key = w.key AND d.outbox_id = o.id)
     GROUP BY w.url ORDER BY w.url
"""
"""Per webhook, the changes the retention is about to drop undelivered."""
PURGE_EXPIRED_SQL = (
    "DELETE FROM alert_outbox WHERE created_at < now() - make_interval(secs => %(retention_s)s)"
)
PURGE_DELIVERED_SQL = """
    DELETE FROM alert_outbox o WHERE NOT EXISTS (
        SELECT 1 FROM alert_webhooks w
         WHERE o.id > w.floor_id AND NOT EXISTS (SELECT 1 FROM alert_outbox_delivered d
                                                  WHERE d.webhook_key = w.key
                                                    AND d.outbox_id = o.id))
"""
"""The changes every known webhook acknowledged (all of them when none is known)."""
FORGET_WEBHOOKS_SQL = (
    "DELETE FROM alert_webhooks WHERE seen_at < now() - make_interval(secs => %(retention_s)s) "
    "RETURNING url"
)
