"""Accounts, grants, sessions and API tokens in PostgreSQL (async, for the web tier).

Grants are filtered when a principal is loaded: a grant counts only for the user's own
commune, the communes of the user's intercommunality, or the communes a CSD watches
under a convention in force today (CSD-06). Everything else is denied by default.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from vms.db.scope import Conn
from vms.domain.access import Action, Grant, Habilitation, Principal, Role

_USER_COLUMNS = (
    "id, login, display_name, email, role, home_tenant_id, password_hash, password_changed_at, "
    "password_valid_days, must_change_password, habilitation, habilitation_ref, "
    "habilitation_expires_on, mfa_required, totp_secret, totp_last_step, disabled, "
    "failed_logins, locked_until"
)


@dataclass(frozen=True, slots=True)
class UserRow:
    id: int
    login: str
    display_name: str
    email: str | None
    role: str
    home_tenant_id: str
    password_hash: str
    password_changed_at: datetime
    password_valid_days: int | None
    must_change_password: bool
    habilitation: str | None
    habilitation_ref: str | None
    habilitation_expires_on: date | None
    mfa_required: bool
    totp_secret: str | None
    totp_last_step: int | None
    disabled: bool
    failed_logins: int
    locked_until: datetime | None

    def public(self) -> dict[str, object]:
        """What the API shows of an account (never the hash nor the TOTP secret)."""
        return {
            "id": self.id,
            "login": self.login,
            "display_name": self.display_name,
            "email": self.email,
            "role": self.role,
            "tenant": self.home_tenant_id,
            "habilitation": self.habilitation,
            "habilitation_ref": self.habilitation_ref,
            "habilitation_expires_on": (
                self.habilitation_expires_on.isoformat() if self.habilitation_expires_on else None
            ),
            "mfa_required": self.mfa_required,
            "mfa_enrolled": self.totp_secret is not None,
            "password_valid_days": self.password_valid_days,
            "disabled": self.disabled,
        }


async def user_by_login(conn: Conn, login: str) -> UserRow | None:
    cur = await conn.execute(f"SELECT {_USER_COLUMNS} FROM users WHERE login = %s", (login,))
    row = await cur.fetchone()
    return UserRow(**row) if row else None  # type: ignore[arg-type]


async def user_by_id(conn: Conn, user_id: int) -> UserRow | None:
    cur = await conn.execute(f"SELECT {_USER_COLUMNS} FROM users WHERE id = %s", (user_id,))
    row = await cur.fetchone()
    return UserRow(**row) if row else None  # type: ignore[arg-type]


async def users_of(conn: Conn, tenants: frozenset[str]) -> list[UserRow]:
    cur = await conn.execute(
        f"SELECT {_USER_COLUMNS} FROM users WHERE home_tenant_id = ANY(%s) ORDER BY login",
        (sorted(tenants),),
    )
    return [UserRow(**r) for r in await cur.fetchall()]  # type: ignore[arg-type]


async def effective_grants(conn: Conn, user: UserRow, today: date) -> frozenset[Grant]:
    """The user's grants that apply: own tenant, communes of one's intercommunality,
    communes watched under a convention in force."""
    cur = await conn.execute(
        """
        SELECT g.action, g.tenant_id, g.camera_group_id
          FROM grants g
         WHERE g.user_id = %(user)s
           AND (g.tenant_id = %(home)s
                OR g.tenant_id IN (SELECT id FROM tenants WHERE parent_id = %(home)s)
                OR EXISTS (SELECT 1 FROM conventions c
                            WHERE c.csd_id = %(home)s AND c.commune_id = g.tenant_id
                              AND c.starts_on <= %(today)s
                              AND (c.ends_on IS NULL OR c.ends_on >= %(today)s)))
        """,
        {"user": user.id, "home": user.home_tenant_id, "today": today},
    )
    return frozenset(
        Grant(Action(r["action"]), str(r["tenant_id"]), r["camera_group_id"])  # type: ignore[arg-type]
        for r in await cur.fetchall()
    )


def principal_of(user: UserRow, grants: frozenset[Grant]) -> Principal:
    return Principal(
        user_id=user.id,
        login=user.login,
        role=Role(user.role),
        home_tenant=user.home_tenant_id,
        grants=grants,
        habilitation=Habilitation(user.habilitation) if user.habilitation else None,
        habilitation_expires=user.habilitation_expires_on,
        disabled=user.disabled,
    )


async def create_user(conn: Conn, fields: dict[str, object], password_hash: str) -> int:
    cur = await conn.execute(
        """
        INSERT INTO users (login, display_name, email, role, home_tenant_id, password_hash,
                           password_valid_days, must_change_password, habilitation,
                           habilitation_ref, habilitation_expires_on, mfa_required)
        VALUES (%(login)s, %(display_name)s, %(email)s, %(role)s, %(tenant)s, %(hash)s,
                %(password_valid_days)s, %(must_change_password)s, %(habilitation)s,
                %(habilitation_ref)s, %(habilitation_expires_on)s, %(mfa_required)s)
        RETURNING id
        """,
        {**fields, "hash": password_hash},
    )
    row = await cur.fetchone()
    assert row is not None
    return int(str(row["id"]))


async def set_grants(conn: Conn, user_id: int, grants: frozenset[Grant]) -> None:
    await conn.execute("DELETE FROM grants WHERE user_id = %s", (user_id,))
    for g in sorted(grants, key=lambda g: (g.tenant, g.action.value, g.camera_group or "")):
        await conn.execute(
            "INSERT INTO grants (user_id, action, tenant_id, camera_group_id) "
            "VALUES (%s, %s, %s, %s)",
            (user_id, g.action.value, g.tenant, g.camera_group),
        )


async def stored_grants(conn: Conn, user_id: int) -> frozenset[Grant]:
    cur = await conn.execute(
        "SELECT action, tenant_id, camera_group_id FROM grants WHERE user_id = %s", (user_id,)
    )
    return frozenset(
        Grant(Action(r["action"]), str(r["tenant_id"]), r["camera_group_id"])  # type: ignore[arg-type]
        for r in await cur.fetchall()
    )


async def record_failure(
    conn: Conn, user_id: int, lock_after: int, lock_s: int, now: datetime
) -> bool:
    """Count a failed sign-in; lock the account for ``lock_s`` seconds once
    ``lock_after`` failures follow each other (the count then starts again).
    Returns True when it locked."""
    cur = await conn.execute(
        """
        UPDATE users SET
               locked_until = CASE WHEN failed_logins + 1 >= %(after)s
                                   THEN %(now)s + make_interval(secs => %(secs)s)
                                   ELSE locked_until END,
               failed_logins = CASE WHEN failed_logins + 1 >= %(after)s THEN 0
                                    ELSE failed_logins + 1 END
         WHERE id = %(id)s RETURNING locked_until > %(now)s AS locked
        """,
        {"after": lock_after, "secs": lock_s, "id": user_id, "now": now},
    )
    row = await cur.fetchone()
    return bool(row and row["locked"])


async def record_success(conn: Conn, user_id: int) -> None:
    await conn.execute(
        "UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = %s", (user_id,)
    )


async def set_password(
    conn: Conn, user_id: int, password_hash: str, must_change: bool, now: datetime
) -> None:
    await conn.execute(
        "UPDATE users SET password_hash = %s, password_changed_at = %s, "
        "must_change_password = %s, failed_logins = 0, locked_until = NULL WHERE id = %s",
        (password_hash, now, must_change, user_id),
    )


async def set_totp(conn: Conn, user_id: int, secret: str | None, last_step: int | None) -> None:
    await conn.execute(
        "UPDATE users SET totp_secret = %s, totp_last_step = %s WHERE id = %s",
        (secret, last_step, user_id),
    )


async def use_totp_step(conn: Conn, user_id: int, step: int) -> bool:
    """Record ``step`` as used; False when it (or a later one) already was (replay)."""
    cur = await conn.execute(
        "UPDATE users SET totp_last_step = %s WHERE id = %s "
        "AND (totp_last_step IS NULL OR totp_last_step < %s) RETURNING id",
        (step, user_id, step),
    )
    return await cur.fetchone() is not None


# -- sessions ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionRow:
    id_hash: str
    user_id: int
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    mfa_done: bool
    csrf_token: str


async def create_session(
    conn: Conn,
    id_hash: str,
    user_id: int,
    now: datetime,
    expires_at: datetime,
    mfa_done: bool,
    csrf_token: str,
    source_ip: str | None,
    user_agent: str | None,
) -> None:
    await conn.execute(
        "INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, expires_at, mfa_done, "
        "csrf_token, source_ip, user_agent) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            id_hash,
            user_id,
            now,
            now,
            expires_at,
            mfa_done,
            csrf_token,
            source_ip,
            (user_agent or "")[:300],
        ),
    )


async def load_session(conn: Conn, id_hash: str) -> SessionRow | None:
    cur = await conn.execute(
        "SELECT id_hash, user_id, created_at, last_seen_at, expires_at, mfa_done, csrf_token "
        "FROM sessions WHERE id_hash = %s",
        (id_hash,),
    )
    row = await cur.fetchone()
    return SessionRow(**row) if row else None  # type: ignore[arg-type]


async def touch_session(conn: Conn, id_hash: str, now: datetime) -> None:
    await conn.execute("UPDATE sessions SET last_seen_at = %s WHERE id_hash = %s", (now, id_hash))


async def pending_totp(conn: Conn, id_hash: str) -> str | None:
    cur = await conn.execute("SELECT totp_pending FROM sessions WHERE id_hash = %s", (id_hash,))
    row = await cur.fetchone()
    return str(row["totp_pending"]) if row and row["totp_pending"] else None


async def set_pending_totp(conn: Conn, id_hash: str, secret: str) -> None:
    await conn.execute(
        "UPDATE sessions SET totp_pending = %s WHERE id_hash = %s", (secret, id_hash)
    )


async def delete_session(conn: Conn, id_hash: str) -> None:
    await conn.execute("DELETE FROM sessions WHERE id_hash = %s", (id_hash,))


async def delete_sessions_of(conn: Conn, user_id: int) -> int:
    cur = await conn.execute("DELETE FROM sessions WHERE user_id = %s", (user_id,))
    return cur.rowcount


# -- API tokens -------------------------------------------------------------------------


async def create_token(
    conn: Conn,
    user_id: int,
    name: str,
    token_hash: str,
    scopes: list[str],
    now: datetime,
    expires_at: datetime | None,
) -> int:
    cur = await conn.execute(
        "INSERT INTO api_tokens (user_id, name, token_hash, scopes, created_at, expires_at) "
        "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (user_id, name, token_hash, scopes, now, expires_at),
    )
    row = await cur.fetchone()
    assert row is not None
    return int(str(row["id"]))


async def token_owner(
    conn: Conn, token_hash: str, now: datetime
) -> tuple[int, str, frozenset[str]] | None:
    """(user id, token name, scopes) of a valid token."""
    cur = await conn.execute(
        "SELECT user_id, name, scopes FROM api_tokens WHERE token_hash = %s "
        "AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > %s)",
        (token_hash, now),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    return int(str(row["user_id"])), str(row["name"]), frozenset(row["scopes"])  # type: ignore[call-overload]


# -- cameras and tenants (row-level security scopes these) ---------------------------------


_CAMERA_SELECT = """
    SELECT c.id, c.tenant_id AS tenant, c.name, t.name AS tenant_name,
           coalesce(array_agg(m.group_id ORDER BY m.group_id)
                    FILTER (WHERE m.group_id IS NOT NULL), '{}') AS groups,
           EXISTS (SELECT 1 FROM runs r WHERE r.camera_id = c.id AND r.end_at IS NULL)
             AS recording,
           (SELECT max(s.end_at) FROM segments s
             WHERE s.camera_id = c.id AND s.start_at > %(since)s) AS last_segment_at,
           c.live_enabled, c.live_share_enabled,
           coalesce((SELECT array_agg(lr.stream ORDER BY lr.stream) FROM live_relays lr
                      WHERE lr.camera_id = c.id), '{}') AS live_streams,
           EXISTS (SELECT 1 FROM ptz_relays p WHERE p.camera_id = c.id) AS ptz
      FROM cameras c
      JOIN tenants t ON t.id = c.tenant_id
      LEFT JOIN camera_group_members m ON m.camera_id = c.id
"""


async def cameras(conn: Conn, now: datetime) -> list[dict[str, object]]:
    """Every camera row-level security lets the transaction see, with its groups and
    recording state."""
    cur = await conn.execute(
        _CAMERA_SELECT + " GROUP BY c.id, t.name ORDER BY t.name, c.name",
        {"since": now - timedelta(hours=1)},
    )
    return list(await cur.fetchall())


async def camera(conn: Conn, camera_id: str, now: datetime) -> dict[str, object] | None:
    cur = await conn.execute(
        _CAMERA_SELECT + " WHERE c.id = %(id)s GROUP BY c.id, t.name",
        {"since": now - timedelta(hours=1), "id": camera_id},
    )
    return await cur.fetchone()


async def camera_groups(conn: Conn) -> list[dict[str, object]]:
    cur = await conn.execute(
        """
        SELECT g.id, g.tenant_id AS tenant, g.name,
               coalesce(array_agg(m.camera_id ORDER BY m.camera_id)
                        FILTER (WHERE m.camera_id IS NOT NULL), '{}') AS cameras
          FROM camera_groups g LEFT JOIN camera_group_members m ON m.group_id = g.id
         GROUP BY g.id ORDER BY g.tenant_id, g.name
        """
    )
    return list(await cur.fetchall())


async def group_tenant(conn: Conn, group_id: str) -> str | None:
    """The tenant of a group, whatever the transaction's scope (to refuse a foreign
    group id instead of trying to overwrite it)."""
    cur = await conn.execute("SELECT tenant_of_group(%s) AS tenant", (group_id,))
    row = await cur.fetchone()
    return str(row["tenant"]) if row and row["tenant"] else None


async def put_camera_group(
    conn: Conn, group_id: str, tenant: str, name: str, camera_ids: list[str]
) -> None:
    await conn.execute(
        "INSERT INTO camera_groups (id, tenant_id, name) VALUES (%s, %s, %s) "
        "ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name",
        (group_id, tenant, name),
    )
    await conn.execute("DELETE FROM camera_group_members WHERE group_id = %s", (group_id,))
    for camera_id in camera_ids:
        await conn.execute(
            "INSERT INTO camera_group_members (group_id, camera_id) VALUES (%s, %s)",
            (group_id, camera_id),
        )


async def tenants(conn: Conn) -> list[dict[str, object]]:
    cur = await conn.execute("SELECT id, name, kind, parent_id FROM tenants ORDER BY name")
    return list(await cur.fetchall())


# -- administration ---------------------------------------------------------------------

_EDITABLE = frozenset(
    {
        "display_name", "email", "role", "habilitation", "habilitation_ref",
        "habilitation_expires_on", "mfa_required", "password_valid_days", "disabled",
    }
)  # fmt: skip


async def update_user(conn: Conn, user_id: int, fields: dict[str, object]) -> None:
    """Change the given columns (a fixed list: names never come from the request)."""
    unknown = set(fields) - _EDITABLE
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    if not fields:
        return
    assignments = ", ".join(f"{name} = %({name})s" for name in sorted(fields))
    await conn.execute(
        f"UPDATE users SET {assignments} WHERE id = %(id)s", {**fields, "id": user_id}
    )


async def revoke_access(conn: Conn, user_id: int, now: datetime) -> None:
    """End every session and revoke every API token of a user (account disabled)."""
    await conn.execute("DELETE FROM sessions WHERE user_id = %s", (user_id,))
    await conn.execute(
        "UPDATE api_tokens SET revoked_at = %s WHERE user_id = %s AND revoked_at IS NULL",
        (now, user_id),
    )


async def reachable_tenants(conn: Conn, home: str, today: date) -> frozenset[str]:
    """Tenants a user of ``home`` may hold grants on (see ``effective_grants``)."""
    cur = await conn.execute(
        """
        SELECT %(home)s AS id
        UNION SELECT id FROM tenants WHERE parent_id = %(home)s
        UNION SELECT commune_id FROM conventions
               WHERE csd_id = %(home)s AND starts_on <= %(today)s
                 AND (ends_on IS NULL OR ends_on >= %(today)s)
        """,
        {"home": home, "today": today},
    )
    return frozenset(str(r["id"]) for r in await cur.fetchall())


async def grants_of(conn: Conn, user_ids: list[int]) -> dict[int, frozenset[Grant]]:
    cur = await conn.execute(
        "SELECT user_id, action, tenant_id, camera_group_id FROM grants WHERE user_id = ANY(%s)",
        (user_ids,),
    )
    out: dict[int, set[Grant]] = {}
    for r in await cur.fetchall():
        out.setdefault(int(str(r["user_id"])), set()).add(
            Grant(Action(r["action"]), str(r["tenant_id"]), r["camera_group_id"])  # type: ignore[arg-type]
        )
    return {k: frozenset(v) for k, v in out.items()}


async def list_tokens(conn: Conn, user_id: int) -> list[dict[str, object]]:
    cur = await conn.execute(
        "SELECT id, name, scopes, created_at, expires_at, revoked_at FROM api_tokens "
        "WHERE user_id = %s ORDER BY id",
        (user_id,),
    )
    return list(await cur.fetchall())


async def revoke_token(conn: Conn, user_id: int, token_id: int, now: datetime) -> bool:
    cur = await conn.execute(
        "UPDATE api_tokens SET revoked_at = %s WHERE id = %s AND user_id = %s "
        "AND revoked_at IS NULL RETURNING id",
        (now, token_id, user_id),
    )
    return await cur.fetchone() is not None


async def all_tenants(conn: Conn) -> list[dict[str, object]]:
    """Every tenant, whatever the caller's scope (tenants carry no RLS policy)."""
    cur = await conn.execute("SELECT id, name, kind, parent_id FROM tenants ORDER BY id")
    return list(await cur.fetchall())
