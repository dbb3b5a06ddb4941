"""« Santé des caméras » in the console (headless Chromium) against the real operator
service and its database: a camera technician sees the cameras of its commune with
their open faults and availability, opens one and gets its bitrate and frame-rate
charts drawn on canvases, its faults and its gaps (docs/design/alerts.md, « Contrôles
de santé »).

Screenshots go to ``$VMS_SCREENSHOT_DIR`` when set."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect

from tests.e2e import test_console as console  # skips this module too without chromium
from tests.fixtures.web import WebEnv
from tests.web.test_health_api import seed

pytestmark = pytest.mark.integration

browser = console.browser
page = console.page

# pixels of the chart's curve colour for the main stream (#000091), counted in the page
_DRAWN = """(sel) => {
  const c = document.querySelectorAll('canvas.sante-courbe')[sel];
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i] < 40 && d[i + 1] < 40 && d[i + 2] > 100) n++;
  return n;
}"""


def test_the_technician_sees_faults_availability_and_charts(web: WebEnv, page: Page) -> None:
    seed(web, datetime.now(UTC))
    web.user("tech", "operator", "csd", [("admin_cameras", "commune-a")], mfa=True)
    console.sign_in(page, web, "tech")
    nav = page.get_by_role("link", name="Santé des caméras")
    expect(nav).to_be_visible()
    nav.click()
    expect(page.get_by_role("heading", name="Santé des caméras")).to_be_visible()
    expect(page.get_by_text("2 caméra(s), 1 en défaut.")).to_be_visible()
    row = page.locator("tr", has=page.get_by_role("link", name="Mairie"))
    expect(row).to_contain_text("Qualité d'image enregistrée sous le minimum réglementaire")
    expect(row).to_contain_text("5 i/s")
    expect(page.locator("tr", has=page.get_by_role("link", name="Gare"))).to_contain_text(
        "Aucun défaut"
    )
    expect(page.get_by_text("Place")).to_have_count(0)  # commune B: not in the perimeter
    console.shot(page, "console-sante.png")

    row.get_by_role("link", name="Mairie").click()
    expect(page.get_by_role("heading", name="Santé — Mairie")).to_be_visible()
    charts = page.locator("canvas.sante-courbe")
    expect(charts).to_have_count(2)
    expect(charts.nth(0)).to_have_attribute(
        "aria-label", "Débit enregistré (kbit/s) : 3 mesure(s), dernière 1\u202f800"
    )
    expect(charts.nth(1)).to_have_attribute(
        "aria-label", "Images enregistrées par seconde : 3 mesure(s), dernière 5"
    )
    assert page.evaluate(_DRAWN, 0) > 20 and page.evaluate(_DRAWN, 1) > 20
    expect(page.get_by_text("Délai dépassé")).to_be_visible()  # the gap's cause
    expect(page.get_by_text("Nouvelle, du")).to_be_visible()
    console.shot(page, "console-sante-camera.png")
