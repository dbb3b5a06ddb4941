"""Legal holds mirrored onto S3 Object Lock (LAW-01): the index already keeps held
segments out of the purge on every replica; on S3 replicas created with Object Lock
(``object_lock = true``), each held segment also gets an object legal hold, so the
server itself refuses to delete it. Holds are put here; a released hold's object
holds are lifted by the purge when the segment's retention is over (see
``S3BlobStore.delete``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from vms.domain.clock import Clock
from vms.domain.ports import BlobStore, SegmentIndex
from vms.errors import VmsError

logger = logging.getLogger(__name__)


class HoldKeeper:
    def __init__(self, index: SegmentIndex, stores: Sequence[BlobStore], clock: Clock) -> None:
        self.index = index
        self.locking = [s for s in stores if getattr(s, "object_lock", False)]
        self.clock = clock
        self.applied: dict[str, set[str]] = {s.name: set() for s in self.locking}

    def run_once(self) -> int:
        """Put the object legal hold on held segments not yet marked; returns how many."""
        if not self.locking:
            return 0
        now = self.clock.now()
        wanted: set[str] = set()
        for hold in self.index.holds(now):
            for camera in hold.camera_ids:
                wanted.update(
                    s.key for s in self.index.segments(camera, hold.start_at, hold.end_at)
                )
        put = 0
        for store in self.locking:
            done = self.applied[store.name]
            done &= wanted  # released: forgotten here, lifted by the purge
            for key in sorted(wanted - done):
                try:
                    if store.set_legal_hold(key, True):  # type: ignore[attr-defined]
                        put += 1
                    done.add(key)
                except VmsError as err:
                    logger.warning("legal hold of %s on %s deferred: %s", key, store.name, err)
        if put:
            logger.info("object legal hold put on %d segment(s)", put)
        return put
