"""The video wall of the console in headless Chromium: layouts, cameras dropped on
tiles with the mouse and assigned by keyboard, a view saved, shared, reloaded, and
seen by another operator of the same centre with the camera it may not watch masked.

No live relay runs here: a tile is checked to hold its camera and a state
(``data-etat``), not to play video (tests/live covers that). A screenshot goes to
``$VMS_SCREENSHOT_DIR`` when set."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e import test_console as console  # skips this module too without chromium
from tests.fixtures.web import WebEnv

pytestmark = pytest.mark.integration

# the browser and page fixtures of the console tests
browser = console.browser
page = console.page

STATES = re.compile(r"^(connexion|direct|perdu|erreur)$")


def tile(page: Page, position: int) -> Any:
    return page.locator(f".tuile[data-position='{position}']")


def open_wall(page: Page) -> None:
    page.get_by_role("link", name="Mur d'images").click()
    expect(page.get_by_role("heading", name="Mur d'images")).to_be_visible()


def test_wall_layouts_tiles_and_shared_views(web: WebEnv, page: Page, browser: Browser) -> None:
    live_ab = [("view_live", "commune-a"), ("view_live", "commune-b")]
    web.user("cheffe", "supervisor", "csd", live_ab, mfa=True)
    web.user("op.a", "operator", "csd", [("view_live", "commune-a")], mfa=True)
    console.sign_in(page, web, "cheffe")
    open_wall(page)
    tree = page.get_by_role("list", name="Caméras du mur")
    expect(tree).to_contain_text("Commune A")
    expect(tree).to_contain_text("Place")
    expect(tree).not_to_contain_text("École")  # commune C: no convention
    # layouts
    page.get_by_role("button", name="9 tuiles").click()
    expect(page.locator(".tuile:visible")).to_have_count(9)
    page.get_by_role("button", name="1 tuile").click()
    expect(page.locator(".tuile:visible")).to_have_count(1)
    page.get_by_role("button", name="4 tuiles").click()
    expect(page.locator(".tuile:visible")).to_have_count(4)
    # drag and drop
    page.locator(".camera-mur[data-camera='a1']").drag_to(tile(page, 0))
    page.locator(".camera-mur[data-camera='b1']").drag_to(tile(page, 1))
    expect(tile(page, 0)).to_have_attribute("data-camera", "a1")
    expect(tile(page, 0)).to_contain_text("Mairie")
    expect(tile(page, 0)).to_have_attribute("data-etat", STATES)
    expect(tile(page, 1)).to_have_attribute("data-camera", "b1")
    # keyboard: choose a camera, then a tile
    page.locator(".camera-mur[data-camera='a2']").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".camera-mur[data-camera='a2']")).to_have_attribute("aria-pressed", "true")
    tile(page, 3).focus()
    page.keyboard.press("Enter")
    expect(tile(page, 3)).to_have_attribute("data-camera", "a2")
    expect(page.locator("#annonce")).to_contain_text("« Gare » affichée dans la tuile 4")
    # empty a tile with its button
    page.locator(".camera-mur[data-camera='a2']").drag_to(tile(page, 2))
    page.get_by_role("button", name="Vider la tuile 3").click()
    expect(tile(page, 2)).to_have_attribute("data-etat", "vide")
    expect(tile(page, 2)).not_to_have_attribute("data-camera", re.compile(".*"))
    # a tile alone, full size, and back
    tile(page, 0).dblclick()
    expect(tile(page, 0)).to_have_class(re.compile(r"\bagrandie\b"))
    expect(tile(page, 1)).to_be_hidden()
    page.keyboard.press("Escape")
    expect(tile(page, 1)).to_be_visible()
    tile(page, 1).focus()
    page.keyboard.press("Enter")
    expect(tile(page, 1)).to_have_class(re.compile(r"\bagrandie\b"))
    page.keyboard.press("Escape")
    expect(tile(page, 0)).to_be_visible()
    # wall mode: the grid alone, full screen
    page.get_by_role("button", name="Mode mur").click()
    page.wait_for_function("document.fullscreenElement?.classList.contains('mur-zone')")
    page.wait_for_function("document.querySelector('.mur-zone').offsetWidth === innerWidth")
    page.evaluate("document.exitFullscreen()")
    page.wait_for_function("document.fullscreenElement === null")
    # save as a shared view
    page.get_by_label("Partager").check()
    page.once("dialog", lambda d: d.accept("Centre-ville"))
    page.get_by_role("button", name="Enregistrer sous…").click()
    expect(page.locator("#annonce")).to_contain_text("Vue « Centre-ville » enregistrée")
    saved = "SELECT layout, tiles, shared FROM wall_views WHERE name = 'Centre-ville'"
    assert web.sql(saved) == [(4, ["a1", "b1", None, "a2"], True)]
    console.shot(page, "console-mur.png")
    # reload, start from an empty grid, load the view back
    page.reload()
    expect(page.get_by_role("heading", name="Mur d'images")).to_be_visible()
    expect(tile(page, 0)).to_have_attribute("data-etat", "vide")
    page.get_by_label("Vue", exact=True).select_option(label="Centre-ville (partagée)")
    expect(tile(page, 0)).to_have_attribute("data-camera", "a1")
    expect(tile(page, 1)).to_have_attribute("data-camera", "b1")
    expect(tile(page, 3)).to_have_attribute("data-etat", STATES)
    expect(page.get_by_label("Partager")).to_be_checked()
    # another operator of the same centre sees the shared view, Place masked
    context = browser.new_context(ignore_https_errors=True, locale="fr-FR")
    try:
        other = context.new_page()
        console.sign_in(other, web, "op.a")
        open_wall(other)
        expect(other.get_by_label("Partager")).to_be_hidden()
        other.get_by_label("Vue", exact=True).select_option(
            label="Centre-ville — partagée par Cheffe"
        )
        expect(tile(other, 0)).to_have_attribute("data-camera", "a1")
        expect(tile(other, 1)).to_have_attribute("data-etat", "refus")
        expect(tile(other, 1)).to_contain_text("Accès non autorisé")
        expect(tile(other, 1)).not_to_contain_text("Place")
        expect(other.locator("#annonce")).to_contain_text("1 tuile(s) masquée(s)")
        expect(other.get_by_role("button", name="Supprimer")).to_be_disabled()
    finally:
        context.close()
    # the author deletes it
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Supprimer").click()
    expect(page.locator("#annonce")).to_contain_text("Vue « Centre-ville » supprimée")
    assert web.sql("SELECT count(*) FROM wall_views") == [(0,)]
    # leaving the screen closes every player: no more live requests (they retry every 6 s)
    offers: list[str] = []
    page.on("request", lambda r: offers.append(r.url) if r.url.endswith("/whep") else None)
    page.get_by_role("link", name="Caméras", exact=True).click()
    expect(page.get_by_role("heading", name="Caméras")).to_be_visible()
    page.wait_for_timeout(7000)
    assert offers == []


def test_tiles_say_so_when_the_player_cannot_load(web: WebEnv, page: Page) -> None:
    web.user("op.b", "operator", "csd", [("view_live", "commune-b")], mfa=True)
    page.route("**/static/player.js", lambda route: route.abort())
    console.sign_in(page, web, "op.b")
    open_wall(page)
    page.locator(".camera-mur[data-camera='b1']").drag_to(tile(page, 0))
    expect(tile(page, 0)).to_have_attribute("data-etat", "erreur")
    expect(tile(page, 0)).to_contain_text("Lecteur indisponible")
