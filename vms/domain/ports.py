"""Ports: the small protocols the core talks to. Adapters live in vms.db and vms.storage;
in-memory fakes live in tests/fakes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from vms.domain.model import Gap, GapCause, HealthSample, LegalHold, SegmentRecord


@dataclass(frozen=True, slots=True)
class BlobInfo:
    key: str
    bytes: int


class BlobStore(Protocol):
    """A replica of the segment store. Writes are crash-safe: after ``put`` returns,
    the whole object is durable under ``key``; a crash never leaves a partial object
    under the final key."""

    name: str

    def put(self, key: str, data: bytes) -> None: ...

    def put_file(self, key: str, path: Path) -> None: ...

    def get(self, key: str) -> bytes: ...

    def stat(self, key: str) -> BlobInfo | None: ...

    def delete(self, key: str) -> None:
        """Idempotent: deleting a missing key is not an error."""
        ...

    def list(self, prefix: str = "") -> Iterator[BlobInfo]: ...

    def healthy(self) -> bool:
        """Cheap reachability probe; never raises."""
        ...


@dataclass(frozen=True, slots=True)
class CameraRow:
    id: str
    tenant: str
    name: str
    retention_days: int
    location: str = ""


@dataclass(frozen=True, slots=True)
class PurgeCandidate:
    id: int
    camera_id: str
    start_at: datetime
    end_at: datetime
    key: str
    replicas: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ExpiredEvent:
    """An analytics event past its camera's retention, its alert closed."""

    id: int
    at: datetime
    camera_id: str
    snapshot_key: str | None


class SegmentIndex(Protocol):
    """The segment index, run/gap ledger, health samples and legal holds."""

    def upsert_camera(self, camera: CameraRow) -> None: ...

    def cameras(self) -> list[CameraRow]: ...

    def open_run(self, camera_id: str, stream: str, start_at: datetime, run_id: int) -> None:
        """Record the start of a run. ``run_id`` is chosen by the ingest worker (see
        ``ingest.committer.new_run_id``) so recording never waits for the database;
        opening the same run twice is a no-op."""
        ...

    def close_run(self, run_id: int, end_at: datetime, cause: GapCause | None) -> None: ...

    def add_segment(self, segment: SegmentRecord) -> int:
        """Index a segment; adding the same (camera, stream, key) twice returns the
        existing id (the committer retries after a crash)."""
        ...

    def last_run_end(self, camera_id: str, stream: str) -> tuple[datetime, GapCause | None] | None:
        """End and end cause of the latest closed run of a stream, or None."""
        ...

    def close_dangling_runs(self, cause: GapCause, camera_id: str | None = None) -> int:
        """Close runs left open by a crash at the end of their last indexed segment
        (or at their start when they have none). Returns how many were closed."""
        ...

    def extend_closed_run(self, run_id: int, end_at: datetime) -> bool:
        """A segment of a run another worker already closed (``failover``) was committed
        late, from the spool of the worker that died: the run now ends at ``end_at``
        and the gap that followed it starts there. False when nothing changed."""
        ...

    def set_replicas(
        self, segment_id: int, start_at: datetime, replicas: Sequence[str]
    ) -> None: ...

    def add_gap(self, gap: Gap) -> None: ...

    def add_health(self, sample: HealthSample) -> None: ...

    def segments(
        self,
        camera_id: str | None = None,
        start_at: datetime | None = None,
        end_at: datetime | None = None,
    ) -> list[SegmentRecord]: ...

    def gaps(self, camera_id: str, stream: str | None = None) -> list[Gap]: ...

    def segments_missing_replica(self, replica: str, limit: int = 1000) -> list[SegmentRecord]: ...

    def purge_candidates(self, now: datetime, limit: int = 10_000) -> list[PurgeCandidate]:
        """Segments older than their camera's retention, holds not yet applied."""
        ...

    def delete_segments(self, ids: Sequence[int], now: datetime, reason: str) -> int:
        """Delete index rows and write one destruction-register line per segment."""
        ...

    def add_hold(self, hold: LegalHold) -> int: ...

    def holds(self, now: datetime) -> list[LegalHold]: ...

    def protections(self, now: datetime) -> list[LegalHold]:
        """Clip ranges of events whose alert is open, kept from the purge as holds are."""
        ...

    def expired_events(self, now: datetime, limit: int = 10_000) -> list[ExpiredEvent]: ...

    def delete_events(self, events: Sequence[ExpiredEvent]) -> int: ...

    def snapshot_keys(self) -> set[str]: ...

    def drop_expired_partitions(self, older_than: datetime) -> list[str]:
        """Drop whole daily partitions (or TimescaleDB chunks) that hold no segment."""
        ...
