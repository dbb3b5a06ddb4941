"""The desk's optional workers from the configuration: the MQTT input and the outgoing
webhooks (docs/design/alerts.md)."""

from __future__ import annotations

from pathlib import Path

from vms.alerts.service import Worker
from vms.alerts.store import AlertStore
from vms.config import AlertsConfig
from vms.domain.clock import Clock


def desk_workers(config: AlertsConfig, store: AlertStore, dsn: str, clock: Clock) -> list[Worker]:
    from vms.alerts.outgoing import OutgoingSettings, Webhook, WebhookPublisher

    workers: list[Worker] = []
    if config.mqtt is not None:
        from vms.alerts.mqtt import MqttInput, MqttSettings

        m = config.mqtt
        settings = MqttSettings(
            m.host, m.port, tuple(m.topics), m.username,
            Path(m.password_file) if m.password_file else None, m.tls,
            Path(m.ca_file) if m.ca_file else None, communes=tuple(m.communes),
        )  # fmt: skip
        workers.append(MqttInput(settings, store, clock))
    # always: with no webhook it only purges the outbox the alerts' trigger fills
    hooks = [Webhook(h.url, h.secret) for h in config.webhooks]
    outgoing = OutgoingSettings(retention_s=config.webhook_retention_days * 86400.0)
    workers.append(WebhookPublisher(dsn, hooks, clock, outgoing))
    return workers
