"""API tokens for machine clients: each acts for its user, narrowed to its scopes.
The token is shown once; the database keeps its SHA-256."""

from __future__ import annotations

import secrets
from datetime import timedelta

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from vms.db import accounts
from vms.db.scope import service
from vms.domain.access import Action
from vms.errors import invalid, not_found
from vms.web.auth import caller_of, client_ip, services, token_hash
from vms.web.http import body_of, ok, path_int
from vms.web.routes import Route


class TokenBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, description="À quoi sert le jeton.")
    scopes: list[Action] = Field(min_length=1, max_length=20)
    expires_in_days: int = Field(90, ge=1, le=365)


async def list_tokens(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    async with service(services(request).pool) as conn:
        tokens = await accounts.list_tokens(conn, caller.user.id)
    return ok({"tokens": tokens})


async def create_token(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    body = await body_of(request, TokenBody)
    svc = services(request)
    held = {g.action for g in caller.principal.grants}
    missing = sorted(a.value for a in set(body.scopes) - held)
    if missing:
        raise invalid(f"Vous ne détenez pas ces droits : {', '.join(missing)}.")
    token = "vms_" + secrets.token_urlsafe(32)
    now = svc.clock.now()
    expires = now + timedelta(days=body.expires_in_days)
    scopes = sorted({a.value for a in body.scopes})
    async with service(svc.pool) as conn:
        token_id = await accounts.create_token(
            conn, caller.user.id, body.name, token_hash(token), scopes, now, expires
        )
    await svc.audit.append(
        caller.actor, "token.create", tenant=caller.user.home_tenant_id,
        target=f"jeton:{token_id}", detail={"nom": body.name, "droits": scopes,
                                             "expire": expires.isoformat()},
        source_ip=client_ip(request),
    )  # fmt: skip
    return ok({"id": token_id, "name": body.name, "scopes": scopes, "expires_at": expires,
               "token": token}, status=201)  # fmt: skip


async def revoke_token(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    svc = services(request)
    token_id = path_int(request, "token_id")
    async with service(svc.pool) as conn:
        done = await accounts.revoke_token(conn, caller.user.id, token_id, svc.clock.now())
    if not done:
        raise not_found("Jeton introuvable ou déjà révoqué.")
    await svc.audit.append(
        caller.actor, "token.revoke", tenant=caller.user.home_tenant_id,
        target=f"jeton:{token_id}", source_ip=client_ip(request),
    )  # fmt: skip
    return web.Response(status=204)


ROUTES = (
    Route("GET", "/api/v1/tokens", list_tokens, "Mes jetons d'accès", "tokens",
          responses={200: "Jetons (sans leur valeur)"}),
    Route("POST", "/api/v1/tokens", create_token, "Crée un jeton d'accès (affiché une fois)",
          "tokens", body=TokenBody, cookie_only=True,
          responses={201: "Jeton créé", 400: "Droits non détenus"}),
    Route("DELETE", "/api/v1/tokens/{token_id}", revoke_token, "Révoque un de mes jetons",
          "tokens", responses={204: "Révoqué", 404: "Inconnu"}),
)  # fmt: skip
