"""« Rapports » in the console (headless Chromium) against the real operator service and
its database: an installation administrator picks a month and gets the alert, ticket
and availability statistics drawn as bar charts on canvases, each with its figures in
an aria-label and a table beneath; a committee member (``read_statistics``) gets only
the alert statistics and the anonymised per-alert view (docs/design/reports.md).

Screenshots go to ``$VMS_SCREENSHOT_DIR`` when set."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e import test_console as console  # skips this module too without chromium
from tests.fixtures.web import WebEnv
from tests.web.test_reports_api import SECRETS, SEPT, build_september

pytestmark = pytest.mark.integration

browser = console.browser
page = console.page

# pixels of the charts' main colour (#000091) on one canvas, counted in the page; the
# legend's square alone is 100 of them
_DRAWN = """(id) => {
  const c = document.getElementById(id);
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i] < 40 && d[i + 1] < 40 && d[i + 2] > 100) n++;
  return n;
}"""


def signed_in(page: Page, web: WebEnv, login: str) -> None:
    """Signed in, the first screen drawn (it would replace a screen opened before it)."""
    console.sign_in(page, web, login)
    expect(page.get_by_role("heading", name="Caméras", exact=True)).to_be_visible()


def show_month(page: Page) -> None:
    page.locator("#c-stats-mois").fill(SEPT)
    page.get_by_role("button", name="Afficher les statistiques").click()
    expect(page.locator("#figure-alertes figcaption")).to_have_text(f"Alertes par type — {SEPT}")


def cells(page: Page, figure: str, row: int) -> list[str]:
    return page.locator(f"#figure-{figure} tbody tr").nth(row).locator("td").all_inner_texts()


def test_the_administrator_sees_the_months_charts_and_their_figures(
    web: WebEnv, page: Page
) -> None:
    build_september(web)
    web.user("stat-a", "admin", "commune-a", [("admin_cameras", "commune-a")], mfa=True)
    signed_in(page, web, "stat-a")
    nav = page.get_by_role("link", name="Rapports")
    expect(nav).to_be_visible()
    nav.click()
    expect(page.get_by_role("heading", name="Rapports", exact=True)).to_be_visible()
    show_month(page)
    expect(page.locator("canvas.rapport-graphique")).to_have_count(4)
    for chart in ("alertes", "alertes-camera", "tickets", "disponibilite"):
        assert page.evaluate(_DRAWN, f"graphique-{chart}") > 1000, chart
    label = page.locator("#graphique-alertes").get_attribute("aria-label") or ""
    assert label.startswith("Alertes par type : 5 alerte(s) ; arme : 1"), label
    assert (
        "intrusion : 3, délai de prise en compte médian 60 s, 90e centile 5 min, "
        "1 escaladée(s), fausses alertes 33,3 %" in label
    ), label
    avail = page.locator("#graphique-disponibilite").get_attribute("aria-label")
    assert avail == "Disponibilité par caméra ; a1 : 50 % ; a2 : 10 %"
    # the tables beneath: the seeded figures
    assert cells(page, "alertes", 1) == [
        "commune-a", "intrusion", "3", "3", "60 s", "5 min", "1", "3", "33,3 %", "1"]  # fmt: skip
    assert cells(page, "alertes-camera", 1) == [
        "commune-a", "a1", "2", "2", "1", "2", "60 min", "2 h"]  # fmt: skip
    assert cells(page, "alertes-camera", 0)[1] == "Sans caméra"
    assert cells(page, "tickets", 0) == ["commune-a", "2026-T3", "2", "1", "2 h", "2 h", "2 h"]
    assert cells(page, "disponibilite", 0) == ["commune-a", "a1", "50 %"]
    assert cells(page, "disponibilite", 1) == ["commune-a", "a2", "10 %"]
    csv = page.locator("#figure-tickets").get_by_role("link", name="Télécharger (CSV)")
    assert "type=tickets" in (csv.get_attribute("href") or "")
    console.shot(page, "console-rapports.png")


def test_a_committee_member_sees_only_anonymised_statistics(web: WebEnv, page: Page) -> None:
    build_september(web)
    web.user("comite-a", "auditor", "commune-a", [("read_statistics", "commune-a")],
             mfa=True, habilitation=None)  # fmt: skip
    signed_in(page, web, "comite-a")  # no « Rapports » in the menu yet (index.html)
    page.evaluate("location.hash = '#/rapports'")
    expect(page.get_by_role("heading", name="Rapports", exact=True)).to_be_visible()
    show_month(page)
    expect(page.locator("canvas.rapport-graphique")).to_have_count(2)
    assert page.evaluate(_DRAWN, "graphique-alertes") > 1000
    expect(page.locator("#figure-tickets")).to_have_count(0)
    expect(page.locator("#figure-disponibilite")).to_have_count(0)
    anonymous = page.locator("table", has=page.get_by_text("Alertes du mois, anonymisées"))
    expect(anonymous.locator("tbody tr")).to_have_count(5)
    first = anonymous.locator("tbody tr").first.locator("td").all_inner_texts()
    assert first[:4] == ["commune-a", "1", "a1", "intrusion"]
    assert "Opérateur 1" in first and "Opérateur 2" in first
    text = page.locator("#contenu").inner_text()
    for secret in SECRETS:
        assert secret not in text, secret
    expect(page.get_by_text("Rapports mensuels enregistrés")).to_have_count(0)
    console.shot(page, "console-rapports-comite.png")
