"""The export worker: produces queued exports one at a time (``vms.evidence.bundle``),
reports progress to the export journal, audits production, and destroys delivered
bundles once their retention is over (unless a legal hold covers their footage).

It runs beside recording, never in its way (LAW-05): its own thread, its own database
connections, segments read from the replicas; building a bundle is done in a worker
thread so the loop keeps answering ``stop()``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from psycopg_pool import AsyncConnectionPool

from vms.aio import ServerThread
from vms.db import evidence as db
from vms.db.audit import AuditLog
from vms.db.scope import open_async_pool
from vms.domain.clock import Clock
from vms.domain.model import SegmentRecord
from vms.errors import VmsError
from vms.evidence.model import BundleSettings, ExportCamera, ExportRequest
from vms.evidence.signing import Signer

logger = logging.getLogger(__name__)

PROGRESS_STEP = 0.02  # write progress to the journal every 2 %
DESTRUCTION_EVERY_S = 60.0  # bundles expire by the day: no need to look every poll


class ExportWorker(ServerThread):
    thread_name = "exports"

    def __init__(
        self,
        dsn: str,
        read: Callable[[SegmentRecord], bytes],
        export_dir: Path,
        signer: Signer,
        clock: Clock,
        settings: BundleSettings | None = None,
        poll_s: float = 2.0,
    ) -> None:
        super().__init__()
        self.dsn = dsn
        self.read = read
        self.export_dir = export_dir
        self.signer = signer
        self.clock = clock
        self.settings = settings or BundleSettings()
        self.poll_s = poll_s
        self.produced = 0
        self._next_destruction = 0.0  # the first pass destroys what expired meanwhile

    async def serve(self) -> None:
        pool = await open_async_pool(self.dsn, 1, 2)
        audit = AuditLog(pool, self.clock)
        stop = asyncio.ensure_future(self.stopped())
        self.ready()
        try:
            while not stop.done():
                worked = await self.run_once(pool, audit)
                if not worked:
                    await asyncio.wait({stop}, timeout=self.poll_s)
        finally:
            stop.cancel()
            await pool.close()

    async def run_once(self, pool: AsyncConnectionPool, audit: AuditLog) -> bool:
        """Destroy what has expired (once a minute), then produce one queued export;
        True if one was."""
        if time.monotonic() >= self._next_destruction:
            self._next_destruction = time.monotonic() + DESTRUCTION_EVERY_S
            await self.destroy_expired(pool, audit)
        async with pool.connection() as conn:
            job = await db.claim_export(conn)
        if job is None:
            return False
        await self.produce(pool, audit, job)
        return True

    async def produce(
        self,
        pool: AsyncConnectionPool,
        audit: AuditLog,
        job: dict[str, Any],
        on_progress: Callable[[float], None] | None = None,
    ) -> bool:
        """Build one claimed export; True when it is ready."""
        export_id = int(job["id"])
        loop = asyncio.get_running_loop()
        last = [0.0]

        def progress(fraction: float) -> None:  # called from the building thread
            if on_progress is not None:
                on_progress(fraction)
            if fraction - last[0] >= PROGRESS_STEP or fraction >= 1.0:
                last[0] = fraction
                asyncio.run_coroutine_threadsafe(self._progress(pool, export_id, fraction), loop)

        try:
            async with pool.connection() as conn:
                segments, gaps = await db.export_footage(
                    conn, job["cameras"], job["start"], job["end"]
                )
            request = _request(job)
            by_camera: dict[str, list[Any]] = {c: [] for c in job["cameras"]}
            gaps_by: dict[str, list[Any]] = {c: [] for c in job["cameras"]}
            for s in segments:
                by_camera[s.camera_id].append(s)
            for g in gaps:
                gaps_by[g.camera_id].append(g)
            from vms.evidence.bundle import build_bundle  # PyAV: loaded when needed

            result = await asyncio.to_thread(
                build_bundle, request, by_camera, gaps_by, self.read, self.export_dir,
                self.signer, settings=self.settings, progress=progress,
                journal_entry=_journal(job), created_at=self.clock.now(),
            )  # fmt: skip
        except VmsError as err:
            await self._failed(pool, audit, job, err.message, err.detail)
            return False
        except Exception as err:  # a bug or a broken file: the job fails, the worker lives
            logger.exception("export %d failed", export_id)
            await self._failed(pool, audit, job, "Erreur interne pendant la production.", str(err))
            return False
        assert result.zip_path is not None
        size = result.zip_path.stat().st_size
        async with pool.connection() as conn:
            await db.finish_export(
                conn, export_id, self.clock.now(), path=str(result.zip_path),
                sha256=result.zip_sha256, size=size, manifest=json.dumps(result.manifest),
            )  # fmt: skip
        shutil.rmtree(result.directory, ignore_errors=True)  # the zip is what is delivered
        await audit.append(
            "systeme:extraits", "export.produce", tenant=str(job["tenant"]),
            target=f"export:{export_id}",
            detail={**result.journal_summary(), "octets": size, "demandeur": job["requested_by"]},
        )  # fmt: skip
        self.produced += 1
        logger.info("export %d ready: %s (%d bytes)", export_id, result.zip_path, size)
        return True

    async def _progress(self, pool: AsyncConnectionPool, export_id: int, fraction: float) -> None:
        async with pool.connection() as conn:
            await db.export_progress(conn, export_id, fraction)

    async def _failed(
        self, pool: AsyncConnectionPool, audit: AuditLog, job: dict[str, Any], message: str,
        detail: str,
    ) -> None:  # fmt: skip
        logger.warning("export %s failed: %s (%s)", job["id"], message, detail)
        async with pool.connection() as conn:
            await db.finish_export(conn, int(job["id"]), self.clock.now(), error=message)
        await audit.append(
            "systeme:extraits", "export.fail", tenant=str(job["tenant"]),
            target=f"export:{job['id']}", detail={"erreur": message},
        )  # fmt: skip

    async def destroy_expired(self, pool: AsyncConnectionPool, audit: AuditLog) -> int:
        """Delete bundles delivered more than ``keep_days`` ago (LAW-02), logged."""
        now = self.clock.now()
        async with pool.connection() as conn:
            expired = await db.expired_bundles(conn, now)
        for row in expired:
            path = Path(str(row["bundle_path"])) if row["bundle_path"] else None
            if path is not None and path.parent.resolve() == self.export_dir.resolve():
                path.unlink(missing_ok=True)
            async with pool.connection() as conn:
                await db.destroyed(conn, int(row["id"]), now)
            await audit.append(
                "systeme:extraits", "export.destroy", tenant=str(row["tenant"]),
                target=f"export:{row['id']}",
                detail={"reference": row["reference"], "motif": "durée de conservation échue"},
            )  # fmt: skip
            logger.info("export %s destroyed (retention over)", row["id"])
        return len(expired)


def _request(job: dict[str, Any]) -> ExportRequest:
    names = {c["id"]: c for c in job["camera_rows"] or []}
    cameras = tuple(
        ExportCamera(
            camera_id=c,
            name=str(names.get(c, {}).get("name", c)),
            location=str(names.get(c, {}).get("location") or ""),
            tenant=str(names.get(c, {}).get("tenant_name", job["tenant"])),
        )
        for c in job["cameras"]
    )
    return ExportRequest(
        id=int(job["id"]), cameras=cameras, start=job["start"], end=job["end"],
        motive=str(job["motive"]), service=str(job["service"]), officer=str(job["officer"]),
        reference=str(job["reference"]), requested_by=str(job["requested_by"]),
        approved_by=job["approved_by"], overlay=bool(job["overlay"]),
    )  # fmt: skip


def _journal(job: dict[str, Any]) -> dict[str, Any]:
    """The export journal entry (LAW-05) as the manifest carries it."""

    def iso(value: Any) -> Any:
        return value.isoformat() if isinstance(value, datetime) else value

    return {
        "id": job["id"], "demande_le": iso(job["created_at"]), "demandeur": job["requested_by"],
        "valide_par": job["approved_by"], "valide_le": iso(job["approved_at"]),
        "motif": job["motive"], "service": job["service"], "officier": job["officer"],
        "reference": job["reference"],
    }  # fmt: skip
