"""psycopg 3 connection pool; connection errors become VmsError(UNAVAILABLE) here, once."""

from __future__ import annotations

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from vms.errors import unavailable
from vms.messages import msg


def open_pool(dsn: str, min_size: int = 1, max_size: int = 8) -> ConnectionPool:
    pool = ConnectionPool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        open=False,
        kwargs={"autocommit": False, "options": "-c TimeZone=UTC"},
        name="vms",
    )
    try:
        pool.open(wait=True, timeout=15)
    except (PoolTimeout, psycopg.OperationalError) as err:
        pool.close()
        raise unavailable(msg("db.unavailable", detail=err), str(err)) from err
    return pool
