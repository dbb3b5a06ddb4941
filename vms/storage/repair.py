"""Replica repair: copy segments a replica lacks from one that holds them, verifying
the SHA-256 of the stored bytes, then record the replica in the index."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from vms.domain.ports import BlobStore, SegmentIndex
from vms.errors import VmsError

logger = logging.getLogger(__name__)


@dataclass
class RepairReport:
    copied: int = 0
    failed: int = 0
    skipped_replicas: int = 0

    def text(self) -> str:
        return (
            f"réparation : {self.copied} segment(s) recopié(s), {self.failed} échec(s), "
            f"{self.skipped_replicas} réplique(s) indisponible(s)"
        )


class Repairer:
    def __init__(self, index: SegmentIndex, stores: list[BlobStore]) -> None:
        self.index = index
        self.stores = {s.name: s for s in stores}

    def run_once(self, batch: int = 1000) -> RepairReport:
        report = RepairReport()
        for name, target in self.stores.items():
            if not target.healthy():
                report.skipped_replicas += 1
                continue
            for seg in self.index.segments_missing_replica(name, limit=batch):
                assert seg.id is not None
                data = self._fetch(seg.key, seg.sha256, seg.replicas)
                if data is None:
                    report.failed += 1
                    continue
                try:
                    target.put(seg.key, data)
                except VmsError as err:
                    logger.warning("repair of %s on %s failed: %s", seg.key, name, err)
                    report.failed += 1
                    break  # the target went away; try again next pass
                self.index.set_replicas(seg.id, seg.start_at, sorted({*seg.replicas, name}))
                report.copied += 1
        if report.copied or report.failed:
            logger.info("repair: %s", report.text())
        return report

    def _fetch(self, key: str, sha256: str, holders: tuple[str, ...]) -> bytes | None:
        for name in holders:
            store = self.stores.get(name)
            if store is None:
                continue
            try:
                data = store.get(key)
            except VmsError as err:
                logger.warning("repair: %s unreadable on %s: %s", key, name, err)
                continue
            if hashlib.sha256(data).hexdigest() == sha256:
                return data
            logger.error("repair: %s on %s has a wrong SHA-256; not copied", key, name)
        return None
