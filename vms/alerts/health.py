"""The periodic health checks of the supervised cameras (ALR-04, CSD-10, LAW-07), run
by the alert desk's thread every ``interval_s``:

- stored quality under the camera's LAW-07 floor (``health_samples``) →
  ``qualite_insuffisante``;
- recording not continuous: a gap of the last ``gap_period_s`` longer than
  ``max_gap_s`` (the gap ledger) → ``enregistrement_discontinu``;
- clock drift above ``max_drift_ms`` → ``derive_horloge``;
- a segment stored for longer than ``replica_grace_s`` and still missing from a
  configured replica → ``replique_incomplete``;
- free space of a local replica under ``min_free_percent`` → ``espace_stockage_faible``
  on every supervised camera (each commune sees its recordings at risk); S3 replicas
  are skipped (no quota is readable through the S3 API);
- the previous run of these checks older than ``overdue_s`` (the desk stopped or
  stalled; the time of the last run is kept in ``settings``) → ``controle_en_retard``.

Each fault goes the way of ``flux_interrompu``: one technical alert and one ticket per
camera and fault (``AlertStore.raise_fault``), closed and resolved by the system when
the fault clears. The decisions are pure (``vms.domain.health``); this module reads
the rows and applies them. See docs/design/alerts.md, « Contrôles de santé ».
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from psycopg_pool import ConnectionPool

from vms.alerts.store import AlertStore, Fault, dedup_key
from vms.domain import health as rules
from vms.domain.health import FLOORS, QualityFloor, Sample

log = logging.getLogger(__name__)

LAST_RUN_KEY = "alerts.health_checked_at"
"""``settings`` row holding the time of the last run of the health checks."""


@dataclass(frozen=True, slots=True)
class HealthSettings:
    interval_s: float = 60.0
    quality_window_s: float = 300.0
    max_gap_s: float = 30.0
    gap_period_s: float = 3600.0
    max_drift_ms: int = 1000
    replica_grace_s: float = 300.0
    replica_period_s: float = 3600.0
    min_free_percent: float = 10.0
    overdue_s: float = 300.0


@dataclass(frozen=True, slots=True)
class Replica:
    """A configured replica as the checks see it: ``path`` for a local one, None for
    S3 (free space not checked)."""

    name: str
    path: Path | None = None


@dataclass(slots=True)
class HealthChecker:
    pool: ConnectionPool
    store: AlertStore
    cameras: Sequence[str]
    floors: Mapping[str, QualityFloor] = field(default_factory=dict)
    """Per camera; a camera without one: the general floor."""
    replicas: Sequence[Replica] = ()
    settings: HealthSettings = field(default_factory=HealthSettings)
    runs: int = field(default=0, init=False)
    """Runs so far (tests wait on them, not on time)."""
    _s3_logged: bool = field(default=False, init=False)

    def run(self, now: datetime) -> dict[str, set[str]]:
        """One pass of every check; returns the faults present per camera."""
        self.runs += 1
        present: dict[str, set[str]] = {c: set() for c in self.cameras}
        if not self.cameras:
            self._mark_run(now)
            return present
        s = self.settings
        late = rules.check_overdue(self._last_run(), now, timedelta(seconds=s.overdue_s))
        self._mark_run(now)
        samples = self._samples(now - timedelta(seconds=s.quality_window_s))
        gaps = self._gaps(now - timedelta(seconds=s.gap_period_s))
        missing = self._missing(now)
        full = self._full_replicas()
        decisions: dict[str, dict[str, tuple[bool | None, dict[str, object]]]] = {}
        for cam in self.cameras:
            floor = self.floors.get(cam, FLOORS["general"])
            mine = samples.get(cam, [])
            worst = max(gaps.get(cam, []), default=0.0)
            decisions[cam] = {
                rules.QUALITY: (
                    rules.quality_fault(mine, floor),
                    {
                        "min_largeur": floor.width,
                        "min_hauteur": floor.height,
                        "min_ips": floor.fps,
                        "mesures": _last(mine),
                    },
                ),
                rules.GAPS: (
                    rules.gap_fault(gaps.get(cam, []), s.max_gap_s),
                    {"plus_longue_s": round(worst, 1), "seuil_s": s.max_gap_s},
                ),
                rules.DRIFT: (
                    rules.drift_fault(mine, s.max_drift_ms),
                    {
                        "derive_ms": max((abs(x.clock_drift_ms) for x in mine), default=0),
                        "seuil_ms": s.max_drift_ms,
                    },
                ),
                rules.REPLICA: (
                    rules.replica_fault(sum(missing.get(cam, {}).values())),
                    {"manquants": missing.get(cam, {}), "delai_s": s.replica_grace_s},
                ),
                rules.DISK: (bool(full) if full is not None else None, {"repliques": full or {}}),
                rules.OVERDUE: (late, {"delai_s": s.overdue_s}),
            }
        keys = [dedup_key(c, f) for c in self.cameras for f in rules.LABELS]
        open_now = self.store.open_faults(keys)
        for cam, faults in decisions.items():
            for fault, (state, detail) in faults.items():
                key = dedup_key(cam, fault)
                if state is True:
                    present[cam].add(fault)
                    if key not in open_now:
                        self.store.raise_fault(
                            Fault(cam, fault, rules.LABELS[fault], now, detail), now
                        )
                elif state is False and key in open_now:
                    self.store.clear_fault(cam, fault, rules.BACK[fault], now)
                elif state is None and key in open_now:
                    present[cam].add(fault)
        return present

    # -- reads ---------------------------------------------------------------------

    def _last_run(self) -> datetime | None:
        with self.pool.connection() as conn:
            row = conn.execute("SELECT value FROM settings WHERE key = %s", (LAST_RUN_KEY,))
            found = row.fetchone()
        return None if found is None else datetime.fromisoformat(found[0])

    def _mark_run(self, now: datetime) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                "INSERT INTO settings (key, value) VALUES (%s, %s) ON CONFLICT (key) "
                "DO UPDATE SET value = excluded.value",
                (LAST_RUN_KEY, now.isoformat()),
            )

    def _samples(self, since: datetime) -> dict[str, list[Sample]]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT camera_id, stream, at, fps, width, height, clock_drift_ms "
                "FROM health_samples WHERE camera_id = ANY (%s) AND at >= %s ORDER BY at",
                (list(self.cameras), since),
            ).fetchall()
        out: dict[str, list[Sample]] = {}
        for cam, stream, at, fps, width, height, drift in rows:
            out.setdefault(cam, []).append(Sample(stream, at, float(fps), width, height, drift))
        return out

    def _gaps(self, since: datetime) -> dict[str, list[float]]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT camera_id, extract(epoch FROM end_at - start_at)::float8 FROM gaps "
                "WHERE camera_id = ANY (%s) AND end_at >= %s",
                (list(self.cameras), since),
            ).fetchall()
        out: dict[str, list[float]] = {}
        for cam, seconds in rows:
            out.setdefault(cam, []).append(float(seconds))
        return out

    def _missing(self, now: datetime) -> dict[str, dict[str, int]]:
        """Segments of the replica period, stored before the grace delay, missing from
        a configured replica: ``{camera: {replica: count}}``."""
        names = [r.name for r in self.replicas]
        if not names:
            return {}
        s = self.settings
        since = now - timedelta(seconds=s.replica_period_s)
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT s.camera_id, r.name, count(*) FROM segments s "
                "CROSS JOIN unnest(%s::text[]) AS r(name) WHERE s.camera_id = ANY (%s) "
                "AND s.start_at >= %s AND s.end_at <= %s AND NOT (r.name = ANY (s.replicas)) "
                "GROUP BY 1, 2",
                (names, list(self.cameras), since, now - timedelta(seconds=s.replica_grace_s)),
            ).fetchall()
        out: dict[str, dict[str, int]] = {}
        for cam, replica, count in rows:
            out.setdefault(cam, {})[replica] = int(count)
        return out

    def _full_replicas(self) -> dict[str, float] | None:
        """Local replicas under the free-space threshold (name → free percent); None
        when none could be measured."""
        full: dict[str, float] = {}
        measured = False
        for r in self.replicas:
            if r.path is None:
                if not self._s3_logged:
                    self._s3_logged = True
                    log.info("health: free space of S3 replica %s not checked (no quota "
                             "readable through S3)", r.name)  # fmt: skip
                continue
            try:
                usage = shutil.disk_usage(r.path)
            except OSError as err:
                log.warning("health: free space of replica %s unknown: %s", r.name, err)
                continue
            measured = True
            if rules.disk_fault(usage.free, usage.total, self.settings.min_free_percent):
                full[r.name] = round(usage.free * 100 / usage.total, 1)
        return full if measured else None


def _last(samples: Iterable[Sample]) -> dict[str, object] | None:
    last = None
    for s in samples:
        if last is None or s.at >= last.at:
            last = s
    if last is None:
        return None
    return {"flux": last.stream, "largeur": last.width, "hauteur": last.height, "ips": last.fps}
