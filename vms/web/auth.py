"""Sign-in, second factor, sessions, CSRF and API tokens.

Sessions: the cookie carries a random token (256 bits); the database keeps only its
SHA-256. A new token is issued at every privilege change (password accepted, second
factor accepted), so a token planted before sign-in is worthless (fixation). State-
changing requests authenticated by cookie must echo the session's CSRF token in the
``X-CSRF-Token`` header. API tokens (``Authorization: Bearer``) need no CSRF token and
act with their user's grants narrowed to their scopes.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from aiohttp import web

from vms.db import accounts
from vms.db.accounts import SessionRow, UserRow
from vms.db.scope import service
from vms.domain.access import Action, Principal
from vms.errors import denied, invalid, throttled, unauthenticated
from vms.security import totp
from vms.web.context import SERVICES, Services

logger = logging.getLogger(__name__)

COOKIE = "vms_session"
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the principal, how they authenticated, their session."""

    principal: Principal
    user: UserRow
    session: SessionRow | None
    token_name: str | None = None

    @property
    def actor(self) -> str:
        return (
            f"{self.user.login} (jeton {self.token_name})" if self.token_name else self.user.login
        )


CALLER = web.RequestKey("caller", Caller)


def client_ip(request: web.Request) -> str | None:
    return request.remote


def services(request: web.Request) -> Services:
    return request.app[SERVICES]


def set_cookie(response: web.StreamResponse, token: str, max_age: int) -> None:
    response.set_cookie(
        COOKIE, token, max_age=max_age, path="/", secure=True, httponly=True, samesite="Strict"
    )


def clear_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="Strict")


async def open_session(
    request: web.Request, user: UserRow, mfa_done: bool
) -> tuple[SessionRow, str]:
    """A fresh session for ``user`` and its token; the session the request came with,
    if any, ends (a new token at each step: no fixation). Set the token with
    ``set_cookie`` on the response."""
    svc = services(request)
    token = secrets.token_urlsafe(32)
    now = svc.clock.now()
    expires = now + timedelta(hours=svc.config.session_max_hours)
    csrf = secrets.token_urlsafe(24)
    old = request.cookies.get(COOKIE)
    async with service(svc.pool) as conn:
        if old:
            await accounts.delete_session(conn, token_hash(old))
        await accounts.create_session(
            conn, token_hash(token), user.id, now, expires, mfa_done, csrf,
            client_ip(request), request.headers.get("User-Agent"),
        )  # fmt: skip
    return SessionRow(token_hash(token), user.id, now, now, expires, mfa_done, csrf), token


def with_session(request: web.Request, data: dict[str, object], token: str) -> web.Response:
    """A JSON response that sets the session cookie."""
    response = web.json_response(data)
    set_cookie(response, token, services(request).config.session_max_hours * 3600)
    return response


async def load_principal(svc: Services, user: UserRow) -> Principal:
    async with service(svc.pool) as conn:
        grants = await accounts.effective_grants(conn, user, svc.clock.now().date())
    return accounts.principal_of(user, grants)


async def authenticate(request: web.Request) -> Caller | None:
    """The caller of ``request`` from its bearer token or session cookie, or None."""
    svc = services(request)
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        async with service(svc.pool) as conn:
            owner = await accounts.token_owner(
                conn, token_hash(header[7:].strip()), svc.clock.now()
            )
            user = await accounts.user_by_id(conn, owner[0]) if owner else None
        if owner is None or user is None or user.disabled:
            raise unauthenticated("Jeton d'accès invalide, expiré ou révoqué.")
        principal = await load_principal(svc, user)
        scopes = {Action(s) for s in owner[2] if s in Action._value2member_map_}
        narrowed = frozenset(g for g in principal.grants if g.action in scopes)
        return Caller(replace(principal, grants=narrowed), user, None, owner[1])
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    now = svc.clock.now()
    async with service(svc.pool) as conn:
        session = await accounts.load_session(conn, token_hash(token))
        if session is None:
            return None
        idle = timedelta(minutes=svc.config.session_idle_minutes)
        if session.expires_at <= now or session.last_seen_at + idle <= now:
            await accounts.delete_session(conn, session.id_hash)
            return None
        user = await accounts.user_by_id(conn, session.user_id)
        if user is None or user.disabled:
            await accounts.delete_session(conn, session.id_hash)
            return None
        await accounts.touch_session(conn, session.id_hash, now)
    return Caller(await load_principal(svc, user), user, session)


def check_csrf(request: web.Request, caller: Caller) -> None:
    if request.method in _SAFE or caller.session is None:
        return
    sent = request.headers.get("X-CSRF-Token", "")
    if not hmac.compare_digest(sent.encode(), caller.session.csrf_token.encode()):
        raise denied("Jeton anti-CSRF absent ou invalide : rechargez la page.")


def caller_of(request: web.Request) -> Caller:
    try:
        return request[CALLER]
    except KeyError:
        raise unauthenticated("Authentification requise.") from None


def throttle(request: web.Request) -> None:
    svc = services(request)
    if not svc.throttle.allow(client_ip(request) or "?", svc.clock.monotonic()):
        svc.metrics.logins["throttled"] += 1
        raise throttled("Trop de tentatives depuis cette adresse : patientez une minute.")


async def verify_password(request: web.Request, login: str, password: str) -> UserRow:
    """Check a login and password, with throttling and lockout. Every outcome is audited."""
    svc = services(request)
    throttle(request)
    ip = client_ip(request)
    login = login.strip().lower()
    async with service(svc.pool) as conn:
        user = await accounts.user_by_login(conn, login)
    if user is None:
        svc.hasher.verify(svc.dummy_hash, password)  # same time as a known login
        svc.metrics.logins["failure"] += 1
        await svc.audit.append(
            login[:64] or "?", "auth.login.failure", detail={"raison": "identifiant inconnu"},
            source_ip=ip,
        )  # fmt: skip
        raise unauthenticated("Identifiant ou mot de passe incorrect.")
    now = svc.clock.now()
    if user.locked_until is not None and user.locked_until > now:
        svc.metrics.logins["locked"] += 1
        await svc.audit.append(
            user.login, "auth.login.refused", tenant=user.home_tenant_id,
            detail={"raison": "compte verrouillé"}, source_ip=ip,
        )  # fmt: skip
        raise denied(
            "Compte temporairement verrouillé après des échecs répétés : réessayez plus tard "
            "ou contactez un administrateur."
        )
    if not svc.hasher.verify(user.password_hash, password):
        await register_failure(request, user, "auth.login.failure", "mot de passe incorrect")
        raise unauthenticated("Identifiant ou mot de passe incorrect.")
    if user.disabled:
        svc.metrics.logins["disabled"] += 1
        await svc.audit.append(
            user.login, "auth.login.refused", tenant=user.home_tenant_id,
            detail={"raison": "compte désactivé"}, source_ip=ip,
        )  # fmt: skip
        raise denied("Compte désactivé : contactez un administrateur.")
    async with service(svc.pool) as conn:
        await accounts.record_success(conn, user.id)
        if svc.hasher.needs_rehash(user.password_hash):
            await accounts.set_password(
                conn, user.id, svc.hasher.hash(password), user.must_change_password, now
            )
    return user


async def register_failure(request: web.Request, user: UserRow, action: str, reason: str) -> None:
    """Count a failed password or code; lock the account after too many."""
    svc = services(request)
    async with service(svc.pool) as conn:
        locked = await accounts.record_failure(
            conn, user.id, svc.config.lockout_after, svc.config.lockout_minutes * 60,
            svc.clock.now(),
        )  # fmt: skip
    svc.metrics.logins["failure"] += 1
    await svc.audit.append(
        user.login, action, tenant=user.home_tenant_id,
        detail={"raison": reason, "verrouillage": locked}, source_ip=client_ip(request),
    )  # fmt: skip


def password_expired(user: UserRow, now: datetime) -> bool:
    """EVD-02: an administrator may force a validity period."""
    if user.password_valid_days is None:
        return False
    return user.password_changed_at + timedelta(days=user.password_valid_days) <= now


async def accept_totp(request: web.Request, caller: Caller, code: str) -> None:
    """Check a TOTP code for the caller's session (confirming an enrolment if one is
    pending). A wrong or replayed code counts as a failed sign-in."""
    svc = services(request)
    throttle(request)
    user = caller.user
    session = caller.session
    if session is None:
        raise invalid("Aucune session en cours.")
    if user.locked_until is not None and user.locked_until > svc.clock.now():
        raise denied("Compte temporairement verrouillé après des échecs répétés.")
    async with service(svc.pool) as conn:
        pending = await accounts.pending_totp(conn, session.id_hash)
    secret = user.totp_secret or pending
    if not secret:
        raise invalid("Aucun second facteur enrôlé : demandez d'abord un secret d'enrôlement.")
    step = totp.verify(
        secret, code, svc.clock.now().timestamp(), last_used_step=user.totp_last_step
    )
    async with service(svc.pool) as conn:
        ok = step is not None and await accounts.use_totp_step(conn, user.id, step)
        if ok and user.totp_secret is None:
            await accounts.set_totp(conn, user.id, secret, step)
        if ok:
            await accounts.record_success(conn, user.id)
    if not ok:
        await register_failure(request, user, "auth.mfa.failure", "code incorrect ou rejoué")
        raise unauthenticated("Code de vérification incorrect ou déjà utilisé.")
    if user.totp_secret is None:
        await svc.audit.append(
            user.login, "auth.mfa.enrolled", tenant=user.home_tenant_id,
            source_ip=client_ip(request),
        )  # fmt: skip


async def start_enrolment(request: web.Request, caller: Caller) -> tuple[str, str]:
    """Offer a new TOTP secret to a user who has none yet: (secret, otpauth URI)."""
    svc = services(request)
    if caller.user.totp_secret is not None or caller.session is None:
        raise invalid("Le second facteur est déjà enrôlé pour ce compte.")
    secret = totp.new_secret()
    async with service(svc.pool) as conn:
        await accounts.set_pending_totp(conn, caller.session.id_hash, secret)
    return secret, totp.provisioning_uri(secret, caller.user.login)
