"""External inputs and maintenance windows of the alert desk (CSD-13): the webhook
``POST /api/v1/alerts/inputs/{source}`` with an ``alert_input`` API token (idempotent on
``external_id``, audited), and camera maintenance windows (admin_cameras, audited)
recording the alerts raised during them closed by the system, against real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from tests.fixtures.web import WebEnv

pytestmark = pytest.mark.integration


def token_client(web: WebEnv, login: str, grants: list[tuple[str, ...]]) -> requests.Session:
    """A machine client: an API token of scope ``alert_input`` (no session)."""
    web.user(login, "operator", "csd", grants)  # type: ignore[arg-type]
    s = web.login(login)
    r = s.post(f"{web.url}/api/v1/tokens", json={"name": "hyperviseur", "scopes": ["alert_input"]})
    assert r.status_code == 201, r.text
    machine = web.client()
    machine.headers["Authorization"] = f"Bearer {r.json()['token']}"
    return machine


def audit(web: WebEnv, action: str) -> list[tuple[Any, ...]]:
    return web.sql(
        "SELECT actor, tenant_id, target, detail FROM audit WHERE action = %s ORDER BY seq",
        (action,),
    )


def test_webhook_creates_an_external_alert_once(web: WebEnv) -> None:
    hyper = token_client(web, "hyper", [("alert_input", "commune-a")])
    url = f"{web.url}/api/v1/alerts/inputs/centrale-mairie"
    body = {"camera_id": "a1", "kind": "alarme_intrusion_batiment", "title": "Intrusion mairie",
            "detail": "Zone 3 : porte arrière", "site": "Mairie, aile nord",
            "external_id": "EVT-1"}  # fmt: skip
    r = hyper.post(url, json=body)
    assert r.status_code == 201, r.text
    alert = r.json()
    assert (alert["source"], alert["kind"], alert["state"], alert["priority"]) == (
        "externe", "alarme_intrusion_batiment", "nouvelle", 2)  # fmt: skip
    assert alert["camera_id"] == "a1" and alert["tenant_id"] == "commune-a"
    again = hyper.post(url, json=body)
    assert again.status_code == 200 and again.json()["id"] == alert["id"]
    assert again.json()["doublon"] is True
    assert web.sql("SELECT count(*) FROM alerts WHERE source = 'externe'") == [(1,)]
    detail, due = web.sql(
        "SELECT detail, ack_due_at - raised_at FROM alerts WHERE id = %s", (alert["id"],)
    )[0]
    assert detail == {"source": "centrale-mairie", "site": "Mairie, aile nord",
                      "description": "Zone 3 : porte arrière"}  # fmt: skip
    assert due == timedelta(seconds=180)
    entries = audit(web, "alert.create")
    assert [e[:3] for e in entries] == [
        ("hyper (jeton hyperviseur)", "commune-a", f"alert:{alert['id']}")
    ]
    assert entries[0][3]["external_id"] == "EVT-1"

    # a commune-wide alarm (no camera), a sensor's data as a JSON object
    r = hyper.post(f"{web.url}/api/v1/alerts/inputs/lora", json={
        "commune": "commune-a", "kind": "capteur_lorawan", "title": "Crue",
        "detail": {"niveau_cm": 182}})  # fmt: skip
    assert r.status_code == 201 and r.json()["camera_id"] is None, r.text
    # an operator of the commune sees both; the alarm panel cannot read them
    web.user("op", "operator", "csd", [("handle_alerts", "commune-a")])
    listed = web.login("op").get(f"{web.url}/api/v1/alerts").json()["alerts"]
    assert {a["source"] for a in listed} == {"externe"} and len(listed) == 2
    assert hyper.get(f"{web.url}/api/v1/alerts").json()["alerts"] == []


def test_webhook_refusals(web: WebEnv) -> None:
    hyper = token_client(web, "hyper", [("alert_input", "commune-a", "ga")])
    url = f"{web.url}/api/v1/alerts/inputs/centrale"
    ok = {"camera_id": "a1", "kind": "externe", "title": "Alarme"}
    assert hyper.post(url, json=ok).status_code == 201
    cases: list[tuple[dict[str, Any], int, str]] = [
        (ok | {"camera_id": "a2"}, 404, "Ressource introuvable."),  # outside its group
        (ok | {"camera_id": "b1"}, 404, "Ressource introuvable."),  # another commune
        ({**ok, "camera_id": None, "commune": "commune-a"}, 404, "Ressource introuvable."),
        (ok | {"kind": "intrusion"}, 400, "Type d'alarme externe inconnu : intrusion."),
        ({"kind": "externe", "title": "x"}, 400, "camera_id"),
        (ok | {"extra": 1}, 400, "extra"),
    ]
    for body, status, text in cases:
        r = hyper.post(url, json={k: v for k, v in body.items() if v is not None})
        assert r.status_code == status, (body, r.text)
        assert text in r.text, (body, r.text)
    assert hyper.post(f"{web.url}/api/v1/alerts/inputs/Bad Name", json=ok).status_code in (
        400, 404)  # fmt: skip
    # a token of another scope, and no token at all
    web.user(
        "viewer", "operator", "csd", [("view_live", "commune-a"), ("alert_input", "commune-a")]
    )
    s = web.login("viewer")
    other = s.post(f"{web.url}/api/v1/tokens", json={"name": "x", "scopes": ["view_live"]})
    c = web.client()
    c.headers["Authorization"] = f"Bearer {other.json()['token']}"
    assert c.post(url, json=ok).status_code == 404
    assert web.client().post(url, json=ok).status_code == 401


def test_maintenance_windows_record_suppressed_alerts(web: WebEnv) -> None:
    web.user("admin", "operator", "csd", [("admin_cameras", "commune-a")])
    admin = web.login("admin")
    now = datetime.now(UTC)
    window = {
        "camera_id": "a1",
        "from_at": (now - timedelta(minutes=5)).isoformat(),
        "to_at": (now + timedelta(hours=1)).isoformat(),
        "reason": "Remplacement optique",
    }
    r = admin.post(f"{web.url}/api/v1/maintenance", json=window)
    assert r.status_code == 201, r.text
    created = r.json()
    assert (created["camera_id"], created["created_by"], created["camera_name"]) == (
        "a1", "admin", "Mairie")  # fmt: skip
    assert audit(web, "maintenance.create")[0][:3] == (
        "admin", "commune-a", f"maintenance:{created['id']}")  # fmt: skip
    listed = admin.get(f"{web.url}/api/v1/maintenance").json()["windows"]
    assert [w["id"] for w in listed] == [created["id"]]
    bad = admin.post(f"{web.url}/api/v1/maintenance", json=window | {"to_at": window["from_at"]})
    assert (
        bad.status_code == 400 and "la fin doit suivre le début" in bad.json()["erreur"]["message"]
    )

    hyper = token_client(web, "hyper", [("alert_input", "commune-a")])
    r = hyper.post(f"{web.url}/api/v1/alerts/inputs/centrale",
                   json={"camera_id": "a1", "kind": "externe", "title": "Alarme"})  # fmt: skip
    assert r.status_code == 201, r.text
    alert = r.json()
    assert (alert["state"], alert["qualification"]) == ("cloturee", "technique")
    row = web.sql("SELECT suppressed_by, report, closed_by FROM alerts WHERE id = %s",
                  (alert["id"],))[0]  # fmt: skip
    assert row == (created["id"], "Levée pendant une maintenance de la caméra : "
                   "Remplacement optique", "systeme")  # fmt: skip
    history = web.sql("SELECT actor, action, to_state FROM alert_history WHERE alert_id = %s "
                      "ORDER BY id", (alert["id"],))  # fmt: skip
    assert history == [("hyper", "create", "nouvelle"), ("systeme", "close", "cloturee")]

    # an operator without admin_cameras can neither list nor withdraw it
    web.user("op", "operator", "csd", [("handle_alerts", "commune-a")])
    op = web.login("op")
    assert op.get(f"{web.url}/api/v1/maintenance").json()["windows"] == []
    assert op.delete(f"{web.url}/api/v1/maintenance/{created['id']}").status_code == 403
    web.user("adminb", "operator", "csd", [("admin_cameras", "commune-b")])
    other = web.login("adminb")
    assert other.delete(f"{web.url}/api/v1/maintenance/{created['id']}").status_code == 404
    assert admin.delete(f"{web.url}/api/v1/maintenance/{created['id']}").status_code == 204
    assert admin.get(f"{web.url}/api/v1/maintenance").json()["windows"] == []
    assert audit(web, "maintenance.delete")[0][:3] == (
        "admin", "commune-a", f"maintenance:{created['id']}")  # fmt: skip
    r = hyper.post(f"{web.url}/api/v1/alerts/inputs/centrale",
                   json={"camera_id": "a1", "kind": "externe", "title": "Alarme 2"})  # fmt: skip
    assert r.json()["state"] == "nouvelle"
