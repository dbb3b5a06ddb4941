"""The camera-health API (vms/web/api/health.py): overview and one camera's samples,
gaps and faults, with the rights of technical alerts, against real PostgreSQL. Rows the
ingest tier and the alert desk would write are inserted with the owner connection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.fixtures.web import WebEnv

pytestmark = pytest.mark.integration


def user(web: WebEnv, login: str, grants: list[tuple[str, ...]]) -> requests.Session:
    web.user(login, "operator", "csd", grants)  # type: ignore[arg-type]
    return web.login(login)


def seed(web: WebEnv, now: datetime) -> None:
    """a1: recorded the last 12 hours with one 2-minute gap, slow fps, a fault open."""
    start = now - timedelta(hours=12)
    gap_at = now - timedelta(hours=1)
    web.sql(
        "INSERT INTO runs (id, camera_id, stream, start_at, end_at, end_cause) VALUES "
        "(1, 'a1', 'main', %s, %s, 'timeout'), (2, 'a1', 'main', %s, NULL, NULL)",
        (start, gap_at, gap_at + timedelta(minutes=2)),
    )
    web.sql(
        "INSERT INTO gaps (camera_id, stream, start_at, end_at, cause) VALUES "
        "('a1', 'main', %s, %s, 'timeout')",
        (gap_at, gap_at + timedelta(minutes=2)),
    )
    for i, fps in enumerate((25.0, 12.5, 5.0)):
        web.sql(
            "INSERT INTO health_samples (camera_id, stream, at, window_s, bitrate_bps, fps, "
            "width, height, gop_frames, clock_drift_ms, frames) VALUES "
            "('a1', 'main', %s, 10, %s, %s, 1280, 720, 50, %s, 250)",
            (now - timedelta(minutes=30 - i * 10), 2_000_000 - i * 100_000, fps, i * 10),
        )
    web.sql(
        "INSERT INTO alerts (tenant_id, camera_id, source, kind, priority, title, dedup_key, "
        "raised_at, ack_due_at, detail) VALUES ('commune-a', 'a1', 'technique', 'technique', "
        "3, 'Qualité', 'a1:qualite_insuffisante', %s, %s, '{\"fault\": "
        '"qualite_insuffisante"}\')',
        (now - timedelta(minutes=5), now + timedelta(minutes=5)),
    )


def test_overview_and_camera_detail_for_the_technical_desk(web: WebEnv) -> None:
    now = datetime.now(UTC)
    seed(web, now)
    s = user(web, "tech", [("admin_cameras", "commune-a")])
    r = s.get(f"{web.url}/api/v1/health/cameras")
    assert r.status_code == 200, r.text
    cams = {c["id"]: c for c in r.json()["cameras"]}
    assert set(cams) == {"a1", "a2"}
    a1 = cams["a1"]
    assert [f["fault"] for f in a1["faults"]] == ["qualite_insuffisante"]
    assert a1["faults"][0]["label"] == "Qualité d'image enregistrée sous le minimum réglementaire"
    # 12 h recorded minus 2 minutes, over 24 h and over 7 days
    assert a1["availability_24h"] == pytest.approx((12 * 60 - 2) / (24 * 60), abs=1e-3)
    assert a1["availability_7d"] == pytest.approx((12 * 60 - 2) / (7 * 24 * 60), abs=1e-3)
    assert [(x["stream"], x["fps"]) for x in a1["streams"]] == [("main", 5.0)]
    assert cams["a2"]["faults"] == [] and cams["a2"]["availability_24h"] == 0.0

    r = s.get(f"{web.url}/api/v1/cameras/a1/health")
    assert r.status_code == 200, r.text
    body = r.json()
    assert [x["fps"] for x in body["samples"]] == [25.0, 12.5, 5.0]  # oldest first
    assert [x["bitrate_bps"] for x in body["samples"]] == [2_000_000, 1_900_000, 1_800_000]
    assert [(g["cause"], g["stream"]) for g in body["gaps"]] == [("timeout", "main")]
    assert [f["state"] for f in body["faults"]] == ["nouvelle"]
    assert body["truncated"] is False

    # a period before the samples: nothing
    until = (now - timedelta(hours=2)).isoformat()
    r = s.get(f"{web.url}/api/v1/cameras/a1/health", params={"until": until})
    assert r.status_code == 200 and r.json()["samples"] == [] and r.json()["faults"] == []


def test_rights_and_invalid_periods(web: WebEnv) -> None:
    seed(web, datetime.now(UTC))
    viewer = user(web, "viewer", [("view_live", "commune-a")])
    r = viewer.get(f"{web.url}/api/v1/health/cameras")
    assert r.status_code == 200 and r.json()["cameras"] == []
    r = viewer.get(f"{web.url}/api/v1/cameras/a1/health")
    assert r.status_code == 403, r.text
    assert r.json()["erreur"]["message"]
    desk = user(web, "desk", [("handle_alerts", "commune-a")])
    assert desk.get(f"{web.url}/api/v1/cameras/a1/health").status_code == 200
    r = desk.get(f"{web.url}/api/v1/health/cameras", params={"camera": "a1"})
    assert [c["id"] for c in r.json()["cameras"]] == ["a1"]
    assert desk.get(f"{web.url}/api/v1/cameras/b1/health").status_code == 404
    for params in (
        {"since": "2026-01-08T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
        {"since": "2026-01-01T00:00:00Z", "until": "2026-01-09T00:00:00Z"},
        {"since": "2026-01-01T00:00:00"},
    ):
        r = desk.get(f"{web.url}/api/v1/cameras/a1/health", params=params)
        assert r.status_code == 400, (params, r.text)
        assert r.json()["erreur"]["message"]
    assert web.sql("SELECT count(*) FROM audit WHERE action = 'access.denied'")[0][0] == 2
