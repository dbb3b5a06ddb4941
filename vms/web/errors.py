"""The one mapping from error kinds to HTTP status, and the JSON error body."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from vms.errors import ErrorKind, VmsError

logger = logging.getLogger(__name__)

STATUS = {
    ErrorKind.INVALID_ARGUMENT: 400,
    ErrorKind.UNAUTHENTICATED: 401,
    ErrorKind.PERMISSION_DENIED: 403,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.FAILED_PRECONDITION: 409,
    ErrorKind.TOO_MANY_REQUESTS: 429,
    ErrorKind.UNAVAILABLE: 503,
    ErrorKind.INTERNAL: 500,
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(kind: ErrorKind, message: str) -> web.Response:
    return web.json_response(
        {"erreur": {"code": kind.value, "message": message}}, status=STATUS[kind]
    )


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except VmsError as err:
        if err.kind is ErrorKind.INTERNAL or err.kind is ErrorKind.UNAVAILABLE:
            logger.error("%s %s: %s (%s)", request.method, request.path, err, err.detail)
        return error_response(err.kind, err.message)
    except web.HTTPException as exc:
        if exc.status >= 400 and request.path.startswith("/api/"):
            text = {
                404: "Ressource introuvable.",
                405: "Méthode non permise.",
                413: "Requête trop volumineuse.",
            }.get(exc.status, exc.reason)
            return web.json_response(
                {"erreur": {"code": str(exc.status), "message": text}}, status=exc.status
            )
        raise
    except Exception:
        logger.exception("%s %s: internal error", request.method, request.path)
        return error_response(ErrorKind.INTERNAL, "Erreur interne du service.")


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if response.prepared:  # a WebSocket: its headers are already sent
        return response
    response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
        "style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'",
    )
    response.headers.setdefault("Cache-Control", "no-store")
    return response
