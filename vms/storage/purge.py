"""Retention purge (LAW-01, EVD-08): destroy expired recordings on every replica, then
in the index (which writes the destruction register), then drop empty partitions.

A segment is removed from the index only once every replica has deleted it (or never
had it); a replica that is down keeps the segment for the next pass, so nothing
outlives its retention silently: ``vms check`` reports it as overdue."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from vms.domain.clock import Clock
from vms.domain.ports import BlobStore, SegmentIndex
from vms.domain.retention import LEGAL_MAX_RETENTION_DAYS
from vms.errors import VmsError

logger = logging.getLogger(__name__)


@dataclass
class PurgeReport:
    destroyed: int = 0
    deferred: int = 0
    bytes_freed: int = 0
    partitions_dropped: list[str] = field(default_factory=list)

    def text(self) -> str:
        return (
            f"destruction : {self.destroyed} segment(s) détruit(s), {self.deferred} différé(s) "
            f"(réplique indisponible), {len(self.partitions_dropped)} partition(s) supprimée(s)"
        )


class Purger:
    def __init__(self, index: SegmentIndex, stores: list[BlobStore], clock: Clock) -> None:
        self.index = index
        self.stores = {s.name: s for s in stores}
        self.clock = clock

    def run_once(self, batch: int = 5000) -> PurgeReport:
        now = self.clock.now()
        report = PurgeReport()
        candidates = self.index.purge_candidates(now, limit=batch)
        done: list[int] = []
        for c in candidates:
            ok = True
            for store in self.stores.values():
                try:
                    store.delete(c.key)
                except VmsError as err:
                    ok = False
                    logger.warning(
                        "%s: purge of %s deferred on %s: %s", c.camera_id, c.key, store.name, err
                    )
            if ok:
                done.append(c.id)
            else:
                report.deferred += 1
        report.destroyed = self.index.delete_segments(done, now, "retention")
        for c in candidates:
            if c.id in done:
                logger.info(
                    "%s: destroyed %s (%s → %s)",
                    c.camera_id,
                    c.key,
                    c.start_at.isoformat(),
                    c.end_at.isoformat(),
                )
        # Partitions older than the legal ceiling (plus one day) can only hold rows kept
        # by a legal hold; empty ones go whole.
        cutoff = now - timedelta(days=LEGAL_MAX_RETENTION_DAYS + 1)
        report.partitions_dropped = self.index.drop_expired_partitions(cutoff)
        if report.destroyed or report.deferred:
            logger.info("purge: %s", report.text())
        return report
