"""Health, Prometheus metrics and the OpenAPI document (no session needed)."""

from __future__ import annotations

import psycopg
from aiohttp import web
from psycopg_pool import PoolTimeout

from vms.db.scope import service
from vms.web.auth import services
from vms.web.http import ok
from vms.web.openapi import document
from vms.web.routes import ROUTE_TABLE, Route


async def health(request: web.Request) -> web.StreamResponse:
    svc = services(request)
    try:
        async with service(svc.pool) as conn:
            await conn.execute("SELECT 1")
    except (psycopg.Error, PoolTimeout):
        return ok({"status": "degrade", "database": "indisponible"}, status=503)
    return ok({"status": "ok", "database": "ok"})


async def metrics(request: web.Request) -> web.StreamResponse:
    svc = services(request)
    gauges: dict[str, tuple[str, float]] = {}
    try:
        async with service(svc.pool) as conn:
            row = await (
                await conn.execute(
                    "SELECT count(*) AS n FROM sessions WHERE expires_at > %s", (svc.clock.now(),)
                )
            ).fetchone()
        count = float(str(row["n"])) if row else 0.0
        gauges["vms_sessions_open"] = ("Console sessions not yet expired.", count)
    except (psycopg.Error, PoolTimeout):
        gauges["vms_database_up"] = ("1 when the database answers.", 0.0)
    else:
        gauges["vms_database_up"] = ("1 when the database answers.", 1.0)
    pool = svc.pool.get_stats()
    gauges["vms_db_pool_connections"] = (
        "Open database connections.",
        float(pool.get("pool_size", 0)),
    )
    return web.Response(
        text=svc.metrics.render(gauges), content_type="text/plain", charset="utf-8",
        headers={"X-Content-Type-Options": "nosniff"},
    )  # fmt: skip


async def openapi(request: web.Request) -> web.StreamResponse:
    routes = tuple(request.app[ROUTE_TABLE].values())
    return web.json_response(document(routes))


ROUTES: tuple[Route, ...] = (
    Route("GET", "/healthz", health, "État du service", "system", access="public",
          responses={200: "Service et base disponibles", 503: "Base indisponible"}),
    Route("GET", "/metrics", metrics, "Métriques Prometheus", "system", access="public",
          response_media="text/plain", responses={200: "Format texte Prometheus"}),
    Route("GET", "/api/v1/openapi.json", openapi, "Ce document OpenAPI", "system",
          access="public", responses={200: "Document OpenAPI 3.1"}),
)  # fmt: skip
