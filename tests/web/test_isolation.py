"""Tenant isolation matrix: for every API endpoint and every pair (user of one tenant,
resource of another tenant), access is refused or the foreign rows are absent.

Pairs: a commune administrator against a neighbouring commune (in and out of its
intercommunality), a CSD operator against a commune without a convention, and a CSD
without any convention against every commune. Every actor holds every right on its
own scope, and the csd-2 actor even holds grants stored on foreign communes (inert
without a convention). ``test_matrix_covers_every_endpoint`` fails when an endpoint
is added without its row here.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
import requests

from tests.fixtures.live import run_client
from tests.fixtures.web import WebEnv
from vms.domain.access import Action

pytestmark = pytest.mark.integration

ALL = [a.value for a in Action]

# endpoints that only ever act on the caller's own account, or need no account
SELF_OR_PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("GET", "/api/v1/openapi.json"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/totp/enroll"),
    ("POST", "/api/v1/auth/totp"),
    ("POST", "/api/v1/auth/logout"),
    ("POST", "/api/v1/auth/logout-everywhere"),
    ("POST", "/api/v1/auth/password"),
    ("GET", "/api/v1/me"),
    ("GET", "/api/v1/tokens"),
    ("POST", "/api/v1/tokens"),
    # live links: the token is the credential, bound to one camera (tests/live/test_links.py)
    ("GET", "/api/v1/links/{token}"),
    ("POST", "/api/v1/links/{token}/whep"),
    ("GET", "/api/v1/links/{token}/fmp4"),
    ("DELETE", "/api/v1/links/{token}/sessions/{session_id}"),
    # the installation's public key that verifies export bundles: public by design
    ("GET", "/api/v1/exports-key"),
}


@dataclass
class Foreign:
    tenant: str
    camera: str
    user_id: int
    login: str
    group: str
    token_id: int


Case = Callable[[WebEnv, requests.Session, Foreign], None]
CASES: dict[tuple[str, str], list[Case]] = {}


def case(method: str, path: str) -> Callable[[Case], Case]:
    def register(fn: Case) -> Case:
        CASES.setdefault((method, path), []).append(fn)
        return fn

    return register


def refused(r: requests.Response) -> None:
    assert r.status_code in (403, 404), (r.status_code, r.text)


@case("GET", "/api/v1/tenants")
def _tenants(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    r = s.get(f"{env.url}/api/v1/tenants")
    assert r.status_code == 200 and f.tenant not in [t["id"] for t in r.json()["tenants"]]


@case("GET", "/api/v1/cameras")
def _cameras(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    cams = s.get(f"{env.url}/api/v1/cameras").json()["cameras"]
    assert all(c["tenant"] != f.tenant for c in cams) and f.camera not in [c["id"] for c in cams]


@case("GET", "/api/v1/cameras/{camera_id}")
def _camera(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    assert s.get(f"{env.url}/api/v1/cameras/{f.camera}").status_code == 404


@case("GET", "/api/v1/camera-groups")
def _groups(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    r = s.get(f"{env.url}/api/v1/camera-groups")
    assert r.status_code == 200 and all(g["tenant"] != f.tenant for g in r.json()["groups"])


@case("PUT", "/api/v1/camera-groups/{group_id}")
def _group_foreign_tenant(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    body = {"tenant": f.tenant, "name": "pirate", "cameras": [f.camera]}
    refused(s.put(f"{env.url}/api/v1/camera-groups/{f.group}", json=body))
    assert env.sql("SELECT name FROM camera_groups WHERE id = %s", (f.group,)) != [("pirate",)]


@case("PUT", "/api/v1/camera-groups/{group_id}")
def _group_foreign_camera(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    own = env.sql("SELECT home_tenant_id FROM users WHERE login = %s", (s.headers["X-Actor"],))
    body = {"tenant": own[0][0], "name": "mixte", "cameras": [f.camera]}
    r = s.put(f"{env.url}/api/v1/camera-groups/mixte-{f.tenant}", json=body)
    assert r.status_code in (400, 403, 404), r.text
    assert env.sql(
        "SELECT count(*) FROM camera_group_members "
        "WHERE camera_id = %s AND group_id LIKE 'mixte%%'",
        (f.camera,),
    ) == [(0,)]


@case("GET", "/api/v1/users")
def _users(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    r = s.get(f"{env.url}/api/v1/users")
    if r.status_code == 200:
        assert all(u["tenant"] != f.tenant for u in r.json()["users"])
    else:
        refused(r)


@case("POST", "/api/v1/users")
def _create_user(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    body = {
        "login": f"intrus-{f.tenant}",
        "display_name": "Intrus",
        "role": "admin",
        "tenant": f.tenant,
        "password": "Very-Long-Passw0rd!",
    }
    refused(s.post(f"{env.url}/api/v1/users", json=body))
    assert env.sql("SELECT count(*) FROM users WHERE login = %s", (body["login"],)) == [(0,)]


@case("GET", "/api/v1/users/export.csv")
def _export(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    r = s.get(f"{env.url}/api/v1/users/export.csv")
    if r.status_code == 200:
        assert f.login not in r.text and f";{f.tenant};" not in r.text
    else:
        refused(r)


@case("POST", "/api/v1/users/import")
def _import(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    from vms.domain.users_csv import COLUMNS

    header = ";".join(COLUMNS)
    row = {c: "" for c in COLUMNS}
    row.update(
        login=f.login,
        display_name="Repris",
        role="admin",
        tenant=f.tenant,
        grants=f"admin_users@{f.tenant}",
    )
    text = header + "\n" + ";".join(row[c] for c in COLUMNS) + "\n"
    r = s.post(
        f"{env.url}/api/v1/users/import?dry_run=false",
        data=text.encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert r.status_code in (400, 403), r.text
    assert env.sql("SELECT display_name, role FROM users WHERE id = %s", (f.user_id,)) != [
        ("Repris", "admin")
    ]


_ACCOUNT = "SELECT password_hash, display_name, disabled, totp_secret FROM users WHERE id = %s"


def _user_path(suffix: str, method: str, body: object = None) -> Case:
    def check(env: WebEnv, s: requests.Session, f: Foreign) -> None:
        before = env.sql(
            _ACCOUNT,
            (f.user_id,),
        )
        grants = env.sql("SELECT count(*) FROM grants WHERE user_id = %s", (f.user_id,))
        r = s.request(method, f"{env.url}/api/v1/users/{f.user_id}{suffix}", json=body)
        assert r.status_code == 404, (r.status_code, r.text)
        assert (
            env.sql(
                _ACCOUNT,
                (f.user_id,),
            )
            == before
        )
        assert env.sql("SELECT count(*) FROM grants WHERE user_id = %s", (f.user_id,)) == grants

    return check


case("GET", "/api/v1/users/{user_id}")(_user_path("", "GET"))
case("PATCH", "/api/v1/users/{user_id}")(_user_path("", "PATCH", {"disabled": True}))
case("POST", "/api/v1/users/{user_id}/password-reset")(
    _user_path("/password-reset", "POST", {"password": "Another-Long-Passw0rd!"})
)
case("POST", "/api/v1/users/{user_id}/mfa-reset")(_user_path("/mfa-reset", "POST"))
case("PUT", "/api/v1/users/{user_id}/grants")(
    _user_path("/grants", "PUT", {"grants": [{"action": "admin_users", "tenant": "commune-a"}]})
)


@case("PUT", "/api/v1/users/{user_id}/grants")
def _grant_foreign_tenant_to_own_user(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    me = s.get(f"{env.url}/api/v1/me").json()["user"]["id"]
    query = "SELECT action, tenant_id FROM grants WHERE user_id = %s ORDER BY 1, 2"
    before = env.sql(query, (me,))
    r = s.put(
        f"{env.url}/api/v1/users/{me}/grants",
        json={"grants": [{"action": "view_live", "tenant": f.tenant}]},
    )
    assert r.status_code in (400, 403, 404), r.text
    assert env.sql(query, (me,)) == before


@case("DELETE", "/api/v1/tokens/{token_id}")
def _revoke_foreign_token(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    assert s.delete(f"{env.url}/api/v1/tokens/{f.token_id}").status_code == 404
    assert env.sql("SELECT revoked_at FROM api_tokens WHERE id = %s", (f.token_id,)) == [(None,)]


@case("GET", "/api/v1/audit")
def _audit(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    for query in ("", f"?camera={f.camera}", f"?actor={f.login}", "?action=auth."):
        r = s.get(f"{env.url}/api/v1/audit{query}")
        if r.status_code == 200:
            entries = r.json()["entries"]
            assert all(e["tenant"] != f.tenant and e["actor"] != f.login for e in entries)
        else:
            refused(r)


@case("GET", "/api/v1/audit.csv")
def _audit_csv(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    r = s.get(f"{env.url}/api/v1/audit.csv")
    if r.status_code != 200:
        return refused(r)
    rows = list(csv.DictReader(io.StringIO(r.text), delimiter=";"))
    assert rows and all(row["tenant"] != f.tenant and row["actor"] != f.login for row in rows)


ACTORS = {
    # login: (role, home tenant, tenants whose every right it holds)
    "admin-a": ("admin", "commune-a", ["commune-a"]),
    "admin-b": ("admin", "commune-b", ["commune-b"]),
    "op-csd": ("operator", "csd", ["csd", "commune-a", "commune-b"]),
    "op-csd2": ("operator", "csd-2", ["csd-2", "commune-a", "commune-b", "commune-c"]),
}
PAIRS = [
    ("admin-a", "commune-b"),
    ("admin-a", "commune-c"),
    ("admin-b", "commune-a"),
    ("op-csd", "commune-c"),
    ("op-csd2", "commune-a"),
    ("op-csd2", "commune-b"),
    ("op-csd2", "commune-c"),
]
CAMERA_OF = {"commune-a": "a1", "commune-b": "b1", "commune-c": "c1"}


# -- live (issue 4): signalling, switches and links ------------------------------------

SDP = {"Content-Type": "application/sdp"}


@case("POST", "/api/v1/cameras/{camera_id}/live/{stream}/whep")
def _whep(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    r = s.post(f"{env.url}/api/v1/cameras/{f.camera}/live/sub/whep", data="v=0", headers=SDP)
    refused(r)
    assert "v=0" not in r.text


@case("GET", "/api/v1/cameras/{camera_id}/live/{stream}/fmp4")
def _fmp4(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    refused(s.get(f"{env.url}/api/v1/cameras/{f.camera}/live/sub/fmp4"))


@case("DELETE", "/api/v1/live/sessions/{camera_id}/{stream}/{session_id}")
def _end_live(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    refused(s.delete(f"{env.url}/api/v1/live/sessions/{f.camera}/sub/x"))


@case("PATCH", "/api/v1/cameras/{camera_id}/live")
def _switches(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    r = s.patch(f"{env.url}/api/v1/cameras/{f.camera}/live", json={"live_enabled": False})
    refused(r)
    assert env.sql("SELECT live_enabled FROM cameras WHERE id = %s", (f.camera,)) == [(True,)]


def _foreign_link(env: WebEnv, f: Foreign) -> int:
    rows = env.sql(
        "INSERT INTO live_links (token_hash, kind, camera_id, tenant_id, stream, recipient, "
        "service, motif, created_by, created_at, expires_at) VALUES "
        "(md5(random()::text), 'partage', %s, %s, 'sub', 'Lt X', 'gendarmerie', 'm', 'y', "
        "now(), now() + interval '1 hour') RETURNING id",
        (f.camera, f.tenant),
    )
    return int(rows[0][0])  # type: ignore[call-overload]


@case("GET", "/api/v1/live/links")
def _links(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    link_id = _foreign_link(env, f)
    r = s.get(f"{env.url}/api/v1/live/links")
    assert r.status_code == 200 and link_id not in [x["id"] for x in r.json()["links"]]


@case("POST", "/api/v1/cameras/{camera_id}/live/links")
def _create_link(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    body = {"recipient": "Intrus", "service": "autre", "motif": "pirate"}
    refused(s.post(f"{env.url}/api/v1/cameras/{f.camera}/live/links", json=body))
    assert env.sql("SELECT count(*) FROM live_links WHERE motif = 'pirate'") == [(0,)]


@case("DELETE", "/api/v1/live/links/{link_id}")
def _revoke_link(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    link_id = _foreign_link(env, f)
    refused(s.delete(f"{env.url}/api/v1/live/links/{link_id}"))
    assert env.sql("SELECT revoked_at FROM live_links WHERE id = %s", (link_id,)) == [(None,)]


# -- PTZ and ONVIF ---------------------------------------------------------------------


def _ptz_url(env: WebEnv, f: Foreign, tail: str = "") -> str:
    return f"{env.url}/api/v1/cameras/{f.camera}/ptz{tail}"


def _foreign_ptz_lock(env: WebEnv, f: Foreign) -> list[tuple[object, ...]]:
    env.sql(
        "INSERT INTO ptz_locks VALUES (%s, %s, %s, 'Agent', 1, now() + interval '1 hour') "
        "ON CONFLICT (camera_id) DO NOTHING",
        (f.camera, f.tenant, f.user_id),
    )
    return env.sql("SELECT holder_id, expires_at FROM ptz_locks WHERE camera_id = %s", (f.camera,))


@case("GET", "/api/v1/cameras/{camera_id}/ptz")
def _ptz_state(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    r = s.get(_ptz_url(env, f))
    refused(r)
    assert "Agent" not in r.text


@case("POST", "/api/v1/cameras/{camera_id}/ptz")
def _ptz_command(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    before = _foreign_ptz_lock(env, f)
    refused(s.post(_ptz_url(env, f), json={"action": "move", "pan": 1.0}))
    assert (
        env.sql("SELECT holder_id, expires_at FROM ptz_locks WHERE camera_id = %s", (f.camera,))
        == before
    )


@case("POST", "/api/v1/cameras/{camera_id}/ptz/lock")
def _ptz_takeover(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    before = _foreign_ptz_lock(env, f)
    refused(s.post(_ptz_url(env, f, "/lock"), json={"takeover": True}))
    assert (
        env.sql("SELECT holder_id, expires_at FROM ptz_locks WHERE camera_id = %s", (f.camera,))
        == before
    )


@case("DELETE", "/api/v1/cameras/{camera_id}/ptz/lock")
def _ptz_release(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    before = _foreign_ptz_lock(env, f)
    refused(s.delete(_ptz_url(env, f, "/lock")))
    assert (
        env.sql("SELECT holder_id, expires_at FROM ptz_locks WHERE camera_id = %s", (f.camera,))
        == before
    )


@case("POST", "/api/v1/onvif/discover")
def _onvif_discover_through_foreign_relay(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    env.sql(
        "INSERT INTO live_relays (camera_id, stream, relay_url, recorded) "
        "VALUES (%s, 'zz', 'http://127.0.0.1:9', false) ON CONFLICT DO NOTHING",
        (f.camera,),
    )
    try:
        r = s.post(f"{env.url}/api/v1/onvif/discover")
        assert r.status_code in (403, 409), r.text
    finally:
        env.sql("DELETE FROM live_relays WHERE stream = 'zz'")


@case("POST", "/api/v1/onvif/probe")
def _onvif_probe_through_foreign_relay(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    # the only relay known belongs to the foreign commune: it must not be used
    env.sql(
        "INSERT INTO live_relays (camera_id, stream, relay_url, recorded) "
        "VALUES (%s, 'zz', 'http://127.0.0.1:9', false) ON CONFLICT DO NOTHING",
        (f.camera,),
    )
    try:
        r = s.post(f"{env.url}/api/v1/onvif/probe", json={"address": "127.0.0.1:9"})
        assert r.status_code in (403, 409), r.text
        assert "acquisition" in r.text or r.status_code == 403
    finally:
        env.sql("DELETE FROM live_relays WHERE stream = 'zz'")


# -- playback, search, holds, exports (issue 5) -------------------------------------------

_RANGE = {"from": "2026-01-01T00:00:00+00:00", "to": "2026-01-01T01:00:00+00:00"}


@case("GET", "/api/v1/cameras/{camera_id}/timeline")
def _timeline(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    refused(s.get(f"{env.url}/api/v1/cameras/{f.camera}/timeline", params=_RANGE))


@case("GET", "/api/v1/cameras/{camera_id}/thumbnail")
def _thumbnail(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    refused(s.get(f"{env.url}/api/v1/cameras/{f.camera}/thumbnail", params={"at": _RANGE["from"]}))


@case("POST", "/api/v1/playback")
def _playback(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    body = {"cameras": [f.camera], **_RANGE, "motive": "pirate"}
    refused(s.post(f"{env.url}/api/v1/playback", json=body))
    assert env.sql("SELECT count(*) FROM playback_sessions WHERE motive = 'pirate'") == [(0,)]


def _foreign_playback(env: WebEnv, f: Foreign) -> str:
    session = f"foreign-{f.tenant}-session-0123456789"
    env.sql(
        "INSERT INTO playback_sessions (id, user_id, actor, tenant_id, camera_ids, stream, "
        "start_at, end_at, motive, created_at, expires_at) VALUES (%s, %s, %s, %s, %s, 'main', "
        "%s, %s, 'motif', now(), now() + interval '1 hour') ON CONFLICT (id) DO NOTHING",
        (session, f.user_id, f.login, f.tenant, [f.camera], _RANGE["from"], _RANGE["to"]),
    )
    return session


@case("GET", "/api/v1/playback/{session_id}/cameras/{camera_id}/segments/{segment_id}")
def _segment(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    session = _foreign_playback(env, f)
    refused(s.get(f"{env.url}/api/v1/playback/{session}/cameras/{f.camera}/segments/1"))


@case("DELETE", "/api/v1/playback/{session_id}")
def _end_playback(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    session = _foreign_playback(env, f)
    refused(s.delete(f"{env.url}/api/v1/playback/{session}"))
    rows = env.sql("SELECT ended_at FROM playback_sessions WHERE id = %s", (session,))
    assert rows == [(None,)]


def _foreign_hold(env: WebEnv, f: Foreign) -> int:
    rows = env.sql(
        "INSERT INTO legal_holds (reference, procedure, camera_ids, start_at, end_at, "
        "tenant_id) VALUES (%s, 'requisition', %s, %s, %s, %s) RETURNING id",
        (f"PV secret {f.tenant}", [f.camera], _RANGE["from"], _RANGE["to"], f.tenant),
    )
    return int(rows[0][0])  # type: ignore[call-overload]


@case("GET", "/api/v1/holds")
def _holds(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    _foreign_hold(env, f)
    r = s.get(f"{env.url}/api/v1/holds")
    if r.status_code != 200:
        return refused(r)
    assert f"PV secret {f.tenant}" not in r.text


@case("POST", "/api/v1/holds")
def _place_hold(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    body = {"reference": "PV pirate", "requested_by": "x y", "cameras": [f.camera], **_RANGE}
    refused(s.post(f"{env.url}/api/v1/holds", json=body))
    assert env.sql("SELECT count(*) FROM legal_holds WHERE reference = 'PV pirate'") == [(0,)]


@case("POST", "/api/v1/holds/{hold_id}/release")
def _release_hold(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    hold = _foreign_hold(env, f)
    refused(s.post(f"{env.url}/api/v1/holds/{hold}/release"))
    assert env.sql("SELECT released_at FROM legal_holds WHERE id = %s", (hold,)) == [(None,)]


def _foreign_export(env: WebEnv, f: Foreign) -> int:
    rows = env.sql(
        "INSERT INTO exports (tenant_id, camera_ids, start_at, end_at, motive, service, officer, "
        "reference, requested_by, status, created_at) VALUES (%s, %s, %s, %s, 'motif', "
        "'gendarmerie', 'Adj X', %s, 'autre', 'a_valider', now()) RETURNING id",
        (f.tenant, [f.camera], _RANGE["from"], _RANGE["to"], f"PV export {f.tenant}"),
    )
    return int(rows[0][0])  # type: ignore[call-overload]


@case("POST", "/api/v1/exports")
def _request_export(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    body = {"cameras": [f.camera], **_RANGE, "motive": "pirate", "service": "autre",
            "officer": "X Y", "reference": "PV pirate"}  # fmt: skip
    refused(s.post(f"{env.url}/api/v1/exports", json=body))
    assert env.sql("SELECT count(*) FROM exports WHERE motive = 'pirate'") == [(0,)]


@case("GET", "/api/v1/exports")
def _exports(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    _foreign_export(env, f)
    r = s.get(f"{env.url}/api/v1/exports")
    if r.status_code != 200:
        return refused(r)
    assert f"PV export {f.tenant}" not in r.text


@case("GET", "/api/v1/exports/{export_id}")
def _export(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    refused(s.get(f"{env.url}/api/v1/exports/{_foreign_export(env, f)}"))


@case("POST", "/api/v1/exports/{export_id}/decision")
def _decide_export(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    export = _foreign_export(env, f)
    refused(s.post(f"{env.url}/api/v1/exports/{export}/decision", json={"approve": True}))
    assert env.sql("SELECT status FROM exports WHERE id = %s", (export,)) == [("a_valider",)]


@case("GET", "/api/v1/exports/{export_id}/bundle")
def _download(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    refused(s.get(f"{env.url}/api/v1/exports/{_foreign_export(env, f)}/bundle"))


@case("GET", "/api/v1/search")
def _search(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    _foreign_hold(env, f)
    _foreign_export(env, f)
    for params in ({}, {"camera": f.camera}, {"tenant": f.tenant}, {"reference": "PV"},
                   {"operator": "autre"}):  # fmt: skip
        r = s.get(f"{env.url}/api/v1/search", params=params)
        if r.status_code != 200:
            refused(r)
            continue
        assert f'"{f.camera}"' not in r.text and f"PV secret {f.tenant}" not in r.text
        assert f"PV export {f.tenant}" not in r.text


# -- video wall views: saved layouts --------------------------------------------------


def _view(env: WebEnv, owner_id: int, tenant: str, camera: str) -> int:
    """A shared one-tile view of ``camera`` saved by ``owner_id`` under ``tenant``."""
    rows = env.sql(
        "INSERT INTO wall_views (owner_id, tenant_id, name, layout, tiles, shared, created_at, "
        "updated_at) VALUES (%s, %s, md5(random()::text), 1, jsonb_build_array(%s::text), true, "
        "now(), now()) RETURNING id",
        (owner_id, tenant, camera),
    )
    return int(rows[0][0])  # type: ignore[call-overload]


def _actor(env: WebEnv, s: requests.Session) -> tuple[int, str]:
    """(id, home tenant) of the session's user."""
    rows = env.sql("SELECT id, home_tenant_id FROM users WHERE login = %s", (s.headers["X-Actor"],))
    return int(rows[0][0]), str(rows[0][1])  # type: ignore[call-overload]


def _view_row(env: WebEnv, view_id: int) -> list[tuple[object, ...]]:
    return env.sql("SELECT name, layout, tiles, shared FROM wall_views WHERE id = %s", (view_id,))


@case("GET", "/api/v1/views")
def _views(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    foreign = _view(env, f.user_id, f.tenant, f.camera)
    # one's own view holding a foreign camera (a right since lost): the tile is masked
    own = _view(env, *_actor(env, s), f.camera)
    r = s.get(f"{env.url}/api/v1/views")
    assert r.status_code == 200
    views = {v["id"]: v for v in r.json()["views"]}
    assert foreign not in views
    assert views[own]["tiles"] == [{"camera": None, "name": None, "masque": True}]
    assert f'"{f.camera}"' not in r.text


@case("POST", "/api/v1/views")
def _create_view(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    body = {"name": f"pirate-{f.tenant}", "layout": 1, "tiles": [f.camera]}
    refused(s.post(f"{env.url}/api/v1/views", json=body))
    assert env.sql("SELECT count(*) FROM wall_views WHERE name = %s", (body["name"],)) == [(0,)]


@case("PUT", "/api/v1/views/{view_id}")
def _update_foreign_view(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    view_id = _view(env, f.user_id, f.tenant, f.camera)
    before = _view_row(env, view_id)
    body = {"name": "pirate", "layout": 1, "tiles": [None], "shared": False}
    assert s.put(f"{env.url}/api/v1/views/{view_id}", json=body).status_code == 404
    assert _view_row(env, view_id) == before


@case("PUT", "/api/v1/views/{view_id}")
def _update_own_view_with_foreign_camera(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    view_id = _view(env, *_actor(env, s), f.camera)
    env.sql("UPDATE wall_views SET tiles = '[null]' WHERE id = %s", (view_id,))
    before = _view_row(env, view_id)
    body = {"name": "mixte", "layout": 1, "tiles": [f.camera], "shared": False}
    refused(s.put(f"{env.url}/api/v1/views/{view_id}", json=body))
    assert _view_row(env, view_id) == before


@case("DELETE", "/api/v1/views/{view_id}")
def _delete_foreign_view(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    view_id = _view(env, f.user_id, f.tenant, f.camera)
    assert s.delete(f"{env.url}/api/v1/views/{view_id}").status_code == 404
    assert _view_row(env, view_id) != []


# -- analytics: events, snapshots, configuration, overlay, counts --------------------------


def _foreign_event(env: WebEnv, f: Foreign) -> int:
    """An event of the foreign camera, with a snapshot key (whose object need not exist)."""
    from datetime import UTC, datetime, timedelta

    import psycopg

    from vms.db.migrate import ensure_partitions

    at = datetime.now(UTC)
    with psycopg.connect(env.dsn) as conn:
        ensure_partitions(conn, at.date() - timedelta(days=1), at.date() + timedelta(days=1))
        row = conn.execute(
            "INSERT INTO events (camera_id, at, rule_id, kind, cls, confidence, boxes, label, "
            "model, snapshot_key) VALUES (%s, %s, 'secret', 'intrusion', 'person', 0.9, '[]', "
            "%s, 'm', 'events/x.jpg') RETURNING id",
            (f.camera, at, f"Alerte secrète {f.tenant}"),
        ).fetchone()
    assert row is not None
    return int(row[0])


_ANALYTICS = '{"models": [{"id": "m", "name": "m", "version": "1", "classes": ["person"]}]}'


@case("GET", "/api/v1/events")
def _events(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    event = _foreign_event(env, f)
    for params in ({}, {"camera": f.camera}, {"rule": "secret"}, {"after_id": event - 1},
                   {"kind": "intrusion", "limit": 500}):  # fmt: skip
        r = s.get(f"{env.url}/api/v1/events", params=params)
        assert r.status_code == 200, r.text
        assert f"Alerte secrète {f.tenant}" not in r.text and f'"{f.camera}"' not in r.text


@case("GET", "/api/v1/events/{event_id}/snapshot")
def _snapshot(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    assert s.get(f"{env.url}/api/v1/events/{_foreign_event(env, f)}/snapshot").status_code == 404


@case("GET", "/api/v1/cameras/{camera_id}/analytics")
def _analytics(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    assert s.get(f"{env.url}/api/v1/cameras/{f.camera}/analytics").status_code == 404


@case("PUT", "/api/v1/cameras/{camera_id}/analytics")
def _put_analytics(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    body = {"config": {"models": [{"id": "m", "name": "m", "version": "1", "classes": ["car"]}]}}
    assert s.put(f"{env.url}/api/v1/cameras/{f.camera}/analytics", json=body).status_code == 404
    assert env.sql(
        "SELECT count(*) FROM camera_analytics WHERE camera_id = %s AND updated_by <> 'config'",
        (f.camera,),
    ) == [(0,)]


@case("DELETE", "/api/v1/cameras/{camera_id}/analytics")
def _delete_analytics(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    env.sql(
        "INSERT INTO camera_analytics (camera_id, config, updated_by) VALUES (%s, %s, 'config') "
        "ON CONFLICT DO NOTHING",
        (f.camera, _ANALYTICS),
    )
    assert s.delete(f"{env.url}/api/v1/cameras/{f.camera}/analytics").status_code == 404
    kept = env.sql("SELECT count(*) FROM camera_analytics WHERE camera_id = %s", (f.camera,))
    assert kept == [(1,)]


@case("GET", "/api/v1/cameras/{camera_id}/analytics/live")
def _analytics_live(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    env.sql(
        "INSERT INTO analytics_live (camera_id, at, model, detections) VALUES (%s, now(), 'm', "
        "'[]') ON CONFLICT DO NOTHING",
        (f.camera,),
    )
    r = s.get(f"{env.url}/api/v1/cameras/{f.camera}/analytics/live")
    assert r.status_code == 404 and r.json()["erreur"]["message"] == "Ressource introuvable."


@case("GET", "/api/v1/cameras/{camera_id}/counts")
def _counts(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    assert s.get(f"{env.url}/api/v1/cameras/{f.camera}/counts").status_code == 404


# -- alert desk: alerts, their push, tickets -------------------------------------------


def _foreign_alert(
    env: WebEnv, f: Foreign, source: str = "analytique", notify: bool = False
) -> int:
    """An alert of the foreign camera (technical ones need only ``admin_cameras``)."""
    row = env.sql(
        "INSERT INTO alerts (tenant_id, camera_id, source, kind, priority, title, raised_at, "
        "ack_due_at) VALUES (%s, %s, %s, %s, 2, %s, now(), now() + interval '2 minutes') "
        "RETURNING id",
        (
            f.tenant,
            f.camera,
            source,
            "technique" if source == "technique" else "intrusion",
            f"Alerte secrète {f.tenant}",
        ),
    )
    alert_id = int(row[0][0])  # type: ignore[call-overload]
    if notify:
        env.sql(
            "SELECT pg_notify('vms_alerts', %s)",
            (json.dumps({"id": alert_id, "tenant_id": f.tenant}),),
        )
    return alert_id


def _foreign_ticket(env: WebEnv, f: Foreign) -> int:
    row = env.sql(
        "INSERT INTO tickets (tenant_id, camera_id, declarer, element, description, opened_at) "
        "VALUES (%s, %s, 'systeme', 'Caméra', %s, now()) RETURNING id",
        (f.tenant, f.camera, f"Panne secrète {f.tenant}"),
    )
    return int(row[0][0])  # type: ignore[call-overload]


@case("GET", "/api/v1/alerts")
def _alerts(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    ids = {
        _foreign_alert(env, f),
        _foreign_alert(env, f, "technique"),
        _foreign_alert(env, f, "externe"),
    }
    env.sql("UPDATE alerts SET camera_id = NULL WHERE id = %s", (max(ids),))  # commune-wide
    for params in (
        {},
        {"state": "all"},
        {"camera": f.camera},
        {"kind": "technique"},
        {"limit": 500},
    ):
        r = s.get(f"{env.url}/api/v1/alerts", params=params)
        assert r.status_code == 200, r.text
        assert f"Alerte secrète {f.tenant}" not in r.text
        assert not ids & {a["id"] for a in r.json()["alerts"]}


@case("POST", "/api/v1/alerts")
def _manual_alert(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    body = {"camera_id": f.camera, "title": f"Intrus {f.tenant}"}
    refused(s.post(f"{env.url}/api/v1/alerts", json=body))
    assert env.sql("SELECT count(*) FROM alerts WHERE title = %s", (body["title"],)) == [(0,)]


@case("GET", "/api/v1/alerts/stream")
def _alert_stream(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    async def watch() -> list[str]:
        ctx = ssl.create_default_context(cafile=str(env.cert))
        headers = {"Cookie": f"vms_session={s.cookies.get('vms_session')}", "Origin": env.url}
        texts: list[str] = []
        url = env.url.replace("https", "wss") + "/api/v1/alerts/stream"
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(url, ssl=ctx, headers=headers) as ws,
        ):
            for source in ("analytique", "technique"):
                await asyncio.to_thread(_foreign_alert, env, f, source, True)
            with contextlib.suppress(TimeoutError):
                while True:
                    msg = await ws.receive(timeout=1)
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        break
                    texts.append(msg.data)
        await asyncio.sleep(0.25)  # let the TLS connection close (aiohttp: graceful shutdown)
        return texts

    texts = run_client(watch())
    assert not [t for t in texts if f.tenant in t or f.camera in t], texts


@case("GET", "/api/v1/alerts/{alert_id}")
def _alert(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    for source in ("analytique", "technique"):
        r = s.get(f"{env.url}/api/v1/alerts/{_foreign_alert(env, f, source)}")
        assert r.status_code == 404 and f.tenant not in r.text, r.text


@case("POST", "/api/v1/alerts/{alert_id}/actions")
def _alert_action(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    for source in ("analytique", "technique"):
        alert_id = _foreign_alert(env, f, source)
        r = s.post(f"{env.url}/api/v1/alerts/{alert_id}/actions", json={"action": "acknowledge"})
        assert r.status_code == 404, r.text
        assert env.sql("SELECT state FROM alerts WHERE id = %s", (alert_id,)) == [("nouvelle",)]
        assert env.sql("SELECT count(*) FROM alert_history WHERE alert_id = %s", (alert_id,)) == [
            (0,)
        ]


@case("GET", "/api/v1/tickets")
def _tickets(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    ticket = _foreign_ticket(env, f)
    for params in ({}, {"state": "all"}, {"camera": f.camera}):
        r = s.get(f"{env.url}/api/v1/tickets", params=params)
        assert r.status_code == 200, r.text
        assert f"Panne secrète {f.tenant}" not in r.text
        assert ticket not in [t["id"] for t in r.json()["tickets"]]


@case("POST", "/api/v1/tickets")
def _create_ticket(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    body = {"camera_id": f.camera, "element": "Caméra", "description": f"Intrus {f.tenant}"}
    refused(s.post(f"{env.url}/api/v1/tickets", json=body))
    assert env.sql(
        "SELECT count(*) FROM tickets WHERE description = %s", (body["description"],)
    ) == [(0,)]


@case("POST", "/api/v1/tickets/{ticket_id}/actions")
def _ticket_action(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    ticket = _foreign_ticket(env, f)
    body = {"action": "resolve", "resolution": "piraté"}
    r = s.post(f"{env.url}/api/v1/tickets/{ticket}/actions", json=body)
    assert r.status_code == 404, r.text
    assert env.sql("SELECT state FROM tickets WHERE id = %s", (ticket,)) == [("ouvert",)]


# -- camera health (« Santé des caméras ») --------------------------------------------


def _secret_bitrate(f: Foreign) -> int:
    """A bitrate that marks the foreign commune's samples (earlier pairs seed others)."""
    return 1_234_500 + sorted(CAMERA_OF).index(f.tenant)


def _foreign_health(env: WebEnv, f: Foreign) -> int:
    """A health sample and an open technical fault of the foreign camera."""
    env.sql(
        "INSERT INTO health_samples (camera_id, stream, at, window_s, bitrate_bps, fps, "
        "width, height, gop_frames, clock_drift_ms, frames) VALUES "
        "(%s, 'main', now() - interval '1 minute', 10, %s, 25, 1280, 720, 50, 0, 250)",
        (f.camera, _secret_bitrate(f)),
    )
    return _foreign_alert(env, f, "technique")


@case("GET", "/api/v1/health/cameras")
def _health_overview(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    _foreign_health(env, f)
    for params in ({}, {"camera": f.camera}):
        r = s.get(f"{env.url}/api/v1/health/cameras", params=params)
        assert r.status_code == 200, r.text
        cams = r.json()["cameras"]
        assert all(c["tenant_id"] != f.tenant and c["id"] != f.camera for c in cams)
        assert f"secrète {f.tenant}" not in r.text
        assert str(_secret_bitrate(f)) not in r.text


@case("GET", "/api/v1/cameras/{camera_id}/health")
def _camera_health(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    _foreign_health(env, f)
    r = s.get(f"{env.url}/api/v1/cameras/{f.camera}/health")
    assert r.status_code == 404, r.text


# -- alert desk inputs and maintenance windows (issue 7, CSD-13) -----------------------


@case("POST", "/api/v1/alerts/inputs/{source}")
def _alert_input(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    title = f"Alarme intruse {f.tenant}"
    for target in ({"camera_id": f.camera}, {"commune": f.tenant}):
        body = {**target, "kind": "externe", "title": title, "external_id": f"x-{f.tenant}"}
        refused(s.post(f"{env.url}/api/v1/alerts/inputs/centrale", json=body))
    assert env.sql("SELECT count(*) FROM alerts WHERE title = %s", (title,)) == [(0,)]


def _foreign_window(env: WebEnv, f: Foreign) -> int:
    rows = env.sql(
        "INSERT INTO camera_maintenance (tenant_id, camera_id, from_at, to_at, reason, "
        "created_by, created_at) VALUES (%s, %s, now(), now() + interval '1 hour', %s, "
        "'tech', now()) RETURNING id",
        (f.tenant, f.camera, f"Maintenance secrète {f.tenant}"),
    )
    return int(rows[0][0])  # type: ignore[call-overload]


@case("GET", "/api/v1/maintenance")
def _maintenance_list(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    window = _foreign_window(env, f)
    for params in ({}, {"camera": f.camera}, {"past": "1"}):
        r = s.get(f"{env.url}/api/v1/maintenance", params=params)
        assert r.status_code == 200, r.text
        assert window not in [w["id"] for w in r.json()["windows"]]
        assert f"secrète {f.tenant}" not in r.text


@case("POST", "/api/v1/maintenance")
def _maintenance_create(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    now = datetime.now(UTC)
    body = {
        "camera_id": f.camera,
        "from_at": now.isoformat(),
        "to_at": (now + timedelta(hours=1)).isoformat(),
        "reason": f"Intrus {f.tenant}",
    }
    refused(s.post(f"{env.url}/api/v1/maintenance", json=body))
    assert env.sql(
        "SELECT count(*) FROM camera_maintenance WHERE reason = %s", (body["reason"],)
    ) == [(0,)]


@case("DELETE", "/api/v1/maintenance/{window_id}")
def _maintenance_delete(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    window = _foreign_window(env, f)
    assert s.delete(f"{env.url}/api/v1/maintenance/{window}").status_code == 404
    assert env.sql("SELECT deleted_at FROM camera_maintenance WHERE id = %s", (window,)) == [
        (None,)
    ]


@case("POST", "/api/v1/maintenance/{window_id}/end")
def _maintenance_end(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    window = _foreign_window(env, f)
    before = env.sql("SELECT to_at FROM camera_maintenance WHERE id = %s", (window,))
    assert s.post(f"{env.url}/api/v1/maintenance/{window}/end").status_code == 404
    assert env.sql("SELECT to_at FROM camera_maintenance WHERE id = %s", (window,)) == before


# -- reports (issue 7, vms/web/api/reports.py) -----------------------------------------

REPORT_TYPES = (
    "enregistrements", "usage", "alertes", "alertes_camera", "tickets", "disponibilite",
    "registre", "comite",
)  # fmt: skip
STATS_TYPES = ("alertes", "alertes_camera", "comite", "tickets", "disponibilite")


def _foreign_report(env: WebEnv, f: Foreign) -> int:
    rows = env.sql(
        "INSERT INTO reports (tenant_id, kind, period_start, period_end, created_at, created_by, "
        "content) VALUES (%s, 'enregistrements', now() - interval '1 day', now(), now(), "
        "'systeme', %s) ON CONFLICT DO NOTHING RETURNING id",
        (f.tenant, f"commune;secret-{f.tenant}"),
    ) or env.sql("SELECT id FROM reports WHERE tenant_id = %s", (f.tenant,))
    return int(rows[0][0])  # type: ignore[call-overload]


@case("GET", "/api/v1/reports")
def _reports(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    report_id = _foreign_report(env, f)
    r = s.get(f"{env.url}/api/v1/reports")
    if r.status_code != 200:
        return refused(r)
    assert report_id not in [x["id"] for x in r.json()["reports"]]
    refused(s.get(f"{env.url}/api/v1/reports?commune={f.tenant}"))


@case("GET", "/api/v1/reports/{report_id}/csv")
def _report_stored(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    r = s.get(f"{env.url}/api/v1/reports/{_foreign_report(env, f)}/csv")
    refused(r)
    assert "secret-" not in r.text


def _report_period(env: WebEnv, f: Foreign) -> dict[str, str]:
    """An alert of the foreign commune, and a report period that covers it."""
    env.sql(
        "INSERT INTO alerts (tenant_id, camera_id, source, kind, priority, title, raised_at, "
        "ack_due_at) VALUES (%s, %s, 'manuelle', 'manuelle', 3, 'x', now() - interval '1 hour', "
        "now())",
        (f.tenant, f.camera),
    )
    now = datetime.now(UTC)
    return {"since": (now - timedelta(days=300)).isoformat(), "until": now.isoformat()}


@case("GET", "/api/v1/reports/csv")
def _report_csv(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    period = _report_period(env, f)
    for kind in REPORT_TYPES:
        r = s.get(f"{env.url}/api/v1/reports/csv", params={"type": kind, **period})
        if r.status_code == 200:
            rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig")), delimiter=";"))
            assert all(row["commune"] != f.tenant for row in rows), kind
            assert f.camera not in r.text.split(";"), kind
        else:
            refused(r)
        params = {"type": kind, "commune": f.tenant, **period}
        refused(s.get(f"{env.url}/api/v1/reports/csv", params=params))


@case("GET", "/api/v1/reports/stats")
def _report_stats(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    period = _report_period(env, f)
    for kind in STATS_TYPES:
        r = s.get(f"{env.url}/api/v1/reports/stats", params={"type": kind, **period})
        if r.status_code == 200:
            body = r.json()
            assert f.tenant not in body["communes"], kind
            assert all(row["commune"] != f.tenant for row in body["lignes"]), kind
            assert all(row.get("camera") != f.camera for row in body["lignes"]), kind
        else:
            refused(r)
        params = {"type": kind, "commune": f.tenant, **period}
        refused(s.get(f"{env.url}/api/v1/reports/stats", params=params))


@case("GET", "/api/v1/reports/reversibility")
def _reversibility(env: WebEnv, s: requests.Session, f: Foreign) -> None:
    r = s.get(f"{env.url}/api/v1/reports/reversibility", params={"commune": f.tenant})
    refused(r)
    assert r.headers["Content-Type"] != "application/zip"


def _setup(env: WebEnv) -> tuple[dict[str, requests.Session], dict[str, Foreign]]:
    env.sql(
        "INSERT INTO camera_groups VALUES "
        "('gb', 'commune-b', 'Centre B'), ('gc', 'commune-c', 'Centre C')"
    )
    env.sql("INSERT INTO camera_group_members VALUES ('gb', 'b1'), ('gc', 'c1')")
    sessions = {}
    for login, (role, home, tenants) in ACTORS.items():
        env.user(login, role, home, [(a, t) for a in ALL for t in tenants])
        sessions[login] = env.login(login)
        sessions[login].headers["X-Actor"] = login
    foreign = {}
    for tenant, camera in CAMERA_OF.items():
        login = f"agent-{tenant}"
        user_id = env.user(login, "commune_viewer", tenant, [("view_live", tenant)])
        s = env.login(login)  # leaves auth.login.success entries of that tenant in the audit
        token = s.post(f"{env.url}/api/v1/tokens", json={"name": "t", "scopes": ["view_live"]})
        assert token.status_code == 201, token.text
        group = {"commune-a": "ga", "commune-b": "gb", "commune-c": "gc"}[tenant]
        foreign[tenant] = Foreign(tenant, camera, user_id, login, group, token.json()["id"])
    return sessions, foreign


def test_matrix_covers_every_endpoint(web: WebEnv) -> None:
    spec = web.client().get(f"{web.url}/api/v1/openapi.json").json()
    endpoints = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    assert endpoints - SELF_OR_PUBLIC == set(CASES), "an endpoint lacks its isolation cases"


def test_tenant_isolation_matrix(web: WebEnv) -> None:
    sessions, foreign = _setup(web)
    checks = 0
    for actor, tenant in PAIRS:
        for endpoint, cases in sorted(CASES.items()):
            for check in cases:
                try:
                    check(web, sessions[actor], foreign[tenant])
                except AssertionError as err:
                    raise AssertionError(
                        f"{actor} → {tenant}: {endpoint} {check.__name__}: {err}"
                    ) from err
                checks += 1
    n_cases = sum(len(c) for c in CASES.values())
    # refusals are in the audit log
    denied = web.sql("SELECT count(*) FROM audit WHERE action = 'access.denied'")[0][0]
    assert isinstance(denied, int) and denied > 0
    print(
        f"\ntenant-isolation matrix: {len(PAIRS)} pairs × {n_cases} cases over "
        f"{len(CASES)} endpoints = {checks} checks"
    )
    # sanity: the same actors do reach their own scope (the matrix is not vacuous)
    own = sessions["admin-a"].get(f"{web.url}/api/v1/cameras/a1")
    assert own.status_code == 200
    assert sorted(
        c["id"] for c in sessions["op-csd"].get(f"{web.url}/api/v1/cameras").json()["cameras"]
    ) == ["a1", "a2", "b1"]
    assert sessions["op-csd2"].get(f"{web.url}/api/v1/cameras").json()["cameras"] == []
