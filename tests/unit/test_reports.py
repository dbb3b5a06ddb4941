"""Report figures (vms/reports/figures.py): recordings as continuous segment runs,
availability, alert and ticket statistics, usage aggregates and the CSV encoding."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from vms.reports import figures as f

T0 = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)


def seg(camera: str, start_s: float, length_s: float = 4.0, size: int | None = 1000,
        tenant: str = "commune-a", stream: str = "main") -> f.Segment:  # fmt: skip
    start = T0 + timedelta(seconds=start_s)
    return f.Segment(tenant, camera, stream, start, start + timedelta(seconds=length_s), size)


def test_segments_join_into_recordings_until_a_gap_longer_than_two_seconds() -> None:
    segs = [seg("a1", 0), seg("a1", 4), seg("a1", 9.5),  # 1.5 s late: same recording
            seg("a1", 20), seg("a1", 24, size=None),  # 6.5 s gap: second, partly destroyed
            seg("a2", 0, 10, 5000), seg("b1", 0, tenant="commune-b")]  # fmt: skip
    a, b = f.recordings(reversed(segs))
    assert (a.tenant, a.recordings, a.cameras, a.segments_destroyed) == ("commune-a", 3, 2, 1)
    assert a.total_s == 4 * 5 + 10
    assert a.average_s == pytest.approx(30 / 3)
    # the recording with a destroyed segment has no known size: averages exclude it
    assert (a.total_bytes, a.measured_recordings, a.average_bytes) == (8000, 2, 4000)
    assert (b.tenant, b.recordings, b.total_bytes) == ("commune-b", 1, 1000)


def test_streams_are_separate_recordings() -> None:
    (a,) = f.recordings([seg("a1", 0), seg("a1", 0, stream="sub")])
    assert (a.recordings, a.cameras) == (2, 1)


def test_month_bounds_follow_paris_time_and_december_rolls_over() -> None:
    since, until = f.month_bounds("2026-12")
    assert since.astimezone(UTC) == datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    assert until.astimezone(UTC) == datetime(2026, 12, 31, 23, 0, tzinfo=UTC)
    assert f.previous_month(datetime(2026, 12, 1, 0, 30, tzinfo=f.LOCAL_TZ)) == "2026-11"
    # 23:30 UTC on 31 October is already 1 November in Paris
    assert f.previous_month(datetime(2026, 10, 31, 23, 30, tzinfo=UTC)) == "2026-10"
    with pytest.raises(ValueError, match="Mois invalide"):
        f.month_bounds("2026-13")


def test_availability_is_the_best_covered_stream_clipped_to_the_period() -> None:
    since, until = T0, T0 + timedelta(seconds=100)
    covered = [("commune-a", "a1", "main", T0 - timedelta(seconds=10), T0 + timedelta(seconds=30)),
               ("commune-a", "a1", "main", T0 + timedelta(seconds=20), T0 + timedelta(seconds=40)),
               ("commune-a", "a1", "sub", T0, T0 + timedelta(seconds=25))]  # fmt: skip
    rows = f.availability(covered, [("commune-a", "a2"), ("commune-a", "a1")], since, until)
    assert rows == [["commune-a", "a1", 0.4], ["commune-a", "a2", 0.0]]


def alert(kind: str, ack_s: float | None, *, due_s: float = 60, qualification: str | None = None,
          escalated: bool = False) -> f.AlertFact:  # fmt: skip
    return f.AlertFact(
        "commune-a", kind, T0, T0 + timedelta(seconds=due_s),
        None if ack_s is None else T0 + timedelta(seconds=ack_s),
        T0 + timedelta(hours=1) if qualification else None, qualification, escalated,
    )  # fmt: skip


def test_alert_statistics_per_type() -> None:
    alerts = [alert("intrusion", s) for s in (10, 20, 30, 40, 50, 60, 70, 80, 90)]
    alerts += [alert("intrusion", 100, qualification="fausse_alerte"),
               alert("intrusion", 30, qualification="incident_reel", escalated=True),
               alert("arme", None)]  # fmt: skip
    now = T0 + timedelta(seconds=600)
    arme, intrusion = f.alert_rows(alerts, now)
    assert dict(zip(f.ALERT_HEADER, intrusion, strict=True)) == {
        "commune": "commune-a", "type": "intrusion", "alertes": 11, "prises_en_compte": 11,
        "delai_prise_en_compte_median_s": 50.0, "delai_prise_en_compte_p90_s": 90.0,
        "escaladees": 1, "cloturees": 2, "fausses_alertes": 1, "taux_fausses_alertes": 0.5,
        # 70, 80, 90, 100 s against a 60 s deadline
        "en_retard": 4, "retard_cumule_s": 10.0 + 20 + 30 + 40,
    }  # fmt: skip
    # never acknowledged: late by now - deadline; no time to acknowledge, no closure rate
    assert arme[3:5] == [0, ""] and arme[9:] == ["", 1, 540.0]


def test_percentile_is_nearest_rank() -> None:
    assert f.percentile([], 0.5) is None
    assert f.percentile([5.0], 0.9) == 5.0
    assert f.percentile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.0


def test_tickets_per_quarter_of_opening_with_resolution_times() -> None:
    q4 = datetime(2026, 10, 1, 0, 30, tzinfo=f.LOCAL_TZ)  # 30 Sept 22:30 UTC: still Q4 locally
    tickets = [f.TicketFact("commune-a", q4, q4 + timedelta(hours=2)),
               f.TicketFact("commune-a", q4, q4 + timedelta(hours=4)),
               f.TicketFact("commune-a", q4, None),
               f.TicketFact("commune-a", q4 - timedelta(days=1), q4)]  # fmt: skip
    assert f.ticket_rows(tickets) == [
        ["commune-a", "2026-T3", 1, 1, 86400.0, 86400.0, 86400.0],
        ["commune-a", "2026-T4", 3, 2, 10800.0, 7200.0, 14400.0],
    ]


def test_usage_aggregates_per_local_day_and_kind() -> None:
    late = datetime(2026, 11, 3, 23, 30, tzinfo=UTC)  # 4 November in Paris
    views = [f.Viewing("commune-a", "dupont", "a1", "direct", T0, 60),
             f.Viewing("commune-a", "dupont", "a2", "direct", T0, 30),
             f.Viewing("commune-a", "martin", "a1", "direct", T0, 10),
             f.Viewing("commune-a", "martin", "a1", "direct", late, 5),
             f.Viewing("commune-a", "martin", "a1", "relecture", T0, 300)]  # fmt: skip
    assert f.usage_rows(views, "jour") == [
        ["commune-a", "2026-11-03", "direct", 3, 2, 2, 100.0],
        ["commune-a", "2026-11-03", "relecture", 1, 1, 1, 300.0],
        ["commune-a", "2026-11-04", "direct", 1, 1, 1, 5.0],
    ]
    assert f.usage_rows(views, "mois")[0] == ["commune-a", "2026-11", "direct", 4, 2, 2, 105.0]
    assert f.usage_detail_rows(views[:1]) == [
        ["commune-a", "dupont", "a1", "direct", T0.isoformat(), 60.0]
    ]


def test_csv_has_a_bom_semicolons_and_guards_formulas() -> None:
    text = f.to_csv(("commune", "valeur"), [["=HYPERLINK()", 1.5], ["b", None]])
    assert text.startswith("\ufeffcommune;valeur\r\n")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff")), delimiter=";"))
    assert rows[1:] == [["'=HYPERLINK()", "1.5"], ["b", ""]]


# -- ALR-05: per camera, and the anonymised view for committees --------------------------


def handled(camera: str | None, raised_s: float, ack_s: float | None, closed_s: float | None,
            qualification: str | None = None, *, by: str | None = None,
            closer: str | None = None, alert_id: int = 0) -> f.AlertFact:  # fmt: skip
    raised = T0 + timedelta(seconds=raised_s)
    return f.AlertFact(
        "commune-a", "intrusion", raised, raised + timedelta(seconds=120),
        None if ack_s is None else raised + timedelta(seconds=ack_s),
        None if closed_s is None else raised + timedelta(seconds=closed_s), qualification,
        False, camera=camera, alert_id=alert_id, source="analytique", priority=2,
        acknowledged_by=by, closed_by=closer,
    )  # fmt: skip


def test_alert_figures_per_camera() -> None:
    alerts = [handled("a1", 0, 60, 3600, "incident_reel"),
              handled("a1", 10, 300, 7200, "incident_reel"),  # acknowledged 180 s late
              handled("a1", 20, 30, 1800, "incident_reel"),
              handled("a2", 0, 30, 600, "fausse_alerte"),
              handled("a2", 0, None, None),  # never acknowledged: late by now
              handled(None, 0, 20, 60, "technique")]  # fmt: skip
    rows = f.alert_camera_rows(alerts, T0 + timedelta(hours=1))
    assert [dict(zip(f.ALERT_CAMERA_HEADER, r, strict=True)) for r in rows] == [
        {"commune": "commune-a", "camera": "", "alertes": 1, "traitees": 1, "en_retard": 0,
         "incidents_reels": 0, "delai_resolution_incident_median_s": "",
         "delai_resolution_incident_p90_s": ""},
        # incidents resolved in 1800, 3600, 7200 s: median 3600, p90 (nearest rank) 7200
        {"commune": "commune-a", "camera": "a1", "alertes": 3, "traitees": 3, "en_retard": 1,
         "incidents_reels": 3, "delai_resolution_incident_median_s": 3600.0,
         "delai_resolution_incident_p90_s": 7200.0},
        {"commune": "commune-a", "camera": "a2", "alertes": 2, "traitees": 1, "en_retard": 1,
         "incidents_reels": 0, "delai_resolution_incident_median_s": "",
         "delai_resolution_incident_p90_s": ""},
    ]  # fmt: skip
    # before the deadline of the unacknowledged one, it is not late yet
    early = f.alert_camera_rows(alerts, T0 + timedelta(seconds=60))
    assert [r[4] for r in early] == [0, 1, 0]


def test_pseudonyms_are_stable_in_order_of_first_appearance() -> None:
    names = f.Pseudonyms()
    assert [names(x) for x in ("martin", "dupont", "martin", None, "systeme", "durand")] == [
        "Opérateur 1", "Opérateur 2", "Opérateur 1", "", "Système", "Opérateur 3"]  # fmt: skip
    assert f.Pseudonyms()("dupont") == "Opérateur 1"  # one report, one mapping


def test_committee_rows_hold_no_login_and_times_to_the_minute() -> None:
    alerts = [handled("a1", 47, 60, 3600, "incident_reel", by="dupont", closer="martin",
                      alert_id=9),
              handled("a2", 0.5, 30, 600, "fausse_alerte", by="martin", closer="martin",
                      alert_id=12),
              handled(None, 7200, None, None, alert_id=3)]  # fmt: skip
    rows = f.committee_rows(reversed(alerts), T0 + timedelta(hours=3))
    assert [dict(zip(f.COMMITTEE_HEADER, r, strict=True)) for r in rows] == [
        {"commune": "commune-a", "numero": 1, "camera": "a2", "type": "intrusion",
         "source": "analytique", "priorite": 2, "levee_a": "2026-11-03T09:00:00+01:00",
         "echeance_a": "2026-11-03T09:02:00+01:00",
         "prise_en_compte_a": "2026-11-03T09:00:00+01:00",
         "prise_en_compte_par": "Opérateur 1", "cloturee_a": "2026-11-03T09:10:00+01:00",
         "cloturee_par": "Opérateur 1", "qualification": "fausse_alerte", "appels_forces": 0,
         "hors_delai": "non"},
        {"commune": "commune-a", "numero": 2, "camera": "a1", "type": "intrusion",
         "source": "analytique", "priorite": 2, "levee_a": "2026-11-03T09:00:00+01:00",
         "echeance_a": "2026-11-03T09:02:00+01:00",
         "prise_en_compte_a": "2026-11-03T09:01:00+01:00",
         "prise_en_compte_par": "Opérateur 2", "cloturee_a": "2026-11-03T10:00:00+01:00",
         "cloturee_par": "Opérateur 1", "qualification": "incident_reel", "appels_forces": 0,
         "hors_delai": "non"},
        {"commune": "commune-a", "numero": 3, "camera": "", "type": "intrusion",
         "source": "analytique", "priorite": 2, "levee_a": "2026-11-03T11:00:00+01:00",
         "echeance_a": "2026-11-03T11:02:00+01:00", "prise_en_compte_a": "",
         "prise_en_compte_par": "", "cloturee_a": "", "cloturee_par": "", "qualification": "",
         "appels_forces": 0, "hors_delai": "oui"},
    ]  # fmt: skip
    text = f.to_csv(f.COMMITTEE_HEADER, rows)
    assert "dupont" not in text and "martin" not in text and ":47" not in text


def test_chart_data_names_every_field_with_its_unit_and_nulls_empty_cells() -> None:
    from vms.reports.generate import FIELDS, table_json

    rows = f.alert_rows([alert("arme", None)], T0 + timedelta(seconds=600))
    data = table_json(f.ALERT_HEADER, rows)
    assert data["lignes"] == [{
        "commune": "commune-a", "type": "arme", "alertes": 1, "prises_en_compte": 0,
        "delai_prise_en_compte_median_s": None, "delai_prise_en_compte_p90_s": None,
        "escaladees": 0, "cloturees": 0, "fausses_alertes": 0, "taux_fausses_alertes": None,
        "en_retard": 1, "retard_cumule_s": 540.0,
    }]  # fmt: skip
    units = {c["nom"]: c["unite"] for c in data["champs"]}  # type: ignore[attr-defined]
    assert units["delai_prise_en_compte_median_s"] == "s"
    assert units["taux_fausses_alertes"] == "ratio"
    # every column of every report the statistics serve has a label and a unit
    for header in (f.ALERT_HEADER, f.ALERT_CAMERA_HEADER, f.COMMITTEE_HEADER, f.TICKET_HEADER):
        assert set(header) <= set(FIELDS)
