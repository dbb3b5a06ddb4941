"""The alert desk in the console (headless Chromium) against the real operator service
and its database (issue 7, docs/design/alerts.md).

An operator with the alert right (handle_alerts) on commune A has « Alertes » open when
an alert row is inserted and announced with ``pg_notify('vms_alerts', …)``: it appears
in the queue without a reload (an overdue one, loaded with the page, is shown in red);
the operator acknowledges it, starts the doubt removal, escalates it with a call
reference and a live share link, is refused a blank report in French, closes it with a
report; the card's history, the closed alerts' history screen and the database
(alert_history, audit, live_links) show every step. A commune-B operator never sees it
(neither pushed nor through the API), raises a manual alert, and gets back what was
raised while its socket was cut once it has reconnected. Technical staff run the tickets
board: a manual ticket through every state.

Screenshots go to ``$VMS_SCREENSHOT_DIR`` when set (docs/images/console-alertes-*.png)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import cv2
import numpy as np
import psycopg
import pytest
from playwright.sync_api import Locator, Page, WebSocketRoute, expect
from psycopg.types.json import Jsonb

from tests.e2e import test_console as console  # skips this module too without chromium
from tests.fixtures.web import WebEnv, seed_installation, serving
from vms.db.migrate import ensure_partitions
from vms.storage.fs import FsBlobStore
from vms.storage.reader import SegmentReader
from vms.web.server import Evidence

pytestmark = pytest.mark.integration

browser = console.browser
page = console.page

Grants = list[tuple[str, str] | tuple[str, str, str]]
OPERATOR_B: Grants = [("handle_alerts", "commune-b"), ("view_live", "commune-b")]
OPERATOR_A: Grants = [("handle_alerts", "commune-a"), ("view_live", "commune-a"),
              ("playback", "commune-a"), ("export", "commune-a")]  # fmt: skip
REFERENTS = [
    {"name": "Claire Martin", "role": "Adjointe à la sécurité", "phone": "04 76 00 00 01",
     "email": "c.martin@commune-a.test"},
]  # fmt: skip


@pytest.fixture
def desk(pg_dsn: str, tmp_path: Path) -> Iterator[WebEnv]:
    """The seeded installation with a1 placed on the map, its live transmission allowed
    (for share links), commune A's referents, and a replica for the events' snapshots."""
    seed_installation(pg_dsn)
    (tmp_path / "dc1").mkdir()
    store = FsBlobStore("dc1", tmp_path / "dc1")
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(
            "UPDATE cameras SET latitude = 45.188, longitude = 5.7245,"
            " live_share_enabled = true WHERE id = 'a1'"
        )
        conn.execute(
            "UPDATE tenants SET referents = %s WHERE id = 'commune-a'", (Jsonb(REFERENTS),)
        )
    with serving(pg_dsn, tmp_path, evidence=Evidence(reader=SegmentReader([store]))) as env:
        env.store = store  # type: ignore[attr-defined]
        yield env


def insert_event(web: WebEnv, camera: str, at: datetime, label: str) -> int:
    """An analytics event with its snapshot (a grey 320x240 JPEG), as the worker writes it."""
    with psycopg.connect(web.dsn) as conn:
        ensure_partitions(conn, at.date() - timedelta(days=1), at.date() + timedelta(days=1))
        row = conn.execute(
            "INSERT INTO events (camera_id, at, rule_id, kind, cls, track_id, confidence, boxes,"
            " label, detail, model) VALUES (%s, %s, 'zone-parvis', 'intrusion', 'person', 7, 0.87,"
            " '[[0.25, 0.2, 0.5, 0.9]]', %s, '{}', 'yolo11n-coco 1.0') RETURNING id",
            (camera, at, label),
        ).fetchone()
        assert row is not None
        event_id = int(row[0])
        ok, jpeg = cv2.imencode(".jpg", np.full((240, 320, 3), 90, np.uint8))
        assert ok
        key = f"events/{camera}/{at:%Y/%m/%d}/{event_id}.jpg"
        web.store.put(key, jpeg.tobytes())  # type: ignore[attr-defined]
        conn.execute("UPDATE events SET snapshot_key = %s WHERE id = %s", (key, event_id))
    return event_id


def raise_alert(
    web: WebEnv,
    camera: str,
    tenant: str,
    title: str,
    *,
    kind: str = "intrusion",
    priority: int = 2,
    age_s: int = 0,
    deadline_s: int = 120,
    notify: bool = True,
    event: int | None = None,
) -> int:
    """An alert row as the desk writes it (owner connection), announced to the consoles."""
    raised = datetime.now().astimezone().replace(microsecond=0) - timedelta(seconds=age_s)
    detail = {"label": title, "class": "person", "confidence": 0.87,
              "boxes": [[0.25, 0.2, 0.5, 0.9]], "model": "yolo11n-coco 1.0"}  # fmt: skip
    with psycopg.connect(web.dsn) as conn:
        row = conn.execute(
            "INSERT INTO alerts (tenant_id, camera_id, source, kind, priority, title, raised_at,"
            " ack_due_at, detail, event_id, event_at)"
            " VALUES (%s, %s, 'analytique', %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (tenant, camera, kind, priority, title, raised,
             raised + timedelta(seconds=deadline_s), Jsonb(detail), event,
             raised if event is not None else None),
        ).fetchone()  # fmt: skip
        assert row is not None
        alert_id = int(row[0])
        if notify:
            conn.execute(
                "SELECT pg_notify('vms_alerts', %s)",
                (json.dumps({"id": alert_id, "tenant_id": tenant}),),
            )
    return alert_id


# counts the tones the console plays (WebAudio oscillators)
BEEP_COUNTER = """
window.__bips = 0;
const Base = window.AudioContext;
window.AudioContext = class extends Base {
  createOscillator() { window.__bips += 1; return super.createOscillator(); }
};
"""


def open_desk(page: Page) -> None:
    page.get_by_role("navigation", name="Navigation principale").get_by_role(
        "link", name="Alertes"
    ).click()
    expect(page.get_by_role("heading", name="Alertes", exact=True)).to_be_visible()
    expect(page.locator(".flux-etat")).to_have_text("connecté")


def test_operator_handles_a_live_alert_from_queue_to_closing(desk: WebEnv, page: Page) -> None:
    web = desk
    web.user("op.a", "operator", "csd", OPERATOR_A, mfa=True)
    late = raise_alert(web, "a2", "commune-a", "Objet abandonné sur le quai",
                       kind="objet_abandonne", age_s=300, deadline_s=180, notify=False)  # fmt: skip
    page.add_init_script(BEEP_COUNTER)
    console.sign_in(page, web, "op.a")
    expect(page.get_by_role("heading", name="Caméras")).to_be_visible()
    open_desk(page)

    # loaded with the page: past its deadline, in red
    late_row = page.locator(f".alerte-ligne[data-alerte='{late}']")
    expect(late_row).to_contain_text("Objet abandonné sur le quai")
    expect(late_row).to_have_class(re.compile(r"\ben-retard\b"))
    expect(late_row).to_contain_text("Délai dépassé de")

    # pushed live: no reload
    page.evaluate("window.__pasRecharge = true")
    title = "Présence dans la zone « parvis »"
    event = insert_event(web, "a1", datetime.now().astimezone(), title)
    alert_id = raise_alert(web, "a1", "commune-a", title, event=event)
    row = page.locator(f".alerte-ligne[data-alerte='{alert_id}']")
    expect(row).to_contain_text(title)
    expect(row).to_contain_text("Mairie — Commune A")
    expect(row).to_contain_text("P2")
    expect(row).to_contain_text("À prendre en compte sous")
    expect(row).not_to_have_class(re.compile(r"\ben-retard\b"))
    expect(page.locator("#annonce")).to_contain_text("Nouvelle alerte de priorité 2")
    assert page.evaluate("window.__pasRecharge") is True
    page.wait_for_function("window.__bips === 2")  # the two tones of a new alert (not on load)
    console.shot(page, "console-alertes-file.png")

    # the mute toggle is remembered
    mute = page.get_by_role("button", name="Couper le son")
    expect(mute).to_have_attribute("aria-pressed", "false")
    mute.click()
    expect(mute).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("localStorage.getItem('vms.alertes.muet')") == "1"
    raise_alert(web, "a2", "commune-a", "Intrusion sur le quai")
    expect(page.locator(".alerte-ligne")).to_have_count(3)
    assert page.evaluate("window.__bips") == 2  # muted

    # the card
    row.get_by_role("button").click()
    card = page.locator(f".fiche[data-alerte='{alert_id}']")
    expect(card.get_by_role("heading", level=2)).to_contain_text(f"Alerte n° {alert_id} — {title}")
    expect(card).to_contain_text("Commune A")
    expect(card).to_contain_text("Mairie")
    expect(card).to_contain_text("45.18800, 5.72450")
    expect(card.get_by_role("link", name="Voir sur la carte")).to_have_attribute(
        "href", re.compile(r"openstreetmap\.org/\?mlat=45\.188&mlon=5\.7245")
    )
    expect(card).to_contain_text("Procédure : Intrusion dans une zone")
    expect(card).to_contain_text("Claire Martin — Adjointe à la sécurité")
    expect(card.get_by_role("link", name="04 76 00 00 01")).to_have_attribute(
        "href", "tel:0476000001"
    )
    # the snapshot with the event's box [0.25, 0.2, 0.5, 0.9] over it, the clip around it
    image = card.locator(".fiche-image img")
    page.wait_for_function("img => img.complete && img.naturalWidth === 320",
                           arg=image.element_handle())  # fmt: skip
    picture, drawn = image.bounding_box(), card.locator(".boite").bounding_box()
    assert picture is not None and drawn is not None
    w, h = picture["width"], picture["height"]
    relative = ((drawn["x"] - picture["x"]) / w, (drawn["y"] - picture["y"]) / h,
                drawn["width"] / w, drawn["height"] / h)  # fmt: skip
    assert relative == pytest.approx((0.25, 0.2, 0.25, 0.7), abs=0.02), relative
    clip = card.get_by_role("link", name=re.compile(r"^Relire l'extrait \(de \d\d:\d\d:\d\d à "))
    expect(clip).to_have_attribute("href", re.compile(r"^#/relecture\?camera=a1&from=.+&to=.+"))
    checklist = card.get_by_role("list", name=re.compile("Liste de contrôle"))
    first = checklist.get_by_role("checkbox").first
    first.check()
    expect(first).to_be_checked()
    expect(card.get_by_role("button", name="Voir le direct sur le mur")).to_be_visible()
    # only what « nouvelle » allows
    expect(card.locator(".fiche-actions button[data-action]")).to_have_count(2)

    # changed by a colleague meanwhile: the open card follows
    web.user("op.a2", "operator", "csd", OPERATOR_A)
    colleague = web.login("op.a2")
    r = colleague.post(f"{web.url}/api/v1/alerts/{alert_id}/actions",
                       json={"action": "assign", "assigned_to": "op.a2"})  # fmt: skip
    assert r.status_code == 200, r.text
    expect(card).to_contain_text("Affectée àop.a2")
    expect(row).to_contain_text("affectée à op.a2")

    card.get_by_role("button", name="Prendre en compte").click()
    expect(card).to_have_attribute("data-etat", "prise_en_compte")
    expect(page.locator("#annonce")).to_contain_text("Prise en compte")
    expect(row.locator(".etat-alerte")).to_have_text("Prise en compte")
    expect(card.get_by_role("checkbox").first).to_be_checked()  # the checklist is kept locally
    card.get_by_role("button", name="Commencer la levée de doute").click()
    expect(card).to_have_attribute("data-etat", "levee_de_doute")

    # escalation: the call and a live share link for the crew
    card.get_by_role("button", name="Escalader").click()
    form = card.get_by_role("form", name="Escalader l'alerte")
    form.get_by_label("Service appelé").select_option("police_nationale")
    form.get_by_label("Référence de l'appel").fill("PN-2026-0042")
    form.get_by_label("Créer un lien de partage du direct de la caméra").check()
    form.get_by_label("Nom et grade du destinataire").fill("Brigadier Dupont")
    form.get_by_role("button", name="Escalader").click()
    expect(card).to_have_attribute("data-etat", "escaladee")
    link = page.locator(".lien-cree input")
    expect(link).to_have_value(re.compile(r"^https://.+/partage#[\w-]{20,}$"))
    expect(page.locator(".lien-cree")).to_contain_text("Brigadier Dupont")
    expect(card).to_contain_text("Police nationale, référence PN-2026-0042, par op.a")
    console.shot(page, "console-alertes-fiche.png")

    # closing: a blank report is refused by the API, in French, beside the form
    card.get_by_role("button", name="Clôturer").click()
    form = card.get_by_role("form", name="Clôturer l'alerte")
    form.get_by_label("Qualification").select_option("incident_reel")
    form.get_by_label("Compte rendu").fill("   ")
    form.get_by_role("button", name="Clôturer").click()
    error = form.locator(".erreur-formulaire")
    expect(error).to_have_text(re.compile(r"\w{3,}"))
    assert not re.search(r"Erreur 5\d\d", error.inner_text()), error.inner_text()
    expect(card).to_have_attribute("data-etat", "escaladee")
    form.get_by_label("Compte rendu").fill("Individu interpellé par l'équipage PN à 14 h 12.")
    form.get_by_role("button", name="Clôturer").click()
    expect(card).to_have_attribute("data-etat", "cloturee")
    expect(row).to_have_count(0)  # left the queue
    expect(card).to_contain_text("Incident réel")
    history = card.locator(".historique li")
    for action in ("acknowledge", "start", "escalate", "close"):
        expect(card.locator(f".historique li[data-action='{action}']")).to_have_count(1)
    expect(history.last).to_contain_text("par op.a")
    expect(card.get_by_role("button", name="Rouvrir")).to_be_visible()

    # the database: every step, in the history and the audit log
    steps = web.sql(
        "SELECT actor, action, from_state, to_state FROM alert_history WHERE alert_id = %s"
        " ORDER BY id",
        (alert_id,),
    )
    assert [s for s in steps if s[1] != "create"] == [
        ("op.a2", "assign", "nouvelle", "nouvelle"),
        ("op.a", "acknowledge", "nouvelle", "prise_en_compte"),
        ("op.a", "start", "prise_en_compte", "levee_de_doute"),
        ("op.a", "escalate", "levee_de_doute", "escaladee"),
        ("op.a", "close", "escaladee", "cloturee"),
    ], steps
    audited = [a for (a,) in web.sql(
        "SELECT action FROM audit WHERE action IN ('alert.acknowledge', 'alert.start',"
        " 'alert.escalate', 'alert.close', 'live_link.create') ORDER BY seq")]  # fmt: skip
    assert audited == ["alert.acknowledge", "alert.start", "live_link.create", "alert.escalate",
                       "alert.close"], audited  # fmt: skip
    [(state, qualification, report, calls)] = web.sql(
        "SELECT state, qualification, report, forces_calls FROM alerts WHERE id = %s", (alert_id,)
    )
    assert (state, qualification) == ("cloturee", "incident_reel")
    assert report == "Individu interpellé par l'équipage PN à 14 h 12."
    [call] = cast(list[dict[str, Any]], calls)
    [(link_id, recipient, service)] = web.sql(
        "SELECT id, recipient, service FROM live_links WHERE camera_id = 'a1'"
    )
    assert (recipient, service) == ("Brigadier Dupont", "police_nationale")
    assert call["service"] == "police_nationale" and call["reference"] == "PN-2026-0042"
    assert call["by"] == "op.a" and call["share_link_id"] == link_id

    # the closed alerts' history, filtered
    page.locator(".alertes-onglets").get_by_role("link", name="Historique").click()
    expect(page.get_by_role("heading", name="Alertes — historique")).to_be_visible()
    closed = page.locator(f".historique-alertes tr[data-alerte='{alert_id}']")
    expect(closed).to_contain_text("Incident réel")
    expect(closed).to_contain_text("Commune A")
    expect(page.locator(f"tr[data-alerte='{late}']")).to_have_count(0)  # still open
    page.get_by_label("Qualification").select_option("fausse_alerte")
    page.get_by_role("button", name="Filtrer").click()
    expect(page.get_by_text("Aucune alerte clôturée pour ces critères.")).to_be_visible()
    page.get_by_label("Qualification").select_option("incident_reel")
    page.get_by_label("Commune").select_option("commune-a")
    page.get_by_label("Type").select_option("intrusion")
    page.get_by_role("button", name="Filtrer").click()
    expect(page.locator(".historique-alertes tbody tr")).to_have_count(1)
    closed.get_by_role("button", name=f"Fiche de l'alerte n° {alert_id}").click()
    expect(page.locator(f".fiche[data-alerte='{alert_id}']")).to_contain_text("Individu interpellé")
    console.shot(page, "console-alertes-historique.png")

    # reopened with a reason: back in the queue as « Nouvelle »
    history_card = page.locator(f".fiche[data-alerte='{alert_id}']")
    history_card.get_by_role("button", name="Rouvrir").click()
    history_card.get_by_label("Motif de la réouverture").fill("Nouveau signalement sur place.")
    history_card.get_by_role("form", name="Rouvrir l'alerte").get_by_role(
        "button", name="Rouvrir"
    ).click()
    expect(history_card).to_have_attribute("data-etat", "nouvelle")
    expect(history_card.locator(".historique li[data-action='reopen']")).to_contain_text(
        "motif : Nouveau signalement sur place."
    )

    # the live view of its camera on the wall
    history_card.get_by_role("button", name="Voir le direct sur le mur").click()
    expect(page.get_by_role("heading", name="Mur d'images")).to_be_visible()
    assert page.evaluate("location.hash") == "#/mur?camera=a1"
    expect(page.locator(".agrandie")).to_contain_text("Mairie")


def test_commune_b_operator_never_sees_commune_a_alerts(desk: WebEnv, page: Page) -> None:
    web = desk
    web.user("op.b", "operator", "csd", OPERATOR_B, mfa=True)
    hidden = raise_alert(web, "a1", "commune-a", "Intrusion à la mairie A", notify=False)
    console.sign_in(page, web, "op.b")
    expect(page.get_by_role("heading", name="Caméras")).to_be_visible()
    # the console's socket goes through the test, which can cut it
    sockets: list[WebSocketRoute] = []

    def relay(ws: WebSocketRoute) -> None:
        ws.connect_to_server()
        sockets.append(ws)

    page.route_web_socket(re.compile(r"/api/v1/alerts/stream$"), relay)
    open_desk(page)
    expect(page.get_by_text("Aucune alerte ouverte.")).to_be_visible()

    # pushed for commune A (not shown), then for commune B (shown)
    raise_alert(web, "a1", "commune-a", "Autre intrusion à la mairie A")
    mine = raise_alert(web, "b1", "commune-b", "Personne au sol sur la place",
                       kind="personne_au_sol", priority=1)  # fmt: skip
    expect(page.locator(f".alerte-ligne[data-alerte='{mine}']")).to_contain_text(
        "Place — Commune B"
    )
    expect(page.locator(".alerte-ligne")).to_have_count(1)
    expect(page.locator(".file-alertes")).not_to_contain_text("mairie A")

    # a manual alert on its own camera (only commune B's are offered)
    page.get_by_text("Lever une alerte manuelle").click()
    form = page.get_by_role("form", name="Alerte manuelle")
    options = form.get_by_label("Caméra").locator("option[value]:not([value=''])")
    assert options.evaluate_all("os => os.map(o => o.value)") == ["b1"]
    form.get_by_label("Caméra").select_option("b1")
    form.get_by_label("Intitulé").fill("Rixe signalée par téléphone")
    form.get_by_label("Description").fill("Appel d'un commerçant.")
    form.get_by_role("button", name="Lever l'alerte").click()
    expect(page.locator(".alerte-ligne")).to_have_count(2)
    manual = page.locator(".fiche")
    expect(manual).to_contain_text("Rixe signalée par téléphone")
    expect(manual).to_contain_text("Appel d'un commerçant.")
    expect(manual.locator(".historique li[data-action='create']")).to_contain_text("par op.b")

    # the socket is cut: the console says so, reconnects after a second and catches up
    # with what was raised meanwhile
    sockets[-1].close()
    expect(page.locator(".flux-etat")).to_have_text(re.compile("connexion perdue"))
    missed = raise_alert(web, "b1", "commune-b", "Pendant la coupure")
    expect(page.locator(".flux-etat")).to_have_text("connecté")
    assert len(sockets) == 2
    expect(page.locator(f".alerte-ligne[data-alerte='{missed}']")).to_contain_text(
        "Pendant la coupure"
    )

    # nor through the API (404 outside the perimeter)
    # (a second account: op.b's TOTP code is spent by the browser)
    web.user("op.b2", "operator", "csd", OPERATOR_B)
    api = web.login("op.b2")
    r = api.get(f"{web.url}/api/v1/alerts", params={"state": "all"})
    assert r.status_code == 200, r.text
    assert {a["tenant_id"] for a in r.json()["alerts"]} == {"commune-b"}
    r = api.get(f"{web.url}/api/v1/alerts/{hidden}")
    assert r.status_code == 404, r.text
    r = api.post(f"{web.url}/api/v1/alerts/{hidden}/actions", json={"action": "acknowledge"})
    assert r.status_code == 404, r.text


def test_tickets_board_manual_ticket_through_every_state(desk: WebEnv, page: Page) -> None:
    web = desk
    web.user("tech.a", "admin", "csd", [("admin_cameras", "commune-a")], mfa=True)
    console.sign_in(page, web, "tech.a")
    expect(page.get_by_role("heading", name="Caméras")).to_be_visible()
    page.get_by_role("link", name="Tickets").click()
    expect(page.get_by_role("heading", name="Tickets d'intervention")).to_be_visible()

    form = page.get_by_role("form", name="Nouveau ticket")
    form.get_by_label("Caméra").select_option("a1")
    form.get_by_label("Élément en cause").fill("Objectif / optique")
    form.get_by_label("Site").fill("Parvis de la mairie")
    form.get_by_label("Description").fill("Image floue depuis ce matin.")
    form.get_by_role("button", name="Ouvrir le ticket").click()
    column = page.locator(".tickets-colonne[data-etat='ouvert']")
    ticket = column.locator(".ticket")
    expect(ticket).to_have_count(1)
    expect(ticket).to_contain_text("Objectif / optique")
    expect(ticket).to_contain_text("Mairie")
    ticket_id = ticket.get_attribute("data-ticket")

    def current() -> Locator:
        return page.locator(f".ticket[data-ticket='{ticket_id}']")

    page.get_by_role("button", name=f"Affecter — ticket n° {ticket_id}").click()
    page.get_by_label("Intervenant (identifiant)").fill("prestataire.video")
    page.get_by_role("form", name=f"Affecter le ticket n° {ticket_id}").get_by_role(
        "button", name="Affecter"
    ).click()
    expect(current()).to_have_attribute("data-etat", "affecte")
    expect(current()).to_contain_text("prestataire.video")
    page.get_by_role("button", name=f"Sur site — ticket n° {ticket_id}").click()
    expect(current()).to_have_attribute("data-etat", "sur_site")
    page.get_by_role("button", name=f"Résoudre — ticket n° {ticket_id}").click()
    page.get_by_label("Résolution").fill("Dôme nettoyé, mise au point refaite.")
    page.get_by_role("form", name=f"Résoudre le ticket n° {ticket_id}").get_by_role(
        "button", name="Résoudre"
    ).click()
    expect(current()).to_have_attribute("data-etat", "resolu")
    console.shot(page, "console-alertes-tickets.png")
    page.get_by_role("button", name=f"Clore — ticket n° {ticket_id}").click()
    expect(current()).to_have_attribute("data-etat", "clos")
    [(state, resolution, declarer)] = web.sql(
        "SELECT state, resolution, declarer FROM tickets WHERE id = %s", (int(str(ticket_id)),)
    )
    assert (state, resolution, declarer) == (
        "clos",
        "Dôme nettoyé, mise au point refaite.",
        "tech.a",
    )
