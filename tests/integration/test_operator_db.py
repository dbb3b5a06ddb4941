"""Operator data layer against a real PostgreSQL: row-level security, the service
role's rights on the audit table, and the audit chain (append, verify, tamper, purge)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from tests.fakes.clock import SimulatedClock
from vms.db import audit as audit_db
from vms.db.audit import AuditLog, AuditQuery
from vms.db.scope import open_async_pool, scoped

pytestmark = pytest.mark.integration


def seed(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO tenants (id, name, kind) VALUES ('commune-a', 'Commune A', 'commune'), "
            "('commune-b', 'Commune B', 'commune'), ('csd', 'CSD', 'csd')"
        )
        conn.execute(
            "INSERT INTO cameras (id, tenant_id, name, retention_days) VALUES "
            "('a1', 'commune-a', 'Mairie', 15), ('a2', 'commune-a', 'Gare', 15), "
            "('b1', 'commune-b', 'Place', 15)"
        )


async def _with_pool(dsn: str, body):  # type: ignore[no-untyped-def]
    pool: AsyncConnectionPool = await open_async_pool(dsn, 1, 4)
    try:
        return await body(pool)
    finally:
        await pool.close()


def test_row_level_security_hides_foreign_rows_from_an_unscoped_query(pg_dsn: str) -> None:
    seed(pg_dsn)

    async def body(pool: AsyncConnectionPool) -> None:
        async with scoped(pool, {"commune-a"}) as conn:
            # the query "forgot" its tenant filter: RLS still scopes it
            rows = await (await conn.execute("SELECT id FROM cameras ORDER BY id")).fetchall()
            assert [r["id"] for r in rows] == ["a1", "a2"]
        async with scoped(pool, ()) as conn:
            rows = await (await conn.execute("SELECT id FROM cameras")).fetchall()
            assert rows == []
        async with scoped(pool, {"commune-b"}) as conn:
            found = await (await conn.execute("SELECT id FROM cameras WHERE id = 'a1'")).fetchall()
            assert found == []

    asyncio.run(_with_pool(pg_dsn, body))


def test_the_service_role_cannot_rewrite_the_audit(pg_dsn: str) -> None:
    clock = SimulatedClock(datetime(2026, 11, 1, tzinfo=UTC))

    async def body(pool: AsyncConnectionPool) -> None:
        log = AuditLog(pool, clock)
        await log.append("alice", "auth.login.success", tenant="commune-a")
        for statement in (
            "UPDATE audit SET actor = 'mallory'",
            "DELETE FROM audit",
            "TRUNCATE audit",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                async with scoped(pool, {"commune-a"}) as conn:
                    await conn.execute(statement)

    seed(pg_dsn)
    asyncio.run(_with_pool(pg_dsn, body))
    # even the owner is stopped by the trigger
    with psycopg.connect(pg_dsn) as conn, pytest.raises(psycopg.errors.RaiseException):
        conn.execute("UPDATE audit SET actor = 'mallory'")


def test_audit_chain_verifies_and_reports_the_first_tampered_row(pg_dsn: str) -> None:
    seed(pg_dsn)
    clock = SimulatedClock(datetime(2026, 11, 1, tzinfo=UTC))

    async def body(pool: AsyncConnectionPool) -> list[int]:
        log = AuditLog(pool, clock)
        seqs = []
        for i in range(30):
            clock.advance(timedelta(seconds=1))
            tenant = "commune-a" if i % 2 else "commune-b"
            entry = await log.append(
                f"user{i % 3}", "camera.view_live", tenant=tenant, target=f"cam{i}",
                detail={"motif": "Contrôle d'accès « porte nord »"}, source_ip="10.0.0.1",
            )  # fmt: skip
            seqs.append(entry.seq)
        # scoped search: commune A sees only its own entries
        found = await log.search(frozenset({"commune-a"}), AuditQuery(limit=100))
        assert {e.tenant for e in found} == {"commune-a"} and len(found) == 15
        return seqs

    seqs = asyncio.run(_with_pool(pg_dsn, body))
    assert seqs == list(range(1, 31))
    with psycopg.connect(pg_dsn) as conn:
        assert audit_db.verify(conn) == (30, None)
        # an attacker with the owner's rights disables the trigger and edits row 12
        conn.execute("ALTER TABLE audit DISABLE TRIGGER audit_append_only")
        conn.execute("UPDATE audit SET actor = 'mallory' WHERE seq = 12")
        conn.commit()
        _count, broken = audit_db.verify(conn)
        assert broken is not None and broken.seq == 12


def test_audit_retention_purge_keeps_the_chain_verifiable(pg_dsn: str) -> None:
    seed(pg_dsn)
    clock = SimulatedClock(datetime(2023, 1, 1, tzinfo=UTC))

    async def body(pool: AsyncConnectionPool) -> None:
        log = AuditLog(pool, clock)
        for _ in range(10):
            clock.advance(timedelta(days=200))
            await log.append("system", "config.change")

    asyncio.run(_with_pool(pg_dsn, body))
    with psycopg.connect(pg_dsn) as conn:
        purged = audit_db.purge(conn, clock.now() - timedelta(days=36 * 30))
        assert 0 < purged < 10
        assert audit_db.verify(conn) == (10 - purged, None)

    async def more(pool: AsyncConnectionPool) -> None:
        await AuditLog(pool, clock).append("system", "config.change")

    asyncio.run(_with_pool(pg_dsn, more))
    with psycopg.connect(pg_dsn) as conn:
        assert audit_db.verify(conn) == (11 - purged, None)


def test_vms_audit_verify_command_reports_intact_then_broken(
    pg_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from vms.cli import main

    seed(pg_dsn)
    clock = SimulatedClock(datetime(2026, 11, 1, tzinfo=UTC))

    async def body(pool: AsyncConnectionPool) -> None:
        for i in range(5):
            await AuditLog(pool, clock).append("alice", "auth.login.success", target=str(i))

    asyncio.run(_with_pool(pg_dsn, body))
    cfg = tmp_path / "vms.toml"
    cfg.write_text(f'data_dir = "{tmp_path}"\n[database]\ndsn = "{pg_dsn}"\n')
    assert main(["--config", str(cfg), "audit", "verify"]) == 0
    assert "5 entrées vérifiées" in capsys.readouterr().out
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("ALTER TABLE audit DISABLE TRIGGER audit_append_only")
        conn.execute("DELETE FROM audit WHERE seq = 3")
    assert main(["--config", str(cfg), "audit", "verify"]) == 1
    assert "n° 3" in capsys.readouterr().out
    logging.getLogger().handlers.clear()  # main() logged to the captured stderr
