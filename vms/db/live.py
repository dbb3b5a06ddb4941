"""Live wall persistence: which relay holds a stream, live switches per camera, live
links (shares and public links) and PTZ locks. Async queries run inside ``scoped()``
(row-level security applies); the relay registration is written by the ingest worker
with the service role."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import psycopg

from vms.db.scope import Conn

# -- relays (ingest worker, service role) -------------------------------------------


def register_relays(
    conn: psycopg.Connection[Any], relay_url: str, streams: Iterable[tuple[str, str, bool]]
) -> None:
    """Announce that ``relay_url`` relays these (camera, stream, recorded) streams."""
    with conn.transaction():
        for camera_id, stream, recorded in streams:
            conn.execute(
                "INSERT INTO live_relays (camera_id, stream, relay_url, recorded) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (camera_id, stream) DO UPDATE SET "
                "relay_url = EXCLUDED.relay_url, recorded = EXCLUDED.recorded, "
                "updated_at = now()",
                (camera_id, stream, relay_url, recorded),
            )


def register_ptz(conn: psycopg.Connection[Any], relay_url: str, cameras: Iterable[str]) -> None:
    """Announce that ``relay_url`` steers these PTZ cameras."""
    with conn.transaction():
        for camera_id in cameras:
            conn.execute(
                "INSERT INTO ptz_relays (camera_id, relay_url) VALUES (%s, %s) "
                "ON CONFLICT (camera_id) DO UPDATE SET relay_url = EXCLUDED.relay_url, "
                "updated_at = now()",
                (camera_id, relay_url),
            )


async def ptz_relay_url(conn: Conn, camera_id: str) -> str | None:
    cur = await conn.execute("SELECT relay_url FROM ptz_relays WHERE camera_id = %s", (camera_id,))
    row = await cur.fetchone()
    return str(row["relay_url"]) if row else None


async def any_relay_url(conn: Conn) -> str | None:
    """A relay in the caller's perimeter (ONVIF probes go through an ingest worker: the
    cameras' network is theirs)."""
    cur = await conn.execute("SELECT relay_url FROM live_relays ORDER BY updated_at DESC LIMIT 1")
    row = await cur.fetchone()
    return str(row["relay_url"]) if row else None


async def relays_of(conn: Conn, camera_id: str) -> list[tuple[str, str]]:
    """(stream, relay url) announced for a camera, the latest announcement first."""
    cur = await conn.execute(
        "SELECT stream, relay_url FROM live_relays WHERE camera_id = %s "
        "ORDER BY updated_at DESC, stream",
        (camera_id,),
    )
    return [(str(r["stream"]), str(r["relay_url"])) for r in await cur.fetchall()]


async def live_refusal(
    conn: psycopg.AsyncConnection[Any], camera_id: str, via: str, link_id: int | None = None
) -> str | None:
    """Why the relay must refuse live video of a camera now (EVD-15 switches; the link
    watched through revoked or expired), or None. Read with the service role (the relay
    serves every commune it records)."""
    cur = await conn.execute(
        "SELECT live_enabled, live_share_enabled FROM cameras WHERE id = %s", (camera_id,)
    )
    row = await cur.fetchone()
    if row is None:
        return "Caméra inconnue."
    if not row["live_enabled"]:
        return "Le direct de cette caméra est désactivé par un administrateur."
    if via != "console" and not row["live_share_enabled"]:
        return "La transmission du direct de cette caméra hors du centre n'est pas autorisée."
    if via != "console":
        cur = await conn.execute(
            "SELECT 1 FROM live_links WHERE id = %s AND camera_id = %s AND revoked_at IS NULL "
            "AND expires_at > now()",
            (link_id, camera_id),
        )
        if await cur.fetchone() is None:
            return "Lien de direct révoqué ou expiré."
    return None


async def set_live_switches(
    conn: Conn, camera_id: str, live_enabled: bool | None, share_enabled: bool | None
) -> dict[str, object] | None:
    cur = await conn.execute(
        "UPDATE cameras SET live_enabled = coalesce(%s, live_enabled), "
        "live_share_enabled = coalesce(%s, live_share_enabled), updated_at = now() "
        "WHERE id = %s RETURNING id, tenant_id AS tenant, live_enabled, live_share_enabled",
        (live_enabled, share_enabled, camera_id),
    )
    return await cur.fetchone()


# -- live links -----------------------------------------------------------------------

_LINK_COLUMNS = (
    "id, kind, camera_id AS camera, tenant_id AS tenant, stream, recipient, service, motif, "
    "created_by, created_at, expires_at, revoked_at, revoked_by, uses"
)


async def add_link(
    conn: Conn,
    *,
    token_hash: str,
    kind: str,
    camera_id: str,
    tenant: str,
    stream: str,
    recipient: str,
    service: str,
    motif: str,
    created_by: str,
    now: datetime,
    expires_at: datetime,
) -> dict[str, object]:
    cur = await conn.execute(
        "INSERT INTO live_links (token_hash, kind, camera_id, tenant_id, stream, recipient, "
        "service, motif, created_by, created_at, expires_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING " + _LINK_COLUMNS,
        (
            token_hash,
            kind,
            camera_id,
            tenant,
            stream,
            recipient,
            service,
            motif,
            created_by,
            now,
            expires_at,
        ),
    )
    row = await cur.fetchone()
    assert row is not None
    return row


async def links(conn: Conn, now: datetime) -> list[dict[str, object]]:
    """Links of the scope's communes, the live ones first (expired for a week kept)."""
    cur = await conn.execute(
        "SELECT "
        + _LINK_COLUMNS
        + " FROM live_links WHERE expires_at > %s ORDER BY revoked_at IS NOT NULL, "
        "expires_at DESC LIMIT 500",
        (now - timedelta(days=7),),
    )
    return list(await cur.fetchall())


async def link(conn: Conn, link_id: int) -> dict[str, object] | None:
    cur = await conn.execute(
        "SELECT " + _LINK_COLUMNS + " FROM live_links WHERE id = %s", (link_id,)
    )
    return await cur.fetchone()


async def revoke_link(conn: Conn, link_id: int, by: str, now: datetime) -> None:
    await conn.execute(
        "UPDATE live_links SET revoked_at = %s, revoked_by = %s "
        "WHERE id = %s AND revoked_at IS NULL",
        (now, by, link_id),
    )


async def use_link(conn: Conn, token_hash: str, now: datetime) -> dict[str, object] | None:
    """The link of a token if it is valid now (and count the use), whatever the scope."""
    cur = await conn.execute(
        "SELECT id, kind, camera_id AS camera, tenant_id AS tenant, stream, recipient, "
        "service, motif, created_by, expires_at, uses FROM live_link_use(%s, %s)",
        (token_hash, now),
    )
    return await cur.fetchone()


# -- PTZ locks --------------------------------------------------------------------------


async def ptz_lock(conn: Conn, camera_id: str) -> dict[str, Any] | None:
    cur = await conn.execute(
        "SELECT camera_id AS camera, holder_id, holder, rank, expires_at "
        "FROM ptz_locks WHERE camera_id = %s FOR UPDATE",
        (camera_id,),
    )
    return await cur.fetchone()


async def put_ptz_lock(
    conn: Conn,
    camera_id: str,
    tenant: str,
    holder_id: int,
    holder: str,
    rank: int,
    expires_at: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO ptz_locks (camera_id, tenant_id, holder_id, holder, rank, expires_at) "
        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (camera_id) DO UPDATE SET "
        "holder_id = EXCLUDED.holder_id, holder = EXCLUDED.holder, rank = EXCLUDED.rank, "
        "expires_at = EXCLUDED.expires_at",
        (camera_id, tenant, holder_id, holder, rank, expires_at),
    )


async def drop_ptz_lock(conn: Conn, camera_id: str, holder_id: int) -> bool:
    cur = await conn.execute(
        "DELETE FROM ptz_locks WHERE camera_id = %s AND holder_id = %s", (camera_id, holder_id)
    )
    return cur.rowcount > 0
