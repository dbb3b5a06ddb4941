"""Reports through the API (vms/web/api/reports.py) against real PostgreSQL, with figures
checked on a known month (November 2026, Paris time) built with the owner connection:
segments (daily partitions), the destruction register, a live session (its audit
entry), a playback session, an export, alerts, tickets; the stored monthly report
(EVD-12), rights per report, audit, and the reversibility archive (CONF-05)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import requests

from tests.fixtures.web import WebEnv
from vms.db.audit import AuditLog, append_sync
from vms.db.migrate import ensure_partitions
from vms.db.scope import open_async_pool
from vms.domain.clock import SystemClock
from vms.reports.generate import generate_monthly

pytestmark = pytest.mark.integration

NOV = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
URL = "/api/v1/reports/csv"


def z(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def build_month(env: WebEnv) -> None:
    with psycopg.connect(env.dsn) as conn:
        ensure_partitions(conn, date(2026, 10, 30), date(2026, 11, 6))
        n = 0

        def segment(camera: str, start: datetime, size: int, seconds: int = 4) -> None:
            nonlocal n
            n += 1
            conn.execute(
                "INSERT INTO segments (camera_id, stream, run_id, start_at, end_at, "
                "media_start_90k, duration_90k, frames, bytes, sha256, key, codec, width, height, "
                "replicas) VALUES (%s, 'main', 1, %s, %s, 0, %s, 100, %s, %s, %s, 'h264', 1280, "
                "720, '{r1,r2}')",
                (camera, start, start + timedelta(seconds=seconds), seconds * 90000, size,
                 "0" * 64, f"{camera}/{n}"),
            )  # fmt: skip

        segment("a1", z("2026-10-31T22:59:56"), 999)  # 31 October in Paris: outside
        segment("a1", z("2026-10-31T23:00:00"), 1000)  # 1 November 00:00 in Paris
        for i in range(3):  # one recording of three contiguous segments
            segment("a1", NOV + timedelta(seconds=4 * i), 1000)
        for i in range(2):  # after a gap: another recording
            segment("a1", NOV + timedelta(minutes=10, seconds=4 * i), 1000)
        segment("a2", z("2026-11-04T10:00:00"), 500)
        segment("b1", z("2026-11-03T09:00:00"), 700)
        conn.execute(
            "INSERT INTO destruction_register (destroyed_at, camera_id, stream, start_at, end_at, "
            "key, sha256, replicas, reason) VALUES ('2026-11-20T03:00Z', 'a2', 'main', "
            "'2026-11-02T10:00Z', '2026-11-02T10:00:04Z', 'a2/old', %s, '{r1,r2}', 'retention')",
            ("0" * 64,),
        )
        user_id = conn.execute("SELECT id FROM users WHERE login = 'admin-a'").fetchone()
        assert user_id is not None
        conn.execute(
            "INSERT INTO playback_sessions (id, user_id, actor, tenant_id, camera_ids, stream, "
            "start_at, end_at, motive, created_at, expires_at, ended_at) VALUES "
            "('relecture-0000000001', %s, 'admin-a', 'commune-a', '{a1,a2}', 'main', "
            "'2026-11-02T00:00Z', '2026-11-02T01:00Z', 'Vol signalé', '2026-11-03T09:00Z', "
            "'2026-11-03T13:00Z', '2026-11-03T09:05Z')",
            (user_id[0],),
        )
        conn.execute(
            "INSERT INTO exports (tenant_id, camera_ids, start_at, end_at, motive, service, "
            "officer, reference, requested_by, status, created_at) VALUES ('commune-a', '{a1}', "
            "'2026-11-03T08:00Z', '2026-11-03T08:10Z', 'Réquisition', 'police_nationale', "
            "'Brigadier Durand', 'PV-2026-42', 'admin-a', 'pret', '2026-11-05T10:00Z')"
        )
        append_sync(conn, z("2026-11-03T10:02:00"), "dupont", "live.end", tenant="commune-a",
                    target="camera:a1", detail={"duree_s": 120.0, "fin": "fermeture"})  # fmt: skip
        append_sync(conn, z("2026-11-03T10:02:00"), "durand", "live.end", tenant="commune-b",
                    target="camera:b1", detail={"duree_s": 60.0, "fin": "fermeture"})  # fmt: skip

        def alert(tenant: str, kind: str, ack_s: int | None, qualification: str | None = None,
                  forces: str = "[]") -> None:  # fmt: skip
            raised = NOV + timedelta(hours=2)
            conn.execute(
                "INSERT INTO alerts (tenant_id, camera_id, source, kind, priority, title, state, "
                "raised_at, ack_due_at, acknowledged_at, closed_at, qualification, report, "
                "forces_calls) VALUES (%s, NULL, 'manuelle', %s, 2, 'Test', %s, %s, %s, %s, %s, "
                "%s, %s, %s)",
                (tenant, kind, "cloturee" if qualification else "nouvelle", raised,
                 raised + timedelta(seconds=120),
                 None if ack_s is None else raised + timedelta(seconds=ack_s),
                 raised + timedelta(hours=1) if qualification else None, qualification,
                 "Rapport" if qualification else None, forces),
            )  # fmt: skip

        alert("commune-a", "intrusion", 60, "fausse_alerte")
        alert("commune-a", "intrusion", 180, "incident_reel", '[{"service": "gendarmerie"}]')
        alert("commune-a", "intrusion", 30)
        alert("commune-b", "intrusion", 10)
        conn.execute(
            "INSERT INTO tickets (tenant_id, declarer, element, description, state, resolution, "
            "opened_at, resolved_at) VALUES ('commune-a', 'systeme', 'a1', 'Flux interrompu', "
            "'resolu', 'Redémarrée', '2026-11-03T08:00Z', '2026-11-03T10:00Z')"
        )


def rows(r: requests.Response) -> list[dict[str, str]]:
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/csv")
    assert r.content.startswith("\ufeff".encode())
    return list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig")), delimiter=";"))


@pytest.fixture
def month(web: WebEnv) -> WebEnv:
    full = ["admin_cameras", "admin_users", "read_audit"]
    web.user("admin-a", "admin", "commune-a", [(a, "commune-a") for a in full])
    web.user("admin-ab", "admin", "csd",
             [(a, t) for a in full for t in ("commune-a", "commune-b")])  # fmt: skip
    web.user("groupe-a", "admin", "commune-a", [("admin_cameras", "commune-a", "ga")])
    web.user("audit-a", "auditor", "commune-a", [("read_audit", "commune-a")])
    build_month(web)
    return web


def test_recordings_of_a_month_per_commune(month: WebEnv) -> None:
    a = month.login("admin-a")
    (row,) = rows(a.get(f"{month.url}{URL}?type=enregistrements&mois=2026-11"))
    assert row == {
        "commune": "commune-a", "debut_periode": "2026-11-01T00:00:00+01:00",
        "fin_periode": "2026-12-01T00:00:00+01:00",
        # a1: the one at midnight, 3 contiguous, 2 after the gap; a2: one stored, one destroyed
        "nombre_enregistrements": "5", "duree_moyenne_s": "6.4", "duree_totale_s": "32",
        "taille_totale_octets": "6500", "taille_moyenne_octets": "1625",
        "cameras_distinctes": "2", "segments_detruits_sans_taille": "1",
    }  # fmt: skip
    both = rows(month.login("admin-ab").get(f"{month.url}{URL}?type=enregistrements&mois=2026-11"))
    assert [(r["commune"], r["nombre_enregistrements"]) for r in both] == [
        ("commune-a", "5"), ("commune-b", "1")]  # fmt: skip
    # any period on demand: 3 November 08:00-08:05 UTC
    (row,) = rows(a.get(f"{month.url}{URL}", params={
        "type": "enregistrements", "since": "2026-11-03T08:00:00Z",
        "until": "2026-11-03T08:05:00Z"}))  # fmt: skip
    assert (row["nombre_enregistrements"], row["taille_totale_octets"]) == ("1", "3000")
    audited = month.sql(
        "SELECT detail FROM audit WHERE actor = 'admin-a' AND action = 'report.read' ORDER BY seq"
    )
    assert [d[0]["communes"] for d in audited] == [["commune-a"], ["commune-a"]]  # type: ignore[index]


def test_rights_and_commune_filter(month: WebEnv) -> None:
    a = month.login("admin-a")
    query = f"{month.url}{URL}?mois=2026-11&type="
    assert a.get(f"{query}enregistrements&commune=commune-b").status_code == 403
    # a grant on a camera group is not the whole commune
    assert month.login("groupe-a").get(f"{query}enregistrements").status_code == 403
    auditor = month.login("audit-a")
    assert auditor.get(f"{query}usage").status_code == 403
    assert auditor.get(f"{query}registre").status_code == 200
    bad = a.get(f"{query}inconnu")
    assert bad.status_code == 400 and "type" in bad.json()["erreur"]["message"]
    assert a.get(f"{month.url}{URL}?type=usage").status_code == 400  # no period
    denied = month.sql("SELECT count(*) FROM audit WHERE action = 'access.denied'")
    assert denied[0][0] >= 3  # type: ignore[operator]


def test_usage_statistics(month: WebEnv) -> None:
    a = month.login("admin-a")
    daily = rows(a.get(f"{month.url}{URL}?type=usage&mois=2026-11&pas=jour"))
    assert [list(r.values()) for r in daily] == [
        ["commune-a", "2026-11-03", "direct", "1", "1", "1", "120"],
        ["commune-a", "2026-11-03", "relecture", "2", "1", "2", "600"],
        ["commune-a", "2026-11-05", "extrait", "1", "1", "1", "600"],
    ]
    monthly = rows(a.get(f"{month.url}{URL}?type=usage&mois=2026-11&pas=mois"))
    assert [r["periode"] for r in monthly] == ["2026-11"] * 3
    detail = rows(a.get(f"{month.url}{URL}?type=usage&mois=2026-11&pas=detail"))
    assert [r["type"] for r in detail] == ["relecture", "relecture", "direct", "extrait"]
    assert detail[2] == {"commune": "commune-a", "utilisateur": "dupont", "camera": "a1",
                         "type": "direct", "debut": "2026-11-03T10:00:00+00:00",
                         "duree_s": "120"}  # fmt: skip


def test_alerts_tickets_availability_and_register(month: WebEnv) -> None:
    a = month.login("admin-a")
    (row,) = rows(a.get(f"{month.url}{URL}?type=alertes&mois=2026-11"))
    assert row == {
        "commune": "commune-a", "type": "intrusion", "alertes": "3", "prises_en_compte": "3",
        "delai_prise_en_compte_median_s": "60", "delai_prise_en_compte_p90_s": "180",
        "escaladees": "1", "cloturees": "2", "fausses_alertes": "1",
        "taux_fausses_alertes": "0.5", "en_retard": "1", "retard_cumule_s": "60",
    }  # fmt: skip
    (ticket,) = rows(a.get(f"{month.url}{URL}?type=tickets&since=2026-10-01T00:00:00%2B02:00"
                           "&until=2027-01-01T00:00:00%2B01:00"))  # fmt: skip
    assert (ticket["trimestre"], ticket["tickets_resolus"], ticket["delai_resolution_moyen_s"]) == (
        "2026-T4", "1", "7200")  # fmt: skip
    avail = rows(a.get(f"{month.url}{URL}", params={
        "type": "disponibilite", "since": "2026-11-03T08:00:00Z",
        "until": "2026-11-03T08:01:00Z"}))  # fmt: skip
    assert [(r["camera"], r["part_periode_enregistree"]) for r in avail] == [
        ("a1", "0.2"), ("a2", "0")]  # fmt: skip
    register = rows(month.login("audit-a").get(f"{month.url}{URL}?type=registre&mois=2026-11"))
    kinds = [(r["rubrique"], r["cameras"]) for r in register]
    assert kinds == [("enregistrements", "a1"), ("enregistrements", "a2"), ("destruction", "a2"),
                     ("extrait", "a1")]  # fmt: skip
    assert register[3]["reference"] == "PV-2026-42"
    assert register[3]["destinataire"] == "police_nationale — Brigadier Durand"
    assert register[2]["date"].startswith("2026-11-20T03:00:00")


def test_monthly_report_is_stored_once_and_read_by_the_commune_only(month: WebEnv) -> None:
    async def generate() -> list[int]:
        pool = await open_async_pool(month.dsn, 1, 1)
        try:
            clock = SystemClock()
            return await generate_monthly(pool, AuditLog(pool, clock), "2026-11", clock.now())
        finally:
            await pool.close()

    assert len(asyncio.run(generate())) == 3  # every commune with cameras
    assert asyncio.run(generate()) == []
    a = month.login("admin-a")
    (stored,) = a.get(f"{month.url}/api/v1/reports").json()["reports"]
    assert (stored["commune"], stored["type"], stored["cree_par"]) == (
        "commune-a", "enregistrements", "systeme")  # fmt: skip
    (row,) = rows(a.get(f"{month.url}{stored['csv']}"))
    assert row["nombre_enregistrements"] == "5"
    other = month.sql("SELECT id FROM reports WHERE tenant_id = 'commune-b'")[0][0]
    assert a.get(f"{month.url}/api/v1/reports/{other}/csv").status_code == 404
    generated = month.sql("SELECT count(*) FROM audit WHERE action = 'report.generate'")
    assert generated == [(3,)]


def test_reversibility_archive(month: WebEnv) -> None:
    a = month.login("admin-a")
    r = a.get(f"{month.url}/api/v1/reports/reversibility?commune=commune-a")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(r.content))
    names = set(archive.namelist())
    assert {"LISEZMOI.txt", "commune.json", "cameras.csv", "utilisateurs.csv", "droits.csv",
            "alertes.csv", "tickets.csv", "journal_audit.csv", "extraits.csv"} <= names  # fmt: skip
    commune = json.loads(archive.read("commune.json"))
    assert commune["id"] == "commune-a" and commune["conventions"][0]["csd_id"] == "csd"
    users = archive.read("utilisateurs.csv").decode("utf-8-sig")
    assert "admin-a" in users and "admin-ab" not in users and "argon2" not in users
    assert "password" not in users and "totp" not in users
    alerts = list(csv.DictReader(io.StringIO(archive.read("alertes.csv").decode("utf-8-sig")),
                                 delimiter=";"))  # fmt: skip
    assert len(alerts) == 3 and {x["tenant_id"] for x in alerts} == {"commune-a"}
    cameras = archive.read("cameras.csv").decode("utf-8-sig")
    assert "a1" in cameras and "b1" not in cameras
    assert "commune-b" not in archive.read("journal_audit.csv").decode("utf-8-sig")
    assert a.get(f"{month.url}/api/v1/reports/reversibility?commune=commune-b").status_code == 404
    audited = month.sql("SELECT tenant_id, detail FROM audit WHERE action = 'report.reversibility'")
    assert audited[0][0] == "commune-a" and audited[0][1]["fichiers"]["alertes.csv"] == 3  # type: ignore[index]


def test_command_line(month: WebEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from vms.cli import main

    cfg = tmp_path / "vms.toml"
    cfg.write_text(f'data_dir = "{tmp_path}"\n[database]\ndsn = "{month.dsn}"\n')
    base = ["--config", str(cfg), "report"]
    try:
        assert main([*base, "mensuel", "--mois", "2026-11"]) == 0
        assert "3 rapport(s) enregistré(s)" in capsys.readouterr().out
        assert main([*base, "enregistrements", "--mois", "2026-11", "--commune", "commune-b"]) == 0
        out = capsys.readouterr().out
        assert out.startswith("commune;debut_periode") and "commune-b;" in out
        target = tmp_path / "usage.csv"
        assert (
            main([*base, "usage", "--mois", "2026-11", "--pas", "mois", "--out", str(target)]) == 0
        )
        assert target.read_bytes().startswith("\ufeffcommune;periode".encode())
        archive = tmp_path / "a.zip"
        assert main([*base, "reversibilite", "--tenant", "commune-a", "--out", str(archive)]) == 0
        assert "cameras.csv" in zipfile.ZipFile(archive).namelist()
        assert main([*base, "alertes", "--mois", "2026-13"]) == 2
        assert main([*base, "reversibilite", "--tenant", "inconnue", "--out", str(archive)]) == 2
        assert "Commune inconnue" in capsys.readouterr().err
    finally:
        logging.getLogger().handlers.clear()  # main() logged to the captured stderr
    actions = month.sql("SELECT action, actor FROM audit WHERE actor IN ('cli', 'systeme')")
    assert ("report.reversibility", "cli") in actions and ("report.generate", "cli") in actions


# -- statistics as JSON, per camera and anonymised for committees (ALR-05) ------------------

STATS = "/api/v1/reports/stats"
SEPT = "2026-09"
# what the committees must never read: logins, and every free text of the seeded alerts
SECRETS = ("dupont", "martin", "durand", "Lambert", "Lilas", "PV-SECRET-77", "Valjean",
           "Chat errant", "confidentiel", "Rétabli", "gendarmerie", ":17")  # fmt: skip


def build_september(env: WebEnv) -> None:
    """Alerts of September 2026 (Paris: UTC+2) with cameras, operators and free texts;
    two tickets; a1 recorded 15 days of the 30, a2 3 days."""
    with psycopg.connect(env.dsn) as conn:
        ensure_partitions(conn, date(2026, 8, 31), date(2026, 9, 1))

        def alert(tenant: str, camera: str | None, kind: str, raised: str, ack_s: int | None,
                  by: str | None, closed_s: int | None = None, closer: str | None = None,
                  qualification: str | None = None, report: str | None = None,
                  forces: str = "[]", title: str = "Alerte", source: str = "analytique",
                  detail: str = "{}") -> None:  # fmt: skip
            at = z(raised)
            conn.execute(
                "INSERT INTO alerts (tenant_id, camera_id, source, kind, priority, title, state, "
                "raised_at, ack_due_at, acknowledged_at, acknowledged_by, closed_at, closed_by, "
                "qualification, report, forces_calls, detail) VALUES (%s, %s, %s, %s, 2, %s, %s, "
                "%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (tenant, camera, source, kind, title,
                 "cloturee" if closed_s is not None else "prise_en_compte", at,
                 at + timedelta(seconds=120),
                 None if ack_s is None else at + timedelta(seconds=ack_s), by,
                 None if closed_s is None else at + timedelta(seconds=closed_s), closer,
                 qualification, report, forces, detail),
            )  # fmt: skip

        alert(
            "commune-a",
            "a1",
            "intrusion",
            "2026-09-10T08:00:17",
            60,
            "dupont",
            3600,
            "martin",
            "incident_reel",
            "Individu interpellé rue des Lilas",
            '[{"service": "gendarmerie", "reference": "PV-SECRET-77", "by": "martin"}]',
            "Intrusion chez M. Lambert",
            detail='{"description": "Voisin Jean Valjean"}',
        )
        alert(
            "commune-a",
            "a1",
            "intrusion",
            "2026-09-11T09:00:00",
            300,
            "martin",
            7200,
            "martin",
            "incident_reel",
            "Rapport confidentiel B",
        )
        alert(
            "commune-a",
            "a2",
            "intrusion",
            "2026-09-12T10:00:00",
            30,
            "dupont",
            600,
            "dupont",
            "fausse_alerte",
            "Chat errant",
        )
        alert("commune-a", "a2", "arme", "2026-09-13T11:00:00", 600, "durand")
        alert(
            "commune-a",
            None,
            "panne",
            "2026-09-14T12:00:00",
            20,
            "systeme",
            1800,
            "systeme",
            "technique",
            "Rétabli automatiquement : flux revenu",
            source="technique",
        )
        alert("commune-b", "b1", "intrusion", "2026-09-10T08:00:00", 10, "durand")  # fmt: skip
        conn.execute(
            "INSERT INTO tickets (tenant_id, declarer, element, description, state, resolution, "
            "opened_at, resolved_at) VALUES ('commune-a', 'systeme', 'a1', 'Panne', 'resolu', "
            "'Remplacée', '2026-09-15T08:00Z', '2026-09-15T10:00Z'), ('commune-a', 'systeme', "
            "'a2', 'Panne', 'ouvert', NULL, '2026-09-16T08:00Z', NULL)"
        )
        for camera, days in (("a1", 15), ("a2", 3)):
            start = z("2026-08-31T22:00:00")  # 1 September 00:00 in Paris
            conn.execute(
                "INSERT INTO segments (camera_id, stream, run_id, start_at, end_at, "
                "media_start_90k, duration_90k, frames, bytes, sha256, key, codec, width, "
                "height, replicas) VALUES (%s, 'main', 1, %s, %s, 0, 0, 100, 1000, %s, %s, "
                "'h264', 1280, 720, '{r1}')",
                (camera, start, start + timedelta(days=days), "0" * 64, f"{camera}/sept"),
            )  # fmt: skip


@pytest.fixture
def committee(month: WebEnv) -> WebEnv:
    month.user("comite-a", "auditor", "commune-a", [("read_statistics", "commune-a")],
               habilitation=None)  # fmt: skip
    month.user("comite-b", "auditor", "commune-b", [("read_statistics", "commune-b")],
               habilitation=None)  # fmt: skip
    build_september(month)
    return month


def cell(value: object) -> str:
    """A JSON value as the CSV writes it (figures._cell)."""
    if value is None:
        return ""
    return f"{value:g}" if isinstance(value, float) else str(value)


def stats(s: requests.Session, env: WebEnv, kind: str, **params: str) -> dict[str, object]:
    r = s.get(f"{env.url}{STATS}", params={"type": kind, **params})
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


def test_json_statistics_are_the_csv_figures(committee: WebEnv) -> None:
    env = committee
    a = env.login("admin-a")
    alerts = stats(a, env, "alertes", mois=SEPT)
    assert alerts["communes"] == ["commune-a"] and alerts["type"] == "alertes"
    assert alerts["debut"] == "2026-09-01T00:00:00+02:00"
    assert alerts["lignes"] == [
        {"commune": "commune-a", "type": "arme", "alertes": 1, "prises_en_compte": 1,
         "delai_prise_en_compte_median_s": 600.0, "delai_prise_en_compte_p90_s": 600.0,
         "escaladees": 0, "cloturees": 0, "fausses_alertes": 0, "taux_fausses_alertes": None,
         "en_retard": 1, "retard_cumule_s": 480.0},
        {"commune": "commune-a", "type": "intrusion", "alertes": 3, "prises_en_compte": 3,
         "delai_prise_en_compte_median_s": 60.0, "delai_prise_en_compte_p90_s": 300.0,
         "escaladees": 1, "cloturees": 3, "fausses_alertes": 1,
         "taux_fausses_alertes": 0.3333, "en_retard": 1, "retard_cumule_s": 180.0},
        {"commune": "commune-a", "type": "panne", "alertes": 1, "prises_en_compte": 1,
         "delai_prise_en_compte_median_s": 20.0, "delai_prise_en_compte_p90_s": 20.0,
         "escaladees": 0, "cloturees": 1, "fausses_alertes": 0, "taux_fausses_alertes": 0.0,
         "en_retard": 0, "retard_cumule_s": 0.0},
    ]  # fmt: skip
    units = {c["nom"]: c["unite"] for c in alerts["champs"]}  # type: ignore[attr-defined]
    assert units["delai_prise_en_compte_p90_s"] == "s" and units["alertes"] == "nombre"
    cameras = stats(a, env, "alertes_camera", mois=SEPT)["lignes"]
    assert [list(r.values()) for r in cameras] == [  # type: ignore[attr-defined]
        ["commune-a", None, 1, 1, 0, 0, None, None],
        ["commune-a", "a1", 2, 2, 1, 2, 3600.0, 7200.0],  # incidents closed in 1 h and 2 h
        ["commune-a", "a2", 2, 1, 1, 0, None, None],
    ]
    avail = stats(a, env, "disponibilite", mois=SEPT)["lignes"]
    assert [(r["camera"], r["part_periode_enregistree"]) for r in avail] == [  # type: ignore[index]
        ("a1", 0.5), ("a2", 0.1)]  # fmt: skip
    year = {"since": "2026-01-01T00:00:00+01:00", "until": "2026-10-01T00:00:00+02:00"}
    (t3,) = stats(a, env, "tickets", **year)["lignes"]  # type: ignore[misc]
    assert t3 == {
        "commune": "commune-a", "trimestre": "2026-T3", "tickets_ouverts": 2,
        "tickets_resolus": 1, "delai_resolution_moyen_s": 7200.0,
        "delai_resolution_median_s": 7200.0, "delai_resolution_p90_s": 7200.0,
    }  # fmt: skip
    # the JSON and the CSV show the same figures, field by field
    for kind, params in (("alertes", {"mois": SEPT}), ("alertes_camera", {"mois": SEPT}),
                         ("comite", {"mois": SEPT}), ("disponibilite", {"mois": SEPT}),
                         ("tickets", year), ("alertes", {"mois": "2026-11"})):  # fmt: skip
        lines = stats(a, env, kind, **params)["lignes"]
        csv_rows = rows(a.get(f"{env.url}{URL}", params={"type": kind, **params}))
        assert [{k: cell(v) for k, v in x.items()} for x in lines] == csv_rows, kind  # type: ignore[attr-defined]
        assert lines, kind
    views = env.sql(
        "SELECT detail->>'type', detail->>'vue' FROM audit WHERE actor = 'admin-a' "
        "AND action = 'report.read' ORDER BY seq"
    )
    assert views[:4] == [("alertes", "json"), ("alertes_camera", "json"),
                         ("disponibilite", "json"), ("tickets", "json")]  # fmt: skip
    assert ("comite", "csv") in views


def test_statistics_rights_and_refusals(committee: WebEnv) -> None:
    env = committee
    denied = env.sql("SELECT count(*) FROM audit WHERE action = 'access.denied'")[0][0]
    c = env.login("comite-a")
    for kind in ("alertes", "alertes_camera", "comite"):
        assert c.get(f"{env.url}{STATS}?type={kind}&mois={SEPT}").status_code == 200
        assert c.get(f"{env.url}{URL}?type={kind}&mois={SEPT}").status_code == 200
    for kind in ("tickets", "disponibilite"):  # the installation's figures: admin_cameras
        assert c.get(f"{env.url}{STATS}?type={kind}&mois={SEPT}").status_code == 403
    for kind in ("enregistrements", "usage", "registre"):
        assert c.get(f"{env.url}{URL}?type={kind}&mois={SEPT}").status_code == 403
    other = c.get(f"{env.url}{STATS}?type=comite&mois={SEPT}&commune=commune-b")
    assert other.status_code == 403 and "commune-b" in other.json()["erreur"]["message"]
    groupe = env.login("groupe-a").get(f"{env.url}{STATS}?type=alertes&mois={SEPT}")
    assert groupe.status_code == 403
    bad = env.login("admin-a").get(f"{env.url}{STATS}?type=usage&mois={SEPT}")
    assert bad.status_code == 400 and "type" in bad.json()["erreur"]["message"]
    after = env.sql("SELECT count(*) FROM audit WHERE action = 'access.denied'")[0][0]
    assert after - denied >= 7  # type: ignore[operator]
    # each commune's committee sees its own commune only
    b = stats(env.login("comite-b"), env, "alertes", mois=SEPT)
    assert [(r["commune"], r["alertes"]) for r in b["lignes"]] == [("commune-b", 1)]  # type: ignore[attr-defined]


def test_committee_view_is_anonymised(committee: WebEnv) -> None:
    env = committee
    c = env.login("comite-a")
    r = c.get(f"{env.url}{STATS}", params={"type": "comite", "mois": SEPT})
    assert r.status_code == 200
    for secret in SECRETS:
        assert secret not in r.text, secret
    lines = r.json()["lignes"]
    assert [(x["numero"], x["camera"], x["prise_en_compte_par"], x["cloturee_par"],
             x["qualification"], x["appels_forces"], x["hors_delai"]) for x in lines] == [
        (1, "a1", "Opérateur 1", "Opérateur 2", "incident_reel", 1, "non"),
        (2, "a1", "Opérateur 2", "Opérateur 2", "incident_reel", 0, "oui"),
        (3, "a2", "Opérateur 1", "Opérateur 1", "fausse_alerte", 0, "non"),
        (4, "a2", "Opérateur 3", None, None, 0, "oui"),
        (5, None, "Système", "Système", "technique", 0, "non"),
    ]  # fmt: skip
    # times to the minute: 08:00:17 UTC is 10:00 in Paris
    assert lines[0]["levee_a"] == "2026-09-10T10:00:00+02:00"
    assert set(lines[0]) == set(x["nom"] for x in r.json()["champs"])
    for kind in ("comite", "alertes", "alertes_camera"):
        body = c.get(f"{env.url}{URL}", params={"type": kind, "mois": SEPT}).content.decode()
        for secret in SECRETS:
            assert secret not in body, (kind, secret)
