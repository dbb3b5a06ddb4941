"""Saved video-wall layouts ("vues") in PostgreSQL (async, for the web tier).

Queries run inside ``scoped()`` with the caller's home tenant: row-level security
hides every view saved under another tenant. Who may read or change a view (author,
shared, role) is decided by the handlers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb

from vms.db.scope import Conn
from vms.errors import VmsError, precondition

_COLUMNS = """
    v.id, v.owner_id, u.login AS owner_login, u.display_name AS owner_name, v.tenant_id,
    v.name, v.layout, v.tiles, v.shared, v.created_at, v.updated_at
"""


@dataclass(frozen=True, slots=True)
class ViewRow:
    id: int
    owner_id: int
    owner_login: str
    owner_name: str
    tenant_id: str
    name: str
    layout: int
    tiles: list[str | None]
    """One entry per tile, in reading order: a camera id or None."""
    shared: bool
    created_at: datetime
    updated_at: datetime


def _row(row: dict[str, object]) -> ViewRow:
    return ViewRow(**row)  # type: ignore[arg-type]


def _name_taken(name: str, err: psycopg.errors.UniqueViolation) -> VmsError:
    return precondition(f"Vous avez déjà une vue nommée « {name} ».", detail=str(err))


async def views_for(conn: Conn, user_id: int, tenant: str) -> list[ViewRow]:
    """The user's own views and the views shared in ``tenant``, by name."""
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM wall_views v JOIN users u ON u.id = v.owner_id "
        "WHERE v.owner_id = %s OR (v.shared AND v.tenant_id = %s) "
        "ORDER BY v.owner_id <> %s, lower(v.name), v.id",
        (user_id, tenant, user_id),
    )
    return [_row(r) for r in await cur.fetchall()]


async def view(conn: Conn, view_id: int) -> ViewRow | None:
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM wall_views v JOIN users u ON u.id = v.owner_id WHERE v.id = %s",
        (view_id,),
    )
    row = await cur.fetchone()
    return _row(row) if row else None


async def count_own(conn: Conn, owner_id: int) -> int:
    cur = await conn.execute(
        "SELECT count(*) AS n FROM wall_views WHERE owner_id = %s", (owner_id,)
    )
    row = await cur.fetchone()
    return int(str(row["n"])) if row else 0


async def create_view(
    conn: Conn,
    owner_id: int,
    tenant: str,
    name: str,
    layout: int,
    tiles: list[str | None],
    shared: bool,
    now: datetime,
) -> int:
    try:
        cur = await conn.execute(
            "INSERT INTO wall_views (owner_id, tenant_id, name, layout, tiles, shared, "
            "created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (owner_id, tenant, name, layout, Jsonb(tiles), shared, now, now),
        )
    except psycopg.errors.UniqueViolation as err:
        raise _name_taken(name, err) from err
    row = await cur.fetchone()
    assert row is not None
    return int(str(row["id"]))


async def update_view(
    conn: Conn,
    view_id: int,
    owner_id: int,
    name: str,
    layout: int,
    tiles: list[str | None],
    shared: bool,
    now: datetime,
) -> None:
    try:
        await conn.execute(
            "UPDATE wall_views SET name = %s, layout = %s, tiles = %s, shared = %s, "
            "updated_at = %s WHERE id = %s AND owner_id = %s",
            (name, layout, Jsonb(tiles), shared, now, view_id, owner_id),
        )
    except psycopg.errors.UniqueViolation as err:
        raise _name_taken(name, err) from err


async def delete_view(conn: Conn, view_id: int) -> None:
    await conn.execute("DELETE FROM wall_views WHERE id = %s", (view_id,))
