"""Prometheus metrics of the operator service, in the text exposition format."""

from __future__ import annotations

from collections import Counter


class Metrics:
    def __init__(self) -> None:
        self.requests: Counter[tuple[str, int]] = Counter()
        self.duration_sum = 0.0
        self.duration_count = 0
        self.logins: Counter[str] = Counter()
        self.denied = 0

    def observe(self, method: str, status: int, seconds: float) -> None:
        self.requests[(method, status)] += 1
        self.duration_sum += seconds
        self.duration_count += 1

    def render(self, gauges: dict[str, tuple[str, float]]) -> str:
        """The exposition text; ``gauges`` maps a name to (help, value) read at scrape."""
        out = [
            "# HELP vms_http_requests_total HTTP requests served, by method and status.",
            "# TYPE vms_http_requests_total counter",
        ]
        for (method, status), n in sorted(self.requests.items()):
            out.append(f'vms_http_requests_total{{method="{method}",status="{status}"}} {n}')
        out += [
            "# HELP vms_http_request_duration_seconds Time spent serving requests.",
            "# TYPE vms_http_request_duration_seconds summary",
            f"vms_http_request_duration_seconds_sum {self.duration_sum:.6f}",
            f"vms_http_request_duration_seconds_count {self.duration_count}",
            "# HELP vms_logins_total Sign-in attempts, by outcome.",
            "# TYPE vms_logins_total counter",
        ]
        for outcome, n in sorted(self.logins.items()):
            out.append(f'vms_logins_total{{outcome="{outcome}"}} {n}')
        out += [
            "# HELP vms_access_denied_total Requests refused for lack of rights.",
            "# TYPE vms_access_denied_total counter",
            f"vms_access_denied_total {self.denied}",
        ]
        for name, (help_text, value) in sorted(gauges.items()):
            out += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {value:g}"]
        return "\n".join(out) + "\n"
