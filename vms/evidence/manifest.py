"""The bundle's manifest (manifest.json) and checksum list (SHA256SUMS). Pure apart
from hashing files.

The manifest is written once, as UTF-8 JSON, and signed byte for byte: verification
never re-serialises it. Its keys are English (a data format documented in
docs/design/evidence.md); text meant for people (gap causes) also comes in French.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import vms
from vms.domain.model import Gap, SegmentRecord
from vms.evidence.model import BundleSettings, ExportCamera, ExportRequest, OutputFile
from vms.evidence.timeline import (
    PlacedSegment,
    covered_range,
    group_pieces,
    iso_utc,
    media_seconds,
    uncovered,
)
from vms.messages import GAP_CAUSES

FORMAT = "vms-extrait"
VERSION = 1
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
SUMS = "SHA256SUMS"
PUBLIC_KEY = "cle-publique.pem"
README = "LISEZMOI.txt"
PLAYER = "lecteur.html"
VIDEOS = "videos"
# Files the manifest cannot list (itself, what is computed from it, and the list of sums).
UNLISTED = frozenset({MANIFEST, SIGNATURE, SUMS})


@dataclass(slots=True)
class PartOutcome:
    """One output MP4 of a camera (a new part only when the stream's parameters change)."""

    path: str
    codec: str
    width: int
    height: int
    frames: int = 0
    duration: Fraction = Fraction(0)
    audio: str | None = None
    overlay_path: str | None = None


@dataclass(slots=True)
class CameraOutcome:
    """What the export of one camera produced."""

    camera: ExportCamera
    segments: list[SegmentRecord]
    gaps: list[Gap]
    placed: list[PlacedSegment] = field(default_factory=list)
    parts: list[PartOutcome] = field(default_factory=list)
    plaintext_sha256: dict[str, str] = field(default_factory=dict)

    @property
    def frames(self) -> int:
        return sum(p.frames for p in self.placed)

    @property
    def duration(self) -> Fraction:
        return sum((p.media_end - p.media_start for p in self.placed), Fraction(0))


def _range(start: datetime, end: datetime) -> dict[str, str]:
    return {"start": iso_utc(start), "end": iso_utc(end)}


def camera_entry(outcome: CameraOutcome, request: ExportRequest) -> dict[str, Any]:
    c = outcome.camera
    pieces = group_pieces(outcome.placed)
    covered = covered_range(pieces)
    part_of_key = {p.segment.key: p for p in outcome.placed}
    files = []
    for index, part in enumerate(outcome.parts):
        timeline = [
            {
                "media_start_s": media_seconds(p.media_start),
                "media_end_s": media_seconds(p.media_end),
                **_range(p.wall_start, p.wall_end),
                "frames": p.frames,
                "segments": p.segments,
            }
            for p in pieces
            if p.part == index
        ]
        files.append(
            {
                "path": part.path,
                "codec": part.codec,
                "width": part.width,
                "height": part.height,
                "audio": part.audio,
                "frames": part.frames,
                "duration_s": media_seconds(part.duration),
                "timeline": timeline,
                "overlay_path": part.overlay_path,
            }
        )
    segments = []
    for s in outcome.segments:
        placed = part_of_key.get(s.key)
        segments.append(
            {
                "key": s.key,
                "sha256": s.sha256,
                "encrypted": s.encrypted,
                "sha256_plaintext": outcome.plaintext_sha256.get(s.key),
                "bytes": s.bytes,
                "run_id": s.run_id,
                **_range(s.start_at, s.end_at),
                "frames": s.frames,
                "duration_90k": s.duration_90k,
                "file": outcome.parts[placed.part].path if placed else None,
                "media_start_s": media_seconds(placed.media_start) if placed else None,
                "exported_start": iso_utc(placed.wall_start) if placed else None,
                "frames_exported": placed.frames if placed else 0,
                "frames_before_range": placed.head_dropped if placed else 0,
                "frames_after_range": placed.tail_dropped if placed else 0,
            }
        )
    return {
        "id": c.camera_id,
        "name": c.name,
        "location": c.location,
        "commune": c.tenant,
        "stream": request.stream,
        "covered_range": _range(*covered) if covered else None,
        "covered": [_range(p.wall_start, p.wall_end) for p in pieces],
        "not_recorded": [_range(a, b) for a, b in uncovered(pieces, request.start, request.end)],
        "gaps": [
            {
                **_range(g.start_at, g.end_at),
                "cause": g.cause.value,
                "cause_fr": GAP_CAUSES.get(g.cause.value, g.cause.value),
                "detail": g.detail,
            }
            for g in outcome.gaps
        ],
        "frames": outcome.frames,
        "duration_s": media_seconds(outcome.duration),
        "files": files,
        "segments": segments,
    }


def build_manifest(
    request: ExportRequest,
    settings: BundleSettings,
    outcomes: Sequence[CameraOutcome],
    files: Iterable[OutputFile],
    created_at: datetime,
    key_fingerprint: str,
    journal_entry: Mapping[str, Any] | None,
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "installation": settings.installation,
        "software": {"name": "vms", "version": vms.__version__},
        "signing_key": {"algorithm": "Ed25519", "fingerprint": key_fingerprint},
        "timezone": settings.timezone,
        "export": {
            "id": request.id,
            "created_at": iso_utc(created_at),
            "requested_range": _range(request.start, request.end),
            "motive": request.motive,
            "service": request.service,
            "officer": request.officer,
            "reference": request.reference,
            "requested_by": request.requested_by,
            "approved_by": request.approved_by,
            "overlay": request.overlay,
            "lossless": True,
            "trimming": "gop",
            "gaps": "closed",
        },
        "journal": dict(journal_entry) if journal_entry is not None else None,
        "cameras": [camera_entry(o, request) for o in outcomes],
        "files": [{"path": f.path, "bytes": f.bytes, "sha256": f.sha256} for f in files],
    }


def dump(manifest: Mapping[str, Any]) -> bytes:
    """The exact bytes that are written and signed (values JSON cannot hold, such as a
    ``datetime`` in the caller's journal entry, are written as text)."""
    text = json.dumps(manifest, ensure_ascii=False, indent=2, default=str)
    return (text + "\n").encode("utf-8")


# -- checksums -------------------------------------------------------------------------


def sha256_file(path: Path) -> OutputFile:
    """Size and SHA-256 of a file, read in chunks (``path`` relative name left empty)."""
    with open(path, "rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
        size = f.tell()
    return OutputFile("", size, digest)


def sums_text(files: Iterable[OutputFile]) -> bytes:
    """GNU coreutils format, so that ``sha256sum -c SHA256SUMS`` checks the bundle."""
    lines = [f"{f.sha256}  {f.path}\n" for f in sorted(files, key=lambda f: f.path)]
    return "".join(lines).encode("utf-8")


_SUM_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")


def parse_sums(text: str) -> tuple[dict[str, str], list[str]]:
    """({path: sha256}, unreadable lines)."""
    sums: dict[str, str] = {}
    bad: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        m = _SUM_LINE.match(line)
        if m is None:
            bad.append(line)
        else:
            sums[m.group(2)] = m.group(1)
    return sums, bad
