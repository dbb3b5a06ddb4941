"""The French console in headless Chromium (Debian's, driven by Playwright): sign in
with TOTP, enrol a second factor, browse the camera tree (one's commune only), read
the audit as an auditor. Screenshots go to ``$VMS_SCREENSHOT_DIR`` when set (the
ones in docs/images come from here)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.web import PASSWORD, WebEnv
from vms.security import totp

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

if shutil.which(CHROMIUM) is None:  # scripts/setup.sh installs it; only a bare venv lacks it
    pytest.skip("Debian chromium absent (installed by scripts/setup.sh)", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(ignore_https_errors=True, locale="fr-FR")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    context.close()
    assert not errors, errors


def shot(page: Page, name: str) -> None:
    target = os.environ.get("VMS_SCREENSHOT_DIR")
    if target:
        page.screenshot(path=str(Path(target) / name), full_page=True)


def sign_in(page: Page, web: WebEnv, login: str) -> None:
    page.goto(f"{web.url}/")
    page.get_by_label("Identifiant").fill(login)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", name="Second facteur")).to_be_visible()
    page.get_by_label("Code à 6 chiffres").fill(totp.totp(web.secrets[login], time.time()))
    page.get_by_role("button", name="Valider").click()


def test_commune_agent_signs_in_with_totp_and_sees_only_its_commune(
    web: WebEnv, page: Page
) -> None:
    web.user("agent.a", "commune_viewer", "commune-a",
             [("view_live", "commune-a"), ("playback", "commune-a")], mfa=True)  # fmt: skip
    page.goto(f"{web.url}/")
    expect(page.get_by_role("heading", name="Connexion")).to_be_visible()
    shot(page, "console-connexion.png")
    # a wrong password is refused in French
    page.get_by_label("Identifiant").fill("agent.a")
    page.get_by_label("Mot de passe").fill("mauvais")
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("status")).to_contain_text("Identifiant ou mot de passe incorrect")
    sign_in(page, web, "agent.a")
    expect(page.get_by_role("heading", name="Caméras")).to_be_visible()
    tree = page.get_by_role("list", name="Caméras par commune")
    expect(tree).to_contain_text("Commune A")
    expect(tree).to_contain_text("Mairie")
    expect(tree).to_contain_text("Gare")
    expect(tree).not_to_contain_text("Place")  # b1, commune B
    expect(tree).not_to_contain_text("École")  # c1, commune C
    expect(page.locator("[data-camera]")).to_have_count(2)
    # no admin or audit entry in the menu for this account
    expect(page.get_by_role("link", name="Utilisateurs")).to_be_hidden()
    expect(page.get_by_role("link", name="Journal d'audit")).to_be_hidden()
    page.get_by_role("button", name="Se déconnecter").click()
    expect(page.get_by_role("heading", name="Connexion")).to_be_visible()


def test_first_sign_in_enrols_the_second_factor(web: WebEnv, page: Page) -> None:
    user_id = web.user("nouvel.op", "operator", "csd", [("view_live", "commune-b")])
    web.sql("UPDATE users SET mfa_required = true WHERE id = %s", (user_id,))
    page.goto(f"{web.url}/")
    page.get_by_label("Identifiant").fill("nouvel.op")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", name="Enrôlement du second facteur")).to_be_visible()
    secret = page.locator("#secret-totp").inner_text().replace(" ", "")
    page.get_by_label("Code à 6 chiffres").fill(totp.totp(secret, time.time()))
    page.get_by_role("button", name="Valider").click()
    expect(page.get_by_role("list", name="Caméras par commune")).to_contain_text("Place")
    assert web.sql("SELECT totp_secret FROM users WHERE id = %s", (user_id,)) == [(secret,)]


def test_auditor_reads_the_audit_and_an_admin_manages_users(web: WebEnv, page: Page) -> None:
    web.user("agent.b", "commune_viewer", "commune-b", [("view_live", "commune-b")])
    web.login("agent.b")  # leaves an entry of commune B
    web.user("auditrice", "auditor", "csd",
             [("read_audit", "csd"), ("read_audit", "commune-a"), ("read_audit", "commune-b"),
              ("admin_users", "commune-a"), ("admin_users", "commune-b"),
              ("view_live", "commune-a"), ("view_live", "commune-b")], mfa=True)  # fmt: skip
    sign_in(page, web, "auditrice")
    expect(page.get_by_role("heading", name="Caméras")).to_be_visible()
    shot(page, "console-cameras.png")
    page.get_by_role("link", name="Journal d'audit").click()
    expect(page.get_by_role("heading", name="Journal d'audit")).to_be_visible()
    table = page.get_by_role("table")
    expect(table).to_contain_text("auth.login.success")
    expect(table).to_contain_text("agent.b")
    page.get_by_label("Utilisateur").fill("agent.b")
    page.get_by_role("button", name="Rechercher").click()
    expect(page.get_by_role("table").locator("tbody tr")).to_have_count(1)
    shot(page, "console-audit.png")
    page.get_by_role("link", name="Utilisateurs").click()
    expect(page.get_by_role("heading", name="Utilisateurs")).to_be_visible()
    expect(page.locator("tr[data-login='agent.b']")).to_be_visible()
    page.get_by_label("Identifiant", exact=True).fill("nouvelle.agente")
    page.get_by_label("Nom affiché").fill("Nouvelle Agente")
    page.get_by_label("Rôle").select_option("commune_viewer")
    page.get_by_label("Rattachement").select_option("commune-b")
    page.get_by_label("Mot de passe provisoire").fill("Provisoire-2026-Abc!")
    page.get_by_role("button", name="Créer le compte").click()
    expect(page.get_by_role("status")).to_contain_text("nouvelle.agente")
    expect(page.locator("tr[data-login='nouvelle.agente']")).to_be_visible()
    shot(page, "console-utilisateurs.png")
    # habilitation renewed from the rights page
    page.locator("tr[data-login='agent.b']").get_by_role("button", name="Droits").click()
    expect(page.get_by_role("heading", name="Habilitation")).to_be_visible()
    page.get_by_label("Échéance").fill("2031-12-31")
    page.get_by_role("button", name="Enregistrer l'habilitation").click()
    expect(page.get_by_role("status")).to_contain_text("Habilitation de « agent.b »")
    renewed = "SELECT habilitation_expires_on::text FROM users WHERE login = 'agent.b'"
    assert web.sql(renewed) == [("2031-12-31",)]
    created = "SELECT home_tenant_id, must_change_password FROM users WHERE login = %s"
    assert web.sql(created, ("nouvelle.agente",)) == [("commune-b", True)]
