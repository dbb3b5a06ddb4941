"""Burnt-in overlay (EVD-11): a re-encoded copy of an exported MP4 with the camera
name and location, the wall date and time of every frame, and the export's watermark
(number, reference, exporter). It is delivered beside the lossless original, never
instead of it.

Made by the ffmpeg CLI (``drawtext`` needs libfreetype, which the system ffmpeg has
and PyAV's bundled libraries may not). The wall time of a frame is its media time
plus the offset of its piece of the timeline: one ``drawtext`` per piece, enabled
over that piece's media interval, shows ``%{pts:localtime:OFFSET}`` in the display
time zone (TZ of the ffmpeg process) and the milliseconds through an expression.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from vms.errors import ErrorKind, VmsError, unavailable
from vms.evidence.timeline import Piece
from vms.messages import msg

logger = logging.getLogger(__name__)

FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/TTF/DejaVuSans.ttf"),
)
# Nudge added to each piece's offset so that float noise in ``t`` never rounds a frame
# time down across a second or millisecond boundary (10 µs, below display precision).
_NUDGE_US = 10
# Frames of two pieces are at least a frame interval apart; switching half a millisecond
# before a piece's start is exact for any rate below 1000 frames/s.
_SWITCH_S = 0.0005
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class OverlayText:
    title: str
    """Camera name and location."""
    watermark: str
    """Export number, reference and exporting user."""


def _escape(value: str) -> str:
    """Escape an option value for a filter graph (option level, then graph level)."""
    for ch in "\\':":
        value = value.replace(ch, "\\" + ch)
    for ch in "\\'[],;":
        value = value.replace(ch, "\\" + ch)
    return value


@functools.cache
def _has_drawtext(ffmpeg: str) -> bool:
    try:
        done = subprocess.run(
            [ffmpeg, "-hide_banner", "-filters"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return any(line.split()[1:2] == ["drawtext"] for line in done.stdout.splitlines())


def check_available(ffmpeg: str, font_file: Path | None) -> tuple[str, Path]:
    """The ffmpeg program and font to use; raises a French error when either is missing."""
    program = shutil.which(ffmpeg)
    if program is None:
        raise unavailable(msg("export.ffmpeg_missing"), ffmpeg)
    if not _has_drawtext(program):
        raise unavailable(msg("export.drawtext_missing"), program)
    candidates = (font_file,) if font_file is not None else FONT_CANDIDATES
    for font in candidates:
        if font.is_file():
            return program, font
    raise unavailable(msg("export.font_missing", path=candidates[0]))


def _time_text(offset_us: int) -> str:
    """drawtext text: local date and time of ``media time + offset``, to the ms."""
    off = f"{offset_us / 1_000_000:.6f}"
    frac = f"{(offset_us % 1_000_000) / 1_000_000:.6f}"
    return (
        f"%{{pts:localtime:{off}:%d/%m/%Y %H\\:%M\\:%S}}"
        f",%{{eif:mod(floor((t+{frac})*1000)\\,1000):d:3}}"
        f" (UTC%{{pts:localtime:{off}:%z}})"
    )


def _offset_us(piece: Piece) -> int:
    """Epoch µs of the piece's media time 0: wall time = media time + offset."""
    wall_us = (piece.wall_start - _EPOCH) // timedelta(microseconds=1)
    return wall_us - round(piece.media_start * 1_000_000) + _NUDGE_US


def filter_script(
    pieces: Sequence[Piece], text: OverlayText, height: int, font: Path, work: Path
) -> str:
    """The filter graph; writes the text files it refers to into ``work``."""
    size = max(10, round(height / 28))
    common = (
        f"fontfile={_escape(str(font))}:fontsize={size}:fontcolor=white"
        f":box=1:boxcolor=black@0.55:boxborderw={max(2, size // 5)}"
    )
    (work / "titre.txt").write_text(text.title, encoding="utf-8")
    (work / "filigrane.txt").write_text(text.watermark, encoding="utf-8")
    filters = [
        f"drawtext={common}:expansion=none:textfile=titre.txt:x={size // 2}:y={size // 2}",
        f"drawtext={common}:expansion=none:textfile=filigrane.txt:alpha=0.7"
        f":x={size // 2}:y=h-{size // 2}-th",
    ]
    for i, piece in enumerate(pieces):
        name = f"heure-{i}.txt"
        (work / name).write_text(_time_text(_offset_us(piece)), encoding="utf-8")
        start = float(piece.media_start) - _SWITCH_S if i else -1.0
        end = float(pieces[i + 1].media_start) - _SWITCH_S if i + 1 < len(pieces) else 1e12
        filters.append(
            f"drawtext={common}:expansion=normal:textfile={name}:x={size // 2}"
            f":y={size // 2}+{round(size * 1.6)}:enable='gte(t\\,{start:.6f})*lt(t\\,{end:.6f})'"
        )
    return ",\n".join(filters) + "\n"


def burn_in(
    source: Path,
    target: Path,
    pieces: Sequence[Piece],
    text: OverlayText,
    height: int,
    expected_frames: int,
    *,
    ffmpeg: str,
    font: Path,
    timezone: str,
    preset: str,
    crf: int,
    on_frames: Callable[[int], None],
    camera_id: str,
) -> None:
    """Re-encode ``source`` into ``target`` with the overlay, keeping every frame."""
    with tempfile.TemporaryDirectory(prefix="incrustation-", dir=target.parent) as tmp:
        work = Path(tmp)
        (work / "graphe.txt").write_text(
            filter_script(pieces, text, height, font, work), encoding="utf-8"
        )
        cmd = [
            ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
            "-i", str(source.resolve()), "-map", "0:v:0", "-map", "0:a?",
            "-filter_script:v", "graphe.txt",
            "-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p",
            "-vsync", "passthrough", "-c:a", "copy", "-movflags", "+faststart",
            "-progress", "pipe:1", "-nostats", str(target.resolve()),
        ]  # fmt: skip
        env = dict(os.environ, TZ=timezone)
        frames = 0
        with open(work / "ffmpeg.log", "w+", encoding="utf-8", errors="replace") as log:
            with subprocess.Popen(
                cmd, cwd=work, env=env, stdout=subprocess.PIPE, stderr=log, text=True
            ) as proc:
                assert proc.stdout is not None
                for line in proc.stdout:
                    key, _, value = line.strip().partition("=")
                    if key == "frame" and value.isdigit() and int(value) != frames:
                        frames = int(value)
                        on_frames(frames)
            code = proc.returncode
            log.seek(0)
            detail = log.read()[-2000:]
        if code != 0:
            target.unlink(missing_ok=True)
            raise VmsError(
                ErrorKind.INTERNAL, msg("export.overlay_failed", camera_id=camera_id), detail
            )
    if frames != expected_frames:
        target.unlink(missing_ok=True)
        raise VmsError(
            ErrorKind.INTERNAL,
            msg("export.overlay_frames", camera_id=camera_id, got=frames, expected=expected_frames),
        )
    logger.info("%s: overlay of %d frames written to %s", camera_id, frames, target)
