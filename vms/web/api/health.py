"""Camera health in the console (« Santé des caméras », CSD-10, ALR-04, LAW-07): per
camera the technical faults open (raised by the alert desk's health checks), the
recording availability over 24 hours and 7 days, the last stream-health measures, and
for one camera its samples (bitrate, stored fps, resolution, clock drift), gaps and
faults over a period.

Rights: ``handle_alerts`` or ``admin_cameras`` on the camera (as technical alerts).
The overview lists only those cameras; a camera outside the caller's perimeter is a
404 (audited), one inside it without either right a 403 (audited). Not audited when
allowed: no image, no personal data.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from vms.db import accounts
from vms.db import health as db
from vms.db.scope import scoped
from vms.domain.access import Action, decide, visible_tenants
from vms.domain.health import LABELS, availability
from vms.errors import invalid
from vms.web.api.analytics import _camera
from vms.web.api.cameras import IDENT, camera_ref
from vms.web.auth import caller_of, services
from vms.web.http import ok, query_time
from vms.web.routes import Param, Route

RIGHTS = (Action.HANDLE_ALERTS, Action.ADMIN_CAMERAS)
MAX_RANGE = timedelta(days=7)
MAX_SAMPLES = 20_000
"""Samples of one answer at most (7 days of 10-second windows of two streams: 120,960;
a longer period is thinned by the console asking less)."""
MAX_ROWS = 1000
DAY = timedelta(days=1)
WEEK = timedelta(days=7)


def _fault_json(row: dict[str, Any]) -> dict[str, Any]:
    fault = row["fault"]
    return {
        "alert_id": row["id"], "fault": fault, "label": LABELS.get(fault, row["title"]),
        "state": row["state"], "raised_at": row["raised_at"],
    }  # fmt: skip


async def overview(request: web.Request) -> web.StreamResponse:
    """Every camera where the caller handles technical alerts, with its open faults,
    availability and last measures."""
    caller = caller_of(request)
    camera = request.query.get("camera") or None
    if camera is not None and not re.fullmatch(IDENT, camera):
        raise invalid("Paramètre « camera » : identifiant de caméra invalide.")
    svc = services(request)
    now = svc.clock.now()
    tenants = visible_tenants(caller.principal, RIGHTS, now.date())
    out: list[dict[str, Any]] = []
    async with scoped(svc.pool, tenants) as conn:
        cams = [
            r for r in await accounts.cameras(conn, now)
            if any(decide(caller.principal, a, camera_ref(r), now.date()) for a in RIGHTS)
            and (camera is None or r["id"] == camera)
        ]  # fmt: skip
        ids = [str(r["id"]) for r in cams]
        faults = await db.open_faults(conn, ids) if ids else []
        runs = await db.runs(conn, ids, now - WEEK, now) if ids else []
        last = await db.last_samples(conn, ids, now - timedelta(hours=1)) if ids else []
    for r in cams:
        cam_id = str(r["id"])
        spans = [(x["start_at"], x["end_at"]) for x in runs if x["camera_id"] == cam_id]
        out.append({
            "id": cam_id, "name": r["name"], "tenant_id": r["tenant"],
            "tenant_name": r["tenant_name"], "recording": r["recording"],
            "last_segment_at": r["last_segment_at"],
            "faults": [_fault_json(f) for f in faults if f["camera_id"] == cam_id],
            "availability_24h": round(availability(now - DAY, now, spans), 4),
            "availability_7d": round(availability(now - WEEK, now, spans), 4),
            "streams": [
                {"stream": s["stream"], "at": s["at"], "bitrate_bps": s["bitrate_bps"],
                 "fps": s["fps"], "width": s["width"], "height": s["height"],
                 "clock_drift_ms": s["clock_drift_ms"]}
                for s in last if s["camera_id"] == cam_id
            ],
        })  # fmt: skip
    return ok({"at": now, "cameras": out})


async def camera_health(request: web.Request) -> web.StreamResponse:
    """One camera's samples, gaps and technical faults over ``[since, until)``
    (default: the last 24 hours; 7 days at most)."""
    caller = caller_of(request)
    cam = await _camera(request, caller, RIGHTS, request.match_info["camera_id"])
    svc = services(request)
    now = svc.clock.now()
    until: datetime = query_time(request, "until") or now
    since: datetime = query_time(request, "since") or until - DAY
    if until <= since or until - since > MAX_RANGE:
        raise invalid("Plage horaire invalide : 7 jours au plus, la fin après le début.")
    cam_id = str(cam["id"])
    async with scoped(svc.pool, {str(cam["tenant"])}) as conn:
        samples = await db.samples(conn, cam_id, since, until, MAX_SAMPLES)
        gaps = await db.gaps(conn, cam_id, since, until, MAX_ROWS)
        faults = await db.faults(conn, cam_id, since, until, MAX_ROWS)
        runs = await db.runs(conn, [cam_id], since, until)
    spans = [(x["start_at"], x["end_at"]) for x in runs]
    return ok({
        "camera": {"id": cam_id, "name": cam["name"], "tenant_id": cam["tenant"]},
        "since": since, "until": until,
        "availability": round(availability(since, min(until, now), spans), 4)
        if since < now else None,
        "samples": [dict(s) for s in samples],
        "truncated": len(samples) >= MAX_SAMPLES,
        "gaps": [dict(g) for g in gaps],
        "faults": [
            {**_fault_json(f), "closed_at": f["closed_at"]} for f in faults
        ],
    })  # fmt: skip


_TIME: dict[str, object] = {"type": "string", "format": "date-time"}
ROUTES = [
    Route(
        "GET", "/api/v1/health/cameras", overview,
        "Santé des caméras : défauts ouverts, disponibilité sur 24 h et 7 jours, dernières "
        "mesures", "alertes",
        query=(Param("camera", {"type": "string"}, "Une seule caméra"),),
        responses={200: "Caméras dont l'appelant traite les alertes techniques"},
    ),
    Route(
        "GET", "/api/v1/cameras/{camera_id}/health", camera_health,
        "Santé d'une caméra : mesures (débit, images/s, résolution, dérive d'horloge), "
        "coupures et défauts sur une période", "alertes",
        query=(
            Param("since", _TIME, "Début (défaut : 24 h avant la fin)"),
            Param("until", _TIME, "Fin (défaut : maintenant ; 7 jours au plus)"),
        ),
        responses={200: "Mesures, coupures et défauts"},
    ),
]  # fmt: skip
