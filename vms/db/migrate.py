"""Applies the SQL migrations in vms/db/migrations, in order, once each, under an
advisory lock. Time-partitioned tables become TimescaleDB hypertables when the
extension is available, native daily partitions otherwise (created ahead by
``ensure_partitions`` and dropped whole by retention)."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, date, datetime, timedelta
from importlib import resources

import psycopg

logger = logging.getLogger(__name__)

_LOCK_KEY = 0x564D53  # "VMS"
# table -> time column
PARTITIONED_TABLES = {"segments": "start_at", "health_samples": "at", "events": "at"}


def _migrations() -> list[tuple[int, str, str]]:
    out = []
    folder = resources.files("vms.db") / "migrations"
    for entry in folder.iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            out.append((int(name[:4]), name, entry.read_text(encoding="utf-8")))
    return sorted(out)


def timescale_available(conn: psycopg.Connection) -> bool:
    row = conn.execute(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
    ).fetchone()
    return row is not None


def adapt_for_timescale(sql: str) -> tuple[str, list[str]]:
    """Rewrite a migration for TimescaleDB: plain tables, then hypertables."""
    after = []
    for table, column in PARTITIONED_TABLES.items():
        clause = f" PARTITION BY RANGE ({column})"
        if f"CREATE TABLE {table} (" in sql and clause in sql:
            sql = sql.replace(clause, "", 1)
            after.append(
                f"SELECT create_hypertable('{table}', '{column}', "
                "chunk_time_interval => INTERVAL '1 day', if_not_exists => TRUE)"
            )
    if after:
        after.insert(0, "CREATE EXTENSION IF NOT EXISTS timescaledb")
    return sql, after


def partitioning_mode(conn: psycopg.Connection) -> str:
    row = conn.execute("SELECT value FROM settings WHERE key = 'partitioning'").fetchone()
    return str(row[0]) if row else "native"


def migrate(conn: psycopg.Connection) -> list[str]:
    """Apply pending migrations; return their names. Idempotent."""
    applied: list[str] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r[0] for r in conn.execute("SELECT version FROM schema_version")}
        timescale = timescale_available(conn) if not done else None
        for version, name, sql in _migrations():
            if version in done:
                continue
            after: list[str] = []
            if timescale:
                sql, after = adapt_for_timescale(sql)
            conn.execute(sql.encode())
            for stmt in after:
                conn.execute(stmt.encode())
            conn.execute(
                "INSERT INTO schema_version (version, name) VALUES (%s, %s)", (version, name)
            )
            applied.append(name)
            logger.info("applied migration %s", name)
        if timescale is not None:
            conn.execute(
                "INSERT INTO settings (key, value) VALUES ('partitioning', %s) "
                "ON CONFLICT (key) DO NOTHING",
                ("timescaledb" if timescale else "native",),
            )
        if partitioning_mode(conn) == "native":
            today = datetime.now(UTC).date()
            ensure_partitions(conn, today - timedelta(days=1), today + timedelta(days=2))
    conn.commit()
    return applied


def partition_name(table: str, day: date) -> str:
    return f"{table}_{day:%Y%m%d}"


def ensure_partitions(conn: psycopg.Connection, first: date, last: date) -> list[str]:
    """Create the daily partitions of the partitioned tables for [first, last]."""
    created = []
    day = first
    while day <= last:
        nxt = day + timedelta(days=1)
        for table in PARTITIONED_TABLES:
            name = partition_name(table, day)
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {table} "
                f"FOR VALUES FROM ('{day.isoformat()}') TO ('{nxt.isoformat()}')".encode()
            )
            created.append(name)
        day = nxt
    return created


class DailyPartitions:
    """The days whose partitions this process knows exist: ``ensure`` creates the day's
    partitions of every partitioned table before a row of a new day is written (native
    partitioning; nothing to do under TimescaleDB). Thread-safe."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self._days: set[date] = set()
        self._lock = threading.Lock()

    def ensure(self, conn: psycopg.Connection, at: datetime) -> None:
        if self.mode != "native":
            return
        day = at.astimezone(UTC).date()
        with self._lock:
            if day in self._days:
                return
        ensure_partitions(conn, day, day)
        with self._lock:
            self._days.add(day)

    def forget(self, day: date) -> None:
        """The day's partitions were dropped."""
        with self._lock:
            self._days.discard(day)
