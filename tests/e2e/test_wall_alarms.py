"""The wall automation (« Afficher les alarmes sur le mur », docs/design/alerts.md) in
headless Chromium against the real operator service: with the option on, tile 3 and
priorities 1 to 2, a new priority-2 alert pushed over the alerts WebSocket puts its
camera on tile 3; a priority-3 one changes nothing; the option is kept in the browser."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e import test_alerts_console as desk_console
from tests.e2e import test_console as console  # skips this module too without chromium
from tests.fixtures.web import WebEnv

pytestmark = desk_console.pytestmark

browser = console.browser
page = console.page
desk = desk_console.desk


def test_a_new_alert_shows_its_camera_on_the_chosen_tile(desk: WebEnv, page: Page) -> None:
    web = desk
    web.user("op.a", "operator", "csd", desk_console.OPERATOR_A, mfa=True)
    console.sign_in(page, web, "op.a")
    expect(page.get_by_role("heading", name="Caméras")).to_be_visible()
    page.evaluate("location.hash = '#/mur'")
    expect(page.get_by_role("heading", name="Mur d'images")).to_be_visible()
    page.get_by_label("Afficher les alarmes sur le mur").check()
    page.locator("#mur-alarmes-tuile").select_option("3")
    page.locator("#mur-alarmes-priorite").select_option("2")
    tile = page.locator(".tuile[data-position='2'] .tuile-nom")
    expect(tile).to_have_text("")
    page.wait_for_timeout(500)  # the socket opens once the hub listens

    desk_console.raise_alert(web, "a1", "commune-a", "Sans importance", priority=3)
    page.wait_for_timeout(500)
    expect(tile).to_have_text("")
    desk_console.raise_alert(web, "a2", "commune-a", "Intrusion sur le quai", priority=2)
    expect(tile).to_have_text("Gare")
    stored = page.evaluate("localStorage.getItem('vms.mur.alarmes')")
    assert stored == '{"actif":true,"tuile":3,"priorite":2}'
