"""Live links: a share with a named police or fire-service recipient (CSD-08) and a
public link served to many viewers from one muxer (CONF-01)."""

from __future__ import annotations

import asyncio
import ssl
import time
from typing import Any

import aiohttp
import pytest
import requests

from tests.fixtures.live import LiveEnv, run_client
from tests.live.test_live_relay import _watch, live_entries, wait_for

pytestmark = pytest.mark.integration

SHARE = {
    "kind": "partage",
    "stream": "sub",
    "recipient": "Capitaine Martin, SDIS",
    "service": "pompiers",
    "motif": "Incendie rue de la Gare",
    "hours": 2,
}


def enable_transmission(env: LiveEnv, camera: str) -> None:
    env.web.user("admin", "admin", "csd", [("admin_cameras", "commune-a")])
    admin = env.web.login("admin")
    r = admin.patch(f"{env.web.url}/api/v1/cameras/{camera}/live", json={"share_enabled": True})
    assert r.status_code == 200, r.text


def test_share_link_lifecycle(live_env: LiveEnv) -> None:
    env = live_env
    env.web.user("op", "operator", "csd", [("view_live", "commune-a"), ("export", "commune-a")])
    op = env.web.login("op")
    links = f"{env.web.url}/api/v1/cameras/a1/live/links"
    # transmission outside the centre is off by default (EVD-15)
    r = op.post(links, json=SHARE)
    assert r.status_code == 409 and "administrateur" in r.json()["erreur"]["message"]
    enable_transmission(env, "a1")
    assert op.post(links, json=SHARE | {"recipient": ""}).status_code == 409
    r = op.post(links, json=SHARE)
    assert r.status_code == 201, r.text
    link = r.json()
    token = link["token"]
    assert link["url"] == f"/partage#{token}"
    assert token not in str(env.web.sql("SELECT * FROM live_links"))  # only its hash is kept

    anonymous = env.web.client()
    info = anonymous.get(f"{env.web.url}/api/v1/links/{token}")
    assert info.status_code == 200 and info.json()["destinataire"] == SHARE["recipient"]
    assert anonymous.get(f"{env.web.url}/partage").status_code == 200
    frames, answer = run_client(_watch(anonymous, f"{env.web.url}/api/v1/links/{token}/whep", 3.0))
    assert answer.status_code == 201 and len(frames) >= 10
    wait_for(lambda: len(live_entries(env, "live.end")) == 1)
    (start,) = live_entries(env, "live.start")
    assert start[0] == f"partage:{link['id']}" and start[1] == "camera:a1"
    assert start[2]["via"] == "partage" and start[2]["destinataire"] == SHARE["recipient"]
    (created,) = env.web.sql("SELECT actor, detail FROM audit WHERE action = 'live_link.create'")
    assert created[0] == "op" and created[1]["motif"] == SHARE["motif"]
    assert env.web.sql("SELECT uses FROM live_links")[0][0] >= 2

    # revoked: the link opens nothing any more
    assert op.delete(f"{env.web.url}/api/v1/live/links/{link['id']}").status_code == 204
    r = anonymous.get(f"{env.web.url}/api/v1/links/{token}")
    assert r.status_code == 404 and "révoqué" in r.json()["erreur"]["message"]
    assert env.web.sql("SELECT count(*) FROM audit WHERE action = 'live_link.revoke'")[0][0] == 1


def test_share_link_needs_rights_and_expires(live_env: LiveEnv) -> None:
    env = live_env
    enable_transmission(env, "a1")
    env.web.user("viewer", "operator", "csd", [("view_live", "commune-a")])
    env.web.user("agent.b", "commune_viewer", "commune-b", [("export", "commune-b")])
    env.web.user("op", "operator", "csd", [("export", "commune-a")])
    links = f"{env.web.url}/api/v1/cameras/a1/live/links"
    assert env.web.login("viewer").post(links, json=SHARE).status_code == 403
    assert env.web.login("agent.b").post(links, json=SHARE).status_code == 404
    op = env.web.login("op")
    assert op.post(links, json=SHARE | {"hours": 100}).status_code == 409  # > share_max_hours
    token = op.post(links, json=SHARE).json()["token"]
    env.web.sql("UPDATE live_links SET created_at = now() - interval '3 hours', "
                "expires_at = now() - interval '1 second'")  # fmt: skip
    r = env.web.client().get(f"{env.web.url}/api/v1/links/{token}")
    assert r.status_code == 404
    # agent.b cannot list commune-a's links
    assert env.web.login("agent.b").get(f"{env.web.url}/api/v1/live/links").json()["links"] == []
    # guessing tokens is throttled per address
    client = env.web.client()
    statuses = {client.get(f"{env.web.url}/api/v1/links/{'x' * 40}{i}").status_code
                for i in range(1100)}  # fmt: skip
    assert 429 in statuses


def test_public_link_serves_many_viewers_from_one_pull(live_env: LiveEnv) -> None:
    env = live_env
    enable_transmission(env, "a1")
    admin = env.web.login("admin")
    r = admin.post(
        f"{env.web.url}/api/v1/cameras/a1/live/links",
        json={"kind": "public", "stream": "sub", "motif": "Cellule de crise", "hours": 4},
    )
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    ws_url = env.web.url.replace("https", "wss") + f"/api/v1/links/{token}/fmp4"
    viewers = 20

    async def watch_all() -> list[int]:
        ctx = ssl.create_default_context(cafile=str(env.web.cert))

        async def one(http: aiohttp.ClientSession) -> int:
            got = 0
            async with http.ws_connect(ws_url, ssl=ctx) as ws:
                deadline = time.monotonic() + 4
                while time.monotonic() < deadline:
                    msg = await ws.receive(timeout=15)
                    if msg.type == aiohttp.WSMsgType.BINARY:
                        got += len(msg.data)
            return got

        async with aiohttp.ClientSession() as http:
            return await asyncio.gather(*(one(http) for _ in range(viewers)))

    received = run_client(watch_all())
    assert all(n > 20_000 for n in received), received
    assert sum(p.connects for p in env.pullers if p.feed.camera_id == "a1") == 1
    wait_for(lambda: len(live_entries(env, "live.end")) == viewers)
    assert {e[0] for e in live_entries(env, "live.start")} == {f"public:{r.json()['id']}"}
    # a public link is fMP4 only; WebRTC is for named recipients
    r = requests.post(
        f"{env.web.url}/api/v1/links/{token}/whep",
        data="v=0",
        headers={"Content-Type": "application/sdp"},
        verify=str(env.web.cert),
        timeout=10,
    )
    assert r.status_code == 409


def test_revocation_and_switches_end_the_viewings_under_way(live_env: LiveEnv) -> None:
    env = live_env
    enable_transmission(env, "a1")
    env.web.user("op", "operator", "csd", [("view_live", "commune-a"), ("export", "commune-a")])
    op, admin = env.web.login("op"), env.web.login("admin")
    links = f"{env.web.url}/api/v1/cameras/a1/live/links"

    def watch_until_cut(token: str, cut: Any) -> tuple[int, float]:
        """Watch through the link's fMP4 socket, call ``cut`` once video flows; returns
        the bytes received and how long the socket outlived the cut."""
        ws_url = env.web.url.replace("https", "wss") + f"/api/v1/links/{token}/fmp4"

        async def run() -> tuple[int, float]:
            ctx = ssl.create_default_context(cafile=str(env.web.cert))
            got, cut_at = 0, 0.0
            async with aiohttp.ClientSession() as http, http.ws_connect(ws_url, ssl=ctx) as ws:
                while True:
                    msg = await ws.receive(timeout=20)
                    if msg.type == aiohttp.WSMsgType.TEXT:  # the codec, first
                        continue
                    if msg.type != aiohttp.WSMsgType.BINARY:
                        break
                    got += len(msg.data)
                    if got > 50_000 and not cut_at:
                        await asyncio.to_thread(cut)
                        cut_at = time.monotonic()
            return got, time.monotonic() - cut_at

        return run_client(run())

    # a revoked share stops at once, not only for the next viewing
    link = op.post(links, json=SHARE).json()
    revoke = lambda: op.delete(f"{env.web.url}/api/v1/live/links/{link['id']}")  # noqa: E731
    got, lasted = watch_until_cut(link["token"], revoke)
    assert got > 50_000 and lasted < 10, (got, lasted)
    wait_for(lambda: len(live_entries(env, "live.end")) == 1)
    assert live_entries(env, "live.end")[0][2]["fin"] == "retrait"

    # so does a camera whose transmission an administrator switches off (EVD-15)
    link = op.post(links, json=SHARE).json()
    switch_off = lambda: admin.patch(  # noqa: E731
        f"{env.web.url}/api/v1/cameras/a1/live", json={"share_enabled": False}
    )
    got, lasted = watch_until_cut(link["token"], switch_off)
    assert got > 50_000 and lasted < 10, (got, lasted)
    wait_for(lambda: len(live_entries(env, "live.end")) == 2)
    assert live_entries(env, "live.end")[1][2]["fin"] == "retrait"
