"""Health checks of the cameras (ALR-04, CSD-10, LAW-07): pure decisions on what the
recording tier stored. Each function answers whether a fault is present (True), absent
(False) or cannot be told from the data (None: keep the current state). The alert desk
(``vms.alerts.health``) reads the rows and raises or clears the faults.
See docs/design/alerts.md, « Contrôles de santé ».
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

QUALITY = "qualite_insuffisante"
GAPS = "enregistrement_discontinu"
DRIFT = "derive_horloge"
REPLICA = "replique_incomplete"
DISK = "espace_stockage_faible"
OVERDUE = "controle_en_retard"

LABELS = {
    QUALITY: "Qualité d'image enregistrée sous le minimum réglementaire",
    GAPS: "Enregistrement discontinu",
    DRIFT: "Dérive de l'horloge de la caméra",
    REPLICA: "Segments absents d'une réplique",
    DISK: "Espace de stockage insuffisant",
    OVERDUE: "Contrôle de santé en retard",
}
"""French title of each fault (alert title, ticket description)."""
BACK = {
    QUALITY: "qualité d'image revenue au minimum réglementaire",
    GAPS: "enregistrement de nouveau continu",
    DRIFT: "horloge de la caméra revenue à l'heure",
    REPLICA: "réplique de nouveau complète",
    DISK: "espace de stockage de nouveau suffisant",
    OVERDUE: "contrôles de santé de nouveau à l'heure",
}
"""French reason of the automatic closing, after « Rétabli automatiquement : »."""
CAMERA_FAULTS = (QUALITY, GAPS, DRIFT, REPLICA)
"""Faults of one camera: one alert and one ticket per camera."""
COMMUNE_FAULTS = (DISK, OVERDUE)
"""Installation-wide faults (a replica's disk, the checks themselves): one alert and one
ticket per commune of the supervised cameras (per replica for ``DISK``), without
camera, instead of one per camera (an alert storm on a large installation)."""
SUPERSEDED = "remplacé par un défaut signalé une fois par commune"
"""Closing reason of a per-camera alert of a ``COMMUNE_FAULTS`` fault left open by an
earlier version."""


def by_commune(tenants: Mapping[str, str]) -> dict[str, list[str]]:
    """The cameras of each commune (``tenants``: camera → commune), sorted."""
    out: dict[str, list[str]] = {}
    for camera, tenant in sorted(tenants.items()):
        out.setdefault(tenant, []).append(camera)
    return out


def free_percent(free_bytes: int, total_bytes: int) -> float | None:
    """Free share of a disk in percent (one decimal); None when unknown."""
    if total_bytes <= 0:
        return None
    return round(free_bytes * 100 / total_bytes, 1)


def disk_description(replica: str, free: float, floor: float, cameras: int) -> str:
    """The ticket text of a replica short of space (French)."""
    n = f"{cameras} caméra{'s' if cameras > 1 else ''}"
    return (f"Espace de stockage insuffisant sur la réplique « {replica} » : "
            f"{_fr(free)} % libres, seuil {_fr(floor)} % ; {n} de la commune concernée"
            f"{'s' if cameras > 1 else ''}.")  # fmt: skip


def overdue_description(delay_s: float, cameras: int) -> str:
    """The ticket text of late health checks (French)."""
    n = f"{cameras} caméra{'s' if cameras > 1 else ''}"
    s = "s" if cameras > 1 else ""
    return (f"Contrôles de santé en retard (plus de {_fr(delay_s)} s depuis le précédent) : "
            f"{n} de la commune non contrôlée{s} dans le délai.")  # fmt: skip


def _fr(x: float) -> str:
    return (str(int(x)) if float(x).is_integer() else str(x)).replace(".", ",")


@dataclass(frozen=True, slots=True)
class QualityFloor:
    """Minimum stored quality of the arrêté of 3 August 2007 (LAW-07)."""

    width: int
    height: int
    fps: float


FLOORS = {
    "close_up": QualityFloor(704, 576, 12.0),  # fast-moving people, close up
    "general": QualityFloor(352, 288, 6.0),
}


@dataclass(frozen=True, slots=True)
class Sample:
    """One stream-health window as stored (``health_samples``)."""

    stream: str
    at: datetime
    fps: float
    width: int
    height: int
    clock_drift_ms: int


def meets(sample: Sample, floor: QualityFloor) -> bool:
    return sample.width * sample.height >= floor.width * floor.height and sample.fps >= floor.fps


def quality_fault(samples: Sequence[Sample], floor: QualityFloor) -> bool | None:
    """Below the floor: no stored stream met it during the whole window (one good
    window on any stream is enough: LAW-07 asks that one stored stream meets it).
    None without samples (no stream stored: ``flux_interrompu``'s business)."""
    if not samples:
        return None
    return not any(meets(s, floor) for s in samples)


def drift_fault(samples: Sequence[Sample], max_drift_ms: int) -> bool | None:
    """The camera's clock drifts: the last sample of every stream beyond the limit."""
    last: dict[str, Sample] = {}
    for s in sorted(samples, key=lambda s: s.at):
        last[s.stream] = s
    if not last:
        return None
    return all(abs(s.clock_drift_ms) > max_drift_ms for s in last.values())


def gap_fault(gap_durations_s: Iterable[float], max_gap_s: float) -> bool:
    """Recording not continuous: a gap of the period longer than ``max_gap_s``."""
    return any(d > max_gap_s for d in gap_durations_s)


def replica_fault(missing_segments: int) -> bool:
    """Segments stored past the grace delay are still missing from a replica."""
    return missing_segments > 0


def disk_fault(free_bytes: int, total_bytes: int, min_free_percent: float) -> bool | None:
    """Free space of a replica under the threshold; None when unknown."""
    if total_bytes <= 0:
        return None
    return free_bytes * 100 < min_free_percent * total_bytes


def check_overdue(previous_run: datetime | None, now: datetime, max_delay: timedelta) -> bool:
    """The previous health check ran longer than ``max_delay`` ago (the checks were not
    run in time: desk stopped or stalled); never true before a first run."""
    return previous_run is not None and now - previous_run > max_delay


def availability(
    since: datetime, until: datetime, runs: Iterable[tuple[datetime, datetime | None]]
) -> float:
    """Share (0..1) of ``[since, until)`` covered by recording runs (``end`` None:
    recording still)."""
    total = (until - since).total_seconds()
    if total <= 0:
        return 0.0
    spans = sorted((max(s, since), min(e or until, until)) for s, e in runs)
    covered = 0.0
    cursor = since
    for start, end in spans:
        start = max(start, cursor)
        if end > start:
            covered += (end - start).total_seconds()
            cursor = end
    return min(1.0, covered / total)
