"""What the handlers share: the services wired by the composition root."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import ClientSession, web
from psycopg_pool import AsyncConnectionPool

from vms.cluster.locator import Locator
from vms.config import ExportConfig, LiveConfig, WebConfig
from vms.db.audit import AuditLog
from vms.domain.clock import Clock
from vms.security.passwords import PasswordHasher, PasswordPolicy
from vms.storage.reader import SegmentReader
from vms.web.metrics import Metrics
from vms.web.throttle import Throttle


@dataclass
class Services:
    config: WebConfig
    pool: AsyncConnectionPool
    audit: AuditLog
    clock: Clock
    hasher: PasswordHasher
    policy: PasswordPolicy
    dummy_hash: str
    throttle: Throttle
    metrics: Metrics = field(default_factory=lambda: Metrics())
    live: LiveConfig = field(default_factory=lambda: LiveConfig.model_validate({}))
    relay_secret: str = ""
    """Shared with the ingest workers' live relays (empty: live disabled)."""
    http: ClientSession | None = None
    """Client for the calls to the relays."""
    locator: Locator | None = None
    """Finds the relay of the ingest worker holding a camera (vms.cluster.locator)."""
    exports: ExportConfig = field(default_factory=lambda: ExportConfig.model_validate({}))
    reader: SegmentReader | None = None
    """Reads recorded segments (playback, thumbnails); None: no replica reachable here."""
    export_dir: Path | None = None
    """Where export bundles are (downloads)."""
    public_key_pem: bytes = b""
    """The installation's key that signs export manifests (public half)."""
    analytics_models: dict[str, list[str]] = field(default_factory=dict)
    """Detector models the analytics workers can run (model path or id -> class names),
    offered by the analytics configuration editor."""


SERVICES = web.AppKey("services", Services)
