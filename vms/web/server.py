"""Runs the operator service in its own thread and event loop, so that the
synchronous composition root (``vms.app``) can start and stop it beside ingest."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp import web

from vms.aio import ServerThread, bound_port, stop_runner
from vms.cluster.locator import DbLocator, Locator
from vms.config import ExportConfig, LiveConfig, WebConfig
from vms.db.audit import AuditLog
from vms.db.scope import open_async_pool
from vms.domain.clock import Clock
from vms.security.passwords import PasswordHasher, PasswordPolicy, dummy_hash
from vms.storage.reader import SegmentReader
from vms.web.app import build_app
from vms.web.context import Services
from vms.web.throttle import Throttle
from vms.web.tls import self_signed, server_context

logger = logging.getLogger(__name__)


@dataclass
class Evidence:
    """What playback and exports need besides the database."""

    config: ExportConfig = field(default_factory=lambda: ExportConfig.model_validate({}))
    reader: SegmentReader | None = None
    export_dir: Path | None = None
    public_key_pem: bytes = b""


class WebServer(ServerThread):
    """The console and API over HTTPS in their own thread and event loop."""

    thread_name = "web"

    def __init__(
        self,
        config: WebConfig,
        dsn: str,
        clock: Clock,
        tls_dir: Path,
        hasher: PasswordHasher | None = None,
        live: LiveConfig | None = None,
        relay_secret: str = "",
        evidence: Evidence | None = None,
        analytics_models: dict[str, list[str]] | None = None,
        locator: Locator | None = None,
    ) -> None:
        super().__init__()
        self.locator = locator
        self.analytics_models = analytics_models or {}
        self.evidence = evidence or Evidence()
        self.config = config
        self.live = live or LiveConfig.model_validate({})
        self.relay_secret = relay_secret
        self.dsn = dsn
        self.clock = clock
        self.hasher = hasher or PasswordHasher()
        if config.tls_cert and config.tls_key:
            self.cert, self.key = Path(config.tls_cert), Path(config.tls_key)
        else:
            self.cert, self.key = self_signed(tls_dir)
        self.port = config.port

    @property
    def url(self) -> str:
        return f"https://{self.config.host}:{self.port}"

    async def serve(self) -> None:
        pool = await open_async_pool(self.dsn, 1, 8)
        http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20, connect=5))
        locator = self.locator or DbLocator(pool)
        try:
            policy = PasswordPolicy(
                min_length=self.config.password_min_length,
                min_length_with_mfa=self.config.password_min_length_with_mfa,
            )
            svc = Services(
                config=self.config,
                pool=pool,
                audit=AuditLog(pool, self.clock, siem=self.config.audit_siem_log),
                clock=self.clock,
                hasher=self.hasher,
                policy=policy,
                dummy_hash=dummy_hash(self.hasher),
                throttle=Throttle(self.config.login_attempts_per_minute),
                live=self.live,
                relay_secret=self.relay_secret,
                http=http,
                locator=locator,
                exports=self.evidence.config,
                reader=self.evidence.reader,
                export_dir=self.evidence.export_dir,
                public_key_pem=self.evidence.public_key_pem,
                analytics_models=self.analytics_models,
            )
            runner = web.AppRunner(build_app(svc), access_log=None)
            await runner.setup()
            ssl_ctx = server_context(self.cert, self.key)
            site = web.TCPSite(runner, self.config.host, self.config.port, ssl_context=ssl_ctx)
            await site.start()
            self.port = bound_port(site, self.port)
            logger.info("console and API on %s", self.url)
            self.ready()
            await self.stopped()
            await stop_runner(runner)
        finally:
            await locator.close()
            await http.close()
            await pool.close()
