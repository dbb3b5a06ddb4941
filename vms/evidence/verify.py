"""Verify a bundle (directory or zip) with nothing but the bundle and a public key: no
database, no configuration. Every problem is a French sentence for the recipient.

Checks: the Ed25519 signature of the exact manifest.json bytes; every file the
manifest lists exists with its size and SHA-256; SHA256SUMS matches every file and
lists them all; no file is there that the manifest does not list (except the manifest,
its signature and SHA256SUMS).
"""

from __future__ import annotations

import hashlib
import json
import logging
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path, PurePosixPath
from typing import IO, Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from vms.errors import VmsError
from vms.evidence.manifest import (
    FORMAT,
    MANIFEST,
    PUBLIC_KEY,
    SIGNATURE,
    SUMS,
    UNLISTED,
    parse_sums,
)
from vms.evidence.model import VerifyReport
from vms.evidence.signing import fingerprint, load_public_pem, signature_valid
from vms.evidence.timeline import local_text, parse_iso
from vms.messages import msg

logger = logging.getLogger(__name__)
_CHUNK = 1 << 20


class _Tree(Protocol):
    """The files of a bundle, by relative POSIX path."""

    def names(self) -> list[str]: ...

    def open(self, name: str) -> IO[bytes]: ...


class _DirTree:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.unsafe: list[str] = []

    def names(self) -> list[str]:
        out = []
        for p in sorted(self.root.rglob("*")):
            rel = p.relative_to(self.root).as_posix()
            if p.is_symlink():
                self.unsafe.append(rel)
            elif p.is_file():
                out.append(rel)
        return out

    def open(self, name: str) -> IO[bytes]:
        return open(self.root / name, "rb")


class _ZipTree:
    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive
        self.unsafe: list[str] = []
        entries = [i.filename for i in archive.infolist() if not i.is_dir()]
        tops = {n.split("/", 1)[0] for n in entries if "/" in n}
        self.prefix = ""
        if MANIFEST not in entries and len(tops) == 1:
            self.prefix = next(iter(tops)) + "/"
        self._names: dict[str, str] = {}
        for n in entries:
            parts = PurePosixPath(n).parts
            if n.startswith("/") or "\\" in n or ".." in parts:
                self.unsafe.append(n)
            elif n.startswith(self.prefix):
                self._names[n[len(self.prefix) :]] = n
            else:
                self._names[n] = n  # outside the bundle folder: reported as unlisted

    def names(self) -> list[str]:
        return sorted(self._names)

    def open(self, name: str) -> IO[bytes]:
        return self.archive.open(self._names[name])


@contextmanager
def _open_tree(path: Path) -> Iterator[_Tree]:
    if path.is_dir():
        yield _DirTree(path)
        return
    with zipfile.ZipFile(path) as archive:
        yield _ZipTree(archive)


def _read(tree: _Tree, name: str) -> bytes:
    with tree.open(name) as f:
        return f.read()


def _digest(tree: _Tree, name: str) -> tuple[int, str]:
    h = hashlib.sha256()
    size = 0
    with tree.open(name) as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return size, h.hexdigest()


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def verify_bundle(path: Path, public_key_pem: bytes | None = None) -> VerifyReport:
    """Verify the bundle at ``path`` (its directory or its zip). With no key, the
    bundle's own ``cle-publique.pem`` is used and a note says why that proves little."""
    report = VerifyReport()
    try:
        with _open_tree(path) as tree:
            _verify(tree, public_key_pem, report)
    except (OSError, zipfile.BadZipFile) as err:
        logger.info("bundle %s unreadable: %s", path, err)
        report.problems.append(msg("verify.unreadable", path=path))
    report.ok = not report.problems
    return report


def _verify(tree: _Tree, given_pem: bytes | None, report: VerifyReport) -> None:
    problems = report.problems
    names = tree.names()
    for unsafe in getattr(tree, "unsafe", []):
        problems.append(msg("verify.zip_unsafe", name=unsafe))
    present = set(names)
    digests: dict[str, tuple[int, str]] = {}

    def digest(name: str) -> tuple[int, str] | None:
        if name not in digests:
            try:
                digests[name] = _digest(tree, name)
            except (OSError, zipfile.BadZipFile) as err:  # a zip entry failing its CRC
                logger.info("bundle file %s unreadable: %s", name, err)
                problems.append(msg("verify.hash_mismatch", path=name))
                return None
        return digests[name]

    # the key
    key = _key(tree, present, given_pem, report)
    # the signature of the manifest
    manifest_bytes = _read(tree, MANIFEST) if MANIFEST in present else None
    signature = _read(tree, SIGNATURE) if SIGNATURE in present else None
    for name, data in ((MANIFEST, manifest_bytes), (SIGNATURE, signature)):
        if data is None:
            problems.append(msg("verify.missing_file", path=name))
    if (
        key is not None
        and manifest_bytes is not None
        and signature is not None
        and not signature_valid(key, signature, manifest_bytes)
    ):
        problems.append(msg("verify.signature_invalid"))
    # the manifest's list of files
    manifest: dict[str, Any] | None = None
    if manifest_bytes is not None:
        try:
            loaded = json.loads(manifest_bytes.decode("utf-8"))
            if not isinstance(loaded, dict) or loaded.get("format") != FORMAT:
                raise ValueError(f"format {FORMAT!r} attendu")
            manifest = loaded
        except (ValueError, UnicodeDecodeError) as err:
            problems.append(msg("verify.manifest_invalid", detail=err))
    report.manifest = manifest
    listed: dict[str, dict[str, Any]] = {}
    if manifest is not None:
        for entry in manifest.get("files", []):
            listed[str(entry.get("path"))] = entry
        for name, entry in sorted(listed.items()):
            if name not in present:
                problems.append(msg("verify.missing_file", path=name))
                continue
            got = digest(name)
            if got is None:
                continue
            if got[0] != entry.get("bytes"):
                problems.append(
                    msg("verify.size_mismatch", path=name, got=got[0], expected=entry.get("bytes"))
                )
            if got[1] != entry.get("sha256"):
                problems.append(msg("verify.hash_mismatch", path=name))
        for name in names:
            if name not in listed and name not in UNLISTED:
                problems.append(msg("verify.unlisted", path=name))
    # SHA256SUMS
    if SUMS not in present:
        problems.append(msg("verify.missing_file", path=SUMS))
    else:
        sums, bad = parse_sums(_read(tree, SUMS).decode("utf-8", errors="replace"))
        problems.extend(msg("verify.sums_invalid", line=line[:80]) for line in bad)
        for name, expected in sorted(sums.items()):
            if name not in present:
                problems.append(msg("verify.missing_file", path=name))
                continue
            got = digest(name)
            if got is not None and got[1] != expected:
                problem = msg("verify.hash_mismatch", path=name)
                if problem not in problems:
                    problems.append(problem)
        for name in names:
            if name != SUMS and name not in sums:
                problems.append(msg("verify.sums_unlisted", path=name))
    report.files_checked = len(set(digests) | ({SUMS} & present))


def _key(
    tree: _Tree, present: set[str], given_pem: bytes | None, report: VerifyReport
) -> Ed25519PublicKey | None:
    bundle_key: Ed25519PublicKey | None = None
    if PUBLIC_KEY in present:
        try:
            bundle_key = load_public_pem(_read(tree, PUBLIC_KEY), PUBLIC_KEY)
        except VmsError as err:
            if given_pem is None:
                report.problems.append(err.message)
    key: Ed25519PublicKey | None
    if given_pem is not None:
        try:
            key = load_public_pem(given_pem, msg("verify.source_given"))
        except VmsError as err:
            report.problems.append(err.message)
            return None
        if bundle_key is not None and _raw(bundle_key) != _raw(key):
            report.notes.append(msg("verify.key_differs"))
        source = msg("verify.source_given")
    elif bundle_key is not None:
        key = bundle_key
        report.key_from_bundle = True
        source = msg("verify.source_bundle")
        report.notes.append(msg("verify.key_from_bundle", fingerprint=fingerprint(key)))
    else:
        if PUBLIC_KEY not in present:
            report.problems.append(msg("verify.missing_file", path=PUBLIC_KEY))
        return None
    report.key_fingerprint = fingerprint(key)
    report.notes.insert(
        0, msg("verify.key_used", fingerprint=report.key_fingerprint, source=source)
    )
    return key


def format_report(report: VerifyReport) -> str:
    """The report as the CLI prints it (French)."""
    lines = []
    if report.ok:
        manifest = report.manifest or {}
        export = manifest.get("export", {})
        created = str(export.get("created_at", "?"))
        with suppress(ValueError, KeyError):
            created = local_text(parse_iso(created), str(manifest.get("timezone", "UTC")))
        lines.append(
            msg(
                "verify.ok",
                files=report.files_checked,
                export_id=export.get("id", "?"),
                created_at=created,
            )
        )
    else:
        lines.append(msg("verify.failed", count=len(report.problems)))
        lines.extend(f"  - {p}" for p in report.problems)
    lines.extend(report.notes)
    return "\n".join(lines)


def verify_command(bundle: Path, key_file: Path | None) -> int:
    """``vms export verify BUNDLE [--cle KEY.pem]``: print the report; 0 if intact."""
    pem = None
    if key_file is not None:
        try:
            pem = key_file.read_bytes()
        except OSError:
            print(msg("verify.failed", count=1))
            print(f"  - {msg('verify.key_file_unreadable', path=key_file)}")
            return 1
    report = verify_bundle(bundle, pem)
    print(format_report(report))
    return 0 if report.ok else 1
