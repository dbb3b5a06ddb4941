"""Sign-in, second factor, sign-out, password change and the caller's profile."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from vms.db import accounts
from vms.db.scope import service
from vms.domain.access import Action, habilitation_in_force
from vms.errors import invalid
from vms.security.passwords import check_password
from vms.web.auth import (
    COOKIE,
    accept_totp,
    caller_of,
    clear_cookie,
    client_ip,
    open_session,
    password_expired,
    register_failure,
    services,
    start_enrolment,
    token_hash,
    verify_password,
    with_session,
)
from vms.web.http import body_of, ok
from vms.web.routes import Route


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginBody(_Body):
    login: str = Field(min_length=1, max_length=64, description="Identifiant.")
    password: str = Field(min_length=1, max_length=256, description="Mot de passe.")


class CodeBody(_Body):
    code: str = Field(min_length=6, max_length=6, description="Code à 6 chiffres de l'application.")


class PasswordBody(_Body):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


async def login(request: web.Request) -> web.StreamResponse:
    body = await body_of(request, LoginBody)
    user = await verify_password(request, body.login, body.password)
    svc = services(request)
    mfa_due = user.mfa_required
    session, token = await open_session(request, user, mfa_done=not mfa_due)
    if mfa_due:
        step = "totp" if user.totp_secret else "enroll"
    else:
        step = "done"
        svc.metrics.logins["success"] += 1
        await svc.audit.append(
            user.login, "auth.login.success", tenant=user.home_tenant_id,
            detail={"second_facteur": False}, source_ip=client_ip(request),
        )  # fmt: skip
    must_change = user.must_change_password or password_expired(user, svc.clock.now())
    return with_session(
        request,
        {"next": step, "csrf_token": session.csrf_token, "must_change_password": must_change},
        token,
    )


async def enroll(request: web.Request) -> web.StreamResponse:
    secret, uri = await start_enrolment(request, caller_of(request))
    return ok({"secret": secret, "otpauth_uri": uri})


async def verify_code(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    body = await body_of(request, CodeBody)
    svc = services(request)
    if caller.session is not None and caller.session.mfa_done:
        raise invalid("Le second facteur a déjà été vérifié pour cette session.")
    await accept_totp(request, caller, body.code)
    session, token = await open_session(request, caller.user, mfa_done=True)
    svc.metrics.logins["success"] += 1
    await svc.audit.append(
        caller.user.login, "auth.login.success", tenant=caller.user.home_tenant_id,
        detail={"second_facteur": True}, source_ip=client_ip(request),
    )  # fmt: skip
    must_change = caller.user.must_change_password or password_expired(caller.user, svc.clock.now())
    return with_session(
        request,
        {"next": "done", "csrf_token": session.csrf_token, "must_change_password": must_change},
        token,
    )


async def _signed_out(
    request: web.Request, action: str, detail: dict[str, object] | None = None
) -> web.StreamResponse:
    caller = caller_of(request)
    await services(request).audit.append(
        caller.user.login, action, tenant=caller.user.home_tenant_id, detail=detail,
        source_ip=client_ip(request),
    )  # fmt: skip
    response = web.Response(status=204)
    clear_cookie(response)
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    async with service(services(request).pool) as conn:
        await accounts.delete_session(conn, token_hash(request.cookies.get(COOKIE, "")))
    return await _signed_out(request, "auth.logout")


async def logout_everywhere(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    async with service(services(request).pool) as conn:
        ended = await accounts.delete_sessions_of(conn, caller.user.id)
    return await _signed_out(request, "auth.logout_everywhere", {"sessions_fermees": ended})


async def change_password(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    body = await body_of(request, PasswordBody)
    svc = services(request)
    user = caller.user
    if not svc.hasher.verify(user.password_hash, body.current_password):
        await register_failure(request, user, "auth.password.failure", "mot de passe actuel faux")
        raise invalid("Mot de passe actuel incorrect.")
    check_password(svc.policy, body.new_password, login=user.login, with_mfa=user.mfa_required)
    if svc.hasher.verify(user.password_hash, body.new_password):
        raise invalid("Le nouveau mot de passe doit différer de l'actuel.")
    async with service(svc.pool) as conn:
        await accounts.set_password(
            conn, user.id, svc.hasher.hash(body.new_password), False, svc.clock.now()
        )
        await accounts.delete_sessions_of(conn, user.id)
    await svc.audit.append(
        user.login, "auth.password.change", tenant=user.home_tenant_id,
        source_ip=client_ip(request),
    )  # fmt: skip
    session, token = await open_session(request, user, mfa_done=True)
    return with_session(request, {"csrf_token": session.csrf_token}, token)


async def me(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    svc = services(request)
    today = svc.clock.now().date()
    user = caller.user
    rights: dict[str, list[str]] = {}
    for g in sorted(caller.principal.grants, key=lambda g: (g.action.value, g.tenant)):
        scope = g.tenant + (f"/{g.camera_group}" if g.camera_group else "")
        rights.setdefault(g.action.value, []).append(scope)
    habilitation = habilitation_in_force(caller.principal, today)
    return ok(
        {
            "user": user.public(),
            "csrf_token": caller.session.csrf_token if caller.session else None,
            "mfa_done": caller.session.mfa_done if caller.session else True,
            "must_change_password": user.must_change_password
            or password_expired(user, svc.clock.now()),
            "habilitation": {
                "type": user.habilitation,
                "reference": user.habilitation_ref,
                "expires_on": user.habilitation_expires_on,
                "in_force": habilitation.allowed,
                "status": habilitation.reason,
            },
            "rights": rights,
            "actions": [a.value for a in Action],
            "token": caller.token_name,
        }
    )


ROUTES = (
    Route("POST", "/api/v1/auth/login", login, "Connexion (identifiant et mot de passe)", "session",
          access="public", body=LoginBody,
          responses={200: "Étape suivante : done, totp ou enroll", 401: "Identifiants refusés",
                     403: "Compte verrouillé ou désactivé", 429: "Trop de tentatives"}),
    Route("POST", "/api/v1/auth/totp/enroll", enroll, "Enrôlement du second facteur (TOTP)",
          "session", access="pending", cookie_only=True,
          responses={200: "Secret et URI otpauth", 400: "Déjà enrôlé"}),
    Route("POST", "/api/v1/auth/totp", verify_code, "Vérification du code TOTP", "session",
          access="pending", body=CodeBody, cookie_only=True,
          responses={200: "Session complète", 401: "Code refusé", 429: "Trop de tentatives"}),
    Route("POST", "/api/v1/auth/logout", logout, "Déconnexion", "session", access="pending",
          cookie_only=True, responses={204: "Session fermée"}),
    Route("POST", "/api/v1/auth/logout-everywhere", logout_everywhere,
          "Déconnexion de toutes les sessions", "session", access="password", cookie_only=True,
          responses={204: "Toutes les sessions fermées"}),
    Route("POST", "/api/v1/auth/password", change_password, "Changement de mot de passe",
          "session", access="password", body=PasswordBody, cookie_only=True,
          responses={200: "Mot de passe changé", 400: "Refusé par la politique"}),
    Route("GET", "/api/v1/me", me, "Profil, habilitation et droits de l'appelant", "session",
          access="pending", responses={200: "Profil"}),
)  # fmt: skip
