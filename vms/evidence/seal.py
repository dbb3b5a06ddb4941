"""Seal a bundle directory whose videos are written: public key, player, read-me,
manifest (listing every file with its size and SHA-256), Ed25519 signature of the
manifest's bytes, SHA256SUMS; then pack it into a stored zip. No media library here.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from vms.evidence import player, readme
from vms.evidence.manifest import (
    MANIFEST,
    PLAYER,
    PUBLIC_KEY,
    README,
    SIGNATURE,
    SUMS,
    UNLISTED,
    CameraOutcome,
    build_manifest,
    dump,
    sha256_file,
    sums_text,
)
from vms.evidence.model import BundleSettings, ExportRequest, OutputFile
from vms.evidence.signing import Signer

_CHUNK = 1 << 20


def seal(
    root: Path,
    request: ExportRequest,
    settings: BundleSettings,
    outcomes: Sequence[CameraOutcome],
    signer: Signer,
    created_at: datetime,
    journal_entry: Mapping[str, Any] | None,
) -> tuple[dict[str, Any], list[OutputFile]]:
    """Write the documents into ``root``; return the manifest and every file of the
    bundle (SHA256SUMS included)."""
    fingerprint = signer.fingerprint()
    (root / PUBLIC_KEY).write_bytes(signer.public_pem())
    # the player and the read-me show what the manifest says; the manifest lists them
    draft = build_manifest(request, settings, outcomes, [], created_at, fingerprint, journal_entry)
    (root / PLAYER).write_text(player.render(draft), encoding="utf-8")
    (root / README).write_text(readme.render(draft), encoding="utf-8", newline="\r\n")
    listed = [hashed(root, p) for p in walk(root) if p not in UNLISTED]
    manifest = build_manifest(
        request, settings, outcomes, listed, created_at, fingerprint, journal_entry
    )
    data = dump(manifest)
    (root / MANIFEST).write_bytes(data)
    (root / SIGNATURE).write_bytes(signer.sign(data))
    everything = [*listed, hashed(root, MANIFEST), hashed(root, SIGNATURE)]
    (root / SUMS).write_bytes(sums_text(everything))
    everything.append(hashed(root, SUMS))
    return manifest, sorted(everything, key=lambda f: f.path)


def walk(root: Path) -> list[str]:
    """Relative POSIX paths of the files under ``root``, sorted."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def hashed(root: Path, rel: str) -> OutputFile:
    f = sha256_file(root / rel)
    return OutputFile(rel, f.bytes, f.sha256)


def zip_bundle(
    root: Path,
    name: str,
    created_at: datetime,
    zone: str,
    target: Path,
    on_fraction: Callable[[float], None] | None = None,
) -> str:
    """Store every file of ``root`` under ``<name>/`` in the zip ``target`` (no
    compression: video does not compress, and stored entries can be read in place);
    return the SHA-256 of the archive."""
    files = walk(root)
    total = sum((root / f).stat().st_size for f in files) or 1
    stamp = created_at.astimezone(ZoneInfo(zone)).timetuple()[:6]
    done = 0
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for rel in files:
            info = zipfile.ZipInfo(f"{name}/{rel}", date_time=stamp)
            info.external_attr = 0o644 << 16
            source = root / rel
            info.file_size = source.stat().st_size  # Zip64 only where a file needs it
            with open(source, "rb") as src, zf.open(info, "w") as dst:
                while chunk := src.read(_CHUNK):
                    dst.write(chunk)
                    done += len(chunk)
                    if on_fraction is not None:
                        on_fraction(0.8 * done / total)
    with open(target, "rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    if on_fraction is not None:
        on_fraction(1.0)
    return digest
