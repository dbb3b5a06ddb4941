"""The alert desk's MQTT input (CSD-13): subscribes to the configured topics of a broker
(an alarm panel's gateway, a LoRaWAN network server) and turns each JSON message into
an external alert through the same validation and storage as the webhook
(``vms.alerts.inputs.ExternalInput``, ``AlertStore.create_external``), input source
``mqtt``. paho-mqtt runs its own network thread (reconnecting with backoff); the
messages are handled one at a time in that thread. A message that is not understood
is logged once, raw, and dropped (MQTT has no answer to send).

The broker's ACL says who may publish, not for which commune: the input has its own
scope (``communes``; ``"*"``: all), as the webhook has its ``alert_input`` grants. A
message naming a camera or a commune outside it is dropped, counted in ``rejected`` and
logged; nothing is stored."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import ValidationError

from vms.alerts.inputs import ExternalInput
from vms.alerts.store import AlertStore, OutOfScope
from vms.domain.clock import Clock
from vms.errors import VmsError

log = logging.getLogger(__name__)

INPUT_SOURCE = "mqtt"


@dataclass(frozen=True, slots=True)
class MqttSettings:
    host: str
    port: int = 1883
    topics: Sequence[str] = ("vms/alertes/#",)
    username: str | None = None
    password_file: Path | None = None
    tls: bool = False
    ca_file: Path | None = None
    client_id: str = "vms-alert-desk"
    communes: Sequence[str] = ()
    """The communes it may raise alerts for; ``("*",)``: all; empty: none."""


class MqttInput:
    def __init__(self, settings: MqttSettings, store: AlertStore, clock: Clock) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.received = 0
        self.rejected = 0
        """Messages handled so far, and those dropped (tests wait on them)."""
        self.subscribed = False
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                   client_id=settings.client_id)  # fmt: skip
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.reconnect_delay_set(1, 30)
        if settings.username is not None:
            password = None
            if settings.password_file is not None:
                password = settings.password_file.read_text().strip()
            self._client.username_pw_set(settings.username, password)
        if settings.tls:
            self._client.tls_set(ca_certs=str(settings.ca_file) if settings.ca_file else None,
                                 tls_version=ssl.PROTOCOL_TLS_CLIENT)  # fmt: skip

    def start(self) -> None:
        self._client.connect_async(self.settings.host, self.settings.port, keepalive=30)
        self._client.loop_start()
        log.info("alert desk: MQTT input %s:%d, topics %s, communes %s", self.settings.host,
                 self.settings.port, list(self.settings.topics),
                 list(self.settings.communes))  # fmt: skip
        if not self.settings.communes:
            log.warning("alert desk: the MQTT input has no commune: every message is dropped")

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(
        self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        if reason.is_failure:
            log.warning("alert desk: MQTT connection refused: %s", reason)
            return
        client.subscribe([(t, 1) for t in self.settings.topics])
        self.subscribed = True
        log.info("alert desk: MQTT connected, subscribed")

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.handle(message.topic, bytes(message.payload))

    def handle(self, topic: str, payload: bytes) -> int | None:
        """One message: the alert id (new or already received), None if dropped."""
        try:
            msg = ExternalInput.model_validate_json(payload)
            alert_id, _ = self.store.create_external(
                msg, INPUT_SOURCE, self.clock.now(), communes=self.settings.communes
            )
        except OutOfScope as out:
            self.rejected += 1
            log.warning("alert desk: MQTT message on %s dropped: commune %s (%s) outside "
                        "the input's communes %s: %r", topic, out.tenant,
                        msg.camera_id or msg.commune, list(self.settings.communes),
                        payload[:2000])  # fmt: skip
            return None
        except (ValidationError, VmsError) as err:
            self.rejected += 1
            log.warning("alert desk: MQTT message on %s dropped (%s): %r", topic,
                        str(err).splitlines()[0], payload[:2000])  # fmt: skip
            return None
        except psycopg.Error:
            self.rejected += 1
            log.exception("alert desk: MQTT message on %s not stored: %r", topic, payload[:2000])
            return None
        finally:
            self.received += 1
        return alert_id
