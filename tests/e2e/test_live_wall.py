"""Live video on the wall, for real: simulated cameras → relay → WebRTC → headless
Chromium, inside the private network namespace (``scripts/netns.sh``). Frames arrive on
every tile; closing the page ends the sessions, which the audit records with their
duration; a crafted offer for a camera without the live right gets no SDP answer."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.e2e import test_console as console  # skips this module too without chromium
from tests.fixtures.live import LiveEnv

pytestmark = pytest.mark.integration

# Chromium hides host candidates behind mDNS names unless told otherwise
FLAGS = [*console.FLAGS, "--disable-features=WebRtcHideLocalIpsWithMdns"]


@pytest.fixture(scope="module")
def live_browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=console.CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


def tile(page: Page, position: int) -> Any:
    return page.locator(f".tuile[data-position='{position}']")


def drag(page: Page, source: Any, target: Any) -> None:
    """HTML5 drag and drop with the mouse, in small steps: back-to-back ``drag_to``
    calls sometimes start no drag at all in headless Chromium."""
    box, to = source.bounding_box(), target.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(to["x"] + to["width"] / 2, to["y"] + to["height"] / 2, steps=8)
    page.mouse.up()


def playing(page: Page, position: int) -> dict[str, Any]:
    return dict(
        tile(page, position)
        .locator("video")
        .evaluate(
            "v => ({t: v.currentTime, w: v.videoWidth, h: v.videoHeight,"
            " transport: v.dataset.transport,"
            " frames: v.getVideoPlaybackQuality().totalVideoFrames})"
        )
    )


def test_wall_plays_four_cameras_and_audits_each_session(
    live_env: LiveEnv, live_browser: Browser
) -> None:
    web = live_env.web
    web.user("op", "operator", "csd", [("view_live", "commune-a"), ("playback", "commune-b")],
             mfa=True)  # fmt: skip
    # a control-room screen: the whole 2x2 grid in view
    context = live_browser.new_context(
        ignore_https_errors=True, locale="fr-FR", viewport={"width": 1920, "height": 1080}
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    console.sign_in(page, web, "op")
    page.get_by_role("link", name="Mur d'images").click()
    expect(page.get_by_role("heading", name="Mur d'images")).to_be_visible()
    page.get_by_role("button", name="4 tuiles").click()
    for position, camera in enumerate(("a1", "a2", "a3", "a4")):
        drag(page, page.locator(f".camera-mur[data-camera='{camera}']"), tile(page, position))
    for position in range(4):
        expect(tile(page, position)).to_have_attribute("data-etat", "direct", timeout=30_000)
    time.sleep(3)
    first = [playing(page, p) for p in range(4)]
    time.sleep(2)
    later = [playing(page, p) for p in range(4)]
    for before, after in zip(first, later, strict=True):
        assert after["transport"] == "webrtc", after
        assert (after["w"], after["h"]) == (640, 360)  # the wall shows sub-streams
        assert after["t"] > before["t"] and after["frames"] > before["frames"], (before, after)
    console.shot(page, "console-mur-direct.png")

    # a crafted offer for b1 (visible for playback, no live right): no SDP answer
    crafted = page.evaluate(
        """async () => {
            const me = await (await fetch('/api/v1/me')).json();
            const pc = new RTCPeerConnection({iceServers: []});
            pc.addTransceiver('video', {direction: 'recvonly'});
            await pc.setLocalDescription(await pc.createOffer());
            const r = await fetch('/api/v1/cameras/b1/live/sub/whep', {method: 'POST',
                headers: {'Content-Type': 'application/sdp', 'X-CSRF-Token': me.csrf_token},
                body: pc.localDescription.sdp});
            pc.close();
            return {status: r.status, body: await r.text()};
        }"""
    )
    assert crafted["status"] == 403, crafted
    assert "v=0" not in crafted["body"]

    # closing the page ends the four sessions; the audit has each one with its duration
    context.close()
    assert not errors, errors
    deadline = time.monotonic() + 60
    while True:
        ends = web.sql(
            "SELECT target, detail FROM audit WHERE action = 'live.end' AND actor = 'op'"
        )
        if len(ends) >= 4 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert sorted(t for t, _ in ends) == ["camera:a1", "camera:a2", "camera:a3", "camera:a4"]
    assert all(d["duree_s"] >= 5 and d["transport"] == "webrtc" for _, d in ends), ends
    starts = web.sql("SELECT count(*) FROM audit WHERE action = 'live.start' AND actor = 'op'")
    assert starts == [(4,)]
    denied = web.sql(
        "SELECT count(*) FROM audit WHERE action = 'access.denied' AND target = 'camera:b1'"
    )
    assert denied == [(1,)]
