"""What an export ("extrait") is asked for and what it produced. Plain dataclasses.

Wall times are timezone-aware ``datetime`` (stored and compared in UTC); media times
of an output file are seconds from its first frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from vms.errors import invalid
from vms.messages import msg


@dataclass(frozen=True, slots=True)
class ExportCamera:
    """A camera as the export shows it: its metadata at the time of the export."""

    camera_id: str
    name: str
    location: str
    tenant: str
    """The commune (tenant id or display name) the camera belongs to."""


@dataclass(frozen=True, slots=True)
class ExportRequest:
    """A validated export request (EVD-05, EVD-09, LAW-05).

    ``requested_by`` is the user who runs the export (the "exporter" of the journal);
    ``officer`` and ``service`` are the recipients the footage is handed to.
    """

    id: int
    cameras: tuple[ExportCamera, ...]
    start: datetime
    end: datetime
    motive: str
    service: str
    officer: str
    reference: str
    requested_by: str
    approved_by: str | None = None
    overlay: bool = False
    stream: str = "main"

    def __post_init__(self) -> None:
        object.__setattr__(self, "cameras", tuple(self.cameras))  # a list is accepted
        if self.id < 0:
            raise invalid(msg("request.id_invalid", id=self.id))
        if not self.cameras:
            raise invalid(msg("request.no_camera"))
        seen: set[str] = set()
        for camera in self.cameras:
            if camera.camera_id in seen:
                raise invalid(msg("request.duplicate_camera", camera_id=camera.camera_id))
            seen.add(camera.camera_id)
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise invalid(msg("request.naive_time"))
        if self.end <= self.start:
            raise invalid(msg("request.range_invalid"))
        for name, label in (
            ("motive", "le motif"),
            ("service", "le service destinataire"),
            ("officer", "l'officier ou l'agent destinataire"),
            ("reference", "la référence de la procédure ou de la réquisition"),
            ("requested_by", "l'auteur de l'extraction"),
        ):
            if not str(getattr(self, name)).strip():
                raise invalid(msg("request.field_missing", field=label))


def request_audit_detail(
    cameras: list[str], start: datetime, end: datetime, motive: str, service: str,
    officer: str, reference: str, overlay: bool, four_eyes: bool,
) -> dict[str, Any]:  # fmt: skip
    """What the audit log keeps of an export request, wherever it was made."""
    return {
        "cameras": cameras, "debut": start.isoformat(), "fin": end.isoformat(),
        "motif": motive, "service": service, "officier": officer, "reference": reference,
        "incrustation": overlay, "double_validation": four_eyes,
    }  # fmt: skip


@dataclass(frozen=True, slots=True)
class BundleSettings:
    """How bundles are made on this installation (not per request)."""

    installation: str = "vms"
    """Name of the installation shown in the manifest (e.g. the CSU of a commune)."""
    timezone: str = "Europe/Paris"
    """Zone in which dates are shown to people (LISEZMOI, player, overlay)."""
    make_zip: bool = True
    ffmpeg: str = "ffmpeg"
    """The ffmpeg program for the burnt-in overlay (re-encoding)."""
    font_file: Path | None = None
    """TrueType font of the overlay; None: DejaVu Sans where Debian/Ubuntu put it."""
    x264_preset: str = "veryfast"
    x264_crf: int = 18


@dataclass(frozen=True, slots=True)
class OutputFile:
    """A file of the bundle, path relative to the bundle root (forward slashes)."""

    path: str
    bytes: int
    sha256: str


@dataclass(frozen=True, slots=True)
class BundleResult:
    directory: Path
    zip_path: Path | None
    files: tuple[OutputFile, ...]
    """Every file of the directory, SHA256SUMS included."""
    manifest: dict[str, Any]
    manifest_sha256: str
    zip_sha256: str | None = None

    def journal_summary(self) -> dict[str, Any]:
        """What the export journal records (LAW-05): image range and duration, cameras,
        export time, exporter, and the fingerprints that identify what was handed over."""
        export = self.manifest["export"]
        cameras = self.manifest["cameras"]
        return {
            "export_id": export["id"],
            "created_at": export["created_at"],
            "exporter": export["requested_by"],
            "camera_ids": [c["id"] for c in cameras],
            "requested_range": export["requested_range"],
            "covered": {c["id"]: c["covered_range"] for c in cameras},
            "duration_s": {c["id"]: c["duration_s"] for c in cameras},
            "manifest_sha256": self.manifest_sha256,
            "zip_sha256": self.zip_sha256,
        }


@dataclass(slots=True)
class VerifyReport:
    """Outcome of ``verify_bundle``: ``problems`` and ``notes`` are French sentences."""

    ok: bool = False
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files_checked: int = 0
    key_fingerprint: str | None = None
    key_from_bundle: bool = False
    manifest: dict[str, Any] | None = None
