"""Live switches and live links in the console's "Caméras" screen, in headless Chromium:
an administrator allows a camera's live transmission (EVD-15), shares its live with a
named recipient (CSD-08), sees the link once, finds it in the list and revokes it; the
audit holds each step. Operators without the admin right get no switches.

The first test runs on the live fixture (relay and simulated cameras, inside
``scripts/netns.sh``) so that the links are those a recipient would open; no video is
played here (tests/live covers that)."""

from __future__ import annotations

import re
from typing import Any, cast

import pytest
import requests
from playwright.sync_api import Dialog, Page, expect

from tests.e2e import test_console as console  # skips this module too without chromium
from tests.fixtures.live import LiveEnv
from tests.fixtures.web import WebEnv

pytestmark = pytest.mark.integration

# the browser and page fixtures of the console tests
browser = console.browser
page = console.page

RECIPIENT = "Capitaine Martin"
MOTIF = "Incendie rue de la Gare"


def answer(page: Page, accept: bool, seen: list[str]) -> None:
    """Answer the next confirmation, keeping its text."""

    def on_dialog(dialog: Dialog) -> None:
        seen.append(dialog.message)
        if accept:
            dialog.accept()
        else:
            dialog.dismiss()

    page.once("dialog", on_dialog)


def audit(web: WebEnv, action: str) -> list[tuple[str, str, dict[str, Any]]]:
    rows = web.sql(
        "SELECT actor, target, detail FROM audit WHERE action = %s ORDER BY seq", (action,)
    )
    return [(str(a), str(t), cast(dict[str, Any], d)) for a, t, d in rows]


def link_status(web: WebEnv, token: str) -> int:
    r = requests.get(f"{web.url}/api/v1/links/{token}", verify=str(web.cert), timeout=10)
    return r.status_code


def test_admin_allows_transmission_shares_and_revokes(live_env: LiveEnv, page: Page) -> None:
    web = live_env.web
    web.user("admin", "admin", "csd",
             [("admin_cameras", "commune-a"), ("export", "commune-a"),
              ("view_live", "commune-a")], mfa=True)  # fmt: skip
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=web.url)
    console.sign_in(page, web, "admin")
    expect(page.get_by_role("heading", name="Caméras")).to_be_visible()
    a1 = page.locator(".camera[data-camera='a1']")
    live = a1.get_by_role("switch", name="Direct autorisé")
    share = a1.get_by_role("switch", name="Transmission aux forces de l'ordre autorisée")
    button = a1.get_by_role("button", name="Partager le direct")
    expect(live).to_be_checked()
    expect(share).not_to_be_checked()  # off by default (EVD-15)
    expect(button).to_be_disabled()
    expect(page.get_by_text("Aucun lien de direct actif.")).to_be_visible()

    # a declined confirmation changes nothing
    seen: list[str] = []
    answer(page, False, seen)
    live.click()
    expect(live).to_be_checked()
    assert "Désactiver le direct de la caméra « Mairie »" in seen[-1]
    # the transmission switched on
    answer(page, True, seen)
    share.click()
    expect(share).to_be_checked()
    assert "Autoriser la transmission" in seen[-1]
    expect(page.get_by_role("status")).to_contain_text(
        "« Mairie » : direct autorisé, transmission aux forces de l'ordre autorisée."
    )
    expect(a1.locator(".etat-direct")).to_have_text("Direct autorisé · transmission autorisée")
    expect(button).to_be_enabled()
    assert web.sql("SELECT live_share_enabled FROM cameras WHERE id = 'a1'") == [(True,)]
    console.shot(page, "console-cameras-direct.png")

    # the share form: an administrator may also make public links, which have no recipient
    button.click()
    dialog = page.get_by_role("dialog", name="Partager le direct — Mairie")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Type de lien").select_option("public")
    expect(dialog.get_by_label("Nom et grade")).to_be_hidden()
    dialog.get_by_label("Type de lien").select_option("partage")
    dialog.get_by_label("Nom et grade").fill(RECIPIENT)
    dialog.get_by_label("Service").select_option(label="Sapeurs-pompiers")
    dialog.get_by_label("Motif").fill(MOTIF)
    dialog.get_by_label("Flux transmis").select_option("sub")
    # beyond the server's limit: its French refusal, in the dialog
    dialog.get_by_label("Durée de validité (heures)").fill("100")
    dialog.get_by_role("button", name="Créer le lien").click()
    expect(dialog.get_by_role("alert")).to_have_text("Durée limitée à 24 h.")
    assert web.sql("SELECT count(*) FROM live_links") == [(0,)]
    dialog.get_by_label("Durée de validité (heures)").fill("2")
    dialog.get_by_role("button", name="Créer le lien").click()

    # shown once, with a warning and a copy button
    field = dialog.get_by_label("Lien à transmettre")
    expect(field).to_have_value(re.compile(r"^https://.+/partage#[A-Za-z0-9_-]{40,}$"))
    url = field.input_value()
    token = url.split("#", 1)[1]
    expect(dialog).to_contain_text("Ce lien ne sera plus jamais affiché")
    expect(dialog).to_contain_text(f"pour {RECIPIENT} (Sapeurs-pompiers)")
    dialog.get_by_role("button", name="Copier").click()
    expect(dialog.get_by_role("status")).to_have_text("Lien copié dans le presse-papiers.")
    assert page.evaluate("navigator.clipboard.readText()") == url
    console.shot(page, "console-partage-direct.png")
    assert link_status(web, token) == 200  # the recipient's page would open it
    dialog.get_by_role("button", name="Fermer").click()
    expect(page.locator("dialog")).to_have_count(0)
    assert token not in page.content()  # never shown again

    # listed; revoked after confirmation; the list follows
    active = page.get_by_role("table", name="Liens de direct actifs")
    row = active.locator("tbody tr")
    expect(row).to_have_count(1)
    for text in ("Mairie", "Partage nominatif", RECIPIENT, "Sapeurs-pompiers", "sub", MOTIF):
        expect(row).to_contain_text(text)
    expect(row.locator("td").nth(6)).to_have_text("admin")  # created by
    answer(page, True, seen)
    row.get_by_role("button", name="Révoquer").click()
    assert f"Révoquer le lien transmis à {RECIPIENT}" in seen[-1]
    expect(page.get_by_text("Aucun lien de direct actif.")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text(f"Lien transmis à {RECIPIENT} révoqué.")
    ended = page.get_by_role("table", name="Liens de direct terminés")
    page.get_by_text("Liens terminés ces 7 derniers jours (1)").click()
    expect(ended).to_contain_text("Révoqué le")
    expect(ended).to_contain_text("par admin")
    assert link_status(web, token) == 404
    recipient = page.context.new_page()
    recipient.goto(url)
    expect(recipient.locator("#info")).to_have_text("Lien invalide, expiré ou révoqué.")
    recipient.close()

    # the audit: the switch (one: the declined one left none), the creation, the revocation
    (switch,) = audit(web, "camera.live_switches")
    assert switch[0] == "admin" and switch[1] == "camera:a1"
    assert switch[2] == {
        "avant": {"direct": True, "transmission": False},
        "apres": {"direct": True, "transmission": True},
    }
    (created,) = audit(web, "live_link.create")
    assert created[:2] == ("admin", "camera:a1")
    assert created[2]["destinataire"] == RECIPIENT and created[2]["service"] == "pompiers"
    assert created[2]["motif"] == MOTIF and created[2]["type"] == "partage"
    (revoked,) = audit(web, "live_link.revoke")
    assert revoked[:2] == ("admin", "camera:a1")
    assert revoked[2] == {"lien": created[2]["lien"], "destinataire": RECIPIENT}


def test_operators_get_no_switches_and_share_only_where_allowed(web: WebEnv, page: Page) -> None:
    web.user("admin", "admin", "csd", [("admin_cameras", "commune-a"), ("export", "commune-a")])
    admin = web.login("admin")
    r = admin.patch(f"{web.url}/api/v1/cameras/a1/live", json={"share_enabled": True})
    assert r.status_code == 200, r.text
    r = admin.post(f"{web.url}/api/v1/cameras/a1/live/links",
                   json={"kind": "partage", "recipient": "Lieutenant Durand",
                         "service": "gendarmerie", "motif": "Rixe", "hours": 1})  # fmt: skip
    assert r.status_code == 201, r.text
    web.user("op", "operator", "csd", [("view_live", "commune-a"), ("export", "commune-a")],
             mfa=True)  # fmt: skip
    web.user("agent.b", "commune_viewer", "commune-b", [("view_live", "commune-b")], mfa=True)

    console.sign_in(page, web, "op")
    expect(page.get_by_role("heading", name="Caméras")).to_be_visible()
    expect(page.locator("[data-camera]")).to_have_count(2)
    expect(page.get_by_role("switch")).to_have_count(0)
    # a1's transmission is allowed, a2's is not
    a1 = page.locator(".camera[data-camera='a1']")
    a2 = page.locator(".camera[data-camera='a2']")
    expect(a1.get_by_role("button", name="Partager le direct")).to_be_enabled()
    expect(a2.get_by_role("button", name="Partager le direct")).to_be_disabled()
    expect(a2.locator(".etat-direct")).to_have_text("Direct autorisé · transmission non autorisée")
    # the admin's link is listed, but only its author or an administrator revokes it
    row = page.get_by_role("table", name="Liens de direct actifs").locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Lieutenant Durand")
    expect(row).to_contain_text("Gendarmerie")
    expect(row.get_by_role("button", name="Révoquer")).to_have_count(0)
    # an operator shares with a named recipient only: no public link, recipient required
    a1.get_by_role("button", name="Partager le direct").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_label("Type de lien")).to_have_count(0)
    expect(dialog).to_contain_text("Partage nominatif")
    dialog.get_by_label("Motif").fill("Recherche de personne")
    dialog.get_by_role("button", name="Créer le lien").click()
    assert dialog.get_by_label("Nom et grade").evaluate("e => e.validity.valueMissing")
    dialog.get_by_role("button", name="Annuler").click()
    expect(page.locator("dialog")).to_have_count(0)
    assert web.sql("SELECT count(*) FROM live_links") == [(1,)]
    page.get_by_role("button", name="Se déconnecter").click()
    expect(page.get_by_role("heading", name="Connexion")).to_be_visible()

    # without the export or admin right: neither controls nor the list of links
    console.sign_in(page, web, "agent.b")
    expect(page.locator("[data-camera='b1']")).to_be_visible()
    expect(page.locator(".direct-controles")).to_have_count(0)
    expect(page.get_by_role("heading", name="Liens de direct")).to_have_count(0)
