"""The committer: moves closed segments from the spool to every replica, then indexes
them, and writes the run/gap ledger and health samples. One thread, one ordered queue.

Order of steps for a segment (the storage invariant, docs/design/recording.md):
1. the segment is closed and fsynced in the spool (by the recorder);
2. it is put on each reachable replica (each put is crash-safe);
3. it is indexed with the list of replicas that hold it;
4. it is removed from the spool.
A crash between 2 and 3 leaves objects that recovery re-puts and indexes; the index
never names a replica that lacks the object. A replica that is down is skipped and
filled in later by the repairer. If the database is down, events wait in memory and
segments wait in the spool: recording goes on.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from ingest.spool import ClosedSegment, remove
from vms.domain.clock import Clock
from vms.domain.model import Gap, GapCause, HealthSample, SegmentRecord
from vms.domain.ports import BlobStore, SegmentIndex
from vms.errors import ErrorKind, VmsError

logger = logging.getLogger(__name__)

Sealer = Callable[[str, bytes], bytes]
"""Encrypts a segment for a tenant (vms.storage.crypto); identity when disabled."""


def new_run_id() -> int:
    """A 63-bit run id chosen without the database: microseconds and 10 random bits."""
    return ((time.time_ns() // 1000) << 10 | random.getrandbits(10)) & (2**63 - 1)


@dataclass(frozen=True, slots=True)
class RunOpened:
    run_id: int
    camera_id: str
    stream: str
    start_at: datetime


@dataclass(frozen=True, slots=True)
class RunClosed:
    run_id: int
    end_at: datetime
    cause: GapCause | None


@dataclass(frozen=True, slots=True)
class _Barrier:
    done: threading.Event = field(default_factory=threading.Event)


Event = RunOpened | RunClosed | ClosedSegment | Gap | HealthSample | _Barrier


class Committer:
    def __init__(
        self,
        index: SegmentIndex,
        stores: list[BlobStore],
        clock: Clock,
        sealer: Sealer | None = None,
        retry_s: float = 1.0,
    ) -> None:
        self.index = index
        self.stores = stores
        self.clock = clock
        self.sealer = sealer
        self.retry_s = retry_s
        self._queue: queue.Queue[Event | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.committed = 0
        self.failures = 0

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="committer", daemon=True)
        self._thread.start()

    def stop(self, drain: bool = True, timeout: float = 30.0) -> None:
        """Stop after handling what is queued (``drain``) or at once."""
        if not drain:
            self._stop.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)

    def put(self, event: Event) -> None:
        self._queue.put(event)

    def pending(self) -> int:
        return self._queue.qsize()

    def join(self) -> None:
        """Wait until every queued event has been handled (tests, benchmarks)."""
        self._queue.join()

    def flush(self, timeout_s: float) -> bool:
        """Wait until what was queued before this call is handled (a camera handed to
        another worker: its last segment and the end of its run are in the index
        first). False if that took longer than ``timeout_s``."""
        barrier = _Barrier()
        self._queue.put(barrier)
        return barrier.done.wait(timeout_s)

    # -- work ----------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            try:
                if event is None:
                    return
                self._handle_with_retry(event)
            finally:
                self._queue.task_done()

    def _handle_with_retry(self, event: Event) -> None:
        delay = self.retry_s
        while not self._stop.is_set():
            try:
                self.handle(event)
                return
            except VmsError as err:
                if isinstance(event, HealthSample):
                    logger.warning("%s: health sample dropped: %s", event.camera_id, err.detail)
                    return
                self.failures += 1
                logger.warning("commit of %s failed (%s), retrying", type(event).__name__, err)
                self._stop.wait(delay)
                delay = min(delay * 2, 30.0)
            except Exception:
                # A bug or a refused row: retrying will not help. The spool keeps the
                # segment file, which start-up recovery commits again.
                self.failures += 1
                logger.exception("commit of %s failed permanently", type(event).__name__)
                return

    def handle(self, event: Event) -> None:
        if isinstance(event, _Barrier):
            event.done.set()
        elif isinstance(event, ClosedSegment):
            self.commit_segment(event)
        elif isinstance(event, RunOpened):
            self.index.open_run(
                event.camera_id,
                event.stream,
                event.start_at,
                run_id=event.run_id,
            )
        elif isinstance(event, RunClosed):
            self.index.close_run(event.run_id, event.end_at, event.cause)
        elif isinstance(event, Gap):
            self.index.add_gap(event)
        else:
            self.index.add_health(event)

    def commit_segment(self, seg: ClosedSegment) -> int:
        meta = seg.meta
        data = seg.path.read_bytes()
        stored = self.sealer(meta.tenant, data) if self.sealer else data
        digest = hashlib.sha256(stored).hexdigest()
        held: list[str] = []
        for store in self.stores:
            try:
                if self.sealer:
                    store.put(meta.key, stored)
                else:  # the spool file itself: a replica on its filesystem links it
                    store.put_file(meta.key, seg.path)
                held.append(store.name)
            except VmsError as err:
                logger.warning(
                    "%s: replica %s missed %s: %s", meta.camera_id, store.name, meta.key, err
                )
        if not held:
            raise VmsError(ErrorKind.UNAVAILABLE, "aucune réplique disponible", meta.key)
        end_at = seg.end_at
        record = SegmentRecord(
            camera_id=meta.camera_id,
            stream=meta.stream,
            start_at=meta.start_at,
            end_at=end_at,
            media_start_90k=meta.media_start_90k,
            duration_90k=seg.duration_90k,
            frames=seg.frames,
            bytes=len(stored),
            sha256=digest,
            key=meta.key,
            run_id=meta.run_id,
            replicas=tuple(held),
            encrypted=self.sealer is not None,
            codec=meta.codec,
            width=meta.width,
            height=meta.height,
        )
        segment_id = self.index.add_segment(record)
        remove(seg)
        self.committed += 1
        return segment_id
