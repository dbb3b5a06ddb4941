"""Identity and sessions, against the real service over HTTPS and a real PostgreSQL:
sign-in with TOTP (and its enrolment), lockout, throttling, CSRF, session fixation,
timeouts, logout everywhere, forced password change, API tokens."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest

from tests.fixtures.web import PASSWORD, WebEnv
from vms.security import totp

pytestmark = pytest.mark.integration


def _login(web: WebEnv, login: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    s = web.client()
    r = s.post(f"{web.url}/api/v1/auth/login", json={"login": login, "password": password})
    return s, r


def _audit_actions(web: WebEnv, actor: str) -> list[str]:
    return [
        str(r[0])
        for r in web.sql("SELECT action FROM audit WHERE actor = %s ORDER BY seq", (actor,))
    ]


def test_sign_in_with_totp_then_the_api_is_open(web: WebEnv) -> None:
    web.user("op", "operator", "csd", [("view_live", "commune-a")], mfa=True)
    s, r = _login(web, "op")
    assert r.status_code == 200 and r.json()["next"] == "totp"
    # the half-open session reaches nothing but the second-factor step
    assert s.get(f"{web.url}/api/v1/cameras").status_code == 401
    csrf = r.json()["csrf_token"]
    r = s.post(
        f"{web.url}/api/v1/auth/totp", json={"code": "000000"}, headers={"X-CSRF-Token": csrf}
    )
    assert r.status_code == 401
    assert "Code de vérification incorrect" in r.json()["erreur"]["message"]
    code = totp.totp(web.secrets["op"], time.time())
    r = s.post(f"{web.url}/api/v1/auth/totp", json={"code": code}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    ids = sorted(c["id"] for c in s.get(f"{web.url}/api/v1/cameras").json()["cameras"])
    assert ids == ["a1", "a2"]
    # the same code cannot be used twice (replay)
    s2, r2 = _login(web, "op")
    r2 = s2.post(
        f"{web.url}/api/v1/auth/totp",
        json={"code": code},
        headers={"X-CSRF-Token": r2.json()["csrf_token"]},
    )
    assert r2.status_code == 401
    assert _audit_actions(web, "op") == [
        "auth.mfa.failure",
        "auth.login.success",
        "auth.mfa.failure",
    ]


def test_totp_enrolment_at_first_sign_in(web: WebEnv) -> None:
    user_id = web.user("newop", "operator", "csd", [("view_live", "commune-a")])
    web.sql("UPDATE users SET mfa_required = true WHERE id = %s", (user_id,))
    s, r = _login(web, "newop")
    assert r.json()["next"] == "enroll"
    csrf = r.json()["csrf_token"]
    r = s.post(f"{web.url}/api/v1/auth/totp/enroll", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200
    secret = r.json()["secret"]
    assert r.json()["otpauth_uri"].startswith("otpauth://totp/")
    assert web.sql("SELECT totp_secret FROM users WHERE id = %s", (user_id,)) == [(None,)]
    code = totp.totp(secret, time.time())
    r = s.post(f"{web.url}/api/v1/auth/totp", json={"code": code}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    assert web.sql("SELECT totp_secret FROM users WHERE id = %s", (user_id,)) == [(secret,)]
    assert "auth.mfa.enrolled" in _audit_actions(web, "newop")


def test_brute_force_locks_the_account(web: WebEnv) -> None:
    web.user("victim", "commune_viewer", "commune-a", [("view_live", "commune-a")])
    for _ in range(5):
        assert _login(web, "victim", "wrong-password")[1].status_code == 401
    # locked: even the right password is refused now
    r = _login(web, "victim")[1]
    assert r.status_code == 403
    assert "verrouillé" in r.json()["erreur"]["message"]
    actions = _audit_actions(web, "victim")
    assert actions.count("auth.login.failure") == 5 and actions[-1] == "auth.login.refused"
    # the lock lifts at its term
    web.sql("UPDATE users SET locked_until = now() - interval '1 second' WHERE login = 'victim'")
    assert _login(web, "victim")[1].status_code == 200


def test_unknown_logins_are_audited_and_answered_like_wrong_passwords(web: WebEnv) -> None:
    web.user("real", "commune_viewer", "commune-a")
    a = _login(web, "nobody", "x")[1]
    b = _login(web, "real", "x")[1]
    assert a.status_code == b.status_code == 401
    assert a.json() == b.json()
    assert _audit_actions(web, "nobody") == ["auth.login.failure"]


def test_state_changing_requests_need_the_csrf_token(web: WebEnv) -> None:
    web.user("adm", "admin", "commune-a", [("admin_users", "commune-a")])
    s = web.login("adm")
    token = s.headers.pop("X-CSRF-Token")
    body = {
        "login": "x1",
        "display_name": "X",
        "role": "commune_viewer",
        "tenant": "commune-a",
        "password": "Very-Long-Passw0rd!",
    }
    r = s.post(f"{web.url}/api/v1/users", json=body)
    assert r.status_code == 403 and "CSRF" in r.json()["erreur"]["message"]
    r = s.post(f"{web.url}/api/v1/users", json=body, headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 403
    assert web.sql("SELECT count(*) FROM users WHERE login = 'x1'") == [(0,)]
    r = s.post(f"{web.url}/api/v1/users", json=body, headers={"X-CSRF-Token": token})
    assert r.status_code == 201, r.text


def test_session_fixation_a_planted_cookie_is_worthless(web: WebEnv) -> None:
    web.user("fix", "commune_viewer", "commune-a", [("view_live", "commune-a")])
    attacker = web.login("fix")
    planted = attacker.cookies.get("vms_session")
    victim = web.client()
    victim.cookies.set("vms_session", planted, domain="127.0.0.1")
    r = victim.post(f"{web.url}/api/v1/auth/login", json={"login": "fix", "password": PASSWORD})
    assert r.status_code == 200
    assert victim.cookies.get("vms_session") != planted
    # the planted token was ended by the new sign-in
    assert attacker.get(f"{web.url}/api/v1/me").status_code == 401


def test_cookie_attributes(web: WebEnv) -> None:
    web.user("cookie", "commune_viewer", "commune-a")
    _, r = _login(web, "cookie")
    cookie = r.headers["Set-Cookie"]
    for attribute in ("Secure", "HttpOnly", "SameSite=Strict", "Path=/"):
        assert attribute in cookie
    assert "Strict-Transport-Security" in r.headers


def test_idle_and_absolute_timeouts(web: WebEnv) -> None:
    web.user("idle", "commune_viewer", "commune-a")
    s = web.login("idle")
    assert s.get(f"{web.url}/api/v1/me").status_code == 200
    web.sql("UPDATE sessions SET last_seen_at = now() - interval '16 minutes'")
    assert s.get(f"{web.url}/api/v1/me").status_code == 401
    s = web.login("idle")
    web.sql("UPDATE sessions SET expires_at = now() - interval '1 second'")
    assert s.get(f"{web.url}/api/v1/me").status_code == 401


def test_logout_and_logout_everywhere(web: WebEnv) -> None:
    web.user("two", "commune_viewer", "commune-a")
    first, second, third = web.login("two"), web.login("two"), web.login("two")
    assert first.post(f"{web.url}/api/v1/auth/logout").status_code == 204
    assert first.get(f"{web.url}/api/v1/me").status_code == 401
    assert second.get(f"{web.url}/api/v1/me").status_code == 200
    assert second.post(f"{web.url}/api/v1/auth/logout-everywhere").status_code == 204
    assert third.get(f"{web.url}/api/v1/me").status_code == 401
    assert web.sql("SELECT count(*) FROM sessions") == [(0,)]


def test_reset_password_must_be_changed_and_policy_applies(web: WebEnv) -> None:
    web.user("fresh", "commune_viewer", "commune-a", [("view_live", "commune-a")], must_change=True)
    s = web.login("fresh")
    r = s.get(f"{web.url}/api/v1/cameras")
    assert r.status_code == 409 and "changer votre mot de passe" in r.json()["erreur"]["message"]
    assert s.get(f"{web.url}/api/v1/me").json()["must_change_password"] is True
    weak = s.post(
        f"{web.url}/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "short1A!"},
    )
    assert weak.status_code == 400 and "12 caractères" in weak.json()["erreur"]["message"]
    three = s.post(
        f"{web.url}/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "onlylowercase123456"},
    )
    assert three.status_code == 400 and "4 types" in three.json()["erreur"]["message"]
    r = s.post(
        f"{web.url}/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "Nouveau-Mot-2-Passe"},
    )
    assert r.status_code == 200, r.text
    s.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    assert s.get(f"{web.url}/api/v1/cameras").status_code == 200


def test_forced_password_validity_period(web: WebEnv) -> None:
    user_id = web.user("old", "commune_viewer", "commune-a", [("view_live", "commune-a")])
    web.sql(
        "UPDATE users SET password_valid_days = 90, "
        "password_changed_at = now() - interval '91 days' WHERE id = %s",
        (user_id,),
    )
    s = web.login("old")
    assert s.get(f"{web.url}/api/v1/cameras").status_code == 409


def test_expired_habilitation_loses_access_to_images(web: WebEnv) -> None:
    web.user(
        "agent",
        "commune_viewer",
        "commune-a",
        [("view_live", "commune-a")],
        expires=date.today() - timedelta(days=1),
    )
    s = web.login("agent")
    assert s.get(f"{web.url}/api/v1/cameras").json()["cameras"] == []
    assert s.get(f"{web.url}/api/v1/cameras/a1").status_code == 404
    me = s.get(f"{web.url}/api/v1/me").json()
    assert me["habilitation"]["in_force"] is False
    assert "expirée" in me["habilitation"]["status"]
    web.sql("UPDATE users SET habilitation_expires_on = current_date WHERE login = 'agent'")
    assert s.get(f"{web.url}/api/v1/cameras/a1").status_code == 200


def test_disabled_account_loses_its_sessions_and_tokens(web: WebEnv) -> None:
    web.user("boss", "admin", "commune-a", [("admin_users", "commune-a")])
    victim_id = web.user("leaver", "commune_viewer", "commune-a", [("view_live", "commune-a")])
    leaver = web.login("leaver")
    token = leaver.post(
        f"{web.url}/api/v1/tokens", json={"name": "script", "scopes": ["view_live"]}
    )
    assert token.status_code == 201, token.text
    bearer = {"Authorization": f"Bearer {token.json()['token']}"}
    assert web.client().get(f"{web.url}/api/v1/cameras", headers=bearer).status_code == 200
    boss = web.login("boss")
    r = boss.patch(f"{web.url}/api/v1/users/{victim_id}", json={"disabled": True})
    assert r.status_code == 200, r.text
    assert leaver.get(f"{web.url}/api/v1/me").status_code == 401
    assert web.client().get(f"{web.url}/api/v1/cameras", headers=bearer).status_code == 401
    assert _login(web, "leaver")[1].status_code == 403


def test_api_tokens_are_narrowed_to_their_scopes(web: WebEnv) -> None:
    web.user(
        "svc",
        "admin",
        "commune-a",
        [("view_live", "commune-a"), ("admin_users", "commune-a"), ("read_audit", "commune-a")],
    )
    s = web.login("svc")
    refused = s.post(f"{web.url}/api/v1/tokens", json={"name": "x", "scopes": ["export"]})
    assert refused.status_code == 400
    r = s.post(f"{web.url}/api/v1/tokens", json={"name": "lecture", "scopes": ["read_audit"]})
    token = r.json()["token"]
    bearer = web.client()
    bearer.headers["Authorization"] = f"Bearer {token}"
    assert bearer.get(f"{web.url}/api/v1/audit").status_code == 200
    assert bearer.get(f"{web.url}/api/v1/users").status_code == 403
    assert bearer.get(f"{web.url}/api/v1/cameras").json()["cameras"] == []
    # a token cannot mint tokens nor change the password
    assert (
        bearer.post(
            f"{web.url}/api/v1/tokens", json={"name": "y", "scopes": ["read_audit"]}
        ).status_code
        == 403
    )
    token_id = r.json()["id"]
    assert s.delete(f"{web.url}/api/v1/tokens/{token_id}").status_code == 204
    assert bearer.get(f"{web.url}/api/v1/audit").status_code == 401
    assert web.sql("SELECT count(*) FROM api_tokens WHERE token_hash = %s", (token,)) == [(0,)]


def test_sign_in_attempts_are_throttled_per_address(pg_dsn: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.fixtures.web import HASHER, seed_installation
    from vms.config import WebConfig
    from vms.domain.clock import SystemClock
    from vms.web.server import WebServer

    seed_installation(pg_dsn)
    server = WebServer(
        WebConfig(port=0, login_attempts_per_minute=5),
        pg_dsn,
        SystemClock(),
        tmp_path / "tls",
        hasher=HASHER,
    )
    server.start()
    try:
        env = WebEnv(server.url, pg_dsn, server.cert)
        codes = [_login(env, f"user{i}", "x")[1].status_code for i in range(7)]
        assert codes == [401] * 5 + [429] * 2
    finally:
        for s in env.sessions:
            s.close()
        server.stop()
