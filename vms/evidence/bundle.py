"""Build an export bundle ("extrait"): videos, manifest, signature, checksums, offline
player and French read-me, as a directory and a single stored (not deflated) zip.

The bundle is assembled in a hidden temporary directory beside the target and renamed
into place when complete, so a bundle under its final name is always whole; a failed
export leaves nothing behind. Layout and choices: docs/design/evidence.md.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import shutil
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vms.domain.model import Gap, SegmentRecord
from vms.errors import not_found, precondition, unavailable
from vms.evidence.manifest import MANIFEST, VIDEOS, CameraOutcome
from vms.evidence.model import BundleResult, BundleSettings, ExportRequest
from vms.evidence.overlay import OverlayText, burn_in, check_available
from vms.evidence.remux import CameraRemuxer, ReadSegment
from vms.evidence.seal import seal, zip_bundle
from vms.evidence.signing import Signer
from vms.evidence.timeline import gaps_inside, group_pieces, select_segments
from vms.messages import msg

logger = logging.getLogger(__name__)

ProgressFn = Callable[[float], None]


class _Progress:
    """Monotonic progress from 0 to 1, in phases with fixed shares, throttled."""

    def __init__(self, callback: ProgressFn | None) -> None:
        self.callback = callback
        self.reported = -1.0
        self.base = 0.0
        self.share = 0.0

    def phase(self, share: float) -> None:
        self.base += self.share
        self.share = share
        self.set(0.0)

    def set(self, fraction: float) -> None:
        value = min(1.0, self.base + self.share * min(1.0, max(0.0, fraction)))
        due = value >= self.reported + 0.002 or (value == 1.0 and value > self.reported)
        if self.callback is not None and due:
            self.reported = value
            self.callback(value)

    def done(self) -> None:
        self.base, self.share = 1.0, 0.0
        self.set(1.0)


def build_bundle(
    request: ExportRequest,
    segments: Mapping[str, Sequence[SegmentRecord]],
    gaps: Mapping[str, Sequence[Gap]],
    read: ReadSegment,
    out_dir: Path,
    signer: Signer,
    *,
    settings: BundleSettings | None = None,
    progress: ProgressFn | None = None,
    journal_entry: Mapping[str, Any] | None = None,
    created_at: datetime | None = None,
) -> BundleResult:
    """Build ``out_dir/extrait-<id>/`` and ``out_dir/extrait-<id>.zip``.

    ``segments`` and ``gaps`` are per camera id (what the index holds around the range;
    other streams and segments outside the range are ignored). ``read`` returns the
    decrypted bytes of a segment after checking the stored SHA-256 (see
    ``vms.storage.reader.SegmentReader.read``); it is called once per segment, in order.
    ``progress`` receives increasing values from 0 to 1.

    Blocking (minutes for an hour with the overlay): run it in a worker thread or
    process. Raises ``VmsError`` with a French message; a failed export leaves nothing.
    """
    settings = settings or BundleSettings()
    created_at = (created_at or datetime.now(UTC)).astimezone(UTC)
    name = f"extrait-{request.id}"
    final = out_dir / name
    zip_final = out_dir / f"{name}.zip"
    for path in (final, zip_final):
        if path.exists():
            raise precondition(msg("export.exists", path=path))
    tools = check_available(settings.ffmpeg, settings.font_file) if request.overlay else None
    outcomes = [
        CameraOutcome(
            camera=c,
            segments=select_segments(
                segments.get(c.camera_id, ()), request.stream, request.start, request.end
            ),
            gaps=gaps_inside(gaps.get(c.camera_id, ()), request.stream, request.start, request.end),
        )
        for c in request.cameras
    ]
    if not any(o.segments for o in outcomes):
        raise not_found(msg("export.nothing_recorded"))
    report = _Progress(progress)
    report.set(0.0)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / f".{name}.tmp-{uuid.uuid4().hex[:8]}"
    zip_tmp = out_dir / f".{name}.zip.tmp-{uuid.uuid4().hex[:8]}"
    try:
        (tmp / VIDEOS).mkdir(parents=True)
        _videos(request, outcomes, read, tmp, settings, tools, report)
        _, files = seal(tmp, request, settings, outcomes, signer, created_at, journal_entry)
        manifest_bytes = (tmp / MANIFEST).read_bytes()
        manifest = json.loads(manifest_bytes)  # exactly what is signed
        zip_sha = None
        if settings.make_zip:
            report.phase(0.1 if request.overlay else 0.18)
            zip_sha = zip_bundle(tmp, name, created_at, settings.timezone, zip_tmp, report.set)
        tmp.replace(final)
        if settings.make_zip:
            zip_tmp.replace(zip_final)
    except OSError as err:
        _cleanup(tmp, zip_tmp)
        raise unavailable(msg("export.write_failed", detail=_why(err)), str(err)) from err
    except BaseException:
        _cleanup(tmp, zip_tmp)
        raise
    report.done()
    logger.info("export %d written to %s", request.id, final)
    return BundleResult(
        directory=final,
        zip_path=zip_final if settings.make_zip else None,
        files=tuple(files),
        manifest=manifest,
        manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(),
        zip_sha256=zip_sha,
    )


def _why(err: OSError) -> str:
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return msg("export.disk_full")
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return msg("export.no_permission")
    return msg("export.io_error")


def _cleanup(tmp: Path, zip_tmp: Path) -> None:
    shutil.rmtree(tmp, ignore_errors=True)
    zip_tmp.unlink(missing_ok=True)


def _videos(
    request: ExportRequest,
    outcomes: Sequence[CameraOutcome],
    read: ReadSegment,
    root: Path,
    settings: BundleSettings,
    tools: tuple[str, Path] | None,
    report: _Progress,
) -> None:
    total = sum(s.bytes for o in outcomes for s in o.segments) or 1
    report.phase(0.25 if request.overlay else 0.8)
    done = 0

    def on_bytes(n: int) -> None:
        nonlocal done
        done += n
        report.set(done / total)

    for outcome in outcomes:
        if outcome.segments:
            CameraRemuxer(outcome, root / VIDEOS, read, request.start, request.end, on_bytes).run()
            logger.info(
                "%s: %d frames exported from %d segments",
                outcome.camera.camera_id,
                outcome.frames,
                len(outcome.segments),
            )
    if tools is None:
        return
    ffmpeg, font = tools
    report.phase(0.63)
    frames_total = sum(p.frames for o in outcomes for p in o.parts) or 1
    frames_before = 0
    for outcome in outcomes:
        c = outcome.camera
        pieces = group_pieces(outcome.placed)
        text = OverlayText(
            title=f"{c.name} — {c.location}",
            watermark=(
                f"Extrait n° {request.id} — {request.reference} — "
                f"exporté par {request.requested_by}"
            ),
        )
        for index, part in enumerate(outcome.parts):
            source = root / part.path
            overlay_path = part.path.removesuffix(".mp4") + "-incrustation.mp4"
            base = frames_before

            def on_frames(n: int, base: int = base) -> None:
                report.set((base + n) / frames_total)

            burn_in(
                source,
                root / overlay_path,
                [p for p in pieces if p.part == index],
                text,
                part.height,
                part.frames,
                ffmpeg=ffmpeg,
                font=font,
                timezone=settings.timezone,
                preset=settings.x264_preset,
                crf=settings.x264_crf,
                on_frames=on_frames,
                camera_id=c.camera_id,
            )
            part.overlay_path = overlay_path
            frames_before += part.frames
