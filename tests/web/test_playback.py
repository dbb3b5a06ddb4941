"""Playback, search, legal holds and export requests through the operator service,
against footage recorded on a real replica (tests/fixtures/recorded.py)."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta

import av
import pytest
import requests

from tests.fixtures.recorded import Recorded
from tests.fixtures.web import WebEnv

pytestmark = pytest.mark.integration

Env = tuple[WebEnv, Recorded]


def span(rec: Recorded, camera: str = "a1") -> tuple[str, str]:
    segs = rec.segments[camera]
    return segs[0].start_at.isoformat(), segs[-1].end_at.isoformat()


def audit(web: WebEnv, action: str) -> list[tuple[object, ...]]:
    return web.sql(
        "SELECT actor, target, detail FROM audit WHERE action = %s ORDER BY seq", (action,)
    )


def operator(web: WebEnv, login: str = "op", tenant: str = "commune-a") -> requests.Session:
    rights = ("playback", "export", "manage_holds")
    web.user(login, "operator", "csd", [(r, tenant) for r in rights])
    return web.login(login)


def test_timeline_shows_runs_gaps_and_holds(recorded_web: Env) -> None:
    web, rec = recorded_web
    op = operator(web)
    start, end = span(rec)
    r = op.get(f"{web.url}/api/v1/cameras/a1/timeline", params={"from": start, "to": end})
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["runs"]) == 2 and body["runs"][0]["cause"] == "timeout"
    assert [g["cause"] for g in body["gaps"]] == ["timeout"]
    assert body["holds"] == []
    # a range too long, or reversed, is refused in French
    r = op.get(f"{web.url}/api/v1/cameras/a1/timeline", params={"from": end, "to": start})
    assert r.status_code == 400 and "Plage" in r.json()["erreur"]["message"]


def test_playback_needs_a_motive_serves_stored_segments_and_is_audited(recorded_web: Env) -> None:
    web, rec = recorded_web
    op = operator(web)
    start, end = span(rec)
    url = f"{web.url}/api/v1/playback"
    r = op.post(url, json={"cameras": ["a1"], "from": start, "to": end})
    assert r.status_code == 400 and "motive" in r.text  # no motive: refused
    r = op.post(url, json={"cameras": ["a1"], "from": start, "to": end, "motive": "PV 2026/77"})
    assert r.status_code == 201, r.text
    session = r.json()
    (cam,) = session["cameras"]
    assert len(cam["segments"]) == len(rec.segments["a1"])
    assert [g["cause"] for g in cam["gaps"]] == ["timeout"]
    first = cam["segments"][0]
    data = op.get(web.url + first["url"]).content
    assert hashlib.sha256(data).hexdigest() == rec.segments["a1"][0].sha256
    with av.open(io.BytesIO(data)) as f:
        assert sum(1 for _ in f.decode(video=0)) == rec.segments["a1"][0].frames

    (start_entry,) = audit(web, "playback.start")
    assert start_entry[0] == "op" and start_entry[1] == "camera:a1"
    assert start_entry[2]["motif"] == "PV 2026/77"  # type: ignore[index]
    assert op.delete(f"{url}/{session['session']}").status_code == 204
    (end_entry,) = audit(web, "playback.end")
    assert end_entry[2]["duree_s"] >= 0  # type: ignore[index,operator]
    # a closed session serves nothing more
    assert op.get(web.url + first["url"]).status_code == 409


def test_playback_isolation_between_communes(recorded_web: Env) -> None:
    web, rec = recorded_web
    op_a = operator(web)
    op_b = operator(web, "op.b", "commune-b")
    start, end = span(rec)
    url = f"{web.url}/api/v1/playback"
    body = {"cameras": ["a1"], "from": start, "to": end, "motive": "curiosité"}
    assert op_b.post(url, json=body).status_code == 404
    assert op_b.get(f"{web.url}/api/v1/cameras/a1/timeline",
                    params={"from": start, "to": end}).status_code == 404  # fmt: skip
    assert (
        op_b.get(f"{web.url}/api/v1/cameras/a1/thumbnail", params={"at": start}).status_code == 404
    )
    # b's own session cannot reach a1's segments, nor can it use a's session
    own = op_b.post(url, json={"cameras": ["b1"], "from": start, "to": end, "motive": "m b"})
    assert own.status_code == 201, own.text
    a1_segment = rec.segments["a1"][0].id
    crafted = f"{url}/{own.json()['session']}/cameras/a1/segments/{a1_segment}"
    assert op_b.get(crafted).status_code == 404
    mine = op_a.post(url, json={"cameras": ["a1"], "from": start, "to": end, "motive": "m a"})
    stolen = web.url + mine.json()["cameras"][0]["segments"][0]["url"]
    assert op_b.get(stolen).status_code == 404
    assert op_a.get(stolen).status_code == 200


def test_thumbnail_and_search(recorded_web: Env) -> None:
    web, rec = recorded_web
    op = operator(web)
    start, end = span(rec)
    r = op.get(f"{web.url}/api/v1/cameras/a1/thumbnail", params={"at": start})
    assert r.status_code == 200 and r.content[:2] == b"\xff\xd8"  # a JPEG
    r = op.get(f"{web.url}/api/v1/search", params={"from": start, "to": end, "q": "mairie"})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [c["id"] for c in r.json()["cameras"]] == ["a1"]
    assert len(results["enregistrements"]) == 2
    assert results["enregistrements"][0]["thumbnail"].startswith("/api/v1/cameras/a1/thumbnail")
    assert op.get(web.url + results["enregistrements"][0]["thumbnail"]).status_code == 200
    assert [g["cause"] for g in results["interruptions"]] == ["timeout"]
    r = op.get(f"{web.url}/api/v1/search", params={"event": "nimporte"})
    assert r.status_code == 400
    assert audit(web, "search")[-1][2]["criteres"]["q"] == "mairie"  # type: ignore[index]


def test_legal_hold_placed_listed_and_released(recorded_web: Env) -> None:
    web, rec = recorded_web
    op = operator(web)
    start, end = span(rec)
    body = {
        "reference": "PV 2026/123", "procedure": "flagrant_delit",
        "requested_by": "OPJ Martin, commissariat central", "cameras": ["a1"],
        "from": start, "to": end,
        "expires_at": (rec.segments["a1"][0].start_at + timedelta(days=3)).isoformat(),
    }  # fmt: skip
    r = op.post(f"{web.url}/api/v1/holds", json=body)
    assert r.status_code == 201, r.text
    hold = r.json()["id"]
    listed = op.get(f"{web.url}/api/v1/holds").json()["holds"]
    assert [h["reference"] for h in listed] == ["PV 2026/123"] and listed[0]["expiring"]
    tl = op.get(f"{web.url}/api/v1/cameras/a1/timeline", params={"from": start, "to": end})
    assert [h["reference"] for h in tl.json()["holds"]] == ["PV 2026/123"]
    # commune-b's manager neither sees nor releases it, nor holds a1
    op_b = operator(web, "op.b", "commune-b")
    assert op_b.get(f"{web.url}/api/v1/holds").json()["holds"] == []
    assert op_b.post(f"{web.url}/api/v1/holds/{hold}/release").status_code == 404
    assert op_b.post(f"{web.url}/api/v1/holds", json=body).status_code == 404
    assert op.post(f"{web.url}/api/v1/holds/{hold}/release").status_code == 204
    assert op.get(f"{web.url}/api/v1/holds").json()["holds"] == []
    assert [a for a, _, _ in audit(web, "hold.place")] == ["op"]
    assert [a for a, _, _ in audit(web, "hold.release")] == ["op"]


def test_export_request_and_four_eyes(recorded_web: Env) -> None:
    web, rec = recorded_web
    start, end = span(rec, "b1")
    request = {
        "cameras": ["b1"], "from": start, "to": end, "motive": "Vol à l'arraché",
        "service": "police_nationale", "officer": "Lt Durand", "reference": "PV 2026/900",
    }  # fmt: skip
    # commune-b asks for a second approval (configured)
    one = operator(web, "op.b1", "commune-b")
    two = operator(web, "op.b2", "commune-b")
    r = one.post(f"{web.url}/api/v1/exports", json=request)
    assert r.status_code == 201, r.text
    export = r.json()
    assert export["status"] == "a_valider" and export["mine"]
    decide = f"{web.url}/api/v1/exports/{export['id']}/decision"
    r = one.post(decide, json={"approve": True})
    assert r.status_code == 409 and "propre demande" in r.json()["erreur"]["message"]
    r = two.post(decide, json={"approve": False})
    assert r.status_code == 400  # a refusal needs its reason
    r = two.post(decide, json={"approve": True})
    assert r.status_code == 200 and r.json()["status"] == "en_file"
    assert r.json()["approved_by"] == "op.b2"
    assert two.post(decide, json={"approve": True}).status_code == 409
    # commune-a's exporter sees nothing of it
    op_a = operator(web)
    assert op_a.get(f"{web.url}/api/v1/exports/{export['id']}").status_code == 404
    assert op_a.get(f"{web.url}/api/v1/exports").json()["exports"] == []
    # commune-a has no four-eyes rule: straight to the queue
    start_a, end_a = span(rec)
    r = op_a.post(
        f"{web.url}/api/v1/exports",
        json=request | {"cameras": ["a1"], "from": start_a, "to": end_a},
    )
    assert r.status_code == 201 and r.json()["status"] == "en_file", r.text
    assert [a for a, _, _ in audit(web, "export.request")] == ["op.b1", "op"]
    assert [a for a, _, _ in audit(web, "export.approve")] == ["op.b2"]
    refused = "SELECT count(*) FROM audit WHERE action = 'access.denied' AND detail->>'raison' = %s"
    assert web.sql(refused, ("validation de sa propre demande",)) == [(1,)]


def test_unmasked_footage_needs_the_lift_right_and_a_motive_and_is_audited(
    recorded_web: Env,
) -> None:
    web, rec = recorded_web
    # the unmasked original of a1, as the ingest worker records it with keep_unmasked
    web.sql("UPDATE segments SET stream = 'main-brut' WHERE camera_id = 'a1' AND run_id = 1002")
    op = operator(web)
    start, end = span(rec)
    url = f"{web.url}/api/v1/playback"
    body = {"cameras": ["a1"], "from": start, "to": end, "motive": "Identification"}
    # neither by naming the stream, nor without the right
    r = op.post(url, json=body | {"stream": "main-brut"})
    assert r.status_code == 400, r.text
    assert op.post(url, json=body | {"unmasked": True}).status_code == 403
    web.user("lifter", "supervisor", "csd",
             [("playback", "commune-a"), ("lift_masks", "commune-a")])  # fmt: skip
    lifter = web.login("lifter")
    r = lifter.post(url, json=body | {"unmasked": True})
    assert r.status_code == 201, r.text
    (cam,) = r.json()["cameras"]
    assert cam["stream"] == "main-brut" and len(cam["segments"]) == 10
    assert lifter.get(web.url + cam["segments"][0]["url"]).status_code == 200
    # a session without the lift does not serve the unmasked segments
    plain = lifter.post(url, json=body).json()
    crafted = plain["cameras"][0]["segments"][0]["url"].rsplit("/", 1)[0]
    assert lifter.get(web.url + f"{crafted}/{cam['segments'][0]['id']}").status_code == 404
    (lift,) = audit(web, "masks.lift")
    assert lift[0] == "lifter" and lift[2]["motif"] == "Identification"  # type: ignore[index]
