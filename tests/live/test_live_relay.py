"""Live relay end to end (simulated camera → on-demand pull → relay → WebRTC/fMP4
client), signalled through the operator service with its permission checks."""

from __future__ import annotations

import asyncio
import io
import json
import time
from typing import Any

import av
import pytest
import requests
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from tests.fixtures.live import LiveEnv, run_client

pytestmark = pytest.mark.integration


def whep_url(env: LiveEnv, camera: str, stream: str = "sub") -> str:
    return f"{env.web.url}/api/v1/cameras/{camera}/live/{stream}/whep"


async def _watch(
    session: requests.Session, url: str, seconds: float, close_with_delete: bool = True
) -> tuple[list[tuple[int, int]], requests.Response]:
    """Offer, play ``seconds`` of video, hang up. Returns decoded frame sizes and the
    signalling answer."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("video", direction="recvonly")
    frames: list[tuple[int, int]] = []

    async def consume(track: Any) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            frames.append((frame.width, frame.height))

    tasks: list[asyncio.Task[None]] = []
    pc.on("track", lambda track: tasks.append(asyncio.ensure_future(consume(track))))
    await pc.setLocalDescription(await pc.createOffer())
    answer = await asyncio.to_thread(
        session.post,
        url,
        data=pc.localDescription.sdp,
        headers={"Content-Type": "application/sdp"},
    )
    try:
        if answer.status_code == 201:
            await pc.setRemoteDescription(RTCSessionDescription(answer.text, "answer"))
            await asyncio.sleep(seconds)
            if close_with_delete:
                location = answer.headers["Location"]
                r = await asyncio.to_thread(session.delete, session_base(url) + location)
                assert r.status_code == 204, r.text
    finally:
        await pc.close()
        for t in tasks:
            t.cancel()
    return frames, answer


def session_base(url: str) -> str:
    return url.split("/api/")[0]


def live_entries(env: LiveEnv, action: str) -> list[tuple[Any, ...]]:
    return env.web.sql(
        "SELECT actor, target, detail FROM audit WHERE action = %s ORDER BY seq", (action,)
    )


def wait_for(predicate: Any, timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.2)


def test_webrtc_live_frames_and_audited_session(live_env: LiveEnv) -> None:
    env = live_env
    env.web.user("op", "operator", "csd", [("view_live", "commune-a")])
    s = env.web.login("op")
    frames, answer = run_client(_watch(s, whep_url(env, "a1"), 6.0))
    assert answer.status_code == 201, answer.text
    assert answer.headers["Content-Type"].startswith("application/sdp")
    assert "H264" in answer.text
    assert answer.headers["Location"].startswith("/api/v1/live/sessions/a1/sub/")
    assert len(frames) >= 25, f"only {len(frames)} frames in 6 s"
    assert set(frames) == {(640, 360)}  # the sub-stream, passed through
    wait_for(lambda: len(live_entries(env, "live.end")) == 1)
    (start,) = live_entries(env, "live.start")
    (end,) = live_entries(env, "live.end")
    assert start[0] == "op" and start[1] == "camera:a1"
    assert end[2]["session"] == start[2]["session"]
    assert end[2]["fin"] == "fin_demandee"
    assert 3.0 <= end[2]["duree_s"] <= 60.0
    # one pull feeds the relay however many viewers: the puller connected once
    assert sum(p.connects for p in env.pullers if p.feed.camera_id == "a1") == 1


def test_session_end_is_audited_when_the_viewer_vanishes(live_env: LiveEnv) -> None:
    env = live_env
    env.web.user("op", "operator", "csd", [("view_live", "commune-a")])
    s = env.web.login("op")
    frames, answer = run_client(_watch(s, whep_url(env, "a2"), 3.0, close_with_delete=False))
    assert answer.status_code == 201 and frames
    wait_for(lambda: len(live_entries(env, "live.end")) == 1)
    (end,) = live_entries(env, "live.end")
    assert end[1] == "camera:a2" and end[2]["fin"] in ("fermeture", "perte_connexion")


def test_no_sdp_answer_without_live_permission(live_env: LiveEnv) -> None:
    env = live_env
    env.web.user("agent.b", "commune_viewer", "commune-b", [("view_live", "commune-b")])
    env.web.user("relecteur", "operator", "csd", [("playback", "commune-a")])
    offer = "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
    sdp = {"Content-Type": "application/sdp"}
    b = env.web.login("agent.b")
    r = b.post(whep_url(env, "a1"), data=offer, headers=sdp)
    assert r.status_code == 404  # another commune's camera does not even exist for them
    assert "answer" not in r.text and "v=0" not in r.text
    p = env.web.login("relecteur")
    r = p.post(whep_url(env, "a1"), data=offer, headers=sdp)
    assert r.status_code == 403
    assert "Accès refusé" in r.json()["erreur"]["message"]
    anonymous = env.web.client()
    assert anonymous.post(whep_url(env, "a1"), data=offer, headers=sdp).status_code == 401
    denied = env.web.sql("SELECT actor, target FROM audit WHERE action = 'access.denied'")
    assert ("agent.b", "a1") in denied and ("relecteur", "camera:a1") in denied
    # the relay itself answers nobody without the shared secret, nor with a wrong one
    for auth in ({}, {"Authorization": "Bearer wrong-secret-wrong-secret"}):
        r = requests.post(
            f"{env.relay.url}/relay/v1/streams/a1/sub/webrtc",
            data=offer,
            headers={**sdp, **auth, "X-Vms-Watcher": json.dumps({"actor": "x", "tenant": "y"})},
            timeout=10,
        )
        assert r.status_code == 401
    assert not live_entries(env, "live.start")


def test_live_disabled_by_administrator_is_refused_by_service_and_relay(
    live_env: LiveEnv,
) -> None:
    env = live_env
    env.web.user("admin", "admin", "csd", [("admin_cameras", "commune-a")])
    env.web.user("op", "operator", "csd", [("view_live", "commune-a")])
    admin = env.web.login("admin")
    r = admin.patch(f"{env.web.url}/api/v1/cameras/a1/live", json={"live_enabled": False})
    assert r.status_code == 200 and r.json()["live_enabled"] is False
    op = env.web.login("op")
    _, answer = run_client(_watch(op, whep_url(env, "a1"), 0.1))
    assert answer.status_code == 409
    assert "désactivé" in answer.json()["erreur"]["message"]
    # a crafted request straight to the relay, with its secret, is refused as well
    r = requests.post(
        f"{env.relay.url}/relay/v1/streams/a1/sub/webrtc",
        data="v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n",
        headers={
            "Authorization": f"Bearer {env.secret}",
            "X-Vms-Watcher": json.dumps({"actor": "op", "tenant": "commune-a"}),
        },
        timeout=10,
    )
    assert r.status_code == 409
    (switch,) = env.web.sql("SELECT detail FROM audit WHERE action = 'camera.live_switches'")
    assert switch[0]["apres"]["direct"] is False
    # an operator cannot switch it back
    r = op.patch(f"{env.web.url}/api/v1/cameras/a1/live", json={"live_enabled": True})
    assert r.status_code == 403


def test_malformed_offer_gets_a_clear_error(live_env: LiveEnv) -> None:
    env = live_env
    env.web.user("op", "operator", "csd", [("view_live", "commune-a")])
    s = env.web.login("op")
    for body in ("pas une offre", "v=0\r\nm=audio 9 RTP/AVP 0\r\n", "x" * 70_000):
        r = s.post(whep_url(env, "a1"), data=body, headers={"Content-Type": "application/sdp"})
        assert r.status_code == 400, r.text
        assert "SDP" in r.json()["erreur"]["message"]
    r = s.post(whep_url(env, "a1"), json={"sdp": "v=0"})
    assert r.status_code == 400 and "application/sdp" in r.json()["erreur"]["message"]
    assert (
        s.post(
            whep_url(env, "a1", "inconnu"), data="v=0", headers={"Content-Type": "application/sdp"}
        ).status_code
        == 404
    )


def test_fmp4_websocket_fallback(live_env: LiveEnv) -> None:
    env = live_env
    env.web.user("op", "operator", "csd", [("view_live", "commune-a")])
    s = env.web.login("op")
    cookies = {c.name: c.value for c in s.cookies}
    url = env.web.url.replace("https", "wss") + "/api/v1/cameras/a2/live/main/fmp4"

    async def receive() -> tuple[dict[str, Any], bytes]:
        import ssl

        import aiohttp

        ctx = ssl.create_default_context(cafile=str(env.web.cert))
        data = bytearray()
        async with (
            aiohttp.ClientSession(cookies=cookies) as http,
            http.ws_connect(url, ssl=ctx, origin=env.web.url) as ws,
        ):
            head = json.loads((await ws.receive(timeout=20)).data)
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                msg = await ws.receive(timeout=10)
                data += msg.data
        return head, bytes(data)

    head, data = run_client(receive())
    assert head["codec"].startswith("avc1.")
    container = av.open(io.BytesIO(data), "r", format="mp4")
    decoded = [f for p in container.demux(container.streams.video[0]) for f in p.decode()]
    container.close()
    assert len(decoded) >= 25
    assert (decoded[0].width, decoded[0].height) == (1280, 720)
    wait_for(lambda: len(live_entries(env, "live.end")) == 1)
    (end,) = live_entries(env, "live.end")
    assert end[2]["transport"] == "fmp4"
