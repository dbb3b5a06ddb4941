"""The analytics API of the operator service (vms/web/api/analytics.py): events and
their snapshots, per-camera configuration (LAW-10 refusals, audit, NOTIFY to the
workers), the live overlay and line-crossing counts, against real PostgreSQL and a
real local replica. Rows the analytics workers would write are inserted directly."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import psycopg
import pytest
import requests
from psycopg.types.json import Jsonb

from tests.fixtures.web import WebEnv, seed_installation, serving
from vms.db.migrate import ensure_partitions
from vms.storage.fs import FsBlobStore
from vms.storage.reader import SegmentReader
from vms.web.server import Evidence

pytestmark = pytest.mark.integration

Env = tuple[WebEnv, FsBlobStore]
MODELS = {"models/yolo11n.onnx": ["person", "bicycle", "car", "backpack"]}
VALID: dict[str, Any] = {
    "legal_basis": {
        "reference": "Arrêté préfectoral n° 2026-042",
        "valid_from": "2026-01-01",
        "valid_to": "2099-12-31",
    },
    "models": [
        {"id": "coco", "name": "yolo11n-coco", "version": "8.3.0",
         "classes": ["person", "car", "backpack"]},
    ],
    "rules": [
        {"id": "parvis", "kind": "intrusion", "zone": [[0.1, 0.1], [0.9, 0.1], [0.5, 0.9]],
         "schedule": [{"days": ["sam", "dim"], "start": "22:00:00", "end": "06:00:00"}]},
        {"id": "entree", "kind": "comptage", "a": [0.0, 0.5], "b": [1.0, 0.5]},
    ],
}  # fmt: skip


@pytest.fixture
def aweb(pg_dsn: str, tmp_path: Path) -> Iterator[Env]:
    """The seeded installation of tests.fixtures.web, reading a local replica."""
    seed_installation(pg_dsn)
    (tmp_path / "dc1").mkdir()
    store = FsBlobStore("dc1", tmp_path / "dc1")
    with serving(
        pg_dsn, tmp_path, evidence=Evidence(reader=SegmentReader([store])),
        analytics_models=MODELS,
    ) as env:  # fmt: skip
        yield env, store


def user(web: WebEnv, login: str, grants: list[tuple[str, ...]]) -> requests.Session:
    web.user(login, "operator", "csd", grants)  # type: ignore[arg-type]
    return web.login(login)


def add_event(
    web: WebEnv, camera: str, at: datetime, *, kind: str = "intrusion", rule: str = "parvis",
    store: FsBlobStore | None = None, jpeg: bytes = b"",
) -> int:  # fmt: skip
    """An event as the analytics worker records it (with its snapshot if ``store``)."""
    with psycopg.connect(web.dsn) as conn:
        ensure_partitions(conn, at.date() - timedelta(days=1), at.date() + timedelta(days=1))
        row = conn.execute(
            "INSERT INTO events (camera_id, at, rule_id, kind, cls, track_id, confidence, "
            "boxes, label, detail, model) VALUES (%s, %s, %s, %s, 'person', 7, 0.81, %s, %s, "
            "%s, 'yolo11n-coco 8.3.0') RETURNING id",
            (camera, at, rule, kind, Jsonb([[0.1, 0.2, 0.3, 0.6]]),
             f"Présence dans la zone « {rule} »", Jsonb({"dwell_s": 2.5})),
        ).fetchone()  # fmt: skip
        assert row is not None
        event_id = int(row[0])
        if store is not None:
            key = f"events/{camera}/{at:%Y/%m/%d}/{event_id}.jpg"
            store.put(key, jpeg)
            conn.execute("UPDATE events SET snapshot_key = %s WHERE id = %s", (key, event_id))
    return event_id


def audit(web: WebEnv, action: str) -> list[tuple[Any, ...]]:
    return web.sql(
        "SELECT actor, target, detail FROM audit WHERE action = %s ORDER BY seq", (action,)
    )


def message(r: requests.Response) -> str:
    return str(r.json()["erreur"]["message"])


# -- configuration ----------------------------------------------------------------------


def test_config_saved_audited_and_notified_then_deleted(aweb: Env) -> None:
    web, _ = aweb
    admin = user(web, "adm", [("configure_analytics", "commune-a")])
    url = f"{web.url}/api/v1/cameras/a1/analytics"
    r = admin.get(url)
    assert r.status_code == 200, r.text
    empty = r.json()
    assert empty["config"] is None and empty["updated_by"] is None
    assert "comptage" in empty["kinds"] and "intrusion" in empty["kinds"]
    assert empty["models"] == MODELS
    with psycopg.connect(web.dsn, autocommit=True) as listener:
        listener.execute("LISTEN vms_analytics_config")
        # the camera id comes from the path, whatever the body says
        r = admin.put(url, json={"config": VALID | {"camera_id": "b1"}})
        assert r.status_code == 200, r.text
        (note,) = listener.notifies(timeout=10, stop_after=1)
        assert (note.channel, note.payload) == ("vms_analytics_config", "a1")
        saved = r.json()["config"]
        assert saved["camera_id"] == "a1"
        assert [r["id"] for r in saved["rules"]] == ["parvis", "entree"]
        assert saved["rules"][1]["classes"] == ["person"]  # defaults filled in
        (row,) = web.sql("SELECT camera_id, config, updated_by FROM camera_analytics")
        assert row == ("a1", saved, "adm")
        got = admin.get(url).json()
        assert got["config"] == saved and got["updated_by"] == "adm" and got["updated_at"]
        assert got["models"] == MODELS
        ((actor, target, detail),) = audit(web, "analytics.config")
        assert (actor, target) == ("adm", "camera:a1")
        assert detail["base_legale"] == "Arrêté préfectoral n° 2026-042"
        assert detail["regles"] == [
            {"id": "parvis", "type": "intrusion", "active": True},
            {"id": "entree", "type": "comptage", "active": True},
        ]
        assert detail["modeles"] == ["yolo11n-coco 8.3.0"]

        assert admin.delete(url).status_code == 204
        (note,) = listener.notifies(timeout=10, stop_after=1)
        assert note.payload == "a1"
    assert web.sql("SELECT count(*) FROM camera_analytics") == [(0,)]
    assert admin.get(url).json()["config"] is None
    assert [(a, t) for a, t, _ in audit(web, "analytics.config.delete")] == [("adm", "camera:a1")]
    assert admin.delete(url).status_code == 204  # idempotent


def _model(name: str, *classes: str) -> dict[str, Any]:
    return {"models": [{"id": "m", "name": name, "version": "1", "classes": list(classes)}]}


REFUSED = [
    ({"rules": [{"id": "r1", "kind": "face_recognition"}]}, "LAW-10"),
    ({"rules": [{"id": "r1", "kind": "reconnaissance_visage"}]}, "LAW-10"),
    (_model("yolo", "person", "visage"), "LAW-10"),
    (_model("retinaface", "person"), "LAW-10"),
    ({"legal_basis": None}, "base légale"),
    ({"rules": [{"id": "z", "kind": "intrusion", "zone": [[0.1, 0.1], [1.5, 0.1], [0.5, 0.9]]}]},
     "compris entre 0 et 1"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "expected"), REFUSED)
def test_invalid_or_unlawful_config_refused_in_french_and_not_stored(
    aweb: Env, change: dict[str, Any], expected: str
) -> None:
    web, _ = aweb
    admin = user(web, "adm", [("configure_analytics", "commune-a")])
    with psycopg.connect(web.dsn, autocommit=True) as listener:
        listener.execute("LISTEN vms_analytics_config")
        r = admin.put(f"{web.url}/api/v1/cameras/a1/analytics", json={"config": VALID | change})
        assert r.status_code == 400, r.text
        assert expected in message(r)
        assert message(r).startswith("Configuration d'analyse invalide")
        assert list(listener.notifies(timeout=0.2)) == []
    assert web.sql("SELECT count(*) FROM camera_analytics") == [(0,)]
    assert audit(web, "analytics.config") == []
    # not an object at all
    r = admin.put(f"{web.url}/api/v1/cameras/a1/analytics", json={"config": []})
    assert r.status_code == 400 and "config" in message(r)


def test_config_needs_the_right_inside_the_perimeter_and_hides_other_communes(
    aweb: Env,
) -> None:
    web, _ = aweb
    viewer = user(web, "viewer", [("view_live", "commune-a"), ("playback", "commune-a")])
    url = f"{web.url}/api/v1/cameras/a1/analytics"
    r = viewer.get(url)
    assert r.status_code == 403
    assert message(r) == "Accès refusé : aucun droit « configure_analytics » sur commune-a."
    assert viewer.put(url, json={"config": VALID}).status_code == 403
    assert viewer.delete(url).status_code == 403
    # a configuration administrator of commune-b: a1 does not exist for them
    admin_b = user(web, "adm.b", [("configure_analytics", "commune-b")])
    for call in (admin_b.get, admin_b.delete):
        r = call(url)
        assert r.status_code == 404 and message(r) == "Ressource introuvable."
    assert admin_b.put(url, json={"config": VALID}).status_code == 404
    assert web.sql("SELECT count(*) FROM camera_analytics") == [(0,)]
    # their own camera works
    r = admin_b.put(f"{web.url}/api/v1/cameras/b1/analytics", json={"config": VALID})
    assert r.status_code == 200, r.text
    denied = web.sql("SELECT actor, count(*) FROM audit WHERE action = 'access.denied' "
                     "GROUP BY actor ORDER BY actor")  # fmt: skip
    assert denied == [("adm.b", 3), ("viewer", 3)]


# -- events -------------------------------------------------------------------------------


def test_events_listed_newest_first_filtered_and_polled(aweb: Env) -> None:
    web, _ = aweb
    now = datetime.now(UTC).replace(microsecond=0)
    e1 = add_event(web, "a1", now - timedelta(minutes=30))
    e2 = add_event(web, "a2", now - timedelta(minutes=20), kind="comptage", rule="entree")
    e3 = add_event(web, "a1", now - timedelta(minutes=10), kind="objet_abandonne", rule="hall")
    b1 = add_event(web, "b1", now - timedelta(minutes=5))
    op = user(web, "op", [("view_live", "commune-a")])
    url = f"{web.url}/api/v1/events"
    r = op.get(url)
    assert r.status_code == 200, r.text
    events = r.json()["events"]
    assert [e["id"] for e in events] == [e3, e2, e1]
    first = events[2]
    assert first == {
        "id": e1, "camera_id": "a1", "camera_name": "Mairie",
        "at": (now - timedelta(minutes=30)).isoformat(), "rule_id": "parvis",
        "kind": "intrusion", "cls": "person", "track_id": 7, "confidence": 0.81,
        "boxes": [[0.1, 0.2, 0.3, 0.6]], "label": "Présence dans la zone « parvis »",
        "detail": {"dwell_s": 2.5}, "model": "yolo11n-coco 8.3.0", "snapshot": None,
    }  # fmt: skip

    def ids(**params: object) -> list[int]:
        r = op.get(url, params=params)
        assert r.status_code == 200, r.text
        return [e["id"] for e in r.json()["events"]]

    assert ids(camera="a1") == [e3, e1]
    assert ids(kind="comptage") == [e2]
    assert ids(rule="hall") == [e3]
    assert ids(since=(now - timedelta(minutes=25)).isoformat()) == [e3, e2]
    assert ids(until=(now - timedelta(minutes=20)).isoformat()) == [e1]
    assert ids(limit=2) == [e3, e2]
    # polling: only what came after the last id seen
    assert ids(after_id=e3) == []
    e4 = add_event(web, "a2", now - timedelta(minutes=1))
    assert ids(after_id=e3) == [e4]
    assert ids(after_id=e1) == [e4, e3, e2]
    # listings are audited with their criteria; the polls (after_id) are not
    listed = [d for a, _, d in audit(web, "events.list") if a == "op"]
    assert len(listed) == 7  # the first listing and the six filtered ones
    assert listed[1]["criteres"]["camera"] == "a1" and listed[1]["resultats"] == 2
    # commune-b's event never appears, whatever the filters
    for params in ({}, {"camera": "b1"}, {"after_id": b1 - 1}, {"kind": "intrusion"},
                   {"rule": "parvis", "camera": "b1", "since": now.isoformat()[:10]}):  # fmt: skip
        r = op.get(url, params=params)
        assert r.status_code in (200, 400), r.text
        assert '"b1"' not in r.text and b1 not in [e["id"] for e in r.json().get("events", [])]
    # a grant on a camera group shows the group's cameras only
    grouped = user(web, "op.ga", [("playback", "commune-a", "ga")])
    r = grouped.get(url)
    assert [e["id"] for e in r.json()["events"]] == [e3, e1]
    # without an image right, nothing; bad parameters are refused in French
    config_only = user(web, "adm", [("configure_analytics", "commune-a")])
    assert config_only.get(url).json()["events"] == []
    for params, text in (
        ({"limit": 0}, "« limit » : entre 1 et 500"),
        ({"since": "hier"}, "« since » : date ISO 8601"),
        ({"kind": "Visage'--"}, "« kind » : identifiant invalide"),
        ({"camera": "../b1"}, "« camera »"),
        ({"since": now.isoformat(), "until": now.isoformat()}, "Plage horaire invalide"),
    ):
        r = op.get(url, params=params)
        assert r.status_code == 400 and text in message(r), r.text


def test_snapshot_served_as_jpeg_audited_and_isolated(aweb: Env) -> None:
    web, store = aweb
    ok, encoded = cv2.imencode(".jpg", np.full((48, 64, 3), 128, np.uint8))
    assert ok
    jpeg = encoded.tobytes()
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=3)
    with_image = add_event(web, "a1", at, store=store, jpeg=jpeg)
    without = add_event(web, "a1", at)
    foreign = add_event(web, "b1", at, store=store, jpeg=jpeg)
    op = user(web, "op", [("playback", "commune-a")])
    listed = {e["id"]: e for e in op.get(f"{web.url}/api/v1/events").json()["events"]}
    assert listed[with_image]["snapshot"] == f"/api/v1/events/{with_image}/snapshot"
    assert listed[without]["snapshot"] is None
    r = op.get(web.url + listed[with_image]["snapshot"])
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "image/jpeg" and r.content == jpeg
    image = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (48, 64, 3)
    ((actor, target, detail),) = audit(web, "analytics.snapshot")
    assert (actor, target) == ("op", "camera:a1")
    assert detail == {"evenement": with_image, "instant": at.isoformat(), "type": "intrusion"}
    r = op.get(f"{web.url}/api/v1/events/{without}/snapshot")
    assert r.status_code == 404 and message(r) == "Cet événement n'a pas d'image."
    # another commune's event: as if it did not exist, and audited as a refusal
    for event in (foreign, foreign + 1000):
        r = op.get(f"{web.url}/api/v1/events/{event}/snapshot")
        assert r.status_code == 404 and message(r) == "Ressource introuvable."
    # inside the perimeter without an image right: 403
    admin = user(web, "adm", [("configure_analytics", "commune-a")])
    r = admin.get(f"{web.url}/api/v1/events/{with_image}/snapshot")
    assert r.status_code == 403 and "view_live" in message(r)
    assert len(audit(web, "analytics.snapshot")) == 1
    assert web.sql("SELECT count(*) FROM audit WHERE action = 'access.denied'") == [(3,)]


# -- live overlay -------------------------------------------------------------------------


def test_live_overlay(aweb: Env) -> None:
    web, _ = aweb
    at = datetime.now(UTC).replace(microsecond=0)
    detections = [{"box": [0.1, 0.2, 0.3, 0.6], "cls": "person", "track_id": 3,
                   "confidence": 0.9}]  # fmt: skip
    web.sql(
        "INSERT INTO analytics_live (camera_id, at, model, detections, stats) "
        "VALUES ('a1', %s, 'yolo11n-coco 8.3.0', %s, %s), ('b1', %s, 'm', '[]', '{}')",
        (at, Jsonb(detections), Jsonb({"fps": 4.0}), at),
    )
    op = user(web, "op", [("view_live", "commune-a")])
    r = op.get(f"{web.url}/api/v1/cameras/a1/analytics/live")
    assert r.status_code == 200, r.text
    assert r.json() == {"at": at.isoformat(), "model": "yolo11n-coco 8.3.0",
                        "detections": detections, "stats": {"fps": 4.0}}  # fmt: skip
    r = op.get(f"{web.url}/api/v1/cameras/a2/analytics/live")
    assert r.status_code == 404 and message(r) == "Aucune analyse en cours sur cette caméra."
    r = op.get(f"{web.url}/api/v1/cameras/b1/analytics/live")
    assert r.status_code == 404 and message(r) == "Ressource introuvable."
    player = user(web, "player", [("playback", "commune-a")])
    assert player.get(f"{web.url}/api/v1/cameras/a1/analytics/live").status_code == 403


# -- counts -------------------------------------------------------------------------------


def _counts(web: WebEnv, rows: list[tuple[str, str, str, str, str, int]]) -> None:
    with psycopg.connect(web.dsn) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO line_counts (camera_id, rule_id, cls, direction, bucket_start, count) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            rows,
        )


def test_counts_by_quarter_hour_and_paris_day_across_dst(aweb: Env) -> None:
    web, _ = aweb
    # Paris goes from UTC+1 to UTC+2 at 01:00 UTC on 2026-03-29 (a 23-hour local day),
    # back to UTC+1 at 01:00 UTC on 2026-10-25 (a 25-hour one)
    _counts(web, [
        ("a1", "entree", "person", "direct", "2026-03-28T22:45Z", 1),  # 28 Mar, 23:45 local
        ("a1", "entree", "person", "direct", "2026-03-28T23:00Z", 2),  # 29 Mar, 00:00
        ("a1", "entree", "person", "direct", "2026-03-28T23:15Z", 3),
        ("a1", "entree", "person", "inverse", "2026-03-28T23:30Z", 10),
        ("a1", "entree", "bicycle", "direct", "2026-03-29T00:45Z", 20),
        ("a1", "entree", "person", "direct", "2026-03-29T21:45Z", 4),  # 29 Mar, 23:45 CEST
        ("a1", "entree", "person", "direct", "2026-03-29T22:00Z", 5),  # 30 Mar, 00:00 CEST
        ("a1", "sortie", "person", "direct", "2026-03-29T12:00Z", 100),
        ("a1", "entree", "person", "direct", "2026-10-24T22:00Z", 6),  # 25 Oct, 00:00 CEST
        ("a1", "entree", "person", "direct", "2026-10-25T22:45Z", 7),  # 25 Oct, 23:45 CET
        ("a1", "entree", "person", "direct", "2026-10-25T23:00Z", 8),  # 26 Oct, 00:00 CET
        ("b1", "entree", "person", "direct", "2026-03-29T10:00Z", 1000),
    ])  # fmt: skip
    op = user(web, "op", [("view_live", "commune-a")])
    url = f"{web.url}/api/v1/cameras/a1/counts"

    def buckets(**params: str) -> list[tuple[str, str, str, str, str, int]]:
        r = op.get(url, params=params)
        assert r.status_code == 200, r.text
        assert r.json()["step"] == params.get("step", "hour")
        return [(b["start"], b["end"], b["rule_id"], b["cls"], b["direction"], b["count"])
                for b in r.json()["buckets"]]  # fmt: skip

    march = {"since": "2026-03-28T00:00:00+01:00", "until": "2026-03-31T00:00:00+02:00"}
    assert buckets(step="day", rule="entree", **march) == [
        ("2026-03-28T00:00:00+01:00", "2026-03-29T00:00:00+01:00", "entree", "person", "direct", 1),
        ("2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00", "entree", "bicycle", "direct",
         20),
        ("2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00", "entree", "person", "direct", 9),
        ("2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00", "entree", "person", "inverse",
         10),
        ("2026-03-30T00:00:00+02:00", "2026-03-31T00:00:00+02:00", "entree", "person", "direct", 5),
    ]  # fmt: skip
    day = datetime.fromisoformat("2026-03-30T00:00:00+02:00") - datetime.fromisoformat(
        "2026-03-29T00:00:00+01:00"
    )
    assert day == timedelta(hours=23)
    # every rule when none is named
    assert sum(b[-1] for b in buckets(step="day", **march)) == 1 + 20 + 9 + 10 + 5 + 100
    assert buckets(step="day", rule="entree", since="2026-10-25T00:00:00+02:00",
                   until="2026-10-27T00:00:00+01:00") == [
        ("2026-10-25T00:00:00+02:00", "2026-10-26T00:00:00+01:00", "entree", "person", "direct",
         13),
        ("2026-10-26T00:00:00+01:00", "2026-10-27T00:00:00+01:00", "entree", "person", "direct", 8),
    ]  # fmt: skip
    # hours are sums of their quarters (UTC hours, which are Paris hours too)
    assert buckets(step="hour", rule="entree", since="2026-03-28T22:00:00Z",
                   until="2026-03-29T01:00:00Z") == [
        ("2026-03-28T22:00:00+00:00", "2026-03-28T23:00:00+00:00", "entree", "person", "direct", 1),
        ("2026-03-28T23:00:00+00:00", "2026-03-29T00:00:00+00:00", "entree", "person", "direct", 5),
        ("2026-03-28T23:00:00+00:00", "2026-03-29T00:00:00+00:00", "entree", "person", "inverse",
         10),
        ("2026-03-29T00:00:00+00:00", "2026-03-29T01:00:00+00:00", "entree", "bicycle", "direct",
         20),
    ]  # fmt: skip
    quarters = buckets(step="15min", rule="entree", since="2026-03-28T23:00:00Z",
                       until="2026-03-28T23:30:00Z")  # fmt: skip
    assert [(q[0], q[1], q[-1]) for q in quarters] == [
        ("2026-03-28T23:00:00+00:00", "2026-03-28T23:15:00+00:00", 2),
        ("2026-03-28T23:15:00+00:00", "2026-03-28T23:30:00+00:00", 3),
    ]
    # any right on the camera suffices; another commune's camera does not exist
    admin = user(web, "adm", [("configure_analytics", "commune-a")])
    assert admin.get(url, params={"step": "day", **march}).status_code == 200
    op_b = user(web, "op.b", [("view_live", "commune-b")])
    assert op_b.get(url, params=march).status_code == 404
    r = op_b.get(f"{web.url}/api/v1/cameras/b1/counts", params={"step": "day", **march})
    assert [b["count"] for b in r.json()["buckets"]] == [1000]
    for params in ({"step": "week"}, {"since": "2020-01-01T00:00:00Z"}, {"rule": "Entrée"}):
        r = op.get(url, params=params)
        assert r.status_code == 400 and message(r), r.text
