"""User administration: accounts, habilitation, grants, resets, CSV export/import.

An administrator manages the accounts whose home tenant is one where they hold
``admin_users``, and may grant rights only on tenants where they hold it too: nobody
hands out more than they administer. Every change is in the audit log."""

from __future__ import annotations

import enum
import secrets
from collections.abc import Mapping
from datetime import date
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from vms.db import accounts
from vms.db.accounts import UserRow
from vms.db.scope import service
from vms.domain import users_csv
from vms.domain.access import Action, Grant, Habilitation, Role, decide, visible_tenants
from vms.errors import invalid
from vms.security.passwords import check_password
from vms.web.auth import Caller, caller_of, client_ip, services
from vms.web.http import body_of, ok, path_int, refuse
from vms.web.routes import Param, Route

LOGIN = r"^[a-z0-9][a-z0-9._@-]{1,63}$"
IDENT = r"^[a-z0-9][a-z0-9_-]{0,63}$"
MFA_BY_DEFAULT = frozenset({Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN, Role.AUDITOR})
MAX_CSV = 2 * 1024 * 1024


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Habilitated(_Body):
    habilitation: Habilitation | None = None
    habilitation_ref: str | None = Field(None, min_length=1, max_length=200)
    habilitation_expires_on: date | None = None

    @model_validator(mode="after")
    def _complete(self) -> _Habilitated:
        if self.habilitation is not None and not (
            self.habilitation_ref and self.habilitation_expires_on
        ):
            raise ValueError(
                "une habilitation exige la référence de l'acte de désignation et sa date d'échéance"
            )
        return self


class NewUser(_Habilitated):
    login: str = Field(pattern=LOGIN, description="Identifiant (minuscules).")
    display_name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    role: Role
    tenant: str = Field(pattern=IDENT, description="Commune, intercommunalité ou CSD.")
    mfa_required: bool | None = Field(
        None,
        description="Absent : obligatoire pour les opérateurs, superviseurs, "
        "administrateurs et auditeurs.",
    )
    password_valid_days: int | None = Field(None, ge=1, le=3650)
    password: str = Field(min_length=1, max_length=256, description="Mot de passe provisoire.")


class UserPatch(_Habilitated):
    display_name: str | None = Field(None, min_length=1, max_length=200)
    email: str | None = Field(None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    role: Role | None = None
    mfa_required: bool | None = None
    password_valid_days: int | None = Field(None, ge=1, le=3650)
    disabled: bool | None = None


class ResetBody(_Body):
    password: str = Field(min_length=1, max_length=256, description="Mot de passe provisoire.")


class GrantItem(_Body):
    action: Action
    tenant: str = Field(pattern=IDENT)
    camera_group: str | None = Field(None, pattern=IDENT)


class GrantsBody(_Body):
    grants: list[GrantItem] = Field(max_length=1000)


def _admin_tenants(request: web.Request, caller: Caller) -> frozenset[str]:
    today = services(request).clock.now().date()
    return visible_tenants(caller.principal, Action.ADMIN_USERS, today)


async def _managed(request: web.Request, caller: Caller) -> UserRow:
    """The account named in the path, if the caller administers its tenant (404
    otherwise: an account of another commune does not exist for them)."""
    user_id = path_int(request, "user_id")
    svc = services(request)
    async with service(svc.pool) as conn:
        user = await accounts.user_by_id(conn, user_id)
    if user is None or user.home_tenant_id not in _admin_tenants(request, caller):
        await refuse(
            request, caller, "compte hors du périmètre d'administration",
            target=f"utilisateur:{user_id}", hide=True,
        )  # fmt: skip
    assert user is not None
    return user


async def _audit(
    request: web.Request, caller: Caller, action: str, user: UserRow | str, tenant: str,
    detail: Mapping[str, object] | None = None,
) -> None:  # fmt: skip
    login = user if isinstance(user, str) else user.login
    await services(request).audit.append(
        caller.actor, action, tenant=tenant, target=f"utilisateur:{login}",
        detail=dict(detail) if detail else None, source_ip=client_ip(request),
    )  # fmt: skip


async def list_users(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    tenants = _admin_tenants(request, caller)
    if not tenants:
        await refuse(request, caller, "droit « admin_users » requis")
    async with service(services(request).pool) as conn:
        users = await accounts.users_of(conn, tenants)
    return ok({"users": [u.public() for u in users]})


async def create_user(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    body = await body_of(request, NewUser)
    svc = services(request)
    today = svc.clock.now().date()
    decision = decide(caller.principal, Action.ADMIN_USERS, None, today, tenant=body.tenant)
    if not decision:
        await refuse(request, caller, decision, target=f"utilisateur:{body.login}",
                     tenant=body.tenant)  # fmt: skip
    mfa = body.mfa_required if body.mfa_required is not None else body.role in MFA_BY_DEFAULT
    check_password(svc.policy, body.password, login=body.login, with_mfa=mfa)
    fields = _plain(body.model_dump(exclude={"password"}))
    fields["mfa_required"] = mfa
    fields["must_change_password"] = True
    async with service(svc.pool) as conn:
        if await accounts.user_by_login(conn, body.login) is not None:
            raise invalid(f"L'identifiant « {body.login} » existe déjà.")
        if body.tenant not in {str(t["id"]) for t in await accounts.all_tenants(conn)}:
            raise invalid(f"Commune inconnue : « {body.tenant} ».")
        user_id = await accounts.create_user(conn, fields, svc.hasher.hash(body.password))
        user = await accounts.user_by_id(conn, user_id)
    assert user is not None
    await _audit(request, caller, "user.create", user, body.tenant,
                 {k: v for k, v in user.public().items() if k not in ("id",)})  # fmt: skip
    return ok(user.public(), status=201)


async def get_user(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    user = await _managed(request, caller)
    async with service(services(request).pool) as conn:
        grants = await accounts.stored_grants(conn, user.id)
    return ok({**user.public(), "grants": _grants_json(grants)})


def _plain(fields: dict[str, Any]) -> dict[str, Any]:
    """Enum members as their values, for the database."""
    return {k: (v.value if isinstance(v, enum.Enum) else v) for k, v in fields.items()}


def _grants_json(grants: frozenset[Grant]) -> list[dict[str, object]]:
    return [
        {"action": g.action.value, "tenant": g.tenant, "camera_group": g.camera_group}
        for g in sorted(grants, key=lambda g: (g.tenant, g.action.value, g.camera_group or ""))
    ]


async def patch_user(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    user = await _managed(request, caller)
    body = await body_of(request, UserPatch)
    svc = services(request)
    changes: dict[str, Any] = _plain({name: getattr(body, name) for name in body.model_fields_set})
    if changes.get("disabled") and user.id == caller.user.id:
        raise invalid("Vous ne pouvez pas désactiver votre propre compte.")
    merged = {**user.public(), **changes}
    if merged.get("habilitation") and not (
        merged.get("habilitation_ref") and merged.get("habilitation_expires_on")
    ):
        raise invalid("Une habilitation exige la référence de l'acte et sa date d'échéance.")
    for name in ("display_name", "role"):
        if name in changes and changes[name] is None:
            raise invalid(f"Champ « {name} » : valeur obligatoire.")
    if "mfa_required" in changes and changes["mfa_required"] is None:
        raise invalid("Champ « mfa_required » : booléen attendu (true ou false).")
    if "disabled" in changes and changes["disabled"] is None:
        raise invalid("Champ « disabled » : booléen attendu (true ou false).")
    async with service(svc.pool) as conn:
        await accounts.update_user(conn, user.id, changes)
        if changes.get("disabled"):
            await accounts.revoke_access(conn, user.id, svc.clock.now())
        updated = await accounts.user_by_id(conn, user.id)
    assert updated is not None
    before = user.public()
    diff = {k: {"avant": before.get(k), "apres": v} for k, v in updated.public().items()
            if before.get(k) != v}  # fmt: skip
    await _audit(request, caller, "user.update", user, user.home_tenant_id, diff)
    return ok(updated.public())


async def reset_password(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    user = await _managed(request, caller)
    body = await body_of(request, ResetBody)
    svc = services(request)
    check_password(svc.policy, body.password, login=user.login, with_mfa=user.mfa_required)
    async with service(svc.pool) as conn:
        await accounts.set_password(
            conn, user.id, svc.hasher.hash(body.password), True, svc.clock.now()
        )
        await accounts.delete_sessions_of(conn, user.id)
    await _audit(request, caller, "user.password_reset", user, user.home_tenant_id)
    return web.Response(status=204)


async def reset_mfa(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    user = await _managed(request, caller)
    svc = services(request)
    async with service(svc.pool) as conn:
        await accounts.set_totp(conn, user.id, None, None)
        await accounts.delete_sessions_of(conn, user.id)
    await _audit(request, caller, "user.mfa_reset", user, user.home_tenant_id)
    return web.Response(status=204)


async def _check_grants(
    request: web.Request, caller: Caller, user: UserRow, grants: frozenset[Grant]
) -> None:
    svc = services(request)
    today = svc.clock.now().date()
    mine = _admin_tenants(request, caller)
    async with service(svc.pool) as conn:
        reachable = await accounts.reachable_tenants(conn, user.home_tenant_id, today)
        for g in sorted(grants, key=lambda g: (g.tenant, g.action.value)):
            if g.tenant not in mine:
                await refuse(request, caller, f"droit « admin_users » requis sur {g.tenant}",
                             target=f"utilisateur:{user.login}", tenant=g.tenant)  # fmt: skip
            if g.tenant not in reachable:
                raise invalid(
                    f"« {g.tenant} » n'est ni la commune de {user.login}, ni une commune de son "
                    "intercommunalité, ni couverte par une convention en vigueur."
                )
            if g.camera_group is not None:
                owner = await accounts.group_tenant(conn, g.camera_group)
                if owner != g.tenant:
                    raise invalid(f"Groupe de caméras « {g.camera_group} » inconnu à {g.tenant}.")


async def put_grants(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    user = await _managed(request, caller)
    body = await body_of(request, GrantsBody)
    svc = services(request)
    grants = frozenset(Grant(i.action, i.tenant, i.camera_group) for i in body.grants)
    await _check_grants(request, caller, user, grants)
    mine = _admin_tenants(request, caller)
    async with service(svc.pool) as conn:
        before = await accounts.stored_grants(conn, user.id)
        # grants on tenants the caller does not administer stay as they are
        kept = frozenset(g for g in before if g.tenant not in mine)
        await accounts.set_grants(conn, user.id, grants | kept)
        after = await accounts.stored_grants(conn, user.id)
    change = {"ajoutes": _grants_json(after - before), "retires": _grants_json(before - after)}
    await _audit(request, caller, "user.grants", user, user.home_tenant_id, change)
    return ok({"grants": _grants_json(after)})


# -- CSV export / import (EVD-01) -------------------------------------------------------


def _record(user: UserRow, grants: frozenset[Grant]) -> users_csv.UserRecord:
    return users_csv.UserRecord(
        login=user.login,
        display_name=user.display_name,
        email=user.email,
        role=Role(user.role),
        tenant=user.home_tenant_id,
        habilitation=Habilitation(user.habilitation) if user.habilitation else None,
        habilitation_ref=user.habilitation_ref,
        habilitation_expires_on=user.habilitation_expires_on,
        mfa_required=user.mfa_required,
        password_valid_days=user.password_valid_days,
        disabled=user.disabled,
        grants=grants,
    )


async def _current(
    request: web.Request, tenants: frozenset[str]
) -> dict[str, tuple[UserRow, users_csv.UserRecord]]:
    async with service(services(request).pool) as conn:
        users = await accounts.users_of(conn, tenants)
        grants = await accounts.grants_of(conn, [u.id for u in users])
    return {u.login: (u, _record(u, grants.get(u.id, frozenset()))) for u in users}


async def export_csv(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    tenants = _admin_tenants(request, caller)
    if not tenants:
        await refuse(request, caller, "droit « admin_users » requis")
    current = await _current(request, tenants)
    text = users_csv.dump(record for _, record in current.values())
    await services(request).audit.append(
        caller.actor, "user.export", tenant=caller.user.home_tenant_id,
        detail={"comptes": len(current), "communes": sorted(tenants)},
        source_ip=client_ip(request),
    )  # fmt: skip
    return web.Response(
        text=text, content_type="text/csv", charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="utilisateurs.csv"'},
    )  # fmt: skip


async def import_csv(request: web.Request) -> web.StreamResponse:
    """Dry run by default: ``dry_run=false`` applies, and only a file without errors."""
    caller = caller_of(request)
    svc = services(request)
    tenants = _admin_tenants(request, caller)
    if not tenants:
        await refuse(request, caller, "droit « admin_users » requis")
    dry_run = request.query.get("dry_run", "true").lower() not in ("false", "0", "non", "no")
    raw = await request.content.read(MAX_CSV + 1)
    if len(raw) > MAX_CSV:
        raise invalid("Fichier trop volumineux (2 Mo au maximum).")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise invalid("Fichier illisible : encodage UTF-8 attendu.") from err
    records, line_errors = users_csv.parse(text)
    errors = [{"ligne": e.line, "message": e.message} for e in line_errors]
    for r in records:
        outside = sorted({r.tenant, *(g.tenant for g in r.grants)} - tenants)
        if outside:
            errors.append({"ligne": None, "message": f"{r.login} : communes hors de votre "
                           f"périmètre d'administration : {', '.join(outside)}"})  # fmt: skip
    current = await _current(request, tenants)
    async with service(svc.pool) as conn:
        known = {str(t["id"]) for t in await accounts.all_tenants(conn)}
        for r in records:
            if r.login not in current and await accounts.user_by_login(conn, r.login):
                errors.append({"ligne": None, "message": f"{r.login} : l'identifiant existe "
                               "dans une autre commune"})  # fmt: skip
            if r.tenant not in known:
                errors.append({"ligne": None, "message": f"{r.login} : commune inconnue "
                               f"« {r.tenant} »"})  # fmt: skip
    plan = users_csv.plan({k: rec for k, (_, rec) in current.items()}, records)
    report: dict[str, object] = {**plan.report(), "errors": errors, "dry_run": dry_run,
                                 "applied": False}  # fmt: skip
    if errors:
        report["erreur"] = {
            "code": "invalid_argument",
            "message": f"Le fichier comporte {len(errors)} erreur(s) : rien n'a été appliqué.",
        }
        return ok(report, status=400)
    if dry_run:
        return ok(report)
    now = svc.clock.now()
    async with service(svc.pool) as conn:
        for r in plan.created:
            fields = _fields(r)
            fields["must_change_password"] = True
            # no password travels in the file: an administrator sets one with a reset
            user_id = await accounts.create_user(
                conn, fields, svc.hasher.hash(secrets.token_urlsafe(32))
            )
            await accounts.set_grants(conn, user_id, r.grants)
        for r, _changes in plan.updated:
            row = current[r.login][0]
            await accounts.update_user(conn, row.id, {k: v for k, v in _fields(r).items()
                                                      if k not in ("login", "tenant")})  # fmt: skip
            await accounts.set_grants(conn, row.id, r.grants)
            if r.disabled:
                await accounts.revoke_access(conn, row.id, now)
    report["applied"] = True
    await svc.audit.append(
        caller.actor, "user.import", tenant=caller.user.home_tenant_id,
        detail={"crees": [r.login for r in plan.created],
                "modifies": [r.login for r, _ in plan.updated]},
        source_ip=client_ip(request),
    )  # fmt: skip
    return ok(report)


def _fields(r: users_csv.UserRecord) -> dict[str, object]:
    return {
        "login": r.login, "display_name": r.display_name, "email": r.email,
        "role": r.role.value, "tenant": r.tenant,
        "habilitation": r.habilitation.value if r.habilitation else None,
        "habilitation_ref": r.habilitation_ref,
        "habilitation_expires_on": r.habilitation_expires_on,
        "mfa_required": r.mfa_required, "password_valid_days": r.password_valid_days,
        "disabled": r.disabled,
    }  # fmt: skip


_USER = "/api/v1/users/{user_id}"
ROUTES = (
    Route("GET", "/api/v1/users", list_users, "Comptes administrés", "users",
          responses={200: "Comptes", 403: "Droit admin_users requis"}),
    Route("POST", "/api/v1/users", create_user, "Crée un compte", "users", body=NewUser,
          responses={201: "Compte créé (mot de passe provisoire à changer)",
                     400: "Données invalides", 403: "Droit admin_users requis"}),
    Route("GET", "/api/v1/users/export.csv", export_csv, "Export CSV des comptes (EVD-01)",
          "users", response_media="text/csv", responses={200: "Fichier CSV"}),
    Route("POST", "/api/v1/users/import", import_csv, "Import CSV des comptes (EVD-01)", "users",
          body_media="text/csv",
          query=(Param("dry_run", {"type": "boolean", "default": True},
                       "true (défaut) : rapport sans rien modifier"),),
          responses={200: "Rapport (et application si dry_run=false)",
                     400: "Erreurs : rien n'est appliqué"}),
    Route("GET", _USER, get_user, "Un compte et ses droits", "users",
          responses={200: "Compte", 404: "Inconnu ou hors périmètre"}),
    Route("PATCH", _USER, patch_user, "Modifie un compte (habilitation, désactivation...)",
          "users", body=UserPatch, responses={200: "Compte modifié", 404: "Hors périmètre"}),
    Route("POST", _USER + "/password-reset", reset_password,
          "Réinitialise le mot de passe (provisoire)", "users", body=ResetBody,
          responses={204: "Réinitialisé ; sessions fermées", 404: "Hors périmètre"}),
    Route("POST", _USER + "/mfa-reset", reset_mfa, "Réinitialise le second facteur", "users",
          responses={204: "Second facteur à ré-enrôler", 404: "Hors périmètre"}),
    Route("PUT", _USER + "/grants", put_grants, "Remplace les droits d'un compte", "users",
          body=GrantsBody, responses={200: "Droits enregistrés", 403: "Hors périmètre"}),
)  # fmt: skip
