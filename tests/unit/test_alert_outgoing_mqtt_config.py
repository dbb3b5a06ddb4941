"""The alert desk's MQTT commune scope and webhook settings: config validation (French
messages) and the pure helpers of the outgoing webhooks."""

from __future__ import annotations

import uuid

import pytest

from vms.alerts.inputs import in_scope
from vms.alerts.outgoing import Webhook, delivery_id
from vms.config import parse_config
from vms.errors import VmsError


def _mqtt(**extra: object) -> dict[str, object]:
    return {"alerts": {"mqtt": {"host": "mqtt.example", **extra}}}


def test_mqtt_without_communes_is_refused_with_what_to_add() -> None:
    with pytest.raises(VmsError) as err:
        parse_config(_mqtt())
    assert str(err.value) == (
        "Configuration invalide, champ « alerts.mqtt » : préciser « communes » : les "
        "communes dont ce courtier MQTT peut lever des alertes, par exemple communes = "
        '["commune-a"], ou communes = ["*"] pour toutes les communes (restriction de '
        "sécurité, obligatoire)"
    )


@pytest.mark.parametrize(
    ("communes", "error"),
    [
        ([], "liste trop courte"),
        (["*", "commune-a"], "« * » (toutes les communes) ne se combine pas avec une liste"),
        (["commune-a", "commune-a"], "commune en double"),
        (["Commune A"], "format invalide (minuscules, chiffres, - et _)"),
    ],
)
def test_mqtt_communes_invalid(communes: list[str], error: str) -> None:
    with pytest.raises(VmsError) as err:
        parse_config(_mqtt(communes=communes))
    assert str(err.value).endswith(f" : {error}"), str(err.value)


def test_mqtt_communes_valid() -> None:
    mqtt = parse_config(_mqtt(communes=["commune-a", "commune_b"])).alerts.mqtt
    assert mqtt is not None and mqtt.communes == ["commune-a", "commune_b"]
    mqtt = parse_config(_mqtt(communes=["*"])).alerts.mqtt
    assert mqtt is not None and mqtt.communes == ["*"]


def test_in_scope() -> None:
    assert in_scope(("commune-a",), "commune-a")
    assert not in_scope(("commune-a",), "commune-b")
    assert in_scope(("*",), "commune-b")
    assert not in_scope((), "commune-a")


def test_webhook_retention_bounds() -> None:
    assert parse_config({}).alerts.webhook_retention_days == 7
    with pytest.raises(VmsError):
        parse_config({"alerts": {"webhook_retention_days": 0}})


def test_delivery_id_is_stable_per_webhook_and_change() -> None:
    a, b = Webhook("https://a.example/h", "s" * 16), Webhook("https://b.example/h", "s" * 16)
    assert a.key == Webhook("https://a.example/h", "autre-secret-xxxx").key
    assert len(a.key) == 64 and a.lock_id != b.lock_id
    first = delivery_id(a.key, 1)
    assert uuid.UUID(first).version == 5 and first == delivery_id(a.key, 1)
    assert len({first, delivery_id(a.key, 2), delivery_id(b.key, 1)}) == 3
