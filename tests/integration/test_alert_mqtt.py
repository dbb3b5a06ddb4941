"""The desk's MQTT input against a real broker (Debian's mosquitto, started on
127.0.0.1 on a free port, with a password file): each JSON message becomes an external
alert through the webhook's validation and storage, a resend with the same
``external_id`` creates nothing, a malformed message is dropped, and a message for a
commune outside the input's ``communes`` is dropped and stores nothing."""

from __future__ import annotations

import getpass
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.publish as publish
import pytest
from psycopg_pool import ConnectionPool

from tests.fixtures.s3 import free_port
from tests.integration.harness import wait_for
from vms.alerts.mqtt import MqttInput, MqttSettings
from vms.alerts.store import AlertStore
from vms.db.index import PgSegmentIndex
from vms.domain.clock import SystemClock
from vms.domain.ports import CameraRow

pytestmark = pytest.mark.integration

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A mosquitto on 127.0.0.1 (user ``vms``, password in a file); (port, password file)."""
    if not Path(MOSQUITTO).exists() or not Path(PASSWD).exists():
        pytest.fail("mosquitto is not installed: run scripts/setup.sh")
    port = free_port()
    secret = tmp_path / "mqtt-password"
    secret.write_text("s3cret-mqtt\n")
    passwd = tmp_path / "passwd"
    subprocess.run([PASSWD, "-b", "-c", str(passwd), "vms", "s3cret-mqtt"], check=True,
                   capture_output=True)  # fmt: skip
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {passwd}\n"
        f"persistence false\nuser {getpass.getuser()}\n"  # mosquitto started as root drops to it
    )
    log = (tmp_path / "mosquitto.log").open("wb")
    proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=log, stderr=log)
    try:

        def up() -> bool:
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", port)) == 0

        assert wait_for(up, 10, 0.05), (tmp_path / "mosquitto.log").read_text()
        yield port, secret
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def _publish(port: int, payload: dict[str, Any] | str, topic: str = "vms/alertes/mairie") -> None:
    body = payload if isinstance(payload, str) else json.dumps(payload)
    publish.single(topic, body, qos=1, hostname="127.0.0.1", port=port,
                   auth={"username": "vms", "password": "s3cret-mqtt"})  # fmt: skip


def _rows(pool: ConnectionPool, sql: str, *args: object) -> list[tuple[Any, ...]]:
    with pool.connection() as conn:
        return conn.execute(sql, args).fetchall()


def test_mqtt_messages_become_external_alerts(
    broker: tuple[int, Path], pg_index: PgSegmentIndex
) -> None:
    port, secret = broker
    pool = pg_index.pool
    pg_index.upsert_camera(CameraRow("cam0", "commune-a", "Parvis", 15))
    settings = MqttSettings(
        "127.0.0.1", port, ("vms/alertes/#",), "vms", secret, communes=("commune-a",)
    )
    mqtt_input = MqttInput(settings, AlertStore(pool), SystemClock())
    mqtt_input.start()
    try:
        assert wait_for(lambda: mqtt_input.subscribed, 10, 0.05)
        time.sleep(0.2)  # the SUBACK
        alarm = {"camera_id": "cam0", "kind": "alarme_intrusion_batiment",
                 "title": "Intrusion mairie", "external_id": "Z3-0001",
                 "at": datetime.now(UTC).isoformat()}  # fmt: skip
        _publish(port, alarm)
        _publish(port, alarm)  # resent: nothing new
        _publish(port, "pas du JSON")
        _publish(port, alarm | {"kind": "inconnu", "external_id": "x"})
        _publish(port, {"commune": "commune-a", "kind": "capteur_lorawan", "title": "Crue",
                        "detail": {"niveau_cm": 182}})  # fmt: skip
        assert wait_for(lambda: mqtt_input.received >= 5, 15, 0.05), mqtt_input.received
    finally:
        mqtt_input.stop()
    assert mqtt_input.rejected == 2
    rows = _rows(pool, "SELECT source, kind, camera_id, input_source, external_id, state, "
                 "priority FROM alerts ORDER BY id")  # fmt: skip
    assert rows == [
        ("externe", "alarme_intrusion_batiment", "cam0", "mqtt", "Z3-0001", "nouvelle", 2),
        ("externe", "capteur_lorawan", None, "mqtt", None, "nouvelle", 3),
    ]
    audit = _rows(pool, "SELECT actor, action FROM audit WHERE action LIKE 'alert.%%' ORDER BY seq")
    assert audit == [("mqtt", "alert.create"), ("mqtt", "alert.create")]


def test_mqtt_messages_outside_the_communes_are_dropped(
    broker: tuple[int, Path], pg_index: PgSegmentIndex
) -> None:
    port, secret = broker
    pool = pg_index.pool
    pg_index.upsert_camera(CameraRow("cam-a", "commune-a", "Parvis", 15))
    pg_index.upsert_camera(CameraRow("cam-b", "commune-b", "Gare", 15))
    settings = MqttSettings("127.0.0.1", port, ("vms/alertes/#",), "vms", secret,
                            communes=("commune-a",))  # fmt: skip
    mqtt_input = MqttInput(settings, AlertStore(pool), SystemClock())
    mqtt_input.start()
    try:
        assert wait_for(lambda: mqtt_input.subscribed, 10, 0.05)
        time.sleep(0.2)  # the SUBACK
        base = {"kind": "alarme_intrusion_batiment", "title": "Intrusion"}
        _publish(port, base | {"camera_id": "cam-b", "external_id": "b-cam"})
        _publish(port, base | {"commune": "commune-b", "external_id": "b-commune"})
        _publish(port, base | {"camera_id": "cam-a", "external_id": "a-cam"})
        assert wait_for(lambda: mqtt_input.received >= 3, 15, 0.05), mqtt_input.received
    finally:
        mqtt_input.stop()
    assert mqtt_input.rejected == 2
    rows = _rows(pool, "SELECT tenant_id, camera_id, external_id FROM alerts ORDER BY id")
    assert rows == [("commune-a", "cam-a", "a-cam")]
    audit = _rows(pool, "SELECT count(*) FROM audit WHERE action LIKE 'alert.%%'")
    assert audit == [(1,)]


def test_mqtt_input_for_all_communes_and_for_none(pg_index: PgSegmentIndex) -> None:
    """``"*"`` lets every commune through; no commune (a bare MqttSettings) lets none."""
    pool = pg_index.pool
    pg_index.upsert_camera(CameraRow("cam-b", "commune-b", "Gare", 15))
    msg = json.dumps({"camera_id": "cam-b", "kind": "externe", "title": "Alarme"}).encode()
    closed = MqttInput(MqttSettings("127.0.0.1"), AlertStore(pool), SystemClock())
    assert closed.handle("vms/alertes/x", msg) is None and closed.rejected == 1
    everything = MqttInput(MqttSettings("127.0.0.1", communes=("*",)), AlertStore(pool),
                           SystemClock())  # fmt: skip
    assert everything.handle("vms/alertes/x", msg) is not None and everything.rejected == 0
    assert _rows(pool, "SELECT tenant_id FROM alerts") == [("commune-b",)]
