"""What the handlers share: the services wired by the composition root."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web
from psycopg_pool import AsyncConnectionPool

from vms.config import WebConfig
from vms.db.audit import AuditLog
from vms.domain.clock import Clock
from vms.security.passwords import PasswordHasher, PasswordPolicy
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


SERVICES = web.AppKey("services", Services)
