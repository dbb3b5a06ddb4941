"""The audit log in PostgreSQL (LAW-04): append, search, verify.

Appends are serialised by a transaction-level advisory lock, so the chain has no
fork: read the head, seal the entry (``vms.audit.chain``), insert. The service role
may INSERT and SELECT only; a trigger refuses UPDATE, DELETE and TRUNCATE to every
role, except the retention purge which moves the chain's anchor.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from vms.audit.chain import GENESIS, AuditEntry, ChainBreak, seal, verify_chain
from vms.db.scope import scoped
from vms.domain.clock import Clock

logger = logging.getLogger(__name__)
siem_logger = logging.getLogger("vms.audit.siem")

_LOCK_KEY = 0x41554449  # "AUDI"
_COLUMNS = "seq, at, actor, tenant_id, action, target, detail, source_ip, prev_hash, hash"


def _entry(row: dict[str, Any]) -> AuditEntry:
    return AuditEntry(
        seq=row["seq"],
        at=row["at"],
        actor=row["actor"],
        tenant=row["tenant_id"],
        action=row["action"],
        target=row["target"],
        detail=row["detail"] or {},
        source_ip=row["source_ip"],
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )


@dataclass(frozen=True, slots=True)
class AuditQuery:
    since: datetime | None = None
    until: datetime | None = None
    actor: str | None = None
    target: str | None = None
    action: str | None = None
    limit: int = 200


class AuditLog:
    def __init__(self, pool: AsyncConnectionPool, clock: Clock, siem: bool = False) -> None:
        self.pool = pool
        self.clock = clock
        self.siem = siem

    async def append(
        self,
        actor: str,
        action: str,
        *,
        tenant: str | None = None,
        target: str | None = None,
        detail: dict[str, object] | None = None,
        source_ip: str | None = None,
    ) -> AuditEntry:
        async with scoped(self.pool, ()) as conn:
            entry = await self.append_in(conn, actor, action, tenant=tenant, target=target,
                                         detail=detail, source_ip=source_ip)  # fmt: skip
        self.committed(entry)
        return entry

    async def append_in(
        self,
        conn: psycopg.AsyncConnection[Any],
        actor: str,
        action: str,
        *,
        tenant: str | None = None,
        target: str | None = None,
        detail: dict[str, object] | None = None,
        source_ip: str | None = None,
    ) -> AuditEntry:
        """Append inside the caller's transaction (a change and its audit entry commit
        together); call ``committed`` once it has committed."""
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        cur = await conn.execute("SELECT seq, hash FROM audit_head()")
        head = await cur.fetchone()
        assert head is not None
        entry = seal(
            int(head["seq"]) + 1,
            self.clock.now(),
            actor,
            tenant,
            action,
            target,
            detail or {},
            source_ip,
            str(head["hash"]),
        )
        await conn.execute(
            f"INSERT INTO audit ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                entry.seq, entry.at, entry.actor, entry.tenant, entry.action, entry.target,
                Jsonb(entry.detail), entry.source_ip, entry.prev_hash, entry.hash,
            ),
        )  # fmt: skip
        return entry

    def committed(self, entry: AuditEntry) -> None:
        """Copy a committed entry to the SIEM log when enabled."""
        if self.siem:
            siem_logger.info(json.dumps(entry.public(), ensure_ascii=False, default=str))

    async def search(
        self, tenants: frozenset[str], q: AuditQuery, *, everything: bool = False
    ) -> list[AuditEntry]:
        """Entries of ``tenants`` (row-level security), plus those without any tenant
        when ``everything`` (an auditor of the whole installation), newest first."""
        where: list[str] = ["true"]
        args: list[object] = []
        for column, op, value in (
            ("at", ">=", q.since),
            ("at", "<", q.until),
            ("actor", "=", q.actor),
            ("target", "=", q.target),
        ):
            if value is not None:
                where.append(f"{column} {op} %s")
                args.append(value)
        if q.action:
            where.append("action LIKE %s")
            args.append(q.action.replace("%", r"\%").replace("_", r"\_") + "%")
        args.append(min(max(q.limit, 1), 10_000))
        sql = f"SELECT {_COLUMNS} FROM audit WHERE {' AND '.join(where)} ORDER BY seq DESC LIMIT %s"
        async with scoped(self.pool, tenants, audit_all=everything) as conn:
            rows = await (await conn.execute(sql, args)).fetchall()
        return [_entry(r) for r in rows]


def append_sync(
    conn: psycopg.Connection[Any],
    at: datetime,
    actor: str,
    action: str,
    *,
    tenant: str | None = None,
    target: str | None = None,
    detail: dict[str, object] | None = None,
) -> AuditEntry:
    """``AuditLog.append_in`` for synchronous workers (the alert desk): the same lock
    and chain, inside the caller's transaction."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
    head = conn.execute("SELECT seq, hash FROM audit_head()").fetchone()
    assert head is not None
    detail = json.loads(json.dumps(detail or {}, default=str))  # as the hash reads it back
    entry = seal(int(head[0]) + 1, at, actor, tenant, action, target, detail, None, str(head[1]))
    conn.execute(
        f"INSERT INTO audit ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (entry.seq, entry.at, entry.actor, entry.tenant, entry.action, entry.target,
         Jsonb(entry.detail), entry.source_ip, entry.prev_hash, entry.hash),
    )  # fmt: skip
    return entry


def iter_chain(conn: psycopg.Connection, batch: int = 5000) -> Iterator[AuditEntry]:
    """Every entry in chain order, streamed (server-side cursor)."""
    with conn.cursor(name="audit_verify", row_factory=dict_row) as cur:
        cur.itersize = batch
        cur.execute(f"SELECT {_COLUMNS} FROM audit ORDER BY seq")
        for row in cur:
            yield _entry(row)


def verify(conn: psycopg.Connection) -> tuple[int, ChainBreak | None]:
    """Recompute the chain from its anchor. Returns (entries checked, first break)."""
    anchor = conn.execute("SELECT seq, hash FROM audit_anchor").fetchone()
    start_prev, start_seq = (str(anchor[1]), int(anchor[0]) + 1) if anchor else (GENESIS, 1)
    count = 0

    def counted() -> Iterator[AuditEntry]:
        nonlocal count
        for entry in iter_chain(conn):
            count += 1
            yield entry

    broken = verify_chain(counted(), start_prev=start_prev, start_seq=start_seq)
    return count, broken


def purge(conn: psycopg.Connection, before: datetime) -> int:
    """Retention (EVD-08): delete entries older than ``before``, keeping the chain
    verifiable from the last deleted entry (the anchor). Runs as the owner."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        last = conn.execute(
            "SELECT seq, hash FROM audit WHERE at < %s ORDER BY seq DESC LIMIT 1", (before,)
        ).fetchone()
        if last is None:
            return 0
        conn.execute("SELECT set_config('vms.audit_purge', 'on', true)")
        cur = conn.execute("DELETE FROM audit WHERE seq <= %s", (last[0],))
        conn.execute(
            "INSERT INTO audit_anchor (id, seq, hash, purged_at) VALUES (true, %s, %s, now()) "
            "ON CONFLICT (id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash, "
            "purged_at = EXCLUDED.purged_at",
            (last[0], last[1]),
        )
        logger.info("audit retention: %d entries up to seq %s purged", cur.rowcount, last[0])
        return cur.rowcount
