"""psycopg 3 connection pool (connection errors become VmsError(UNAVAILABLE) here, once),
and the reconnecting LISTEN loop of the background workers."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from vms.errors import VmsError, unavailable
from vms.messages import msg

log = logging.getLogger(__name__)


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


def listen_forever(
    dsn: str,
    channel: str,
    stop: threading.Event,
    serve: Callable[[psycopg.Connection[Any]], None],
    what: str,
) -> None:
    """Run ``serve`` on an autocommit connection that LISTENs on ``channel`` until
    ``stop`` is set; a lost connection (or a failure of ``serve``) is logged and a new
    one opened after a backoff of 1 s doubling up to 30 s. ``serve`` catches up on what
    was notified while nobody listened, then reads the notifications until ``stop``."""
    backoff_s = 1.0
    while not stop.is_set():
        try:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f"LISTEN {channel}")
                backoff_s = 1.0
                serve(conn)
                continue
        except (psycopg.Error, VmsError) as err:
            log.warning("%s interrupted (%s); retrying in %.0f s", what, err, backoff_s)
        except Exception:  # a 24/7 worker does not die on one bad row
            log.exception("%s failed; restarting in %.0f s", what, backoff_s)
        stop.wait(backoff_s)
        backoff_s = min(backoff_s * 2, 30.0)
