"""The aiohttp application: middlewares (errors, security headers, metrics,
authentication), the API routes of ``vms.web.api`` and the console's static files."""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path

from aiohttp import web

from vms.errors import denied, precondition, unauthenticated
from vms.web import api
from vms.web.api import alerts
from vms.web.auth import CALLER, authenticate, check_csrf, password_expired
from vms.web.context import SERVICES, Services
from vms.web.errors import error_middleware, security_headers
from vms.web.routes import ROUTE_TABLE, Handler, Route

STATIC = Path(str(resources.files("vms.web") / "static"))


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        request.app[SERVICES].metrics.observe(request.method, status, time.perf_counter() - started)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Apply the route's access level: public, second factor pending, password change
    pending, or fully signed in; plus the CSRF check for cookie sessions."""
    resource = request.match_info.route.resource
    route = request.app[ROUTE_TABLE].get(
        (request.method, resource.canonical if resource is not None else "")
    )
    if route is None or route.access == "public":
        return await handler(request)
    caller = await authenticate(request)
    if caller is None:
        raise unauthenticated("Authentification requise : connectez-vous.")
    if caller.session is not None:
        if not caller.session.mfa_done and route.access != "pending":
            raise unauthenticated("Second facteur requis : saisissez le code de vérification.")
        now = request.app[SERVICES].clock.now()
        must_change = caller.user.must_change_password or password_expired(caller.user, now)
        if must_change and route.access == "full":
            raise precondition("Vous devez changer votre mot de passe avant de continuer.")
    elif route.cookie_only:
        raise denied("Opération réservée à une session interactive (pas à un jeton d'accès).")
    check_csrf(request, caller)
    request[CALLER] = caller
    return await handler(request)


async def _console(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


async def _share_page(request: web.Request) -> web.FileResponse:
    """The page a live link opens (no account; the token stays in the fragment)."""
    return web.FileResponse(STATIC / "partage.html")


def build_app(svc: Services) -> web.Application:
    app = web.Application(
        middlewares=[security_headers, metrics_middleware, error_middleware, auth_middleware],
        client_max_size=2 * 1024 * 1024,
    )
    app[SERVICES] = svc
    table: dict[tuple[str, str], Route] = {}
    for route in api.ROUTES:
        app.router.add_route(route.method, route.path, route.handler)
        table[(route.method, route.path)] = route
    app[ROUTE_TABLE] = table
    alerts.install(app)  # the alerts' push: one LISTEN connection per server
    app.router.add_get("/", _console)
    app.router.add_get("/partage", _share_page)
    app.router.add_static("/static/", STATIC, follow_symlinks=False)
    return app
