"""Exports ("extraits", EVD-05, LAW-05): a request names cameras, a time range, the
motive and the destination (service, officer, procedure reference); it waits for a
second habilitated user's approval where the commune asks for it (nobody approves
their own request), then an export worker produces the signed bundle (vms/evidence).
The exports table is the export journal; every step is audited too. A bundle is kept
``[exports] keep_days`` after its first download, then destroyed (LAW-02)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Literal

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from vms.db import evidence
from vms.db.scope import scoped
from vms.domain.access import Action, visible_tenants
from vms.errors import invalid, not_found, precondition
from vms.evidence.model import request_audit_detail
from vms.web.api.live import camera_for
from vms.web.auth import Caller, caller_of, client_ip, services
from vms.web.http import body_of, ok, path_int, refuse
from vms.web.routes import Route

SERVICES_FR = {
    "police_nationale": "Police nationale",
    "gendarmerie": "Gendarmerie nationale",
    "police_municipale": "Police municipale",
    "justice": "Autorité judiciaire",
    "pompiers": "Sapeurs-pompiers",
    "autre": "Autre",
}
STATUS_FR = {
    "a_valider": "En attente de validation",
    "en_file": "En file d'attente",
    "en_cours": "En cours de production",
    "pret": "Prêt à télécharger",
    "refuse": "Refusé",
    "echec": "Échec",
    "detruit": "Détruit",
}


class ExportBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cameras: list[str] = Field(min_length=1, max_length=16, description="Caméras à extraire.")
    start: AwareDatetime = Field(alias="from", description="Début (ISO 8601 avec fuseau).")
    end: AwareDatetime = Field(alias="to", description="Fin (ISO 8601 avec fuseau).")
    motive: str = Field(min_length=3, max_length=500, description="Motif de l'extraction.")
    service: Literal[
        "police_nationale", "gendarmerie", "police_municipale", "justice", "pompiers", "autre"
    ] = Field(description="Service destinataire.")
    officer: str = Field(
        min_length=2, max_length=200, description="Officier destinataire (nom, grade, matricule)."
    )
    reference: str = Field(
        min_length=2, max_length=200, description="N° de procédure ou de réquisition."
    )
    overlay: bool = Field(False, description="Joindre une copie avec incrustation (EVD-11).")


def _present(row: dict[str, object], caller: Caller) -> dict[str, object]:
    out = {k: v for k, v in row.items() if k not in ("bundle_path", "requester_id")}
    out["status_label"] = STATUS_FR.get(str(row["status"]), row["status"])
    out["service_label"] = SERVICES_FR.get(str(row["service"]), row["service"])
    out["mine"] = row["requester_id"] == caller.user.id
    out["can_approve"] = row["status"] == "a_valider" and row["requester_id"] != caller.user.id
    if row["status"] == "pret":
        out["download_url"] = f"/api/v1/exports/{row['id']}/bundle"
    return out


def _export_tenants(request: web.Request, caller: Caller) -> frozenset[str]:
    today = services(request).clock.now().date()
    return visible_tenants(caller.principal, {Action.EXPORT}, today)


async def request_export(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    body = await body_of(request, ExportBody)
    svc = services(request)
    now = svc.clock.now()
    if body.end <= body.start:
        raise invalid("Plage horaire invalide : la fin doit suivre le début.")
    if body.start >= now:
        raise invalid("La plage demandée commence dans le futur.")
    if body.end - body.start > timedelta(hours=svc.exports.max_hours):
        raise invalid(f"Plage trop longue : {svc.exports.max_hours} heures au plus par extrait.")
    if len(set(body.cameras)) != len(body.cameras):
        raise invalid("Caméra répétée dans la demande.")
    rows = [await camera_for(request, caller, Action.EXPORT, c) for c in body.cameras]
    tenants = {str(r["tenant"]) for r in rows}
    if len(tenants) != 1:
        raise invalid("Un extrait porte sur les caméras d'une seule commune.")
    tenant = tenants.pop()
    four_eyes = tenant in svc.exports.four_eyes_tenants
    async with scoped(svc.pool, {tenant}) as conn:
        export_id = await evidence.add_export(
            conn, tenant=tenant, cameras=body.cameras, start=body.start, end=body.end,
            motive=body.motive.strip(), service=body.service, officer=body.officer.strip(),
            reference=body.reference.strip(), overlay=body.overlay, requested_by=caller.actor,
            requester_id=caller.user.id, status="a_valider" if four_eyes else "en_file", now=now,
        )  # fmt: skip
        row = await evidence.export(conn, export_id)
    assert row is not None
    await svc.audit.append(
        caller.actor, "export.request", tenant=tenant, target=f"export:{export_id}",
        detail=request_audit_detail(
            body.cameras, body.start, body.end, body.motive.strip(), body.service,
            body.officer.strip(), body.reference.strip(), body.overlay, four_eyes,
        ),
        source_ip=client_ip(request),
    )  # fmt: skip
    return ok(_present(row, caller), status=201)


async def list_exports(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    tenants = _export_tenants(request, caller)
    if not tenants:
        await refuse(request, caller, "droit « export » requis")
    async with scoped(services(request).pool, tenants) as conn:
        rows = await evidence.exports(conn)
    return ok({"exports": [_present(r, caller) for r in rows]})


async def _visible_export(request: web.Request, caller: Caller) -> dict[str, object]:
    """The export of the path if it lies in the caller's export perimeter (404 else)."""
    tenants = _export_tenants(request, caller)
    export_id = path_int(request, "export_id")
    async with scoped(services(request).pool, tenants) as conn:
        row = await evidence.export(conn, export_id)
    if row is None:
        await refuse(request, caller, "extrait hors du périmètre", target=f"export:{export_id}",
                     hide=True)  # fmt: skip
    assert row is not None
    # every camera of the export must still be exportable by the caller
    for camera in row["cameras"]:
        await camera_for(request, caller, Action.EXPORT, str(camera))
    return row


async def get_export(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    return ok(_present(await _visible_export(request, caller), caller))


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    approve: bool = Field(description="true : valider ; false : refuser.")
    refusal: str = Field("", max_length=500, description="Motif du refus.")


async def decide_export(request: web.Request) -> web.StreamResponse:
    """The four-eyes rule: a second habilitated user approves or refuses."""
    caller = caller_of(request)
    body = await body_of(request, Decision)
    row = await _visible_export(request, caller)
    if row["requester_id"] == caller.user.id:
        await services(request).audit.append(
            caller.actor, "access.denied", tenant=str(row["tenant"]),
            target=f"export:{row['id']}",
            detail={"requete": f"{request.method} {request.path}",
                    "raison": "validation de sa propre demande"},
            source_ip=client_ip(request),
        )  # fmt: skip
        raise precondition("Vous ne pouvez pas valider votre propre demande d'extrait.")
    if row["status"] != "a_valider":
        raise precondition("Cette demande n'attend pas de validation.")
    if not body.approve and len(body.refusal.strip()) < 3:
        raise invalid("Indiquez le motif du refus.")
    svc = services(request)
    now = svc.clock.now()
    async with scoped(svc.pool, {str(row["tenant"])}) as conn:
        if not await evidence.decide_export(
            conn, int(str(row["id"])), body.approve, caller.actor, now, body.refusal.strip()
        ):
            raise precondition("Cette demande n'attend plus de validation.")
        fresh = await evidence.export(conn, int(str(row["id"])))
    assert fresh is not None
    await svc.audit.append(
        caller.actor, "export.approve" if body.approve else "export.refuse",
        tenant=str(row["tenant"]), target=f"export:{row['id']}",
        detail={"demandeur": row["requested_by"], "refus": body.refusal.strip() or None},
        source_ip=client_ip(request),
    )  # fmt: skip
    return ok(_present(fresh, caller))


async def download(request: web.Request) -> web.StreamResponse:
    """The signed bundle (zip); the first download starts its retention period."""
    caller = caller_of(request)
    row = await _visible_export(request, caller)
    svc = services(request)
    if row["status"] != "pret" or not row["bundle_path"]:
        raise precondition("L'extrait n'est pas disponible au téléchargement.")
    path = Path(str(row["bundle_path"]))
    # only a file of this server's export directory is ever sent
    inside = svc.export_dir is not None and await asyncio.to_thread(
        lambda: path.parent.resolve() == svc.export_dir.resolve() and path.is_file()  # type: ignore[union-attr]
    )
    if not inside:
        raise not_found("Extrait introuvable sur ce serveur.")
    now = svc.clock.now()
    async with scoped(svc.pool, {str(row["tenant"])}) as conn:
        await evidence.delivered(
            conn, int(str(row["id"])), now, timedelta(days=svc.exports.keep_days)
        )
    await svc.audit.append(
        caller.actor, "export.download", tenant=str(row["tenant"]), target=f"export:{row['id']}",
        detail={"sha256": row["bundle_sha256"], "octets": row["bundle_bytes"],
                "reference": row["reference"]},
        source_ip=client_ip(request),
    )  # fmt: skip
    name = f"extrait-{row['id']}.zip"
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "application/zip",
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "private, no-store",
        },
    )


async def public_key(request: web.Request) -> web.StreamResponse:
    """The installation's public key that verifies export manifests."""
    svc = services(request)
    if not svc.public_key_pem:
        raise not_found("Aucune clé de signature des extraits sur ce serveur.")
    return web.Response(body=svc.public_key_pem, content_type="application/x-pem-file")


_EXPORT = "/api/v1/exports/{export_id}"
ROUTES = [
    Route("POST", "/api/v1/exports", request_export,
          "Demander un extrait (motif, destinataire, n° de procédure)", "extraits",
          body=ExportBody, responses={201: "Demande enregistrée"}),
    Route("GET", "/api/v1/exports", list_exports, "Extraits et journal des extractions",
          "extraits"),
    Route("GET", _EXPORT, get_export, "Un extrait : état et avancement", "extraits"),
    Route("POST", _EXPORT + "/decision", decide_export,
          "Valider ou refuser une demande d'extrait (double validation)", "extraits",
          body=Decision),
    Route("GET", _EXPORT + "/bundle", download, "Télécharger l'extrait signé (zip)",
          "extraits", response_media="application/zip"),
    Route("GET", "/api/v1/exports-key", public_key,
          "Clé publique de vérification des extraits (PEM)", "extraits",
          response_media="application/x-pem-file"),
]  # fmt: skip
