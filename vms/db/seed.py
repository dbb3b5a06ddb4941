"""Accounts created from the command line: the first administrator of a production
installation (``vms users add``) and the demonstration tenants and accounts."""

from __future__ import annotations

import secrets
import string
from datetime import date, timedelta

import psycopg

from vms.domain.access import Action, Grant
from vms.security.passwords import PasswordHasher

_ALPHABET = string.ascii_letters + string.digits


def generate_password(length: int = 16) -> str:
    """Random, with the four character types the policy asks for."""
    body = "".join(secrets.choice(_ALPHABET) for _ in range(length - 4))
    classes = (string.ascii_lowercase, string.ascii_uppercase, string.digits, "!#%+-=?@")
    return body + "".join(secrets.choice(c) for c in classes)


def add_user(
    conn: psycopg.Connection,
    hasher: PasswordHasher,
    *,
    login: str,
    display_name: str,
    role: str,
    tenant: str,
    grants: frozenset[Grant],
    password: str,
    mfa_required: bool,
    habilitation: tuple[str, str, date] | None = None,
    must_change_password: bool = True,
) -> int:
    hab, ref, expires = habilitation if habilitation else (None, None, None)
    row = conn.execute(
        "INSERT INTO users (login, display_name, role, home_tenant_id, password_hash, "
        "mfa_required, habilitation, habilitation_ref, habilitation_expires_on, "
        "must_change_password) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (login, display_name, role, tenant, hasher.hash(password), mfa_required, hab, ref,
         expires, must_change_password),
    ).fetchone()  # fmt: skip
    assert row is not None
    for g in grants:
        conn.execute(
            "INSERT INTO grants (user_id, action, tenant_id, camera_group_id) "
            "VALUES (%s, %s, %s, %s)",
            (row[0], g.action.value, g.tenant, g.camera_group),
        )
    return int(row[0])


def seed_demo(conn: psycopg.Connection, hasher: PasswordHasher, today: date) -> dict[str, str]:
    """Demo tenants (a CSD, an intercommunality of two communes) and one account per
    role, once. Returns {login: password} for the accounts it created (empty if the
    installation already has accounts)."""
    if conn.execute("SELECT 1 FROM users LIMIT 1").fetchone():
        return {}
    tenants = [
        ("csd-demo", "CSD de démonstration", "csd", None),
        ("agglo-demo", "Communauté d'agglomération de démonstration", "intercommunality", None),
        ("commune-a", "Commune A", "commune", "agglo-demo"),
        ("commune-b", "Commune B", "commune", "agglo-demo"),
    ]
    for tid, name, kind, parent in tenants:
        conn.execute(
            "INSERT INTO tenants (id, name, kind, parent_id) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind, "
            "parent_id = EXCLUDED.parent_id",
            (tid, name, kind, parent),
        )
    for commune in ("commune-a", "commune-b"):
        conn.execute(
            "INSERT INTO conventions (csd_id, commune_id, reference, starts_on) "
            "VALUES ('csd-demo', %s, %s, %s)",
            (commune, f"Convention de démonstration {commune}", today),
        )
    watched = ("csd-demo", "commune-a", "commune-b")
    year = today + timedelta(days=365)

    def grants(actions: tuple[Action, ...], where: tuple[str, ...]) -> frozenset[Grant]:
        return frozenset(Grant(a, t) for a in actions for t in where)

    accounts = [
        ("admin", "Administrateur technique", "admin",
         grants((Action.ADMIN_USERS, Action.ADMIN_CAMERAS, Action.READ_AUDIT,
                 Action.CONFIGURE_ANALYTICS, Action.PLAYBACK), watched),
         True, ("admin_technique", "Arrêté de démonstration n° 1", year)),
        ("operateur", "Opérateur CSD", "operator",
         grants((Action.VIEW_LIVE, Action.PLAYBACK, Action.EXPORT, Action.PTZ,
                 Action.HANDLE_ALERTS), watched[1:]),
         True, ("operateur_csd", "Arrêté de démonstration n° 2", year)),
        ("auditeur", "Auditeur", "auditor", grants((Action.READ_AUDIT,), watched), True, None),
        ("agent.a", "Agent de police municipale (commune A)", "commune_viewer",
         grants((Action.VIEW_LIVE, Action.PLAYBACK), ("commune-a",)), False,
         ("police_municipale", "Arrêté de démonstration n° 3", year)),
    ]  # fmt: skip
    created: dict[str, str] = {}
    for login, name, role, granted, mfa, habilitation in accounts:
        password = generate_password()
        tenant = "commune-a" if login == "agent.a" else "csd-demo"
        add_user(
            conn, hasher, login=login, display_name=name, role=role, tenant=tenant,
            grants=granted, password=password, mfa_required=mfa, habilitation=habilitation,
            must_change_password=False,
        )  # fmt: skip
        created[login] = password
    return created
