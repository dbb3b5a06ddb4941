"""Copying recordings from one installation to another (EVD-10): ``pack`` writes the
segments of some cameras over a time range, as recorded (decrypted), with their index
rows (runs, gaps, segment metadata) into a signed tar; ``unpack`` on the other
installation checks the signature against the source's public key and every segment's
SHA-256, stores the segments on its own replicas (encrypted there if it encrypts) and
indexes them under its own camera ids. Both sides are audited by the caller.

Layout of the tar: ``transfert.json`` (source installation and key fingerprint,
cameras, runs, gaps, segments with their wall times and plaintext SHA-256),
``transfert.sig`` (Ed25519 signature of transfert.json), ``segments/<n>.mp4``.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from vms.domain.model import Gap, GapCause, SegmentRecord
from vms.domain.ports import BlobStore, CameraRow, SegmentIndex
from vms.errors import invalid, precondition
from vms.evidence.signing import Signer, fingerprint, load_public_pem, signature_valid

MANIFEST = "transfert.json"
SIGNATURE = "transfert.sig"
FORMAT = "vms-transfert/1"


@dataclass(frozen=True, slots=True)
class Packed:
    path: Path
    cameras: list[str]
    segments: int
    bytes: int
    sha256: str


def pack(
    out: Path,
    cameras: Sequence[CameraRow],
    segments: Sequence[SegmentRecord],
    gaps: Sequence[Gap],
    read: Callable[[SegmentRecord], bytes],
    signer: Signer,
    *,
    installation: str,
    by: str,
    motive: str,
    start: datetime,
    end: datetime,
    created_at: datetime,
) -> Packed:
    """Write the transfer tar to ``out`` (segments read and checked by ``read``)."""
    entries: list[dict[str, Any]] = []
    runs: dict[int, dict[str, Any]] = {}
    tmp = out.with_name(f".{out.name}.tmp")
    with tarfile.open(tmp, "w") as tar:
        for n, seg in enumerate(segments):
            data = read(seg)
            name = f"segments/{n:06d}.mp4"
            _add(tar, name, data, created_at)
            entries.append({
                "file": name, "camera": seg.camera_id, "stream": seg.stream, "run": seg.run_id,
                "start": seg.start_at.isoformat(), "end": seg.end_at.isoformat(),
                "media_start_90k": seg.media_start_90k, "duration_90k": seg.duration_90k,
                "frames": seg.frames, "codec": seg.codec, "width": seg.width,
                "height": seg.height, "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            })  # fmt: skip
            first = {"camera": seg.camera_id, "stream": seg.stream, "start": seg.start_at,
                     "end": seg.end_at}  # fmt: skip
            run = runs.setdefault(seg.run_id, first)
            run["start"], run["end"] = min(run["start"], seg.start_at), max(run["end"], seg.end_at)
        manifest = {
            "format": FORMAT, "installation": installation, "key": signer.fingerprint(),
            "created_at": created_at.isoformat(), "by": by, "motive": motive,
            "range": {"start": start.isoformat(), "end": end.isoformat()},
            "cameras": [{"id": c.id, "name": c.name, "tenant": c.tenant, "location": c.location}
                        for c in cameras],
            "runs": [{"id": rid, "camera": r["camera"], "stream": r["stream"],
                      "start": r["start"].isoformat(), "end": r["end"].isoformat()}
                     for rid, r in sorted(runs.items())],
            "gaps": [{"camera": g.camera_id, "stream": g.stream, "start": g.start_at.isoformat(),
                      "end": g.end_at.isoformat(), "cause": g.cause.value, "detail": g.detail}
                     for g in gaps],
            "segments": entries,
        }  # fmt: skip
        body = json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True).encode()
        _add(tar, MANIFEST, body, created_at)
        _add(tar, SIGNATURE, signer.sign(body), created_at)
    tmp.replace(out)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    total = sum(e["bytes"] for e in entries)
    return Packed(out, [c.id for c in cameras], len(entries), total, digest)


def _add(tar: tarfile.TarFile, name: str, data: bytes, at: datetime) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(at.timestamp())
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


@dataclass(frozen=True, slots=True)
class Unpacked:
    source: str
    key: str
    cameras: dict[str, str]  # source id -> local id
    segments: int
    runs: int
    gaps: int


def unpack(
    path: Path,
    public_key_pem: bytes,
    index: SegmentIndex,
    stores: Sequence[BlobStore],
    *,
    tenant: str,
    prefix: str,
    retention_days: int,
    seal: Callable[[str, bytes], bytes] | None = None,
) -> Unpacked:
    """Check and index a transfer tar on this installation. Nothing is indexed unless
    the signature and every segment check out."""
    key = load_public_pem(public_key_pem, "clé publique de l'installation source")
    with tarfile.open(path, "r") as tar:
        members = {m.name: m for m in tar.getmembers() if m.isfile()}
        if MANIFEST not in members or SIGNATURE not in members:
            raise invalid("Fichier de transfert incomplet : manifeste ou signature absent.")
        body = _read(tar, members[MANIFEST])
        if not signature_valid(key, _read(tar, members[SIGNATURE]), body):
            raise invalid(
                "Signature du transfert invalide : fichier altéré ou clé d'une autre installation."
            )
        manifest = json.loads(body)
        if manifest.get("format") != FORMAT:
            raise invalid("Format de transfert inconnu.")
        files: dict[str, bytes] = {}
        for entry in manifest["segments"]:
            member = members.get(entry["file"])
            data = _read(tar, member) if member else b""
            if hashlib.sha256(data).hexdigest() != entry["sha256"]:
                raise invalid(f"Segment altéré ou absent dans le transfert : {entry['file']}.")
            files[entry["file"]] = data
    local = {c["id"]: f"{prefix}{c['id']}" for c in manifest["cameras"]}
    existing = {c.id for c in index.cameras()}
    clash = sorted(set(local.values()) & existing)
    if clash:
        raise precondition(
            f"Caméra(s) déjà présente(s) ici : {', '.join(clash)} ; choisissez un autre préfixe."
        )
    for c in manifest["cameras"]:
        index.upsert_camera(
            CameraRow(
                local[c["id"]],
                tenant,
                f"{c['name']} ({manifest['installation']})",
                retention_days,
                c.get("location", ""),
            )
        )
    run_ids = {r["id"]: secrets.randbits(62) for r in manifest["runs"]}
    for r in manifest["runs"]:
        index.open_run(local[r["camera"]], r["stream"], _t(r["start"]), run_ids[r["id"]])
    for entry in manifest["segments"]:
        camera = local[entry["camera"]]
        data = files[entry["file"]]
        stored = seal(tenant, data) if seal else data
        start = _t(entry["start"])
        key_name = (
            f"{tenant}/{camera}/{entry['stream']}/{start:%Y/%m/%d}/"
            f"{start:%H%M%S%f}-r{run_ids[entry['run']]}.mp4"
        )
        for store in stores:
            store.put(key_name, stored)
        index.add_segment(SegmentRecord(
            camera_id=camera, stream=entry["stream"], start_at=start, end_at=_t(entry["end"]),
            media_start_90k=entry["media_start_90k"], duration_90k=entry["duration_90k"],
            frames=entry["frames"], bytes=len(stored),
            sha256=hashlib.sha256(stored).hexdigest(), key=key_name, run_id=run_ids[entry["run"]],
            replicas=tuple(s.name for s in stores), encrypted=seal is not None,
            codec=entry["codec"], width=entry["width"], height=entry["height"],
        ))  # fmt: skip
    for r in manifest["runs"]:
        index.close_run(run_ids[r["id"]], _t(r["end"]), GapCause.SHUTDOWN)
    for g in manifest["gaps"]:
        index.add_gap(Gap(local[g["camera"]], g["stream"], _t(g["start"]), _t(g["end"]),
                          GapCause(g["cause"]), g["detail"]))  # fmt: skip
    return Unpacked(
        source=str(manifest["installation"]), key=fingerprint(key), cameras=local,
        segments=len(manifest["segments"]), runs=len(manifest["runs"]),
        gaps=len(manifest["gaps"]),
    )  # fmt: skip


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    f = tar.extractfile(member)
    return f.read() if f else b""


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text)
