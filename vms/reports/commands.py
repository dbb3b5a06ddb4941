"""Reports from the command line (``vms report ...``) and the automatic monthly run
(EVD-12): both open their own small pool on the installation's database, act as the
operator at the console (actor ``cli:<user>``) or as ``systeme``, and are audited."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from vms.db.audit import AuditLog
from vms.db.scope import open_async_pool, scoped, service
from vms.domain.clock import Clock
from vms.reports import figures, generate

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReportRequest:
    kind: str
    """One of ``generate.KINDS``, ``mensuel`` or ``reversibilite``."""
    since: datetime | None = None
    until: datetime | None = None
    month: str | None = None
    tenant: str | None = None
    step: str = "jour"
    out: Path | None = None


def run(dsn: str, clock: Clock, request: ReportRequest, actor: str) -> str:
    """Carry out ``request``; the message to print (the CSV itself without ``out``)."""
    return asyncio.run(_run(dsn, clock, request, actor))


async def _run(dsn: str, clock: Clock, r: ReportRequest, actor: str) -> str:
    pool = await open_async_pool(dsn, 1, 2)
    try:
        audit = AuditLog(pool, clock)
        now = clock.now()
        if r.kind == "mensuel":
            month = r.month or figures.previous_month(now)
            ids = await generate.generate_monthly(pool, audit, month, now, actor)
            return f"rapport mensuel {month} : {len(ids)} rapport(s) enregistré(s)"
        async with service(pool) as conn:
            cur = await conn.execute("SELECT id FROM tenants ORDER BY id")
            every = {str(t["id"]) for t in await cur.fetchall()}
        if r.tenant is not None and r.tenant not in every:
            raise ValueError(f"Commune inconnue : « {r.tenant} ».")
        tenants = {r.tenant} if r.tenant else every
        if r.kind == "reversibilite":
            assert r.tenant is not None and r.out is not None
            async with scoped(pool, tenants) as conn:
                data, counts = await generate.reversibility_zip(conn, r.tenant, now, actor)
            r.out.write_bytes(data)
            await audit.append(actor, "report.reversibility", tenant=r.tenant,
                               target=f"commune:{r.tenant}",
                               detail={"fichiers": counts, "octets": len(data)})  # fmt: skip
            return f"archive de réversibilité de {r.tenant} : {r.out} ({len(data)} octets)"
        if r.month:
            since, until = figures.month_bounds(r.month)
        else:
            assert r.since is not None and r.until is not None
            since, until = r.since, r.until
        async with scoped(pool, tenants) as conn:
            text = await generate.report_csv(conn, r.kind, since, until, now, r.step)
        await audit.append(actor, "report.read", tenant=r.tenant, detail={
            "type": r.kind, "debut": since.isoformat(), "fin": until.isoformat(),
            "communes": sorted(tenants), "fichier": str(r.out) if r.out else None})  # fmt: skip
        if r.out is None:
            return text.removeprefix(figures.BOM)
        r.out.write_text(text, encoding="utf-8")
        return f"rapport « {r.kind} » écrit dans {r.out}"
    finally:
        await pool.close()


def monthly_job(dsn: str, clock: Clock) -> None:
    """The maintenance job: on the 1st (local time) and any later day, store last
    month's report of every commune if it is not stored yet (idempotent: a restart on
    the 1st, or a server down on the 1st, still gets it done)."""
    run(dsn, clock, ReportRequest("mensuel"), "systeme")
