"""Sign-in throttling window and the Prometheus exposition text (pure)."""

from __future__ import annotations

from vms.web.metrics import Metrics
from vms.web.throttle import Throttle


def test_throttle_allows_per_minute_then_refuses_then_recovers() -> None:
    t = Throttle(per_minute=3)
    assert [t.allow("1.2.3.4", 0.0 + i) for i in range(5)] == [True, True, True, False, False]
    assert t.allow("5.6.7.8", 4.0)  # another address is not affected
    assert not t.allow("1.2.3.4", 59.9)
    assert t.allow("1.2.3.4", 60.5)  # the first attempt left the window


def test_throttle_forgets_idle_clients_when_full() -> None:
    t = Throttle(per_minute=1, max_clients=2)
    assert t.allow("a", 0.0) and t.allow("b", 0.0)
    assert t.allow("c", 120.0)
    assert set(t._hits) == {"c"}


def test_metrics_exposition() -> None:
    m = Metrics()
    m.observe("GET", 200, 0.5)
    m.observe("GET", 200, 0.25)
    m.observe("POST", 401, 0.1)
    m.logins["failure"] += 2
    text = m.render({"vms_sessions_open": ("Open sessions.", 3.0)})
    assert 'vms_http_requests_total{method="GET",status="200"} 2' in text
    assert 'vms_http_requests_total{method="POST",status="401"} 1' in text
    assert "vms_http_request_duration_seconds_count 3" in text
    assert 'vms_logins_total{outcome="failure"} 2' in text
    assert "# TYPE vms_sessions_open gauge\nvms_sessions_open 3" in text
    assert text.endswith("\n")
