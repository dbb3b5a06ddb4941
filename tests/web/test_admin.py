"""Administration and audit through the API, against the real service: accounts,
habilitation, grants, resets, users CSV export → dry run → import, audit search and
CSV export, health, metrics and the OpenAPI document."""

from __future__ import annotations

import csv
import io

import pytest

from tests.fixtures.web import PASSWORD, WebEnv

pytestmark = pytest.mark.integration

ADMIN_RIGHTS = [("admin_users", "commune-a"), ("admin_cameras", "commune-a"),
                ("read_audit", "commune-a")]  # fmt: skip


def test_account_lifecycle(web: WebEnv) -> None:
    web.user("chef", "admin", "commune-a", ADMIN_RIGHTS)
    s = web.login("chef")
    body = {"login": "dupont", "display_name": "Jean Dupont", "role": "operator",
            "tenant": "commune-a", "password": "court"}  # fmt: skip
    r = s.post(f"{web.url}/api/v1/users", json=body)
    assert r.status_code == 400 and "trop court" in r.json()["erreur"]["message"]
    r = s.post(f"{web.url}/api/v1/users", json={**body, "password": "Provisoire-2026"})
    assert r.status_code == 201, r.text
    user = r.json()
    assert user["mfa_required"] is True  # operators: second factor by default
    assert "password_hash" not in user and "totp_secret" not in user
    r = s.post(f"{web.url}/api/v1/users", json={**body, "password": "Provisoire-2026"})
    assert r.status_code == 400 and "existe déjà" in r.json()["erreur"]["message"]
    # habilitation needs its act and expiry
    r = s.patch(f"{web.url}/api/v1/users/{user['id']}", json={"habilitation": "police_municipale"})
    assert r.status_code == 400 and "référence" in r.json()["erreur"]["message"]
    r = s.patch(
        f"{web.url}/api/v1/users/{user['id']}",
        json={"habilitation": "police_municipale", "habilitation_ref": "Arrêté 2026-17",
              "habilitation_expires_on": "2027-06-30", "password_valid_days": 180},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["habilitation_expires_on"] == "2027-06-30"
    grants = {"grants": [{"action": "view_live", "tenant": "commune-a", "camera_group": "ga"},
                         {"action": "playback", "tenant": "commune-a"}]}  # fmt: skip
    r = s.put(f"{web.url}/api/v1/users/{user['id']}/grants", json=grants)
    assert r.status_code == 200, r.text
    r = s.put(
        f"{web.url}/api/v1/users/{user['id']}/grants",
        json={"grants": [{"action": "view_live", "tenant": "commune-a", "camera_group": "nope"}]},
    )
    assert r.status_code == 400
    got = s.get(f"{web.url}/api/v1/users/{user['id']}").json()
    assert {(g["action"], g["camera_group"]) for g in got["grants"]} == {
        ("view_live", "ga"), ("playback", None)}  # fmt: skip
    assert s.post(f"{web.url}/api/v1/users/{user['id']}/password-reset",
                  json={"password": "Autre-Provisoire-2026"}).status_code == 204  # fmt: skip
    assert s.post(f"{web.url}/api/v1/users/{user['id']}/mfa-reset").status_code == 204
    assert s.patch(f"{web.url}/api/v1/users/{user['id']}", json={"disabled": True}).json()[
        "disabled"] is True  # fmt: skip
    me = s.get(f"{web.url}/api/v1/me").json()["user"]["id"]
    r = s.patch(f"{web.url}/api/v1/users/{me}", json={"disabled": True})
    assert r.status_code == 400
    actions = [str(r[0]) for r in web.sql(
        "SELECT action FROM audit WHERE actor = 'chef' AND target = 'utilisateur:dupont' "
        "ORDER BY seq")]  # fmt: skip
    assert actions == ["user.create", "user.update", "user.grants", "user.password_reset",
                       "user.mfa_reset", "user.update"]  # fmt: skip


def test_group_grant_shows_only_the_group_cameras(web: WebEnv) -> None:
    web.user("groupe", "operator", "csd", [("view_live", "commune-a", "ga")])
    s = web.login("groupe")
    assert [c["id"] for c in s.get(f"{web.url}/api/v1/cameras").json()["cameras"]] == ["a1"]
    assert s.get(f"{web.url}/api/v1/cameras/a2").status_code == 404


def test_users_csv_export_dry_run_then_import(web: WebEnv) -> None:
    web.user("chef", "admin", "commune-a", ADMIN_RIGHTS)
    web.user("martin", "commune_viewer", "commune-a", [("view_live", "commune-a")])
    s = web.login("chef")
    exported = s.get(f"{web.url}/api/v1/users/export.csv")
    assert exported.status_code == 200 and exported.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text), delimiter=";"))
    assert [r["login"] for r in rows] == ["chef", "martin"]
    assert "argon2" not in exported.text
    martin = next(r for r in rows if r["login"] == "martin")
    martin["display_name"] = "=Martin Renommé"  # formula guard round trip
    new = {**martin, "login": "bernard", "display_name": "Bernard", "grants": "playback@commune-a"}
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), delimiter=";")
    writer.writeheader()
    writer.writerows([martin, new])  # chef is absent from the file: reported, kept
    text = out.getvalue().replace(";=Martin", ";'=Martin")
    r = s.post(f"{web.url}/api/v1/users/import", data=text.encode(),
               headers={"Content-Type": "text/csv"})  # fmt: skip
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["dry_run"] and not report["applied"]
    assert report["created"] == ["bernard"] and report["absent"] == ["chef"]
    assert report["updated"][0]["changes"]["display_name"]["new"] == "=Martin Renommé"
    assert web.sql("SELECT count(*) FROM users WHERE login = 'bernard'") == [(0,)]
    r = s.post(f"{web.url}/api/v1/users/import?dry_run=false", data=text.encode(),
               headers={"Content-Type": "text/csv"})  # fmt: skip
    assert r.status_code == 200 and r.json()["applied"], r.text
    assert web.sql("SELECT display_name FROM users WHERE login = 'martin'") == [
        ("=Martin Renommé",)
    ]
    assert web.sql(
        "SELECT must_change_password, g.action FROM users u JOIN grants g ON g.user_id = u.id "
        "WHERE login = 'bernard'") == [(True, "playback")]  # fmt: skip
    assert web.sql("SELECT count(*) FROM users WHERE login = 'chef'") == [(1,)]
    bad = text + "x!;Nom;;pirate;commune-a;;;;;;;\n"
    r = s.post(f"{web.url}/api/v1/users/import?dry_run=false", data=bad.encode(),
               headers={"Content-Type": "text/csv"})  # fmt: skip
    assert r.status_code == 400
    assert r.json()["errors"][0]["ligne"] == 4
    assert "rien n'a été appliqué" in r.json()["erreur"]["message"]


def test_audit_search_and_csv_export(web: WebEnv) -> None:
    web.user("lectrice", "auditor", "commune-a", [("read_audit", "commune-a")])
    web.user("martin", "commune_viewer", "commune-a", [("view_live", "commune-a")])
    web.login("martin")
    web.client().post(f"{web.url}/api/v1/auth/login", json={"login": "martin", "password": "x"})
    s = web.login("lectrice")
    entries = s.get(f"{web.url}/api/v1/audit", params={"actor": "martin"}).json()["entries"]
    assert [e["action"] for e in entries] == ["auth.login.failure", "auth.login.success"]
    assert entries[0]["detail"]["raison"] == "mot de passe incorrect"
    only = s.get(f"{web.url}/api/v1/audit", params={"action": "auth.login.s", "limit": 1})
    assert [e["action"] for e in only.json()["entries"]] == ["auth.login.success"]
    bad = s.get(f"{web.url}/api/v1/audit", params={"since": "hier"})
    assert bad.status_code == 400 and "ISO 8601" in bad.json()["erreur"]["message"]
    exported = s.get(f"{web.url}/api/v1/audit.csv", params={"actor": "martin"})
    rows = list(csv.DictReader(io.StringIO(exported.text), delimiter=";"))
    assert [r["action"] for r in rows] == ["auth.login.failure", "auth.login.success"]
    assert all(len(r["hash"]) == 64 for r in rows)
    reads = web.sql("SELECT action FROM audit WHERE actor = 'lectrice' AND action LIKE 'audit.%%'")
    assert [r[0] for r in reads] == ["audit.read", "audit.read", "audit.export"]


def test_health_metrics_and_openapi(web: WebEnv) -> None:
    c = web.client()
    assert c.get(f"{web.url}/healthz").json() == {"status": "ok", "database": "ok"}
    c.post(f"{web.url}/api/v1/auth/login", json={"login": "nobody", "password": PASSWORD})
    metrics = c.get(f"{web.url}/metrics").text
    assert 'vms_logins_total{outcome="failure"} 1' in metrics
    assert "vms_database_up 1" in metrics
    spec = c.get(f"{web.url}/api/v1/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    assert "/api/v1/users/{user_id}/grants" in spec["paths"]
    assert spec["components"]["schemas"]["NewUser"]["properties"]["login"]["pattern"]
    r = c.get(f"{web.url}/api/v1/nope")
    assert r.status_code == 404 and r.json()["erreur"]["message"] == "Ressource introuvable."
    page = c.get(f"{web.url}/")
    assert page.status_code == 200 and 'lang="fr"' in page.text
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
