"""Saved video-wall views through the API, against the real service: lifecycle,
sharing rules, owner-only changes, masking of cameras the reader may not watch live,
validation in French, and the audit."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
import requests

from tests.fixtures.web import WebEnv

pytestmark = pytest.mark.integration

LIVE_AB = [("view_live", "commune-a"), ("view_live", "commune-b")]


def views_of(web: WebEnv, s: requests.Session) -> dict[str, dict[str, object]]:
    r = s.get(f"{web.url}/api/v1/views")
    assert r.status_code == 200, r.text
    return {v["name"]: v for v in r.json()["views"]}


def message(r: requests.Response) -> str:
    return str(r.json()["erreur"]["message"])


def test_view_lifecycle_is_audited(web: WebEnv) -> None:
    web.user("op", "operator", "csd", LIVE_AB)
    s = web.login("op")
    body = {"name": "Centre-ville", "layout": 4, "tiles": ["a1", "b1", None, "a2"]}
    r = s.post(f"{web.url}/api/v1/views", json=body)
    assert r.status_code == 201, r.text
    view = r.json()
    assert view["tiles"] == [
        {"camera": "a1", "name": "Mairie", "masque": False},
        {"camera": "b1", "name": "Place", "masque": False},
        {"camera": None, "name": None, "masque": False},
        {"camera": "a2", "name": "Gare", "masque": False},
    ]
    assert (view["layout"], view["shared"], view["mine"], view["editable"]) == (
        4,
        False,
        True,
        True,
    )
    assert list(views_of(web, s)) == ["Centre-ville"]
    # the same name twice is refused
    r = s.post(f"{web.url}/api/v1/views", json=body)
    assert r.status_code == 409 and "déjà une vue nommée" in message(r)
    r = s.put(
        f"{web.url}/api/v1/views/{view['id']}",
        json={"name": "Gare seule", "layout": 1, "tiles": ["a2"]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["tiles"] == [{"camera": "a2", "name": "Gare", "masque": False}]
    assert web.sql("SELECT name, layout, tiles FROM wall_views") == [("Gare seule", 1, ["a2"])]
    assert s.delete(f"{web.url}/api/v1/views/{view['id']}").status_code == 204
    assert views_of(web, s) == {}
    # tiles left out are empty
    r = s.post(f"{web.url}/api/v1/views", json={"name": "Neuf", "layout": 9, "tiles": ["b1"]})
    assert r.status_code == 201, r.text
    assert web.sql("SELECT tiles FROM wall_views") == [(["b1"] + [None] * 8,)]
    assert s.delete(f"{web.url}/api/v1/views/{view['id']}").status_code == 404
    rows = web.sql(
        "SELECT action, tenant_id, detail FROM audit WHERE target = %s ORDER BY seq",
        (f"vue:{view['id']}",),
    )
    assert [(a, t) for a, t, _ in rows] == [
        ("wall_view.create", "csd"),
        ("wall_view.update", "csd"),
        ("wall_view.delete", "csd"),
        ("access.denied", "csd"),
    ]
    created, updated = rows[0][2], rows[1][2]
    assert created == {"nom": "Centre-ville", "disposition": 4,
                       "tuiles": ["a1", "b1", None, "a2"], "partagee": False}  # fmt: skip
    assert isinstance(updated, dict) and updated["apres"]["tuiles"] == ["a2"]


def test_sharing_needs_a_supervisor_and_only_the_author_edits(web: WebEnv) -> None:
    web.user("op", "operator", "csd", LIVE_AB)
    web.user("op2", "operator", "csd", LIVE_AB)
    web.user("chef", "supervisor", "csd", LIVE_AB)
    web.user("chef2", "supervisor", "csd", LIVE_AB)
    web.user("agent", "commune_viewer", "commune-a", [("view_live", "commune-a")])
    op, op2, chef, chef2 = (web.login(n) for n in ("op", "op2", "chef", "chef2"))
    agent = web.login("agent")
    shared = {"name": "Gares", "layout": 1, "tiles": ["a2"], "shared": True}
    r = op.post(f"{web.url}/api/v1/views", json=shared)
    assert r.status_code == 403 and "superviseurs" in message(r)
    assert web.sql("SELECT count(*) FROM wall_views") == [(0,)]
    denied = "SELECT count(*) FROM audit WHERE action = 'access.denied' AND actor = 'op'"
    assert web.sql(denied) == [(1,)]
    own = op.post(f"{web.url}/api/v1/views", json={**shared, "shared": False}).json()
    r = chef.post(f"{web.url}/api/v1/views", json=shared)
    assert r.status_code == 201, r.text
    view = r.json()
    # colleagues of the same home tenant see the shared view, not the private one
    seen = views_of(web, op2)
    assert list(seen) == ["Gares"] and seen["Gares"]["owner"] == "chef"
    assert seen["Gares"]["mine"] is False and seen["Gares"]["editable"] is False
    assert seen["Gares"]["deletable"] is False
    assert views_of(web, chef2)["Gares"]["deletable"] is True
    # a commune agent sees neither, although the cameras are its own
    assert views_of(web, agent) == {}
    for who, status in ((agent, 404), (op2, 403), (chef2, 403)):
        r = who.put(f"{web.url}/api/v1/views/{view['id']}", json={**shared, "name": "x"})
        assert r.status_code == status, r.text
    assert op2.put(f"{web.url}/api/v1/views/{own['id']}", json=shared).status_code == 404
    assert chef2.delete(f"{web.url}/api/v1/views/{own['id']}").status_code == 404
    assert agent.delete(f"{web.url}/api/v1/views/{view['id']}").status_code == 404
    r = op2.delete(f"{web.url}/api/v1/views/{view['id']}")
    assert r.status_code == 403 and "superviseur" in message(r)
    assert web.sql("SELECT name FROM wall_views ORDER BY id") == [("Gares",), ("Gares",)]
    # an operator may not share its own view either
    r = op.put(f"{web.url}/api/v1/views/{own['id']}", json=shared)
    assert r.status_code == 403
    # a supervisor of the tenant deletes the shared view of another
    assert chef2.delete(f"{web.url}/api/v1/views/{view['id']}").status_code == 204
    assert views_of(web, op2) == {}
    audited = web.sql(
        "SELECT actor, detail->>'auteur' FROM audit WHERE action = 'wall_view.delete'"
    )
    assert audited == [("chef2", "chef")]


def test_cameras_the_reader_may_not_watch_are_masked(web: WebEnv) -> None:
    web.user("chef", "supervisor", "csd", LIVE_AB)
    web.user("op-a", "operator", "csd", [("view_live", "commune-a")])
    web.user("op-ga", "operator", "csd", [("view_live", "commune-a", "ga")])
    web.user("op-replay", "operator", "csd", [("playback", "commune-a"), ("playback", "commune-b")])
    web.user("op-expired", "operator", "csd", LIVE_AB, expires=date.today() - timedelta(days=1))
    chef = web.login("chef")
    body = {"name": "Secteur", "layout": 4, "tiles": ["a1", "b1", "a2", None], "shared": True}
    assert chef.post(f"{web.url}/api/v1/views", json=body).status_code == 201
    masked = {"camera": None, "name": None, "masque": True}
    empty = {"camera": None, "name": None, "masque": False}
    a1 = {"camera": "a1", "name": "Mairie", "masque": False}
    a2 = {"camera": "a2", "name": "Gare", "masque": False}
    expected = {
        "op-a": [a1, masked, a2, empty],
        "op-ga": [a1, masked, masked, empty],  # group grant: a1 only
        "op-replay": [masked, masked, masked, empty],  # playback is not live
        "op-expired": [masked, masked, masked, empty],  # habilitation over
    }
    for login, tiles in expected.items():
        r = web.login(login).get(f"{web.url}/api/v1/views")
        assert r.status_code == 200, r.text
        assert r.json()["views"][0]["tiles"] == tiles, login
        shown = json.dumps(r.json())
        assert "b1" not in shown and "Place" not in shown, login


def test_only_cameras_watched_live_are_saved(web: WebEnv) -> None:
    web.user("op-a", "operator", "csd", [("view_live", "commune-a"), ("playback", "commune-b")])
    web.user("op-expired", "operator", "csd", LIVE_AB, expires=date.today() - timedelta(days=1))
    s = web.login("op-a")
    for tiles in (["b1"], ["c1"], ["inconnue"]):
        r = s.post(f"{web.url}/api/v1/views", json={"name": "v", "layout": 1, "tiles": tiles})
        assert r.status_code == 403, r.text
        assert message(r) == f"Accès refusé : direct non autorisé sur ces caméras : {tiles[0]}."
    r = web.login("op-expired").post(
        f"{web.url}/api/v1/views", json={"name": "v", "layout": 1, "tiles": ["a1"]}
    )
    assert r.status_code == 403
    assert web.sql("SELECT count(*) FROM wall_views") == [(0,)]
    reasons = web.sql(
        "SELECT detail->>'raison' FROM audit WHERE action = 'access.denied' ORDER BY seq"
    )
    assert reasons[0] == ("direct non autorisé sur ces caméras : b1",)
    # a view without cameras needs no right
    r = s.post(f"{web.url}/api/v1/views", json={"name": "vide", "layout": 1, "tiles": [None]})
    assert r.status_code == 201, r.text


INVALID = [
    ({"name": "v", "layout": 3, "tiles": [None] * 3},
     "Champ « layout » : disposition non permise : 1, 4, 9 ou 16 tuiles"),
    ({"name": "v", "layout": 4, "tiles": ["a1", None, None, None, None]},
     "Champ « tiles » : trop d'entrées (5) pour 4 tuile(s) : une caméra ou null par tuile"),
    ({"name": "v", "layout": 1, "tiles": ["A1; DROP"]},
     "Champ « tiles[0] » : format invalide (minuscules, chiffres, - et _)"),
    ({"name": "v", "layout": 1, "tiles": [3]},
     "Champ « tiles[0] » : chaîne de caractères attendue"),
    ({"name": "   ", "layout": 1, "tiles": [None]},
     "Champ « name » : nom vide ou contenant des caractères non imprimables"),
    ({"layout": 1, "tiles": [None]}, "Champ « name » : champ obligatoire manquant"),
    ({"name": "v", "layout": 1, "tiles": [None], "owner": "x"},
     "Champ « owner » : champ inconnu"),
]  # fmt: skip


def test_invalid_views_are_refused_in_french(web: WebEnv) -> None:
    web.user("op", "operator", "csd", LIVE_AB)
    s = web.login("op")
    view = s.post(f"{web.url}/api/v1/views", json={"name": "ok", "layout": 1, "tiles": [None]})
    for body, expected in INVALID:
        for r in (s.post(f"{web.url}/api/v1/views", json=body),
                  s.put(f"{web.url}/api/v1/views/{view.json()['id']}", json=body)):  # fmt: skip
            assert r.status_code == 400, r.text
            assert message(r) == expected
    assert web.sql("SELECT name, tiles FROM wall_views") == [("ok", [None])]
