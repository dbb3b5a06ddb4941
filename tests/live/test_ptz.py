"""PTZ from the operator service through an ingest worker's relay to a simulated ONVIF
camera (real SOAP over HTTP): moves, presets, home, the lock between two operators
and its takeover by a supervisor, permissions, audit, device faults, and the ONVIF
probe used to add a camera."""

from __future__ import annotations

import time

import pytest
import requests

from tests.fixtures.live import PtzEnv

pytestmark = pytest.mark.integration


def ptz(env: PtzEnv, camera: str = "a1") -> str:
    return f"{env.web.url}/api/v1/cameras/{camera}/ptz"


def command(
    s: requests.Session, env: PtzEnv, camera: str = "a1", **body: object
) -> requests.Response:
    return s.post(ptz(env, camera), json=body)


def operator(env: PtzEnv, login: str, role: str = "operator") -> requests.Session:
    env.web.user(login, role, "commune-a", [("ptz", "commune-a"), ("view_live", "commune-a")])
    return env.web.login(login)


def audit(env: PtzEnv, actor: str) -> list[tuple[object, ...]]:
    return env.web.sql(
        "SELECT action, target, detail FROM audit WHERE actor = %s AND action LIKE 'ptz.%%' "
        "ORDER BY seq",
        (actor,),
    )


def test_move_presets_and_home_reach_the_camera_and_are_audited(ptz_env: PtzEnv) -> None:
    op = operator(ptz_env, "op1")
    state = op.get(ptz(ptz_env)).json()
    assert state["lock"] is None and state["presets"] == []
    assert state["status"]["pan"] == pytest.approx(0.0)

    r = command(op, ptz_env, action="move", pan=1.0, tilt=-0.5)
    assert r.status_code == 200, r.text
    time.sleep(0.6)
    assert ptz_env.device.ptz_moving()
    r = command(op, ptz_env, action="stop")
    assert r.status_code == 200, r.text
    assert not ptz_env.device.ptz_moving()
    pan, tilt, _ = ptz_env.device.ptz_position()
    assert pan > 0.1 and tilt < -0.05, (pan, tilt)

    r = command(op, ptz_env, action="set_preset", name="Parvis de la mairie")
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    stored = ptz_env.device.ptz_position()
    command(op, ptz_env, action="home")
    assert ptz_env.device.ptz_position() == pytest.approx((0.0, 0.0, 0.0))
    r = command(op, ptz_env, action="goto_preset", preset=token)
    assert r.status_code == 200, r.text
    assert ptz_env.device.ptz_position() == pytest.approx(stored)

    state = op.get(ptz(ptz_env)).json()
    assert state["presets"] == [{"token": token, "name": "Parvis de la mairie"}]
    assert state["lock"]["mine"] is True and state["lock"]["holder"] == "Op1"
    assert command(op, ptz_env, action="remove_preset", preset=token).status_code == 200
    assert op.get(ptz(ptz_env)).json()["presets"] == []
    r = command(op, ptz_env, action="goto_preset", preset=token)
    assert r.status_code == 404 and "préréglage" in r.json()["erreur"]["message"], r.text

    actions = [a for a, _, _ in audit(ptz_env, "op1")]
    assert actions == [
        "ptz.lock", "ptz.move", "ptz.stop", "ptz.set_preset", "ptz.home", "ptz.goto_preset",
        "ptz.remove_preset",
    ]  # fmt: skip
    moves = [d for a, _, d in audit(ptz_env, "op1") if a == "ptz.move"]
    assert moves == [{"pan": 1.0, "tilt": -0.5, "zoom": 0.0}]
    assert all(t == "camera:a1" for _, t, _ in audit(ptz_env, "op1"))


def test_lock_contention_between_two_operators_and_supervisor_takeover(ptz_env: PtzEnv) -> None:
    op1, op2 = operator(ptz_env, "op1"), operator(ptz_env, "op2")
    sup = operator(ptz_env, "chef", role="supervisor")
    assert command(op1, ptz_env, action="move", pan=0.5).status_code == 200

    r = command(op2, ptz_env, action="move", pan=-0.5)
    assert r.status_code == 409 and "pilotée par Op1" in r.json()["erreur"]["message"], r.text
    state = op2.get(ptz(ptz_env)).json()
    assert state["lock"]["holder"] == "Op1" and state["lock"]["mine"] is False
    # same rank: no takeover
    r = op2.post(ptz(ptz_env) + "/lock", json={"takeover": True})
    assert r.status_code == 409 and "rang supérieur" in r.json()["erreur"]["message"], r.text

    r = sup.post(ptz(ptz_env) + "/lock", json={"takeover": True})
    assert r.status_code == 200, r.text
    assert r.json()["previous"] == "Op1" and r.json()["lock"]["mine"] is True
    assert command(op1, ptz_env, action="move", pan=0.5).status_code == 409
    assert command(sup, ptz_env, action="move", tilt=0.3).status_code == 200
    takeover = [d for a, _, d in audit(ptz_env, "chef") if a == "ptz.takeover"]
    assert takeover == [{"precedent": "Op1"}]

    # giving the camera back stops it and frees it for the others
    assert sup.delete(ptz(ptz_env) + "/lock").status_code == 204
    assert not ptz_env.device.ptz_moving()
    assert sup.delete(ptz(ptz_env) + "/lock").status_code == 404
    assert command(op2, ptz_env, action="move", pan=-0.5).status_code == 200

    # an idle lock lapses
    ptz_env.web.sql("UPDATE ptz_locks SET expires_at = now() - interval '1 second'")
    assert command(op1, ptz_env, action="stop").status_code == 200
    assert op1.get(ptz(ptz_env)).json()["lock"]["holder"] == "Op1"


def test_ptz_permissions(ptz_env: PtzEnv) -> None:
    web = ptz_env.web
    web.user("viewer", "operator", "commune-a", [("view_live", "commune-a")])
    web.user("bee", "operator", "commune-b", [("ptz", "commune-b")])
    viewer, bee = web.login("viewer"), web.login("bee")
    op = operator(ptz_env, "op1")

    r = command(viewer, ptz_env, action="move", pan=0.5)
    assert r.status_code == 403, r.text
    assert viewer.get(ptz(ptz_env)).status_code == 403
    assert command(bee, ptz_env, action="move", pan=0.5).status_code == 404  # not in its commune
    r = command(op, ptz_env, "a2", action="move", pan=0.5)
    assert r.status_code == 404 and "orientable" in r.json()["erreur"]["message"], r.text
    assert not ptz_env.device.ptz_moving()
    denied = web.sql(
        "SELECT actor FROM audit WHERE action = 'access.denied' AND target = 'camera:a1'"
    )
    assert ("viewer",) in denied
    # bad payloads: a clear French 400, nothing sent
    r = command(op, ptz_env, action="move", pan=3)
    assert r.status_code == 400, r.text
    r = command(op, ptz_env, action="spin")
    assert r.status_code == 400, r.text
    r = command(op, ptz_env, action="set_preset", name="   ")
    assert r.status_code == 409 and "nom" in r.json()["erreur"]["message"], r.text
    assert [a for a, _, _ in audit(ptz_env, "op1")] == ["ptz.lock"]


def test_device_faults_give_clear_errors_without_hanging(ptz_env: PtzEnv) -> None:
    op = operator(ptz_env, "op1")
    assert command(op, ptz_env, action="stop").status_code == 200
    for fault, words in (
        ("soap_fault", "erreur SOAP"),
        ("malformed", "illisible"),
        ("http_error", "HTTP 500"),
        ("slow", "ne répond pas"),
    ):
        ptz_env.device.fault = fault
        started = time.monotonic()
        r = command(op, ptz_env, action="move", pan=0.2)
        assert time.monotonic() - started < 10, fault
        assert r.status_code == 503, (fault, r.text)
        assert words in r.json()["erreur"]["message"], (fault, r.text)
    ptz_env.device.fault = "none"
    r = command(op, ptz_env, action="stop")
    assert r.status_code == 200, r.text  # a new ONVIF session after the failures


def test_onvif_probe_to_add_a_camera(ptz_env: PtzEnv) -> None:
    web, device = ptz_env.web, ptz_env.device
    web.user("admin", "admin", "commune-a", [("admin_cameras", "commune-a")])
    admin = web.login("admin")
    url = f"{web.url}/api/v1/onvif/probe"
    r = admin.post(
        url, json={"address": device.address, "username": "csd", "password": device.password}
    )
    assert r.status_code == 200, r.text
    facts = r.json()
    assert facts["device"]["manufacturer"] == "VMS Simulation"
    assert facts["main"]["stream_uri"] == "rtsp://127.0.0.1:1/a1/main"
    assert facts["sub"]["stream_uri"] == "rtsp://127.0.0.1:1/a1/sub"
    assert facts["ptz"]["continuous"] is True
    assert abs(facts["clock_drift_s"]) < 5

    r = admin.post(url, json={"address": device.address, "username": "csd", "password": "faux"})
    assert r.status_code == 409 and "Identifiants ONVIF refusés" in r.json()["erreur"]["message"]
    r = admin.post(url, json={"address": "http://user:pw@10.0.0.1", "username": "", "password": ""})
    assert r.status_code == 400 and "Adresse ONVIF invalide" in r.json()["erreur"]["message"]
    op = operator(ptz_env, "op1")
    assert op.post(url, json={"address": device.address}).status_code == 403

    rows = web.sql("SELECT detail FROM audit WHERE action = 'onvif.probe' ORDER BY seq")
    assert [d["resultat"] for (d,) in rows] == ["ok", "echec", "echec"]  # type: ignore[index]
    assert device.password not in str(rows) and "faux" not in str(rows)


def test_ws_discovery_is_off_unless_configured(ptz_env: PtzEnv) -> None:
    web = ptz_env.web
    web.user("admin", "admin", "commune-a", [("admin_cameras", "commune-a")])
    r = web.login("admin").post(f"{web.url}/api/v1/onvif/discover")
    assert r.status_code == 409 and "désactivée" in r.json()["erreur"]["message"], r.text
    assert operator(ptz_env, "op1").post(f"{web.url}/api/v1/onvif/discover").status_code == 403
