"""API robustness: property-based requests generated from the served OpenAPI document
(schemathesis + hypothesis) never get a 500, and every error of the JSON API carries
the French error body. Authenticated as an administrator's API token holding every
right (so the handlers run past the permission checks), and anonymously for the
public endpoints."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.fixtures.web import WebEnv
from vms.domain.access import Action

pytestmark = pytest.mark.integration

EXAMPLES = 30
# destructive on the fuzzing account itself: run last
LAST = ("/grants", "/password-reset", "/mfa-reset", "PATCH", "DELETE")


def _order(op: Any) -> tuple[bool, str]:
    key = f"{op.method.upper()} {op.path}"
    return (any(k in key for k in LAST), key)


def test_generated_requests_never_get_a_server_error(web: WebEnv) -> None:
    tenants = ("csd", "commune-a", "commune-b")
    web.user("fuzz", "admin", "csd", [(a.value, t) for a in Action for t in tenants])
    session = web.login("fuzz")
    token = session.post(
        f"{web.url}/api/v1/tokens", json={"name": "fuzz", "scopes": [a.value for a in Action]}
    ).json()["token"]
    authed = web.client()
    authed.headers["Authorization"] = f"Bearer {token}"
    anonymous = web.client()
    spec = web.client().get(f"{web.url}/api/v1/openapi.json").json()
    schema = schemathesis.openapi.from_dict(spec)
    operations = sorted((r.ok() for r in schema.get_all_operations()), key=_order)
    assert len(operations) >= 20
    problems: list[str] = []
    calls = 0
    succeeded: set[str] = set()

    def fuzz(op: Any, client: Any) -> None:
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=op.as_strategy())
        def run(case: Any) -> None:
            nonlocal calls
            calls += 1
            response = case.call(base_url=web.url, session=client, verify=str(web.cert))
            status = response.status_code
            where = f"{case.method} {case.formatted_path} → {status}"
            if status < 300:
                succeeded.add(f"{case.method} {case.path}")
            if status >= 500:
                problems.append(f"{where}: {response.text[:300]}")
            elif status >= 400 and case.path.startswith("/api/"):
                body = response.json()
                if not body.get("erreur", {}).get("message"):
                    problems.append(f"{where}: error without a French message: {body}")

        run()

    for op in operations:
        fuzz(op, anonymous if "security" not in op.definition.raw else authed)
    print(f"\nfuzzing: {calls} generated requests over {len(operations)} operations")
    assert not problems, "\n".join(problems[:20])
    # the generated requests get past validation and permission checks, not just 4xx
    print(f"operations answered 2xx at least once: {len(succeeded)}: {sorted(succeeded)}")
    # live signalling, PTZ and ONVIF probes need an ingest worker's relay, links a
    # token: their success is covered by tests/live; here they must only fail cleanly.
    # Analytics on a camera or an event need one that exists (and rows the analytics
    # workers write): their success is covered by tests/web/test_analytics_api.py; the
    # alert desk's likewise (alerts and tickets the desk service raises, a WebSocket):
    # tests/web/test_alerts_api.py
    relayed = ("/live", "/links/", "/ptz", "/onvif/", "/playback/", "/exports/",
               "/analytics", "/counts", "/events/", "/alerts", "/tickets")  # fmt: skip
    reachable = [op for op in operations if not any(p in op.path for p in relayed)]
    assert len(succeeded) >= len(reachable) // 2, sorted(succeeded)
