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
  once per commune of the supervised cameras and replica (each commune sees its
  recordings at risk); S3 replicas are skipped (no quota is readable through S3);
- the previous run of these checks older than ``overdue_s`` (the desk stopped or
  stalled; the time of the last run is kept in ``settings``) → ``controle_en_retard``,
  once per commune.

A camera's fault goes the way of ``flux_interrompu``: one technical alert and one ticket
per camera and fault (``AlertStore.raise_fault``). The two installation-wide faults
raise one alert and one ticket per commune, without camera
(``AlertStore.raise_commune_fault``; key ``commune:<tenant>:<fault>[:<replica>]``),
whose detail names the replica and counts the commune's cameras: not one per camera, an
alert storm on a large installation. All are closed and resolved by the system when
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

from vms.alerts.store import AlertStore, CommuneFault, Fault, dedup_key
from vms.domain import health as rules
from vms.domain.health import FLOORS, QualityFloor, Sample

log = logging.getLogger(__name__)

_Decision = tuple[bool | None, dict[str, object]]
"""Whether a fault is present (None: unknown, state kept) and its alert's detail."""

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

    def run(self, now: datetime) -> set[str]:
        """One pass of every check; returns the dedup keys of the faults present."""
        self.runs += 1
        present: set[str] = set()
        if not self.cameras:
            self._mark_run(now)
            return present
        s = self.settings
        previous = self._last_run()
        late = rules.check_overdue(previous, now, timedelta(seconds=s.overdue_s))
        self._mark_run(now)
        samples = self._samples(now - timedelta(seconds=s.quality_window_s))
        gaps = self._gaps(now - timedelta(seconds=s.gap_period_s))
        missing = self._missing(now)
        decisions: dict[tuple[str, str], _Decision] = {}
        for cam in self.cameras:
            floor = self.floors.get(cam, FLOORS["general"])
            mine = samples.get(cam, [])
            worst = max(gaps.get(cam, []), default=0.0)
            decisions[(cam, rules.QUALITY)] = (
                rules.quality_fault(mine, floor),
                {"min_largeur": floor.width, "min_hauteur": floor.height, "min_ips": floor.fps,
                 "mesures": _last(mine)},
            )  # fmt: skip
            decisions[(cam, rules.GAPS)] = (
                rules.gap_fault(gaps.get(cam, []), s.max_gap_s),
                {"plus_longue_s": round(worst, 1), "seuil_s": s.max_gap_s},
            )
            decisions[(cam, rules.DRIFT)] = (
                rules.drift_fault(mine, s.max_drift_ms),
                {"derive_ms": max((abs(x.clock_drift_ms) for x in mine), default=0),
                 "seuil_ms": s.max_drift_ms},
            )  # fmt: skip
            decisions[(cam, rules.REPLICA)] = (
                rules.replica_fault(sum(missing.get(cam, {}).values())),
                {"manquants": missing.get(cam, {}), "delai_s": s.replica_grace_s},
            )
        keys = [dedup_key(c, f) for c in self.cameras for f in rules.LABELS]
        communes = rules.by_commune(self._tenants())
        commune_faults = self._commune_faults(communes, late, previous, now)
        open_now = self.store.open_faults([*keys, *(f.dedup_key for f, _ in commune_faults)])
        for (cam, fault), (state, detail) in decisions.items():
            key = dedup_key(cam, fault)
            if state is True:
                present.add(key)
                if key not in open_now:
                    self.store.raise_fault(Fault(cam, fault, rules.LABELS[fault], now, detail), now)
            elif state is False and key in open_now:
                self.store.clear_fault(cam, fault, rules.BACK[fault], now)
            elif state is None and key in open_now:
                present.add(key)
        for cf, state in commune_faults:
            key = cf.dedup_key
            if state is True:
                present.add(key)
                if key not in open_now:
                    self.store.raise_commune_fault(cf, now)
            elif state is False and key in open_now:
                self.store.clear_commune_fault(
                    cf.tenant_id, cf.fault, rules.BACK[cf.fault], now, cf.subject
                )
            elif state is None and key in open_now:
                present.add(key)
        for cam in self.cameras:  # left open by a version that raised them per camera
            for fault in rules.COMMUNE_FAULTS:
                if dedup_key(cam, fault) in open_now:
                    self.store.clear_fault(cam, fault, rules.SUPERSEDED, now)
        return present

    def _commune_faults(
        self,
        communes: Mapping[str, Sequence[str]],
        late: bool,
        previous: datetime | None,
        now: datetime,
    ) -> list[tuple[CommuneFault, bool | None]]:
        """The installation-wide faults, one per commune of the supervised cameras (and
        per local replica for the free space), with their decision."""
        s = self.settings
        disks = self._free_space()
        out: list[tuple[CommuneFault, bool | None]] = []
        for tenant, cams in communes.items():
            n = len(cams)
            for replica, (free, state) in disks.items():
                out.append((CommuneFault(
                    tenant, rules.DISK, rules.LABELS[rules.DISK], now, subject=replica,
                    element=f"Réplique {replica}",
                    description=rules.disk_description(replica, free or 0.0,
                                                       s.min_free_percent, n),
                    detail={"replique": replica, "libre_pourcent": free,
                            "seuil_pourcent": s.min_free_percent, "cameras": n},
                ), state))  # fmt: skip
            out.append((CommuneFault(
                tenant, rules.OVERDUE, rules.LABELS[rules.OVERDUE], now,
                element="Contrôles de santé",
                description=rules.overdue_description(s.overdue_s, n),
                detail={"delai_s": s.overdue_s, "cameras": n,
                        "precedent": None if previous is None else previous.isoformat()},
            ), late))  # fmt: skip
        return out

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

    def _tenants(self) -> dict[str, str]:
        """The commune of each supervised camera (the unknown ones left out)."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT id, tenant_id FROM cameras WHERE id = ANY (%s)", (list(self.cameras),)
            ).fetchall()
        return {r[0]: r[1] for r in rows}

    def _free_space(self) -> dict[str, tuple[float | None, bool | None]]:
        """Free percent of each local replica's disk and whether it is under the
        threshold; (None, None) when it cannot be read. S3 replicas are left out
        (logged once)."""
        out: dict[str, tuple[float | None, bool | None]] = {}
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
                out[r.name] = (None, None)
                continue
            out[r.name] = (
                rules.free_percent(usage.free, usage.total),
                rules.disk_fault(usage.free, usage.total, self.settings.min_free_percent),
            )
        return out


def _last(samples: Iterable[Sample]) -> dict[str, object] | None:
    last = None
    for s in samples:
        if last is None or s.at >= last.at:
            last = s
    if last is None:
        return None
    return {"flux": last.stream, "largeur": last.width, "hauteur": last.height, "ips": last.fps}
