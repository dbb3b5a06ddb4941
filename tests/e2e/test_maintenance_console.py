"""« Maintenances » in the console (headless Chromium) against the real operator service
and its database: a camera administrator declares a maintenance window through the
form (the API's French error shown inline first), sees it in force, the alert desk's
store then raises nothing for a technical fault of that camera and records an external
alarm closed; the administrator ends the window early and the camera's faults are
raised again. A user without ``admin_cameras`` has no menu entry and is refused by the
API (docs/design/alerts.md, « Suppression rules »).

Screenshots go to ``$VMS_SCREENSHOT_DIR`` when set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Browser, Page, expect
from psycopg_pool import ConnectionPool

from tests.e2e import test_console as console  # skips this module too without chromium
from tests.fixtures.web import WebEnv
from vms.alerts.inputs import ExternalInput
from vms.alerts.store import STREAM_FAULT, AlertStore, Fault

pytestmark = pytest.mark.integration

browser = console.browser
page = console.page

EFFECT = (
    "Pendant une maintenance, les défauts techniques de la caméra ne lèvent ni alerte ni "
    "ticket, et ses autres alertes (analyse, alarmes externes) sont enregistrées puis "
    "clôturées aussitôt par le système."
)


def test_an_administrator_declares_then_ends_a_maintenance(web: WebEnv, page: Page) -> None:
    web.user("tech", "operator", "csd", [("admin_cameras", "commune-a")], mfa=True)
    console.sign_in(page, web, "tech")
    nav = page.get_by_role("link", name="Maintenances")
    expect(nav).to_be_visible()
    nav.click()
    expect(page.get_by_role("heading", name="Maintenances", exact=True)).to_be_visible()
    expect(page.get_by_text(EFFECT)).to_be_visible()
    expect(page.get_by_text("Aucune maintenance en cours ou à venir.")).to_be_visible()

    form = page.get_by_role("form", name="Déclarer une maintenance")
    cameras = form.get_by_label("Caméra").locator("option")
    expect(cameras).to_have_text(["Gare — Commune A", "Mairie — Commune A"])  # a2, a1 only
    form.get_by_label("Caméra").select_option("a1")
    start = form.get_by_label("Début").input_value()  # default: now
    end = form.get_by_label("Fin").input_value()  # default: two hours later
    assert start < end
    # the API's French refusal, inline
    form.get_by_label("Fin").fill(start)
    form.get_by_label("Motif").fill("Remplacement de l'optique")
    form.get_by_role("button", name="Déclarer").click()
    expect(page.get_by_role("alert")).to_have_text(
        "Plage horaire invalide : la fin doit suivre le début."
    )
    assert web.sql("SELECT count(*) FROM camera_maintenance") == [(0,)]
    form.get_by_label("Fin").fill(end)
    form.get_by_role("button", name="Déclarer").click()
    row = page.locator("tr[data-maintenance]")
    expect(row).to_have_count(1)
    for cell in ("Mairie", "Commune A", "En cours", "Remplacement de l'optique", "tech"):
        expect(row).to_contain_text(cell)
    expect(page.get_by_role("status")).to_contain_text("Maintenance de « Mairie » déclarée")
    console.shot(page, "console-maintenances.png")
    ((window, reason),) = web.sql("SELECT id, reason FROM camera_maintenance")
    assert reason == "Remplacement de l'optique"

    with ConnectionPool(web.dsn, min_size=1, max_size=2, open=True) as pool:
        store = AlertStore(pool)
        now = datetime.now(UTC)
        fault = Fault("a1", STREAM_FAULT, "Flux vidéo interrompu", now)
        # during the window: a technical fault raises neither alert nor ticket ...
        assert store.raise_fault(fault, now) == (None, None)
        assert web.sql("SELECT count(*) FROM alerts") == [(0,)]
        assert web.sql("SELECT count(*) FROM tickets") == [(0,)]
        # ... another alert of the camera is recorded closed by the system
        alarm = ExternalInput.model_validate(
            {"camera_id": "a1", "kind": "externe", "title": "Alarme du coffret"}
        )
        alert_id, created = store.create_external(alarm, "mqtt", now)
        assert created
        assert web.sql(
            "SELECT state, closed_by, qualification, suppressed_by, report FROM alerts "
            "WHERE id = %s",
            (alert_id,),
        ) == [
            ("cloturee", "systeme", "technique", window,
             "Levée pendant une maintenance de la caméra : Remplacement de l'optique"),
        ]  # fmt: skip

        row.get_by_role("button", name="Terminer maintenant").click()
        expect(page.get_by_text("Aucune maintenance en cours ou à venir.")).to_be_visible()
        expect(page.get_by_role("status")).to_have_text("Maintenance de « Mairie » terminée.")
        page.get_by_role("link", name="Afficher aussi les maintenances terminées").click()
        expect(page.locator("tr[data-maintenance]")).to_contain_text("Terminée")
        expect(page.get_by_role("button", name="Terminer maintenant")).to_have_count(0)
        assert web.sql("SELECT actor FROM audit WHERE action = 'maintenance.end'") == [("tech",)]

        # ended: the camera's technical faults are raised again
        later = datetime.now(UTC)
        alert, ticket = store.raise_fault(
            Fault("a1", STREAM_FAULT, "Flux interrompu", later), later
        )
        assert alert is not None and ticket is not None


def test_a_user_without_the_right_has_no_entry_and_is_refused(
    web: WebEnv, browser: Browser
) -> None:
    web.user("op", "operator", "csd", [("handle_alerts", "commune-a")], mfa=True)
    context = browser.new_context(ignore_https_errors=True, locale="fr-FR")
    try:
        page = context.new_page()
        console.sign_in(page, web, "op")
        expect(page.get_by_role("link", name="Alertes", exact=True)).to_be_visible()
        expect(page.get_by_role("link", name="Maintenances")).to_be_hidden()
        page.goto(f"{web.url}/#/maintenances")
        expect(page.get_by_text("Vous n'administrez aucune caméra")).to_be_visible()
        expect(page.get_by_role("form", name="Déclarer une maintenance")).to_have_count(0)
        csrf = page.request.get(f"{web.url}/api/v1/me").json()["csrf_token"]
        now = datetime.now(UTC)
        r = page.request.post(
            f"{web.url}/api/v1/maintenance",
            headers={"X-CSRF-Token": csrf},
            data={"camera_id": "a1", "from_at": now.isoformat(),
                  "to_at": (now + timedelta(hours=1)).isoformat(), "reason": "Essai"},
        )  # fmt: skip
        assert r.status == 403, r.text()
        assert r.json()["erreur"]["message"] == (
            "Accès refusé : aucun droit « admin_cameras » sur commune-a."
        )
        assert web.sql("SELECT count(*) FROM camera_maintenance") == [(0,)]
    finally:
        context.close()
