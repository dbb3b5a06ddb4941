from __future__ import annotations

import random
from datetime import UTC, datetime

from ingest.backoff import Backoff
from ingest.health import CLOSE_UP, GENERAL, HealthMeter, below_floor


def test_backoff_grows_is_capped_and_resets() -> None:
    b = Backoff(0.1, 1.0, random.Random(7))
    delays = [b.next_delay() for _ in range(12)]
    assert all(0.05 <= d <= 1.0 for d in delays)
    assert delays[0] <= 0.1
    assert min(delays[6:]) >= 0.5  # at the cap, equal jitter keeps at least half
    b.reset()
    assert b.next_delay() <= 0.1


def test_health_meter_reports_fps_bitrate_gop_and_drift() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    meter = HealthMeter("cam", "main", 90_000, window_s=10, now=lambda: t0)
    meter.width, meter.height = 1280, 720
    sample = None
    for i in range(251):
        # the camera clock runs 1 % slow: media advances 0.99 s per wall second
        media = round(i * 3600 * 0.99)
        sample = meter.add(i / 25, media, keyframe=i % 25 == 0, size=10_000) or sample
    assert sample is not None
    assert sample.at == t0 and sample.window_s == 10.0
    assert sample.fps == 25.0
    assert sample.bitrate_bps == 250 * 10_000 * 8 // 10
    assert sample.gop_frames == 25
    assert 90 <= sample.clock_drift_ms <= 110
    assert not below_floor(sample, CLOSE_UP)
    low = HealthMeter("cam", "sub", 90_000, window_s=1, now=lambda: t0)
    low.width, low.height = 320, 240
    s = None
    for i in range(30):
        s = low.add(i / 5, i * 18000, True, 1) or s
    assert s is not None and below_floor(s, GENERAL)
