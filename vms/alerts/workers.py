"""The desk's optional workers from the configuration: the MQTT input and the outgoing
webhooks (docs/design/alerts.md)."""

from __future__ import annotations

from pathlib import Path

from vms.alerts.service import Worker
from vms.alerts.store import AlertStore
from vms.config import AlertsConfig
from vms.domain.clock import Clock


def desk_workers(config: AlertsConfig, store: AlertStore, dsn: str, clock: Clock) -> list[Worker]:
    workers: list[Worker] = []
    if config.mqtt is not None:
        from vms.alerts.mqtt import MqttInput, MqttSettings

        m = config.mqtt
        settings = MqttSettings(
            m.host, m.port, tuple(m.topics), m.username,
            Path(m.password_file) if m.password_file else None, m.tls,
            Path(m.ca_file) if m.ca_file else None,
        )  # fmt: skip
        workers.append(MqttInput(settings, store, clock))
    if config.webhooks:
        from vms.alerts.outgoing import Webhook, WebhookPublisher

        hooks = [Webhook(h.url, h.secret) for h in config.webhooks]
        workers.append(WebhookPublisher(dsn, hooks, clock))
    return workers
