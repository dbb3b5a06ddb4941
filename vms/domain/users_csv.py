"""User accounts to and from CSV (EVD-01). Pure: text in, records and errors out.

An administrator exports the accounts of one installation and imports them into
another, after a dry run: ``plan`` says what would be created, updated, left unchanged,
and which accounts exist only in the installation (reported, never deleted).

The CSV carries no secret: no password, no password hash, no TOTP secret ever appears in
it; imported accounts set their password and enrol their second factor afterwards.

Format: one header row naming ``COLUMNS`` (any order), ``;`` delimiter (French
spreadsheets; ``,`` accepted on import), booleans ``oui``/``non``, ISO dates, empty cell
for none, grants as ``action@tenant`` or ``action@tenant/group`` joined by ``|``. A cell
that a spreadsheet would read as a formula is written with a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from vms.domain.access import Action, Grant, Habilitation, Role
from vms.domain.spreadsheet import spreadsheet_safe, unguard

COLUMNS = (
    "login",
    "display_name",
    "email",
    "role",
    "tenant",
    "habilitation",
    "habilitation_ref",
    "habilitation_expires_on",
    "mfa_required",
    "password_valid_days",
    "disabled",
    "grants",
)
MAX_ROWS = 10_000

_LOGIN = re.compile(r"[a-z0-9][a-z0-9._@-]{1,63}")
_IDENTIFIER = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DAYS = re.compile(r"[0-9]{1,4}")
_TRUE = {"oui", "true", "1", "yes"}
_FALSE = {"non", "false", "0", "no"}


@dataclass(frozen=True, slots=True)
class UserRecord:
    login: str
    display_name: str
    email: str | None
    role: Role
    tenant: str
    habilitation: Habilitation | None
    habilitation_ref: str | None
    habilitation_expires_on: date | None
    mfa_required: bool
    password_valid_days: int | None
    disabled: bool
    grants: frozenset[Grant]


@dataclass(frozen=True, slots=True)
class LineError:
    line: int
    """1-based line of the file; the header is line 1."""
    message: str
    """French, shown to the administrator."""


# --- export -------------------------------------------------------------------------------


def _grant_cell(grant: Grant) -> str:
    text = f"{grant.action.value}@{grant.tenant}"
    return f"{text}/{grant.camera_group}" if grant.camera_group is not None else text


def _cells(record: UserRecord) -> dict[str, str]:
    """The record as CSV cells, before the formula guard."""

    def yes_no(flag: bool) -> str:
        return "oui" if flag else "non"

    expires = record.habilitation_expires_on
    days = record.password_valid_days
    return {
        "login": record.login,
        "display_name": record.display_name,
        "email": record.email or "",
        "role": record.role.value,
        "tenant": record.tenant,
        "habilitation": record.habilitation.value if record.habilitation else "",
        "habilitation_ref": record.habilitation_ref or "",
        "habilitation_expires_on": expires.isoformat() if expires else "",
        "mfa_required": yes_no(record.mfa_required),
        "password_valid_days": str(days) if days is not None else "",
        "disabled": yes_no(record.disabled),
        "grants": "|".join(sorted(_grant_cell(g) for g in record.grants)),
    }


def dump(records: Iterable[UserRecord]) -> str:
    """CSV text, ``;``-delimited, header first, rows sorted by login."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(COLUMNS)
    for record in sorted(records, key=lambda r: r.login):
        cells = _cells(record)
        writer.writerow(spreadsheet_safe(cells[c]) for c in COLUMNS)
    return out.getvalue()


# --- import -------------------------------------------------------------------------------


class _Invalid(Exception):
    """A row's first problem, in French."""


def _quoted(value: str) -> str:
    return f"« {value} »"


def _login(cell: str) -> str:
    login = cell.lower()
    if not _LOGIN.fullmatch(login):
        raise _Invalid(f"identifiant invalide {_quoted(cell)}")
    return login


def _identifier(cell: str, what: str) -> str:
    if not _IDENTIFIER.fullmatch(cell):
        raise _Invalid(f"{what} invalide {_quoted(cell)}")
    return cell


def _bool(cell: str, column: str, default: bool) -> bool:
    value = cell.lower()
    if value == "":
        return default
    if value in _TRUE or value in _FALSE:
        return value in _TRUE
    raise _Invalid(f"valeur invalide {_quoted(cell)} pour {column} (attendu oui ou non)")


def _grant(item: str) -> Grant:
    action, at, scope = item.partition("@")
    tenant, slash, group = scope.partition("/")
    if not at:
        raise _Invalid(f"droit invalide {_quoted(item)} (attendu action@commune[/groupe])")
    try:
        parsed = Action(action)
    except ValueError:
        raise _Invalid(f"action inconnue {_quoted(action)} dans le droit {_quoted(item)}") from None
    _identifier(tenant, f"commune du droit {_quoted(item)}")
    if slash:
        _identifier(group, f"groupe du droit {_quoted(item)}")
    return Grant(parsed, tenant, group if slash else None)


def _record(login: str, cells: Mapping[str, str]) -> UserRecord:
    display_name = cells["display_name"]
    if not display_name:
        raise _Invalid("nom affiché vide")
    if len(display_name) > 200:
        raise _Invalid(f"nom affiché trop long ({len(display_name)} caractères, maximum 200)")
    email = cells["email"]
    if email and not _EMAIL.fullmatch(email):
        raise _Invalid(f"adresse électronique invalide {_quoted(email)}")
    try:
        role = Role(cells["role"])
    except ValueError:
        raise _Invalid(f"rôle inconnu {_quoted(cells['role'])}") from None
    tenant = _identifier(cells["tenant"], "commune")
    habilitation: Habilitation | None = None
    if cells["habilitation"]:
        try:
            habilitation = Habilitation(cells["habilitation"])
        except ValueError:
            raise _Invalid(f"habilitation inconnue {_quoted(cells['habilitation'])}") from None
    ref = cells["habilitation_ref"]
    if habilitation is not None and not ref:
        raise _Invalid("référence de l'habilitation manquante")
    expires_cell = cells["habilitation_expires_on"]
    if habilitation is not None and not expires_cell:
        raise _Invalid("date d'échéance de l'habilitation manquante")
    expires: date | None = None
    if expires_cell:
        try:
            if not _ISO_DATE.fullmatch(expires_cell):
                raise ValueError
            expires = date.fromisoformat(expires_cell)
        except ValueError:
            raise _Invalid(
                f"date d'échéance invalide {_quoted(expires_cell)} (attendu AAAA-MM-JJ)"
            ) from None
    mfa_required = _bool(cells["mfa_required"], "mfa_required", default=True)
    days_cell = cells["password_valid_days"]
    days: int | None = None
    if days_cell:
        if not _DAYS.fullmatch(days_cell) or not 1 <= int(days_cell) <= 3650:
            raise _Invalid(
                f"durée de validité du mot de passe invalide {_quoted(days_cell)} "
                "(entier de 1 à 3650 jours)"
            )
        days = int(days_cell)
    disabled = _bool(cells["disabled"], "disabled", default=False)
    grants = frozenset(_grant(item.strip()) for item in cells["grants"].split("|") if item.strip())
    return UserRecord(
        login=login,
        display_name=display_name,
        email=email or None,
        role=role,
        tenant=tenant,
        habilitation=habilitation,
        habilitation_ref=ref or None,
        habilitation_expires_on=expires,
        mfa_required=mfa_required,
        password_valid_days=days,
        disabled=disabled,
        grants=grants,
    )


def _header_error(names: list[str]) -> str | None:
    missing = [c for c in COLUMNS if c not in names]
    unknown = [n for n in names if n not in COLUMNS]
    doubled = sorted({n for n in names if n in COLUMNS and names.count(n) > 1})
    parts = [
        f"{label} : {', '.join(_quoted(n) for n in found)}"
        for label, found in (
            ("colonnes manquantes", missing),
            ("colonnes inconnues", unknown),
            ("colonnes en double", doubled),
        )
        if found
    ]
    return "en-tête invalide : " + " ; ".join(parts) if parts else None


def parse(text: str) -> tuple[list[UserRecord], list[LineError]]:
    """Records of the valid rows, and one error for each invalid row (its first problem).
    A file-level problem (header, size, unreadable CSV) is a single error, with no record."""
    text = text.removeprefix("\ufeff")
    first_line = text.split("\n", 1)[0]
    delimiter = "," if "," in first_line and ";" not in first_line else ";"
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, list[str]]] = []
    try:
        header = next(reader, None)
        if header is None:
            return [], [LineError(1, "fichier vide")]
        names = [h.strip().lower() for h in header]
        problem = _header_error(names)
        if problem:
            return [], [LineError(1, problem)]
        start = reader.line_num + 1
        for row in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            if len(rows) == MAX_ROWS:
                message = f"plus de {MAX_ROWS} lignes de données : fichier refusé"
                return [], [LineError(line, message)]
            rows.append((line, row))
    except csv.Error as exc:
        return [], [LineError(reader.line_num, f"fichier CSV illisible : {exc}")]

    records: list[UserRecord] = []
    errors: list[LineError] = []
    seen: dict[str, int] = {}
    for line, row in rows:
        try:
            if len(row) != len(names):
                raise _Invalid(f"{len(row)} colonnes au lieu de {len(names)}")
            cells = {n: unguard(c.strip()).strip() for n, c in zip(names, row, strict=True)}
            login = _login(cells["login"])
            if login in seen:
                raise _Invalid(f"identifiant {_quoted(login)} en double (ligne {seen[login]})")
            seen[login] = line
            records.append(_record(login, cells))
        except _Invalid as exc:
            errors.append(LineError(line, str(exc)))
    return records, errors


# --- dry run ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportPlan:
    created: list[UserRecord]
    updated: list[tuple[UserRecord, dict[str, tuple[str, str]]]]
    """The incoming record, and field → (old, new) as CSV cells."""
    unchanged: list[str]
    absent: list[str]
    """Logins of the installation missing from the file: reported, never deleted."""

    def report(self) -> dict[str, object]:
        """JSON-serialisable summary for the dry-run screen and the audit log."""
        return {
            "created": [r.login for r in self.created],
            "updated": [
                {
                    "login": r.login,
                    "changes": {f: {"old": old, "new": new} for f, (old, new) in changes.items()},
                }
                for r, changes in self.updated
            ],
            "unchanged": len(self.unchanged),
            "absent": list(self.absent),
            "counts": {
                "created": len(self.created),
                "updated": len(self.updated),
                "unchanged": len(self.unchanged),
                "absent": len(self.absent),
            },
        }


def plan(current: Mapping[str, UserRecord], incoming: Sequence[UserRecord]) -> ImportPlan:
    """What importing ``incoming`` into an installation holding ``current`` (by login)
    would do, field by field; in file order, absent logins sorted."""
    created: list[UserRecord] = []
    updated: list[tuple[UserRecord, dict[str, tuple[str, str]]]] = []
    unchanged: list[str] = []
    for record in incoming:
        existing = current.get(record.login)
        if existing is None:
            created.append(record)
            continue
        old, new = _cells(existing), _cells(record)
        changes = {f: (old[f], new[f]) for f in COLUMNS[1:] if old[f] != new[f]}
        if changes:
            updated.append((record, changes))
        else:
            unchanged.append(record.login)
    logins = {r.login for r in incoming}
    absent = sorted(login for login in current if login not in logins)
    return ImportPlan(created, updated, unchanged, absent)
