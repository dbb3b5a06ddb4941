"""Playback, exports and search in the console (headless Chromium) against footage
recorded on a real replica (tests/fixtures/recorded.py): the timeline of a1 shows its
two runs around a gap, "Lire" asks for a motive, the recorded fMP4 segments play
through MSE (seek, frame step), leaving the screen ends the audited session; the
export form, prefilled from playback, files a request; where a commune asks for it, a
second user approves, the worker produces, the bundle downloads and verifies; a search
shows thumbnails and leads back to playback. Screenshots go to ``$VMS_SCREENSHOT_DIR`` when set."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page, expect

from tests.e2e import test_console as console  # skips this module too without chromium
from tests.fixtures.recorded import Recorded
from tests.fixtures.web import WebEnv

pytestmark = pytest.mark.integration

# the browser and page fixtures of the console tests
browser = console.browser
page = console.page

Env = tuple[WebEnv, Recorded]


def operator(web: WebEnv, page: Page) -> None:
    web.user("op", "operator", "csd", [("playback", "commune-a"), ("export", "commune-a")],
             mfa=True)  # fmt: skip
    console.sign_in(page, web, "op")
    expect(page.get_by_role("heading", name="Caméras")).to_be_visible()


def video(page: Page, camera: str = "a1") -> Any:
    return page.locator(f".relecture-tuile[data-camera='{camera}'] video")


def state(page: Page, camera: str = "a1") -> dict[str, Any]:
    return dict(
        video(page, camera).evaluate(
            "v => ({t: v.currentTime, w: v.videoWidth, paused: v.paused, rate: v.playbackRate})"
        )
    )


def wait_video(page: Page, condition: str, timeout: float = 20_000) -> None:
    """Wait until ``condition`` (a JS expression of ``v``, the video of a1) holds."""
    page.wait_for_function(f"v => {condition}", arg=video(page).element_handle(), timeout=timeout)


def audited(web: WebEnv, action: str) -> list[tuple[Any, ...]]:
    return web.sql("SELECT actor, target, detail FROM audit WHERE action = %s ORDER BY seq",
                   (action,))  # fmt: skip


def test_playback_of_a_recorded_window_then_an_export_request(
    recorded_web: Env, page: Page
) -> None:
    web, rec = recorded_web
    segs = rec.segments["a1"]
    start, end = segs[0].start_at, segs[-1].end_at
    operator(web, page)
    link = "#/relecture?" + urlencode({"camera": "a1", "from": start.isoformat(),
                                       "to": end.isoformat()})  # fmt: skip
    page.evaluate("hash => { location.hash = hash; }", link)
    expect(page.get_by_role("heading", name="Relecture")).to_be_visible()
    expect(page.get_by_role("checkbox", name=re.compile("Mairie"))).to_be_checked()

    # the timeline: two runs around one gap, its cause in French
    line = page.locator(".frise-ligne[data-camera='a1']")
    expect(line.locator(".frise-run")).to_have_count(2)
    expect(line.locator(".frise-trou")).to_have_count(1)
    expect(line.locator(".frise-trou")).to_have_attribute("title", re.compile("délai dépassé"))

    # "Lire" asks for the motive, then plays the recorded segments through MSE
    page.get_by_role("button", name="Lire", exact=True).click()
    dialog = page.get_by_role("dialog", name="Motif de la relecture")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Motif").fill("Réquisition PV 2026/42")
    dialog.get_by_role("button", name="Lancer la lecture").click()
    expect(dialog).to_be_hidden()
    wait_video(page, "v.currentTime > 1.5 && !v.paused")
    assert state(page)["w"] == 320
    (opened,) = audited(web, "playback.start")
    assert opened[0] == "op" and opened[2]["motif"] == "Réquisition PV 2026/42"

    # a click on the second run seeks there (the window starts at the first segment)
    second_run = (segs[10].start_at - start).total_seconds()
    line.locator(".frise-run").nth(1).click()
    wait_video(page, f"v.currentTime > {second_run + 1} && v.currentTime < {second_run + 40}"
               " && !v.paused")  # fmt: skip
    shown = page.locator(".relecture-heure").inner_text()
    assert re.search(r"\d\d:\d\d:\d\d", shown), shown
    console.shot(page, "console-relecture.png")

    # speed, pause, frame by frame (buttons and arrow keys); no reverse play in Chromium
    page.get_by_label("Vitesse").select_option("2")
    wait_video(page, "v.playbackRate === 2")
    page.get_by_role("button", name="Pause").click()
    wait_video(page, "v.paused")
    before = state(page)["t"]
    page.get_by_role("button", name="Image suivante").click()
    wait_video(page, f"Math.abs(v.currentTime - {before} - 0.04) < 0.005")
    page.locator(".frise").focus()
    page.keyboard.press("ArrowLeft")
    wait_video(page, f"Math.abs(v.currentTime - {before}) < 0.005")
    page.get_by_role("button", name="Lecture arrière").click()
    expect(page.get_by_role("status")).to_contain_text("Lecture arrière non disponible")
    page.locator(".frise").focus()
    page.keyboard.press("Space")  # on the timeline: play again
    wait_video(page, "!v.paused")

    # "Demander un extrait" leaves playback (the session ends, with its duration) for
    # the export form, prefilled with the camera and the window
    page.get_by_role("button", name="Demander un extrait").click()
    expect(page.get_by_role("heading", name="Extraits", exact=True)).to_be_visible()
    deadline = time.monotonic() + 10
    while not audited(web, "playback.end") and time.monotonic() < deadline:
        time.sleep(0.2)
    (ended,) = audited(web, "playback.end")
    assert ended[1] == "camera:a1" and ended[2]["duree_s"] > 0
    form = page.get_by_role("form", name="Nouvelle demande d'extrait")
    expect(form.get_by_role("checkbox", name="Mairie")).to_be_checked()
    expect(form.get_by_role("checkbox", name="Gare")).not_to_be_checked()
    form.get_by_label("Motif", exact=True).fill("Vol à l'arraché")
    form.get_by_label("Service destinataire").select_option("police_nationale")
    form.get_by_label("Officier destinataire").fill("Lt Durand, matricule 1234")
    form.get_by_label("N° de procédure").fill("PV 2026/900")
    form.get_by_role("button", name="Demander l'extrait").click()
    expect(page.get_by_role("status")).to_contain_text("enregistrée : En file d'attente")
    row = page.locator("tr[data-extrait]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("En file d'attente")
    expect(row).to_contain_text("PV 2026/900")
    expect(row).to_contain_text("Mairie")
    expect(row.get_by_role("progressbar")).to_be_visible()
    (request,) = web.sql("SELECT camera_ids, start_at, end_at, status FROM exports")
    assert request == (["a1"], start, end, "en_file")
    # an invalid request is refused with the API's French message
    form.get_by_role("checkbox", name="Mairie").check()
    form.get_by_label("Motif", exact=True).fill("Essai")
    form.get_by_label("Service destinataire").select_option("justice")
    form.get_by_label("Officier destinataire").fill("Juge Martin")
    form.get_by_label("N° de procédure").fill("X")
    form.get_by_role("button", name="Demander l'extrait").click()
    expect(page.get_by_role("status")).to_contain_text("Champ « reference »")
    console.shot(page, "console-extraits.png")


def test_search_shows_thumbnails_and_leads_to_playback(recorded_web: Env, page: Page) -> None:
    web, rec = recorded_web
    operator(web, page)
    # the MSE type of a recorded segment is read from its own avcC box
    segs = rec.segments["a1"]
    read = page.evaluate(
        """async ([from, to]) => {
          const { api } = await import("/static/lib.js");
          const { lireSegment } = await import("/static/playback.js");
          const s = await api("POST", "/api/v1/playback",
            { cameras: ["a1"], from, to, motive: "contrôle du codec" });
          const bytes = await (await fetch(s.cameras[0].segments[0].url)).arrayBuffer();
          await api("DELETE", `/api/v1/playback/${s.session}`);
          const got = lireSegment(bytes);
          return { ...got, supported: MediaSource.isTypeSupported(got.type) };
        }""",
        [segs[0].start_at.isoformat(), segs[-1].end_at.isoformat()],
    )
    assert re.fullmatch(r'video/mp4; codecs="avc1\.[0-9a-f]{6}"', read["type"]), read
    assert read["supported"] and read["debutS"] == 0
    page.get_by_role("link", name="Recherche").click()
    expect(page.get_by_role("heading", name="Recherche")).to_be_visible()
    page.get_by_label("Nom de caméra ou de groupe").fill("Mairie")
    page.get_by_role("button", name="Rechercher").click()
    expect(page.get_by_role("heading", name="Enregistrements (2)")).to_be_visible()
    expect(page.get_by_role("heading", name="Interruptions (1)")).to_be_visible()
    expect(page.locator(".recherche-interruptions")).to_contain_text("délai dépassé")
    images = page.locator(".vignette img")
    expect(images).to_have_count(2)
    for i in range(2):  # loaded lazily, once in view
        images.nth(i).scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                               arg=images.nth(i).element_handle())  # fmt: skip
    assert images.first.evaluate("img => img.naturalWidth") == 320
    assert audited(web, "search")[-1][2]["criteres"]["q"] == "Mairie"
    console.shot(page, "console-recherche.png")
    # a recording leads to playback over its run
    page.locator(".vignette a").first.click()
    expect(page.get_by_role("heading", name="Relecture")).to_be_visible()
    expect(page.get_by_role("checkbox", name=re.compile("Mairie"))).to_be_checked()
    expect(page.locator(".frise-ligne[data-camera='a1'] .frise-run")).not_to_have_count(0)
    assert page.evaluate("location.hash").startswith("#/relecture?camera=a1&from=")


def test_legal_hold_placed_shown_on_the_timeline_and_released(
    recorded_web: Env, page: Page
) -> None:
    web, rec = recorded_web
    web.user("cheffe", "supervisor", "csd",
             [("playback", "commune-a"), ("manage_holds", "commune-a")], mfa=True)  # fmt: skip
    console.sign_in(page, web, "cheffe")
    page.get_by_role("link", name="Conservations").click()
    expect(page.get_by_role("heading", name="Conservations judiciaires")).to_be_visible()
    form = page.get_by_role("form", name="Placer une conservation")
    form.get_by_label("N° de PV ou de réquisition").fill("PV 2026/123")
    form.get_by_label("Procédure").select_option("flagrant_delit")
    form.get_by_label("Officier requérant").fill("OPJ Martin, commissariat central")
    form.get_by_role("checkbox", name="Mairie").check()
    in_two_days = page.evaluate(  # the datetime-local value, in the browser's time zone
        "() => { const t = new Date(Date.now() + 2 * 86400000);"
        " return new Date(t - t.getTimezoneOffset() * 60000).toISOString().slice(0, 19); }"
    )
    form.get_by_label("Échéance").fill(in_two_days)
    form.get_by_role("button", name="Placer la conservation").click()
    expect(page.get_by_role("status")).to_contain_text("placée (PV 2026/123)")
    row = page.locator("tr[data-conservation]")
    expect(row).to_contain_text("Flagrant délit")
    expect(row).to_contain_text("expire bientôt")
    console.shot(page, "console-conservations.png")

    # the hold is a band on the playback timeline
    segs = rec.segments["a1"]
    link = "#/relecture?" + urlencode({"camera": "a1", "from": segs[0].start_at.isoformat(),
                                       "to": segs[-1].end_at.isoformat()})  # fmt: skip
    page.evaluate("hash => { location.hash = hash; }", link)
    band = page.locator(".frise-ligne[data-camera='a1'] .frise-conservation")
    expect(band).to_have_count(1)
    expect(band).to_have_attribute("title", re.compile("PV 2026/123"))

    # released after confirmation
    page.get_by_role("link", name="Conservations").click()
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Lever la conservation PV 2026/123").click()
    expect(page.get_by_role("status")).to_contain_text("Conservation PV 2026/123 levée")
    expect(page.locator("tr[data-conservation]")).to_have_count(0)
    assert [a for a, _, _ in audited(web, "hold.place")] == ["cheffe"]
    assert [a for a, _, _ in audited(web, "hold.release")] == ["cheffe"]


def test_export_approved_by_a_second_user_downloaded_and_verified(
    recorded_web: Env, browser: Any, tmp_path: Any
) -> None:
    """commune-b asks for two people: one requests in the console, a second approves,
    the worker produces, the bundle is downloaded and verifies with the published key."""
    from vms.domain.clock import SystemClock
    from vms.evidence import verify_bundle
    from vms.evidence.worker import ExportWorker
    from vms.storage.reader import SegmentReader

    web, rec = recorded_web
    rights = [("playback", "commune-b"), ("export", "commune-b")]
    web.user("op.b1", "operator", "csd", rights, mfa=True)
    web.user("op.b2", "supervisor", "csd", rights, mfa=True)
    contexts = [browser.new_context(ignore_https_errors=True, locale="fr-FR", accept_downloads=True)
                for _ in range(2)]  # fmt: skip
    one, two = (c.new_page() for c in contexts)
    assert rec.store is not None
    worker = ExportWorker(rec.dsn, SegmentReader([rec.store]).read, rec.export_dir, rec.signer,
                          SystemClock(), poll_s=0.3)  # fmt: skip
    try:
        segs = rec.segments["b1"]
        window = urlencode({"cameras": "b1", "from": segs[0].start_at.isoformat(),
                            "to": segs[-1].end_at.isoformat()})  # fmt: skip
        console.sign_in(one, web, "op.b1")
        one.goto(f"{web.url}/#/extraits?{window}")
        form = one.get_by_role("form", name="Nouvelle demande d'extrait")
        expect(form.get_by_role("checkbox", name=re.compile("Place"))).to_be_checked()
        form.get_by_label("Motif").fill("Dégradations sur le port")
        form.get_by_label("Service destinataire").select_option("gendarmerie")
        form.get_by_label("Officier destinataire").fill("Maréchal des logis Roux")
        form.get_by_label("N° de procédure").fill("PV 2026/555")
        form.get_by_role("button", name="Demander l'extrait").click()
        table = one.get_by_role("table", name="Extraits")
        expect(table).to_contain_text("En attente de validation")
        expect(table.get_by_role("button", name=re.compile("Valider"))).to_have_count(0)  # not mine

        console.sign_in(two, web, "op.b2")
        two.goto(f"{web.url}/#/extraits")
        two.once("dialog", lambda d: d.accept())
        two.get_by_role("button", name=re.compile(r"Valider la demande n° \d+")).click()
        expect(two.get_by_role("table", name="Extraits")).to_contain_text("En file d'attente")
        worker.start()
        link = two.get_by_role("link", name=re.compile(r"Télécharger l'extrait n° \d+"))
        expect(link).to_be_visible(timeout=60_000)
        console.shot(two, "console-extraits-pret.png")
        with two.expect_download() as download:
            link.click()
        bundle = tmp_path / "extrait.zip"
        download.value.save_as(bundle)
        key = two.request.get(f"{web.url}/api/v1/exports-key").body()
        report = verify_bundle(bundle, key)
        assert report.ok, report.problems
        assert report.manifest is not None
        assert report.manifest["export"]["reference"] == "PV 2026/555"
        assert [a for (a,) in web.sql("SELECT action FROM audit WHERE target LIKE 'export:%%' "
                                      "ORDER BY seq")] == [
            "export.request", "export.approve", "export.produce", "export.download"]  # fmt: skip
    finally:
        worker.stop()
        for c in contexts:
            c.close()
