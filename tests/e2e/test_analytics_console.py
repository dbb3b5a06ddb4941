"""Video analytics in the console (headless Chromium) against the real operator
service and its database: an administrator draws a counting line and an intrusion
zone with the mouse over the camera's recorded picture and saves them (the API then
returns that configuration); a class the law excludes (LAW-10) is refused with the
API's French message shown beside the form; events written in the database appear,
polled, in « Évènements » with their snapshot and boxes; a commune's user only finds
its commune's cameras in the analytics pickers. Screenshots go to
``$VMS_SCREENSHOT_DIR`` when set (docs/images/console-analyse-*.png come from here)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import av
import cv2
import psycopg
import pytest
import requests
from playwright.sync_api import Page, expect
from psycopg.types.json import Jsonb

from tests.e2e import test_console as console  # skips this module too without chromium
from tests.fixtures.recorded import Recorded, record
from tests.fixtures.web import WebEnv, seed_installation, serving
from vms.db.index import PgSegmentIndex
from vms.db.migrate import ensure_partitions
from vms.db.pool import open_pool
from vms.domain.clock import SystemClock
from vms.storage.fs import FsBlobStore
from vms.storage.reader import SegmentReader
from vms.web.server import Evidence

pytestmark = pytest.mark.integration

browser = console.browser
page = console.page

Env = tuple[WebEnv, Recorded]
MODELS = {"models/yolo11n.onnx": ["person", "bicycle", "car", "backpack"]}
ADMIN_GRANTS = [("configure_analytics", "commune-a"), ("playback", "commune-a"),
                ("view_live", "commune-a")]  # fmt: skip


@pytest.fixture
def aweb(pg_dsn: str, tmp_path: Path) -> Iterator[Env]:
    """The seeded installation of tests.fixtures.web with 40 s of a1 recorded a few
    minutes ago on a local replica (the editor's background, the events' snapshots)
    and a detector model installed."""
    seed_installation(pg_dsn)
    (tmp_path / "dc1").mkdir()
    store = FsBlobStore("dc1", tmp_path / "dc1")
    pool = open_pool(pg_dsn, 1, 2)
    try:
        start = SystemClock().now().replace(microsecond=0) - timedelta(minutes=5)
        rec = Recorded(store=store, dsn=pg_dsn)
        rec.segments["a1"] = record(PgSegmentIndex(pool), store, "a1", start, 40, 1001)
    finally:
        pool.close()
    with serving(
        pg_dsn, tmp_path, evidence=Evidence(reader=SegmentReader([store])),
        analytics_models=MODELS,
    ) as env:  # fmt: skip
        yield env, rec


def local_field(page: Page, at: datetime) -> str:
    """The datetime-local value of ``at`` in the browser's time zone."""
    return str(
        page.evaluate(
            "ms => { const t = new Date(ms);"
            " return new Date(t - t.getTimezoneOffset() * 60000).toISOString().slice(0, 19); }",
            at.timestamp() * 1000,
        )
    )


def click_at(page: Page, x: float, y: float) -> None:
    """Click the editor's picture at normalised (x, y)."""
    box = page.locator(".analyse-canvas").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + x * box["width"], box["y"] + y * box["height"])


def drag(page: Page, start: tuple[float, float], end: tuple[float, float]) -> None:
    box = page.locator(".analyse-canvas").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + start[0] * box["width"], box["y"] + start[1] * box["height"])
    page.mouse.down()
    for k in range(1, 6):
        f = k / 5
        x = start[0] + (end[0] - start[0]) * f
        y = start[1] + (end[1] - start[1]) * f
        page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"])
    page.mouse.up()


def near(got: list[list[float]], want: list[list[float]], tol: float = 0.01) -> bool:
    return len(got) == len(want) and all(
        abs(g[0] - w[0]) <= tol and abs(g[1] - w[1]) <= tol for g, w in zip(got, want, strict=True)
    )


def api_config(web: WebEnv, reader: requests.Session, camera: str) -> Any:
    r = reader.get(f"{web.url}/api/v1/cameras/{camera}/analytics")
    assert r.status_code == 200, r.text
    return r.json()


def test_admin_draws_a_line_and_a_zone_and_a_law10_refusal_is_shown(aweb: Env, page: Page) -> None:
    web, rec = aweb
    web.user("admin.a", "admin", "csd", ADMIN_GRANTS, mfa=True)  # type: ignore[arg-type]
    # the API is read by a second administrator (the browser uses admin.a's TOTP code)
    web.user("admin.api", "admin", "csd", ADMIN_GRANTS)  # type: ignore[arg-type]
    reader = web.login("admin.api")
    console.sign_in(page, web, "admin.a")
    expect(page.get_by_role("heading", name="Caméras")).to_be_visible()
    page.get_by_role("link", name="Analyse").click()
    expect(page.get_by_role("heading", name="Analyse vidéo — Configuration")).to_be_visible()
    page.get_by_label("Caméra", exact=True).select_option("a1")  # Gare (a2) comes first
    expect(page.locator(".analyse-canvas")).to_have_attribute(
        "aria-label", "Zones et lignes de Mairie"
    )

    # the recorded picture behind the drawing (now - 10 s has none here: pick an instant)
    page.get_by_label("Image enregistrée à").fill(local_field(page, rec.segments["a1"][2].start_at))
    page.get_by_role("button", name="Afficher cette image").click()
    expect(page.locator(".analyse-dessin")).to_contain_text("Image enregistrée le")

    form = page.get_by_role("form", name="Configuration de l'analyse")
    form.get_by_label("Référence de l'arrêté préfectoral").fill("Arrêté préfectoral n° 2026-0042")
    form.get_by_label("Valable du").fill((date.today() - timedelta(days=1)).isoformat())
    form.get_by_label("Valable jusqu'au").fill((date.today() + timedelta(days=365)).isoformat())
    form.get_by_label("Version du modèle « yolo11n »").fill("8.3.0")

    # a counting line: two clicks; then an intrusion zone: four clicks, closed on the first
    form.get_by_label("Type de la nouvelle règle").select_option("comptage")
    form.get_by_role("button", name="Ajouter la règle").click()
    click_at(page, 0.2, 0.6)
    click_at(page, 0.8, 0.6)
    expect(page.get_by_role("status")).to_contain_text("Tracé de « comptage-1 » terminé")
    form.get_by_label("Type de la nouvelle règle").select_option("intrusion")
    form.get_by_role("button", name="Ajouter la règle").click()
    for x, y in [(0.1, 0.1), (0.4, 0.1), (0.4, 0.4), (0.1, 0.4)]:
        click_at(page, x, y)
    click_at(page, 0.1, 0.1)
    expect(page.get_by_role("status")).to_contain_text("Tracé de « intrusion-1 » terminé")
    # a vertex moved with the mouse, another with the keyboard (Page suivante, arrows)
    drag(page, (0.4, 0.4), (0.5, 0.45))
    page.locator(".analyse-canvas").focus()
    page.keyboard.press("PageDown")  # the vertex after the one dragged: (0.1, 0.4)
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(page.get_by_role("status")).to_contain_text("Point 4 sur 4 : x 0.100, y 0.420")
    form.get_by_label("Présence minimale dans la zone (s)").fill("2")
    form.get_by_role("button", name="Enregistrer la configuration").click()
    expect(page.get_by_role("status")).to_contain_text("enregistrée (2 règle(s))")
    console.shot(page, "console-analyse-configuration.png")

    # the API returns what was drawn
    got = api_config(web, reader, "a1")["config"]
    rules = {r["id"]: r for r in got["rules"]}
    assert set(rules) == {"comptage-1", "intrusion-1"}
    line = rules["comptage-1"]
    assert line["kind"] == "comptage"
    assert near([line["a"], line["b"]], [[0.2, 0.6], [0.8, 0.6]])
    zone = rules["intrusion-1"]
    assert zone["kind"] == "intrusion" and zone["min_dwell_s"] == 2
    assert near(zone["zone"], [[0.1, 0.1], [0.4, 0.1], [0.5, 0.45], [0.1, 0.42]])
    assert got["legal_basis"]["reference"] == "Arrêté préfectoral n° 2026-0042"
    assert [(m["id"], m["name"], m["version"]) for m in got["models"]] == [
        ("yolo11n", "yolo11n", "8.3.0")]  # fmt: skip

    # a class the law excludes is refused, the API's French message beside the form
    page.locator(".analyse-regles").get_by_role("button", name=re.compile("intrusion-1")).click()
    classes = form.locator("[data-champ='classes']")
    classes.get_by_label("Autres classes (séparées par des virgules)").fill("visage")
    form.get_by_role("button", name="Enregistrer la configuration").click()
    alert = form.get_by_role("alert")
    expect(alert).to_contain_text("Analyse interdite")
    expect(alert).to_contain_text("LAW-10")
    expect(page.get_by_role("status")).to_contain_text("n'a pas été enregistrée")
    console.shot(page, "console-analyse-refus.png")
    again = api_config(web, reader, "a1")["config"]
    assert again == got

    # « Désactiver » deletes the configuration
    page.once("dialog", lambda d: d.accept())
    form.get_by_role("button", name="Désactiver").click()
    expect(page.get_by_role("status")).to_contain_text("désactivée")
    assert api_config(web, reader, "a1")["config"] is None


def recorded_picture(rec: Recorded) -> Any:
    """A picture of a1's footage (BGR, 320x240), as the worker would have analysed."""
    assert rec.store is not None
    data = rec.store.get(rec.segments["a1"][0].key)
    with av.open(io.BytesIO(data), "r") as src:
        frame = next(src.decode(video=0))
        return frame.to_ndarray(format="bgr24")


def test_density_zone_wrong_way_lane_and_schedule(aweb: Env, page: Page) -> None:
    web, _ = aweb
    web.user("admin.a", "admin", "csd", ADMIN_GRANTS, mfa=True)  # type: ignore[arg-type]
    web.user("admin.api", "admin", "csd", ADMIN_GRANTS)  # type: ignore[arg-type]
    reader = web.login("admin.api")
    console.sign_in(page, web, "admin.a")
    expect(page.get_by_role("heading", name="Caméras")).to_be_visible()
    page.evaluate("() => { location.hash = '#/analyse?onglet=configuration&camera=a1'; }")
    form = page.get_by_role("form", name="Configuration de l'analyse")
    form.get_by_label("Référence de l'arrêté préfectoral").fill("AP 2026-7")
    form.get_by_label("Valable du").fill(date.today().isoformat())
    form.get_by_label("Valable jusqu'au").fill((date.today() + timedelta(days=30)).isoformat())

    # a density zone: four clicks, Enter closes it; a right click deletes a vertex
    form.get_by_label("Type de la nouvelle règle").select_option("densite")
    form.get_by_role("button", name="Ajouter la règle").click()
    for x, y in [(0.2, 0.2), (0.6, 0.2), (0.6, 0.7), (0.2, 0.7)]:
        click_at(page, x, y)
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Tracé de « densite-1 » terminé")
    box = page.locator(".analyse-canvas").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 0.6 * box["width"], box["y"] + 0.7 * box["height"],
                     button="right")  # fmt: skip
    expect(page.get_by_role("status")).to_contain_text("Point 3 effacé")
    form.get_by_label("Surface réelle de la zone (m²)").fill("120")
    form.get_by_label("Seuil d'alerte (personnes par m²)").fill("2")
    form.get_by_role("button", name="Ajouter une plage").click()
    form.get_by_role("checkbox", name="dim (plage 1)").uncheck()

    # a wrong-way lane, its allowed direction turned by dragging the arrow's head
    form.get_by_label("Type de la nouvelle règle").select_option("contresens")
    form.get_by_role("button", name="Ajouter la règle").click()
    for x, y in [(0.1, 0.8), (0.9, 0.8), (0.9, 0.95), (0.1, 0.95), (0.1, 0.8)]:
        click_at(page, x, y)
    expect(page.get_by_role("status")).to_contain_text("Tracé de « contresens-1 » terminé")
    head = 40 / box["width"]  # the arrow is 40 px long, from the lane's centre
    drag(page, (0.5 + head, 0.875), (0.5 - head, 0.875))
    form.locator("[data-champ='classes']").get_by_label("person", exact=True).check()
    form.get_by_role("button", name="Enregistrer la configuration").click()
    expect(page.get_by_role("status")).to_contain_text("enregistrée (2 règle(s))")

    rules = {r["id"]: r for r in api_config(web, reader, "a1")["config"]["rules"]}
    density = rules["densite-1"]
    assert near(density["zone"], [[0.2, 0.2], [0.6, 0.2], [0.2, 0.7]])
    assert (density["area_m2"], density["max_per_m2"]) == (120, 2)
    assert density["schedule"] == [
        {"days": ["lun", "mar", "mer", "jeu", "ven", "sam"], "start": "22:00:00", "end": "06:00:00"}
    ]
    lane = rules["contresens-1"]
    assert near(lane["lane"], [[0.1, 0.8], [0.9, 0.8], [0.9, 0.95], [0.1, 0.95]])
    assert lane["direction"][0] < 0 and abs(lane["direction"][1]) < 0.01, lane["direction"]
    assert lane["classes"] == ["person"]

    # reopened, the saved rules are listed, drawn and editable again
    page.reload()
    rule_list = page.get_by_role("list", name="Règles de la caméra")
    expect(rule_list.get_by_role("button")).to_have_count(2)
    rule_list.get_by_role("button", name=re.compile("contresens-1")).click()
    points = form.get_by_label("Sommets de la zone (x y par ligne)")
    expect(points).to_have_value("0.1 0.8\n0.9 0.8\n0.9 0.95\n0.1 0.95")
    points.fill("0.1 0.7\n0.9 0.7\n0.9 0.95\n0.1 0.95")
    points.blur()
    form.get_by_role("button", name="Enregistrer la configuration").click()
    expect(page.get_by_role("status")).to_contain_text("enregistrée (2 règle(s))")
    rules = {r["id"]: r for r in api_config(web, reader, "a1")["config"]["rules"]}
    assert rules["contresens-1"]["lane"][:2] == [[0.1, 0.7], [0.9, 0.7]]
    assert rules["densite-1"] == density


def insert_event(rec: Recorded, camera: str, at: datetime, label: str, *, snapshot: bool) -> int:
    """An event as the analytics worker writes it (owner connection), with its JPEG."""
    with psycopg.connect(rec.dsn) as conn:
        ensure_partitions(conn, at.date() - timedelta(days=1), at.date() + timedelta(days=1))
        row = conn.execute(
            "INSERT INTO events (camera_id, at, rule_id, kind, cls, track_id, confidence, boxes,"
            " label, detail, model) VALUES (%s, %s, 'zone-parvis', 'intrusion', 'person', 7, 0.87,"
            " '[[0.25, 0.2, 0.5, 0.9]]', %s, '{}', 'yolo11n-coco 1.0 onnxruntime-cpu')"
            " RETURNING id",
            (camera, at, label),
        ).fetchone()
        assert row is not None
        event_id = int(row[0])
        if snapshot:
            assert rec.store is not None
            ok, jpeg = cv2.imencode(".jpg", recorded_picture(rec), [cv2.IMWRITE_JPEG_QUALITY, 80])
            assert ok
            key = f"events/{camera}/{at:%Y/%m/%d}/{event_id}.jpg"
            rec.store.put(key, jpeg.tobytes())
            conn.execute("UPDATE events SET snapshot_key = %s WHERE id = %s", (key, event_id))
    return event_id


def test_events_appear_with_their_snapshot_and_boxes(aweb: Env, page: Page) -> None:
    web, rec = aweb
    web.user("op.a", "operator", "csd", [("view_live", "commune-a")], mfa=True)
    now = datetime.now().astimezone()
    label = "Présence dans la zone « zone-parvis »"
    first = insert_event(rec, "a1", now - timedelta(minutes=2), label, snapshot=True)
    insert_event(rec, "b1", now - timedelta(minutes=1), "Évènement de B", snapshot=False)
    console.sign_in(page, web, "op.a")
    expect(page.get_by_role("heading", name="Caméras")).to_be_visible()
    page.get_by_role("link", name="Analyse").click()
    # no configure_analytics right: « Configuration » is not offered
    expect(page.get_by_role("heading", name="Analyse vidéo — Évènements")).to_be_visible()
    expect(page.get_by_role("link", name="Configuration")).to_have_count(0)

    card = page.locator(f".evenement[data-evenement='{first}']")
    expect(card).to_contain_text("Présence dans la zone « zone-parvis »")
    expect(card).to_contain_text("Mairie")
    expect(card).to_contain_text("zone-parvis (Intrusion dans une zone)")
    expect(card).to_contain_text("yolo11n-coco 1.0 onnxruntime-cpu")
    expect(card).to_contain_text("person, piste n° 7 — confiance 87 %")
    image = card.locator("img")
    page.wait_for_function("img => img.complete && img.naturalWidth === 320",
                           arg=image.element_handle())  # fmt: skip
    expect(card.locator(".boite")).to_have_count(1)
    # the box [0.25, 0.2, 0.5, 0.9] over the picture
    picture, drawn = image.bounding_box(), card.locator(".boite").bounding_box()
    assert picture is not None and drawn is not None
    width, height = picture["width"], picture["height"]
    relative = ((drawn["x"] - picture["x"]) / width, (drawn["y"] - picture["y"]) / height,
                drawn["width"] / width, drawn["height"] / height)  # fmt: skip
    assert relative == pytest.approx((0.25, 0.2, 0.25, 0.7), abs=0.02), relative
    expect(page.locator(".evenement")).to_have_count(1)  # not commune B's

    # a new event shows up by itself (polling after the last id)
    label = "Franchissement vers la zone « quai »"
    second = insert_event(rec, "a2", datetime.now().astimezone(), label, snapshot=True)
    expect(page.locator(".evenement").first).to_have_attribute("data-evenement", str(second))
    expect(page.locator(".evenement")).to_have_count(2)
    expect(page.locator(".evenement").first).to_contain_text("Gare")
    page.wait_for_function("() => [...document.querySelectorAll('.evenement img')]"
                           ".every(i => i.complete && i.naturalWidth > 0)")  # fmt: skip
    console.shot(page, "console-analyse-evenements.png")

    # the camera filter
    page.get_by_label("Caméra", exact=True).select_option("a2")
    page.get_by_role("button", name="Filtrer").click()
    expect(page.locator(".evenement")).to_have_count(1)
    expect(page.locator(".evenement")).to_have_attribute("data-evenement", str(second))


def test_commune_user_sees_only_its_cameras_in_the_analytics_pickers(aweb: Env, page: Page) -> None:
    web, _ = aweb
    web.user("agent.a", "commune_viewer", "commune-a",
             [("view_live", "commune-a"), ("configure_analytics", "commune-a")],
             mfa=True)  # fmt: skip
    console.sign_in(page, web, "agent.a")
    expect(page.get_by_role("heading", name="Caméras")).to_be_visible()
    page.get_by_role("link", name="Analyse").click()
    expect(page.get_by_role("heading", name="Analyse vidéo — Configuration")).to_be_visible()
    for tab in ("Configuration", "Évènements", "Comptages"):
        page.locator(".analyse-onglets").get_by_role("link", name=tab).click()
        expect(page.get_by_role("heading", name=f"Analyse vidéo — {tab}")).to_be_visible()
        picker = page.get_by_label("Caméra", exact=True)
        options = picker.locator("option[value]:not([value=''])")
        expect(options).to_have_count(2)
        assert sorted(options.evaluate_all("os => os.map(o => o.value)")) == ["a1", "a2"]
        expect(picker).not_to_contain_text("Place")  # b1, commune B
        expect(picker).not_to_contain_text("École")  # c1, commune C


def test_counts_chart_and_csv(aweb: Env, page: Page, tmp_path: Path) -> None:
    web, rec = aweb
    web.user("op.a", "operator", "csd", [("view_live", "commune-a")], mfa=True)
    now = datetime.now().astimezone()
    hour = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    quarter = timedelta(minutes=15)
    rows = [(hour, "person", "direct", 3), (hour + quarter, "person", "direct", 2),
            (hour + quarter, "person", "inverse", 1),
            (hour + 4 * quarter, "car", "direct", 4)]  # fmt: skip
    with psycopg.connect(rec.dsn) as conn:
        for start, cls, direction, count in rows:
            conn.execute(
                "INSERT INTO line_counts (camera_id, rule_id, cls, direction, bucket_start, count)"
                " VALUES ('a1', 'entree', %s, %s, %s, %s)",
                (cls, direction, start, count),
            )
        conn.execute(  # another line of the camera, left out by the rule filter
            "INSERT INTO line_counts VALUES ('a1', 'sortie', 'person', 'direct', %s, 50)", (hour,)
        )
    console.sign_in(page, web, "op.a")
    expect(page.get_by_role("heading", name="Caméras")).to_be_visible()
    page.get_by_role("link", name="Analyse").click()
    page.locator(".analyse-onglets").get_by_role("link", name="Comptages").click()
    expect(page.get_by_role("heading", name="Analyse vidéo — Comptages")).to_be_visible()
    form = page.get_by_role("form", name="Comptages à afficher")
    form.get_by_label("Caméra", exact=True).select_option("a1")
    form.get_by_label("Ligne de comptage (identifiant de règle)").fill("entree")
    form.get_by_label("Pas").select_option("hour")
    form.get_by_role("button", name="Afficher").click()
    expect(page.locator(".comptages-total")).to_have_text(
        "10 passage(s) sur la période, par heure."
    )
    # hours are sums of their quarters, one column per class and direction
    table = page.locator(".comptages-table")
    expect(table.locator("thead th")).to_have_text(
        ["Créneau", "car — sens direct", "person — sens direct", "person — sens inverse"]
    )
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table.locator("tbody tr").nth(0).locator("td")).to_have_text(["0", "5", "1"])
    expect(table.locator("tbody tr").nth(1).locator("td")).to_have_text(["4", "0", "0"])
    expect(page.locator(".comptages-legende li")).to_have_count(3)
    # the chart is drawn: some pixels of the first series' colour
    coloured = page.locator(".comptages-canvas").evaluate(
        """c => { const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
                  let n = 0; for (let i = 0; i < d.length; i += 4)
                    if (d[i] === 0 && d[i + 1] === 0 && d[i + 2] === 0x91) n++;
                  return n; }"""
    )
    assert coloured > 100, coloured
    page.locator("details").filter(has_text="Tableau des valeurs").locator("summary").click()
    console.shot(page, "console-analyse-comptages.png")

    with page.expect_download() as download:
        page.get_by_role("button", name="Télécharger (CSV)").click()
    path = tmp_path / "comptages.csv"
    download.value.save_as(path)
    assert download.value.suggested_filename.startswith("comptages-a1-hour-")
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "debut;fin;camera;regle;classe;sens;nombre"
    got = sorted(tuple(line.split(";")[2:]) for line in lines[1:])
    assert got == [("a1", "entree", "car", "direct", "4"),
                   ("a1", "entree", "person", "direct", "5"),
                   ("a1", "entree", "person", "inverse", "1")]  # fmt: skip


def test_wall_tile_overlays_the_live_detections(aweb: Env, page: Page) -> None:
    web, rec = aweb
    web.user("op.a", "operator", "csd", [("view_live", "commune-a")], mfa=True)
    with psycopg.connect(rec.dsn) as conn:
        conn.execute(
            "INSERT INTO analytics_live (camera_id, at, model, detections) VALUES ('a1', now(),"
            " 'yolo11n 8.3.0', %s)",
            (Jsonb([{"box": [0.1, 0.1, 0.4, 0.9], "cls": "person", "track_id": 12,
                     "confidence": 0.9},
                    {"box": [0.5, 0.5, 0.9, 0.8], "cls": "car", "track_id": 3,
                     "confidence": 0.7}]),),
        )  # fmt: skip
    console.sign_in(page, web, "op.a")
    expect(page.get_by_role("heading", name="Caméras")).to_be_visible()
    page.get_by_role("link", name="Mur d'images").click()
    page.get_by_role("button", name="1 tuile").click()
    tile = page.locator(".tuile[data-position='0']")
    toggle = page.get_by_role("button", name="Détections de la tuile 1")
    expect(toggle).to_be_hidden()  # an empty tile has nothing to analyse
    page.locator(".camera-mur[data-camera='a1']").click()
    tile.click()
    expect(tile).to_have_attribute("data-camera", "a1")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(tile.locator(".detections-etat")).to_have_text("2 objet(s) suivi(s)")
    # the boxes are drawn: pixels of the track colours on the overlay
    drawn = tile.locator(".detections-calque").evaluate(
        """c => { const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
                  let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
                  return n; }"""
    )
    assert drawn > 200, drawn
    # the same camera, no longer analysed: said, nothing drawn
    web.sql("DELETE FROM analytics_live")
    expect(tile.locator(".detections-etat")).to_have_text(
        "Aucune analyse en cours sur cette caméra."
    )
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "false")
    expect(tile.locator(".detections-etat")).to_have_text("")
    # commune B's agent: only its camera, even when the address names commune A's
    web.user("agent.b", "commune_viewer", "commune-b",
             [("view_live", "commune-b"), ("configure_analytics", "commune-b")],
             mfa=True)  # fmt: skip
    page.get_by_role("button", name="Se déconnecter").click()
    console.sign_in(page, web, "agent.b")
    expect(page.get_by_role("heading", name="Caméras")).to_be_visible()
    page.evaluate("() => { location.hash = '#/analyse?onglet=configuration&camera=a1'; }")
    expect(page.locator(".analyse-canvas")).to_have_attribute(
        "aria-label", "Zones et lignes de Place"
    )
    options = page.get_by_label("Caméra", exact=True).locator("option")
    assert options.evaluate_all("os => os.map(o => o.value)") == ["b1"]
