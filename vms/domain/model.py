"""Domain records shared by the tiers. Plain dataclasses, no IO.

Units are in the names: ``*_90k`` is media time in 90 kHz ticks, ``*_at`` is a
timezone-aware UTC ``datetime``, ``bytes`` is a size in bytes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

TICKS_PER_SECOND = 90_000


class GapCause(enum.Enum):
    """Why recording of a stream was interrupted (the run/gap ledger)."""

    CONNECT_REFUSED = "connect_refused"
    TIMEOUT = "timeout"
    STALL = "stall"
    EOF = "eof"
    DECODE_ERROR = "decode_error"
    TIMESTAMP_JUMP = "timestamp_jump"
    CRASH = "crash"
    SHUTDOWN = "shutdown"
    STORAGE_ERROR = "storage_error"
    FAILOVER = "failover"
    """Several workers (cluster): taken over after its worker was lost."""
    HANDOVER = "handover"
    """Several workers (cluster): moved to another worker (one joined, or this one's
    lease could not be renewed)."""


@dataclass(frozen=True, slots=True)
class SegmentRecord:
    """One self-contained fMP4 segment as indexed in the database."""

    camera_id: str
    stream: str
    start_at: datetime
    end_at: datetime
    media_start_90k: int
    duration_90k: int
    frames: int
    bytes: int
    sha256: str
    key: str
    run_id: int
    replicas: tuple[str, ...]
    encrypted: bool = False
    codec: str = "h264"
    width: int = 0
    height: int = 0
    id: int | None = None


@dataclass(frozen=True, slots=True)
class Gap:
    camera_id: str
    stream: str
    start_at: datetime
    end_at: datetime
    cause: GapCause
    detail: str = ""


@dataclass(frozen=True, slots=True)
class LegalHold:
    """A judicial hold ("réquisition") that protects segments from purge."""

    reference: str
    camera_ids: tuple[str, ...]
    start_at: datetime
    end_at: datetime
    expires_at: datetime | None
    procedure: str = "requisition"
    requested_by: str = ""
    id: int | None = None

    def covers(self, camera_id: str, start_at: datetime, end_at: datetime, now: datetime) -> bool:
        if self.expires_at is not None and self.expires_at <= now:
            return False
        return camera_id in self.camera_ids and start_at < self.end_at and end_at > self.start_at


@dataclass(frozen=True, slots=True)
class HealthSample:
    """Stream health over a sampling window (LAW-06, LAW-07)."""

    camera_id: str
    stream: str
    at: datetime
    window_s: float
    bitrate_bps: int
    fps: float
    width: int
    height: int
    gop_frames: int
    clock_drift_ms: int
    frames: int = 0
    extra: dict[str, float] = field(default_factory=dict)
