"""Retention purge (LAW-01, EVD-08): destroy expired recordings on every replica, then
in the index (which writes the destruction register), then drop empty partitions.
Analytics events follow their camera's video retention: their snapshot objects go from
every replica, then their rows. An open alert protects its event and the clip around
it (``event_protections``) as a legal hold protects its segments.

A segment is removed from the index only once every replica has deleted it (or never
had it); a replica that is down keeps the segment for the next pass, so nothing
outlives its retention silently: ``vms check`` reports it as overdue."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from vms.domain.clock import Clock
from vms.domain.ports import BlobStore, ExpiredEvent, SegmentIndex
from vms.domain.retention import LEGAL_MAX_RETENTION_DAYS
from vms.errors import VmsError

logger = logging.getLogger(__name__)


@dataclass
class PurgeReport:
    destroyed: int = 0
    deferred: int = 0
    bytes_freed: int = 0
    partitions_dropped: list[str] = field(default_factory=list)
    events_destroyed: int = 0
    events_deferred: int = 0

    def text(self) -> str:
        return (
            f"destruction : {self.destroyed} segment(s) détruit(s), {self.deferred} différé(s) "
            f"(réplique indisponible), {self.events_destroyed} événement(s) d'analyse "
            f"détruit(s), {self.events_deferred} différé(s), "
            f"{len(self.partitions_dropped)} partition(s) supprimée(s)"
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
        self._purge_events(now, batch, report)
        # Partitions older than the legal ceiling (plus one day) can only hold rows kept
        # by a legal hold; empty ones go whole.
        cutoff = now - timedelta(days=LEGAL_MAX_RETENTION_DAYS + 1)
        report.partitions_dropped = self.index.drop_expired_partitions(cutoff)
        if report.destroyed or report.deferred or report.events_destroyed:
            logger.info("purge: %s", report.text())
        return report

    def _purge_events(self, now: datetime, batch: int, report: PurgeReport) -> None:
        done: list[ExpiredEvent] = []
        for event in self.index.expired_events(now, limit=batch):
            ok, key = True, event.snapshot_key
            for store in self.stores.values():
                if key is None:
                    break
                try:
                    store.delete(key)
                except VmsError as err:
                    ok = False
                    logger.warning(
                        "%s: purge of snapshot %s deferred on %s: %s",
                        event.camera_id, key, store.name, err,
                    )  # fmt: skip
            if ok:
                done.append(event)
            else:
                report.events_deferred += 1
        report.events_destroyed = self.index.delete_events(done)
