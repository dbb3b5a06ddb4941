"""Time arithmetic of an export. Pure: records in, facts out.

An exported MP4 holds the recorded media of one camera contiguously: gaps between
recordings are closed, so the file's duration is the sum of what was recorded. The
*timeline* maps the file's media time back to wall time: one entry per source segment
(exact), grouped into *pieces* (stretches recorded without interruption) for people.
See docs/design/evidence.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

from vms.domain.model import Gap, SegmentRecord

# Two segments of one run are contiguous when the second starts where the first ends,
# give or take rounding to the microsecond of the stored wall times.
CONTIGUOUS = timedelta(milliseconds=2)


@dataclass(frozen=True, slots=True)
class PlacedSegment:
    """Where the kept frames of one source segment landed in an output file."""

    segment: SegmentRecord
    part: int
    """Index of the output file of the camera (0 unless the stream's parameters changed)."""
    frames: int
    """Frames kept (all the segment's frames unless trimmed to the requested range)."""
    media_start: Fraction
    """Output media time (s) of the first kept frame."""
    media_end: Fraction
    """Output media time (s) just after the last kept frame."""
    wall_start: datetime
    """Wall time of the first kept frame."""
    head_dropped: int = 0
    """Frames before the last keyframe at or before the requested start (not exported)."""
    tail_dropped: int = 0
    """Frames at or after the requested end (not exported)."""

    @property
    def wall_end(self) -> datetime:
        return self.wall_start + seconds(self.media_end - self.media_start)


@dataclass(frozen=True, slots=True)
class Piece:
    """A stretch of one output file recorded without interruption."""

    part: int
    media_start: Fraction
    media_end: Fraction
    wall_start: datetime
    wall_end: datetime
    frames: int
    segments: int


def seconds(value: Fraction | float) -> timedelta:
    """A timedelta rounded to the microsecond."""
    return timedelta(microseconds=round(Fraction(value) * 1_000_000))


def select_segments(
    segments: Iterable[SegmentRecord], stream: str, start: datetime, end: datetime
) -> list[SegmentRecord]:
    """The segments of ``stream`` that overlap ``[start, end)``, in time order, each once."""
    seen: set[str] = set()
    out: list[SegmentRecord] = []
    for s in sorted(segments, key=lambda s: (s.start_at, s.key)):
        if s.stream != stream or s.end_at <= start or s.start_at >= end or s.key in seen:
            continue
        seen.add(s.key)
        out.append(s)
    return out


def gaps_inside(gaps: Iterable[Gap], stream: str, start: datetime, end: datetime) -> list[Gap]:
    """Ledger gaps of ``stream`` that overlap ``[start, end)``, in time order."""
    return sorted(
        (g for g in gaps if g.stream == stream and g.end_at > start and g.start_at < end),
        key=lambda g: g.start_at,
    )


def group_pieces(placed: Sequence[PlacedSegment]) -> list[Piece]:
    """Group placed segments into pieces: same file, same run, contiguous wall time."""
    pieces: list[Piece] = []
    prev: PlacedSegment | None = None
    for p in placed:
        joined = (
            prev is not None
            and pieces
            and p.part == prev.part
            and p.segment.run_id == prev.segment.run_id
            and p.media_start == prev.media_end
            and abs(p.wall_start - prev.wall_end) <= CONTIGUOUS
        )
        if joined:
            last = pieces[-1]
            pieces[-1] = Piece(
                last.part, last.media_start, p.media_end, last.wall_start, p.wall_end,
                last.frames + p.frames, last.segments + 1,
            )  # fmt: skip
        else:
            pieces.append(
                Piece(p.part, p.media_start, p.media_end, p.wall_start, p.wall_end, p.frames, 1)
            )
        prev = p
    return pieces


def uncovered(
    pieces: Iterable[Piece], start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The parts of ``[start, end)`` that no piece covers, in time order."""
    spans = sorted((p.wall_start, p.wall_end) for p in pieces)
    holes: list[tuple[datetime, datetime]] = []
    cursor = start
    for a, b in spans:
        if a > cursor and cursor < end:
            holes.append((cursor, min(a, end)))
        cursor = max(cursor, b)
    if cursor < end:
        holes.append((cursor, end))
    return holes


def covered_range(pieces: Sequence[Piece]) -> tuple[datetime, datetime] | None:
    """From the first exported frame to the end of the last one."""
    if not pieces:
        return None
    return min(p.wall_start for p in pieces), max(p.wall_end for p in pieces)


def media_to_wall(placed: Sequence[PlacedSegment], part: int, media_s: Fraction) -> datetime | None:
    """Wall time of a media time of output file ``part``, or None outside its media."""
    for p in placed:
        if p.part == part and p.media_start <= media_s < p.media_end:
            return p.wall_start + seconds(media_s - p.media_start)
    return None


def wall_to_media(
    placed: Sequence[PlacedSegment], wall: datetime
) -> tuple[int, Fraction, bool] | None:
    """(part, media time, exact) of a wall time: exact when recorded; otherwise the
    start of the next recorded frame after it (exact False); None after the end."""
    best: PlacedSegment | None = None
    for p in placed:
        if p.wall_start <= wall < p.wall_end:
            offset = Fraction((wall - p.wall_start) // timedelta(microseconds=1), 1_000_000)
            return p.part, p.media_start + offset, True
        if p.wall_start > wall and (best is None or p.wall_start < best.wall_start):
            best = p
    if best is None:
        return None
    return best.part, best.media_start, False


# -- formatting --------------------------------------------------------------------------


def iso_utc(value: datetime) -> str:
    """``2026-11-22T09:00:00.040000Z``: the manifest's one format for wall time."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def local_text(value: datetime, zone: str) -> str:
    """``22/11/2026 10:00:00,040 (UTC+01:00)``: how a date is shown to French readers."""
    local = value.astimezone(ZoneInfo(zone))
    offset = local.strftime("%z")
    return (
        local.strftime("%d/%m/%Y %H:%M:%S")
        + f",{local.microsecond // 1000:03d} (UTC{offset[:3]}:{offset[3:]})"
    )


def media_seconds(value: Fraction) -> float:
    """Media time as the manifest writes it: seconds, rounded to the microsecond."""
    return round(float(value), 6)
