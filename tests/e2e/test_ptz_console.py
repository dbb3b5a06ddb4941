"""PTZ from the wall in headless Chromium against the simulated ONVIF camera of a1:
the tile opened alone shows the PTZ panel; a direction held with the mouse and the
arrow keys on the tile move the camera and stop it on release; a preset is stored,
left and reached again; a second operator sees who steers and cannot take over at
the same rank; leaving full screen gives the camera back.

No video here (tests/live and test_live_wall cover it): the panel does not need it."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e import test_console as console  # skips this module too without chromium
from tests.fixtures.live import PtzEnv

pytestmark = pytest.mark.integration

browser = console.browser

GRANTS = [("view_live", "commune-a"), ("ptz", "commune-a")]


@pytest.fixture
def pages(browser: Browser) -> Iterator[tuple[Page, Page]]:
    contexts = [browser.new_context(ignore_https_errors=True, locale="fr-FR") for _ in range(2)]
    yield contexts[0].new_page(), contexts[1].new_page()
    for c in contexts:
        c.close()


def open_alone(page: Page, camera: str) -> None:
    page.get_by_role("link", name="Mur d'images").click()
    page.get_by_role("button", name="1 tuile").click()
    page.locator(f".camera-mur[data-camera='{camera}']").click()  # choose, then a tile
    tile = page.locator(".tuile[data-position='0']")
    tile.click()
    expect(tile).to_have_attribute("data-camera", camera)
    tile.dblclick()
    expect(tile).to_have_class(__import__("re").compile("agrandie"))


def hold(page: Page, name: str, seconds: float) -> None:
    box = page.get_by_role("button", name=name, exact=True).bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    time.sleep(seconds)
    page.mouse.up()


def wait_still(env: PtzEnv) -> None:
    deadline = time.monotonic() + 5
    while env.device.ptz_moving() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not env.device.ptz_moving()


def test_ptz_panel_moves_presets_and_lock(ptz_env: PtzEnv, pages: tuple[Page, Page]) -> None:
    web, device = ptz_env.web, ptz_env.device
    web.user("op1", "operator", "csd", GRANTS, mfa=True)
    web.user("op2", "operator", "csd", GRANTS, mfa=True)
    page, other = pages
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    console.sign_in(page, web, "op1")
    open_alone(page, "a1")
    panel = page.get_by_role("region", name="Pilotage PTZ de Mairie")
    expect(panel).to_contain_text("Libre")

    # hold "Droite" with the mouse (longer than one repetition): the camera turns right
    hold(page, "Droite", 1.5)
    wait_still(ptz_env)
    pan, tilt, _ = device.ptz_position()
    assert pan > 0.2 and tilt == pytest.approx(0.0), (pan, tilt)
    expect(panel).to_contain_text("Vous pilotez cette caméra.")

    # the arrow keys on the focused tile
    tile = page.locator(".tuile[data-position='0']")
    tile.focus()
    page.keyboard.down("ArrowUp")
    time.sleep(0.8)
    page.keyboard.up("ArrowUp")
    wait_still(ptz_env)
    assert device.ptz_position()[1] > 0.1

    # store a preset, go home, come back to it
    stored = device.ptz_position()
    page.once("dialog", lambda d: d.accept("Parvis"))
    panel.get_by_role("button", name="Mémoriser…").click()
    expect(panel.get_by_role("combobox", name="Préréglages")).to_contain_text("Parvis")
    panel.get_by_role("button", name="Position d'origine").click()
    expect(page.locator("#annonce")).to_contain_text("origine")
    assert device.ptz_position() == pytest.approx((0.0, 0.0, 0.0))
    panel.get_by_role("combobox", name="Préréglages").select_option(label="Parvis")
    panel.get_by_role("button", name="Aller").click()
    expect(page.locator("#annonce")).to_contain_text("Préréglage « Parvis » atteint")
    assert device.ptz_position() == pytest.approx(stored)
    console.shot(page, "console-ptz.png")

    # a second operator sees who steers, is refused, cannot take over at the same rank
    console.sign_in(other, web, "op2")
    open_alone(other, "a1")
    panel2 = other.get_by_role("region", name="Pilotage PTZ de Mairie")
    expect(panel2).to_contain_text("Pilotée par Op1")
    hold(other, "Gauche", 0.3)
    expect(panel2).to_contain_text("attendez que la main soit rendue")
    assert device.ptz_position() == pytest.approx(stored)
    panel2.get_by_role("button", name="Prendre la main").click()
    expect(panel2).to_contain_text("seul un rang supérieur")

    # leaving full screen gives the camera back
    tile.focus()
    page.keyboard.press("Escape")
    expect(panel).to_have_count(0)
    deadline = time.monotonic() + 10
    while not web.sql("SELECT 1 FROM audit WHERE action = 'ptz.release' AND actor = 'op1'"):
        assert time.monotonic() < deadline, "the lock was not given back"
        time.sleep(0.2)
    assert web.sql("SELECT count(*) FROM ptz_locks") == [(0,)]
    moves = web.sql("SELECT count(*) FROM audit WHERE action = 'ptz.move' AND actor = 'op1'")
    assert moves[0][0] >= 3  # the held direction was repeated, each command audited
    assert not errors, errors


def test_admin_probes_a_camera_by_onvif(ptz_env: PtzEnv, pages: tuple[Page, Page]) -> None:
    web, device = ptz_env.web, ptz_env.device
    web.user("admin", "admin", "csd", [("admin_cameras", "commune-a")], mfa=True)
    page, _ = pages
    console.sign_in(page, web, "admin")
    page.get_by_role("link", name="Caméras", exact=True).click()
    panel = page.get_by_role("region", name="Ajouter une caméra (ONVIF)")
    panel.get_by_role("button", name="Découvrir les caméras du réseau (WS-Discovery)").click()
    expect(panel.get_by_role("list", name="Caméras découvertes")).to_contain_text("désactivée")
    panel.get_by_label("Adresse ONVIF").fill(device.address)
    panel.get_by_label("Utilisateur ONVIF").fill("csd")
    panel.get_by_label("Mot de passe ONVIF").fill("mauvais")
    panel.get_by_role("button", name="Interroger la caméra").click()
    expect(panel.get_by_role("alert").filter(has_text="Identifiants")).to_contain_text(
        "Identifiants ONVIF refusés"
    )

    panel.get_by_label("Mot de passe ONVIF").fill(device.password)
    panel.get_by_role("button", name="Interroger la caméra").click()
    expect(panel).to_contain_text("VMS Simulation SimCam PTZ-1")
    expect(panel).to_contain_text("mouvement continu, zoom, préréglages")
    expect(panel).to_contain_text("écart de")
    block = panel.get_by_label("Bloc de configuration").inner_text()
    assert 'url = "rtsp://127.0.0.1:1/a1/main"' in block
    assert 'tenant = "commune-a"' in block and "ptz = true" in block
    assert device.password not in block and device.password not in page.content()
    assert panel.get_by_label("Mot de passe ONVIF").input_value() == ""
    console.shot(page, "console-onvif.png")
