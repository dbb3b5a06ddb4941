"""The JSON API under /api/v1: one module per area, each exporting ``ROUTES``."""

from __future__ import annotations

from vms.web.api import (
    alerts,
    analytics,
    audit,
    cameras,
    exports,
    health,
    holds,
    links,
    live,
    playback,
    ptz,
    reports,
    search,
    session,
    system,
    tokens,
    users,
    views,
)
from vms.web.routes import Route

ROUTES: tuple[Route, ...] = (
    *system.ROUTES,
    *session.ROUTES,
    *cameras.ROUTES,
    *users.ROUTES,
    *tokens.ROUTES,
    *audit.ROUTES,
    *live.ROUTES,
    *links.ROUTES,
    *ptz.ROUTES,
    *views.ROUTES,
    *playback.ROUTES,
    *exports.ROUTES,
    *holds.ROUTES,
    *search.ROUTES,
    *analytics.ROUTES,
    *alerts.ROUTES,
    *health.ROUTES,
    *reports.ROUTES,
)
