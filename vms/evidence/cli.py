"""``vms export create | run | list | key``: export requests from the server's command
line (an administrator acting for a named agent), produced in this process with a
progress bar, the journal, and the installation's public key. ``vms export verify``
lives in vms.evidence.verify (it needs no configuration nor database)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from vms.db import evidence as db
from vms.db.audit import AuditLog
from vms.db.scope import open_async_pool
from vms.errors import invalid, not_found, precondition
from vms.evidence.model import BundleSettings, request_audit_detail
from vms.evidence.worker import ExportWorker

BAR = 30


def _bar(fraction: float) -> None:
    done = round(fraction * BAR)
    sys.stdout.write(f"\r[{'#' * done}{'.' * (BAR - done)}] {fraction * 100:5.1f} %")
    sys.stdout.flush()


def export_command(app: Any, args: argparse.Namespace) -> int:
    if args.export_command == "key":
        signer = app.signer()
        sys.stdout.write(signer.public_pem().decode())
        print(f"empreinte : {signer.fingerprint()}")
        return 0
    return asyncio.run(_async(app, args))


async def _async(app: Any, args: argparse.Namespace) -> int:
    app.database()
    pool = await open_async_pool(app._dsn, 1, 2)
    try:
        audit = AuditLog(pool, app.clock)
        if args.export_command == "list":
            async with pool.connection() as conn:
                cur = await conn.execute(
                    "SELECT id, status, progress, camera_ids, start_at, end_at, reference, "
                    "requested_by, approved_by FROM exports ORDER BY id DESC LIMIT 200"
                )
                rows: list[dict[str, Any]] = list(await cur.fetchall())  # type: ignore[arg-type]
            for r in rows:
                print(
                    f"{r['id']}\t{r['status']}\t{r['progress'] * 100:.0f} %\t"
                    f"{','.join(r['camera_ids'])}\t{r['start_at']} → {r['end_at']}\t"
                    f"{r['reference']}\t{r['requested_by']}\t{r['approved_by'] or '-'}"
                )
            return 0
        if args.export_command == "create":
            export_id, status = await _create(app, pool, audit, args)
            print(f"extrait n° {export_id} demandé ({status})")
            if status != "en_file" or args.no_wait:
                return 0
        else:
            export_id = args.id
        return await _run(app, pool, audit, export_id)
    finally:
        await pool.close()


async def _create(
    app: Any, pool: Any, audit: AuditLog, args: argparse.Namespace
) -> tuple[int, str]:
    cameras = [c.strip() for c in args.cameras.split(",") if c.strip()]
    known = {c.id: c for c in app.index().cameras()}
    missing = [c for c in cameras if c not in known]
    if missing:
        raise not_found(f"Caméra(s) inconnue(s) : {', '.join(missing)}.")
    tenants = {known[c].tenant for c in cameras}
    if len(tenants) != 1:
        raise invalid("Un extrait porte sur les caméras d'une seule commune.")
    if args.end <= args.start:
        raise invalid("Plage horaire invalide : la fin doit suivre le début.")
    tenant = tenants.pop()
    status = "a_valider" if tenant in app.config.exports.four_eyes_tenants else "en_file"
    actor = f"cli:{args.by}"
    async with pool.connection() as conn:
        export_id = await db.add_export(
            conn, tenant=tenant, cameras=cameras, start=args.start, end=args.end,
            motive=args.motive, service=args.service, officer=args.officer,
            reference=args.reference, overlay=args.overlay, requested_by=actor,
            requester_id=None, status=status, now=app.clock.now(),
        )  # fmt: skip
    await audit.append(
        actor, "export.request", tenant=tenant, target=f"export:{export_id}",
        detail=request_audit_detail(
            cameras, args.start, args.end, args.motive, args.service, args.officer,
            args.reference, args.overlay, status == "a_valider",
        ),
    )  # fmt: skip
    return export_id, status


async def _run(app: Any, pool: Any, audit: AuditLog, export_id: int) -> int:
    async with pool.connection() as conn:
        job = await db.claim_export(conn, export_id)
    if job is None:
        raise precondition(
            f"L'extrait n° {export_id} n'est pas en file d'attente (à valider, déjà produit "
            "ou en cours ailleurs)."
        )
    app.export_dir.mkdir(parents=True, exist_ok=True)
    settings = BundleSettings(installation=app.config.exports.installation)
    worker = ExportWorker(
        app._dsn, app.reader().read, app.export_dir, app.signer(), app.clock, settings
    )
    ready = await worker.produce(pool, audit, job, on_progress=_bar)
    print()
    async with pool.connection() as conn:
        row = await db.export(conn, export_id)
    assert row is not None
    if not ready:
        print(f"échec de l'extrait n° {export_id} : {row['error']}")
        return 1
    print(f"extrait n° {export_id} prêt : {row['bundle_path']}")
    print(f"SHA-256 : {row['bundle_sha256']}")
    return 0


def transfer_command(app: Any, args: argparse.Namespace) -> int:
    """``vms transfer out | in``: copy recordings to another installation (EVD-10)."""
    from vms.evidence import transfer

    index = app.index()
    if args.transfer_command == "out":
        wanted = [c.strip() for c in args.cameras.split(",") if c.strip()]
        known = {c.id: c for c in index.cameras()}
        missing = [c for c in wanted if c not in known]
        if missing:
            raise not_found(f"Caméra(s) inconnue(s) : {', '.join(missing)}.")
        segments = [s for c in wanted for s in index.segments(c, args.start, args.end)]
        if not segments:
            raise not_found("Aucun enregistrement dans cette plage pour ces caméras.")
        gaps = [g for c in wanted for g in index.gaps(c)
                if g.end_at > args.start and g.start_at < args.end]  # fmt: skip
        packed = transfer.pack(
            args.out, [known[c] for c in wanted], segments, gaps, app.reader().read, app.signer(),
            installation=app.config.exports.installation, by=args.by, motive=args.motive,
            start=args.start, end=args.end, created_at=app.clock.now(),
        )  # fmt: skip
        for tenant in sorted({known[c].tenant for c in wanted}):
            app.audit(
                f"cli:{args.by}", "recordings.transfer_out", tenant=tenant,
                target=",".join(f"camera:{c}" for c in wanted if known[c].tenant == tenant),
                detail={"fichier": packed.path.name, "sha256": packed.sha256,
                        "segments": packed.segments, "debut": args.start.isoformat(),
                        "fin": args.end.isoformat(), "motif": args.motive},
            )  # fmt: skip
        print(f"{packed.segments} segment(s) de {', '.join(packed.cameras)} copiés dans "
              f"{packed.path} (SHA-256 {packed.sha256})")  # fmt: skip
        return 0
    keyring = app.keyring()
    got = transfer.unpack(
        args.file, args.cle.read_bytes(), index, app.stores(), tenant=args.tenant,
        prefix=args.prefix, retention_days=app.config.retention.default_days,
        seal=keyring.encrypt if keyring else None,
    )  # fmt: skip
    app.audit(
        f"cli:{args.by}", "recordings.transfer_in", tenant=args.tenant,
        target=",".join(f"camera:{c}" for c in got.cameras.values()),
        detail={"source": got.source, "cle_source": got.key, "cameras": got.cameras,
                "segments": got.segments, "interruptions": got.gaps},
    )  # fmt: skip
    print(f"{got.segments} segment(s) indexé(s) depuis « {got.source} » : "
          + ", ".join(f"{a} → {b}" for a, b in got.cameras.items()))  # fmt: skip
    return 0
