"""The health checks' pure decisions (vms.domain.health) on synthetic samples."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vms.config import CameraConfig, Config
from vms.domain.health import (
    BACK,
    CAMERA_FAULTS,
    COMMUNE_FAULTS,
    FLOORS,
    LABELS,
    Sample,
    availability,
    by_commune,
    check_overdue,
    disk_description,
    disk_fault,
    drift_fault,
    free_percent,
    gap_fault,
    overdue_description,
    quality_fault,
    replica_fault,
)

T0 = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


def _s(
    at_s: int,
    fps: float = 12.5,
    size: tuple[int, int] = (1280, 720),
    drift_ms: int = 0,
    stream: str = "main",
) -> Sample:
    return Sample(stream, T0 + timedelta(seconds=at_s), fps, size[0], size[1], drift_ms)


def test_every_fault_has_a_french_label_and_a_clearing_reason() -> None:
    assert set(LABELS) == set(BACK)
    assert LABELS["qualite_insuffisante"].startswith("Qualité d'image")
    assert len(LABELS) == 6


def test_quality_is_judged_on_what_is_stored_against_the_cameras_floor() -> None:
    close, general = FLOORS["close_up"], FLOORS["general"]
    good = [_s(0, 12.0, (704, 576)), _s(10, 12.0, (704, 576))]
    assert quality_fault(good, close) is False
    slow = [_s(0, 11.9, (1280, 720)), _s(10, 8.0, (1280, 720))]
    assert quality_fault(slow, close) is True
    assert quality_fault(slow, general) is False  # 6 frames/s are enough there
    small = [_s(0, 25.0, (352, 288))]
    assert quality_fault(small, close) is True
    assert quality_fault(small, general) is False
    assert quality_fault([_s(0, 25.0, (320, 240))], general) is True


def test_quality_one_good_window_or_one_good_stream_is_enough_none_without_samples() -> None:
    close = FLOORS["close_up"]
    assert quality_fault([_s(0, 5.0), _s(10, 12.0), _s(20, 5.0)], close) is False
    sub_and_main = [_s(0, 25.0, (640, 360), stream="sub"), _s(0, 12.0, (1920, 1080))]
    assert quality_fault(sub_and_main, close) is False
    assert quality_fault([], close) is None


def test_clock_drift_above_the_limit_on_the_last_sample_of_every_stream() -> None:
    assert drift_fault([_s(0, drift_ms=0), _s(10, drift_ms=1001)], 1000) is True
    assert drift_fault([_s(0, drift_ms=-1500)], 1000) is True
    assert drift_fault([_s(0, drift_ms=1500), _s(10, drift_ms=1000)], 1000) is False
    # one stream back on time: the camera's clock is not the cause
    two = [_s(0, drift_ms=2000, stream="sub"), _s(10, drift_ms=20)]
    assert drift_fault(two, 1000) is False
    assert drift_fault([], 1000) is None


def test_gaps_replicas_disk_and_overdue_checks() -> None:
    assert gap_fault([5.0, 31.0], 30.0) is True
    assert gap_fault([5.0, 30.0], 30.0) is False
    assert gap_fault([], 30.0) is False
    assert replica_fault(1) is True and replica_fault(0) is False
    assert disk_fault(9, 100, 10.0) is True
    assert disk_fault(10, 100, 10.0) is False
    assert disk_fault(0, 0, 10.0) is None
    delay = timedelta(minutes=5)
    assert check_overdue(None, T0, delay) is False  # never run: nothing was late
    assert check_overdue(T0 - timedelta(minutes=6), T0, delay) is True
    assert check_overdue(T0 - timedelta(minutes=5), T0, delay) is False


def test_availability_is_the_share_covered_by_runs_overlaps_counted_once() -> None:
    day = T0 + timedelta(hours=24)
    runs = [
        (T0 - timedelta(hours=1), T0 + timedelta(hours=6)),  # starts before the period
        (T0 + timedelta(hours=5), T0 + timedelta(hours=12)),  # overlaps the first
        (T0 + timedelta(hours=18), None),  # still recording
    ]
    assert availability(T0, day, runs) == pytest.approx(18 / 24)
    assert availability(T0, day, []) == 0.0
    assert availability(T0, T0, runs) == 0.0


def test_a_camera_chooses_its_law07_floor_and_refuses_an_unknown_one() -> None:
    base = {"id": "cam1", "tenant": "a", "name": "Parvis",
            "streams": [{"name": "main", "url": "rtsp://h/x"}]}  # fmt: skip
    assert CameraConfig.model_validate(base).quality_floor == "general"
    assert CameraConfig.model_validate({**base, "quality_floor": "close_up"}).quality_floor == (
        "close_up"
    )
    with pytest.raises(ValueError):
        CameraConfig.model_validate({**base, "quality_floor": "hd"})


def test_late_checks_need_a_delay_longer_than_the_period_of_the_checks() -> None:
    assert Config.model_validate({"alerts": {"health_interval_s": 60}}).alerts.health_overdue_s == (
        300.0
    )
    with pytest.raises(ValueError, match="health_overdue_s doit dépasser"):
        Config.model_validate({"alerts": {"health_interval_s": 300, "health_overdue_s": 300}})


def test_installation_wide_faults_are_per_commune_and_described_in_french() -> None:
    assert set(CAMERA_FAULTS) | set(COMMUNE_FAULTS) == set(LABELS)
    assert not set(CAMERA_FAULTS) & set(COMMUNE_FAULTS)
    assert by_commune({"b1": "commune-b", "a2": "commune-a", "a1": "commune-a"}) == {
        "commune-a": ["a1", "a2"],
        "commune-b": ["b1"],
    }
    assert by_commune({}) == {}
    assert free_percent(1, 3) == 33.3
    assert free_percent(5, 0) is None
    assert disk_description("local", 4.5, 10.0, 1600) == (
        "Espace de stockage insuffisant sur la réplique « local » : 4,5 % libres, seuil "
        "10 % ; 1600 caméras de la commune concernées."
    )
    assert disk_description("a", 0.0, 5.0, 1).endswith("1 caméra de la commune concernée.")
    assert overdue_description(300.0, 2) == (
        "Contrôles de santé en retard (plus de 300 s depuis le précédent) : 2 caméras de "
        "la commune non contrôlées dans le délai."
    )
    assert overdue_description(90.5, 1).endswith(
        "1 caméra de la commune non contrôlée dans le délai."
    )
