"""``vms check``: verifies the storage invariants of docs/design/recording.md and
reports every difference. Reads only."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from vms.domain.ports import BlobStore, SegmentIndex
from vms.errors import VmsError


@dataclass
class CheckReport:
    segments: int = 0
    missing: list[str] = field(default_factory=list)
    """"replica:key" listed in the index but absent."""
    corrupt: list[str] = field(default_factory=list)
    """"replica:key" with a wrong size or SHA-256."""
    under_replicated: list[str] = field(default_factory=list)
    """keys not on every configured replica (to repair)."""
    orphans: list[str] = field(default_factory=list)
    """"replica:key" present but not indexed."""
    overdue: list[str] = field(default_factory=list)
    """keys past retention and not under a legal hold."""
    unreachable: list[str] = field(default_factory=list)
    spool_pending: int = 0

    @property
    def ok(self) -> bool:
        return not (self.missing or self.corrupt or self.orphans or self.overdue
                    or self.unreachable)  # fmt: skip

    def text(self) -> str:
        lines = [
            f"segments indexés : {self.segments}",
            f"absents : {len(self.missing)}",
            f"altérés : {len(self.corrupt)}",
            f"à réparer (réplique manquante) : {len(self.under_replicated)}",
            f"orphelins : {len(self.orphans)}",
            f"conservation dépassée : {len(self.overdue)}",
            f"répliques injoignables : {len(self.unreachable)}",
            f"en attente dans le tampon : {self.spool_pending}",
        ]
        for label, items in (("ABSENT", self.missing), ("ALTÉRÉ", self.corrupt),
                             ("ORPHELIN", self.orphans), ("DÉPASSÉ", self.overdue),
                             ("INJOIGNABLE", self.unreachable)):  # fmt: skip
            lines += [f"  {label} {item}" for item in items[:50]]
        lines.append("état : " + ("conforme" if self.ok else "NON CONFORME"))
        return "\n".join(lines)


def check(
    index: SegmentIndex,
    stores: list[BlobStore],
    now: datetime,
    spool_dir: Path | None = None,
    verify_hash: bool = True,
) -> CheckReport:
    report = CheckReport()
    by_name = {s.name: s for s in stores}
    reachable = {n for n, s in by_name.items() if s.healthy()}
    report.unreachable = sorted(set(by_name) - reachable)
    retention = {c.id: c.retention_days for c in index.cameras()}
    holds = index.holds(now) + index.protections(now)  # open alerts keep their clips too
    indexed: set[str] = index.snapshot_keys()  # analytics event snapshots
    for seg in index.segments():
        report.segments += 1
        indexed.add(seg.key)
        if set(by_name) - set(seg.replicas):
            report.under_replicated.append(seg.key)
        for name in seg.replicas:
            if name not in reachable:
                continue
            store = by_name[name]
            try:
                info = store.stat(seg.key)
                if info is None:
                    report.missing.append(f"{name}:{seg.key}")
                    continue
                if info.bytes != seg.bytes:
                    report.corrupt.append(f"{name}:{seg.key}")
                    continue
                if verify_hash and hashlib.sha256(store.get(seg.key)).hexdigest() != seg.sha256:
                    report.corrupt.append(f"{name}:{seg.key}")
            except VmsError:
                report.missing.append(f"{name}:{seg.key}")
        days = retention.get(seg.camera_id)
        if (
            days is not None
            and seg.end_at + timedelta(days=days) <= now
            and not any(h.covers(seg.camera_id, seg.start_at, seg.end_at, now) for h in holds)
        ):
            report.overdue.append(seg.key)
    for name in sorted(reachable):
        try:
            for blob in by_name[name].list():
                if blob.key not in indexed:
                    report.orphans.append(f"{name}:{blob.key}")
        except VmsError:
            report.unreachable.append(name)
    if spool_dir is not None and spool_dir.exists():
        report.spool_pending = sum(1 for _ in spool_dir.glob("*/*/*.json"))
    return report
