"""Tenant scoping of the operator service's queries.

Every query of the service runs inside ``scoped(...)``: one transaction as the role
``vms_app`` with ``vms.tenants`` set to the tenants the caller may see for the action
at hand. Row-level security (migration 0002) then hides every other tenant's rows,
so a query that forgot its WHERE clause still returns nothing foreign.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from vms.errors import unavailable
from vms.messages import msg

Conn = psycopg.AsyncConnection[dict[str, object]]


async def open_async_pool(dsn: str, min_size: int = 1, max_size: int = 8) -> AsyncConnectionPool:
    pool: AsyncConnectionPool = AsyncConnectionPool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        open=False,
        kwargs={"autocommit": False, "options": "-c TimeZone=UTC", "row_factory": dict_row},
        name="vms-web",
    )
    try:
        await pool.open(wait=True, timeout=15)
    except (PoolTimeout, psycopg.OperationalError) as err:
        await pool.close()
        raise unavailable(msg("db.unavailable", detail=err), str(err)) from err
    return pool


@asynccontextmanager
async def scoped(
    pool: AsyncConnectionPool, tenants: Iterable[str], *, audit_all: bool = False
) -> AsyncIterator[Conn]:
    """A transaction bound by row-level security to ``tenants``."""
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("SET LOCAL ROLE vms_app")
        await conn.execute(
            "SELECT set_config('vms.tenants', %s, true), set_config('vms.audit_all', %s, true)",
            (",".join(sorted(set(tenants))), "on" if audit_all else "off"),
        )
        yield conn  # type: ignore[misc]


@asynccontextmanager
async def service(pool: AsyncConnectionPool) -> AsyncIterator[Conn]:
    """A transaction as the service role with no tenant in scope: for sign-in and
    session lookups, which read accounts before anybody's grants are known."""
    async with scoped(pool, ()) as conn:
        yield conn
