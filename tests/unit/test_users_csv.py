"""User accounts CSV (EVD-01): round trip, validation with line numbers, formula guard,
dry-run plan."""

from __future__ import annotations

import dataclasses
import json
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vms.domain.access import Action, Grant, Habilitation, Role
from vms.domain.users_csv import (
    COLUMNS,
    MAX_ROWS,
    LineError,
    UserRecord,
    dump,
    parse,
    plan,
)

ALICE = UserRecord(
    login="alice",
    display_name="Alice Martin",
    email="alice@mairie-a.fr",
    role=Role.OPERATOR,
    tenant="commune-a",
    habilitation=Habilitation.POLICE_MUNICIPALE,
    habilitation_ref="ARR-2026-041",
    habilitation_expires_on=date(2027, 3, 31),
    mfa_required=True,
    password_valid_days=90,
    disabled=False,
    grants=frozenset(
        {
            Grant(Action.VIEW_LIVE, "commune-a"),
            Grant(Action.PLAYBACK, "commune-a", "centre"),
        }
    ),
)
BOB = UserRecord(
    login="bob",
    display_name="Bob",
    email=None,
    role=Role.AUDITOR,
    tenant="commune-b",
    habilitation=None,
    habilitation_ref=None,
    habilitation_expires_on=None,
    mfa_required=False,
    password_valid_days=None,
    disabled=True,
    grants=frozenset(),
)

GOOD = {
    "login": "carol",
    "display_name": "Carol Petit",
    "email": "carol@example.fr",
    "role": "supervisor",
    "tenant": "commune-a",
    "habilitation": "agent_agree",
    "habilitation_ref": "ARR-1",
    "habilitation_expires_on": "2027-01-01",
    "mfa_required": "oui",
    "password_valid_days": "365",
    "disabled": "non",
    "grants": "view_live@commune-a|ptz@commune-a/port",
}


def csv_text(*rows: dict[str, str], delimiter: str = ";") -> str:
    lines = [delimiter.join(COLUMNS)]
    lines += [delimiter.join(row[c] for c in COLUMNS) for row in rows]
    return "\n".join(lines) + "\n"


def row(**changes: str) -> dict[str, str]:
    return GOOD | changes


# --- round trip and format ----------------------------------------------------------------


def test_round_trip() -> None:
    records, errors = parse(dump([BOB, ALICE]))
    assert errors == []
    assert records == [ALICE, BOB]


def test_dump_format() -> None:
    lines = dump([BOB, ALICE]).splitlines()
    assert lines[0] == ";".join(COLUMNS)
    assert lines[1] == (
        "alice;Alice Martin;alice@mairie-a.fr;operator;commune-a;police_municipale;"
        "ARR-2026-041;2027-03-31;oui;90;non;playback@commune-a/centre|view_live@commune-a"
    )
    assert lines[2] == "bob;Bob;;auditor;commune-b;;;;non;;oui;"


def test_dump_has_no_secret_columns() -> None:
    header = dump([ALICE]).splitlines()[0].lower()
    for word in ("password_hash", "hash", "totp", "secret"):
        assert word not in header
    assert header.split(";") == list(COLUMNS)


def test_parse_good_row_and_defaults() -> None:
    records, errors = parse(csv_text(GOOD, row(login="Dave", mfa_required="", disabled="")))
    assert errors == []
    carol, dave = records
    assert carol.grants == {
        Grant(Action.VIEW_LIVE, "commune-a"),
        Grant(Action.PTZ, "commune-a", "port"),
    }
    assert carol.habilitation_expires_on == date(2027, 1, 1)
    assert carol.password_valid_days == 365
    assert dave.login == "dave"
    assert dave.mfa_required is True
    assert dave.disabled is False


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("oui", True), ("NON", False), ("True", True), ("false", False), ("1", True),
     ("0", False), ("yes", True), ("No", False)],
)  # fmt: skip
def test_boolean_spellings(cell: str, expected: bool) -> None:
    records, errors = parse(csv_text(row(disabled=cell)))
    assert errors == []
    assert records[0].disabled is expected


def test_bom_and_comma_delimiter() -> None:
    text = "\ufeff" + csv_text(row(display_name='"Petit, Carol"'), delimiter=",")
    records, errors = parse(text)
    assert errors == []
    assert records[0].display_name == "Petit, Carol"
    assert parse("\ufeff" + dump([ALICE])) == ([ALICE], [])


def test_columns_in_any_order_and_blank_lines_skipped() -> None:
    columns = list(reversed(COLUMNS))
    text = ";".join(columns) + "\n\n" + ";".join(GOOD[c] for c in columns) + "\n;;\n"
    records, errors = parse(text)
    assert errors == []
    assert [r.login for r in records] == ["carol"]


def test_empty_grants_and_optional_cells() -> None:
    text = csv_text(
        row(grants="", email="", habilitation="", habilitation_ref="",
            habilitation_expires_on="", password_valid_days="")
    )  # fmt: skip
    records, errors = parse(text)
    assert errors == []
    carol = records[0]
    assert carol.grants == frozenset()
    assert carol.email is None
    assert carol.habilitation is None
    assert carol.habilitation_ref is None
    assert carol.habilitation_expires_on is None
    assert carol.password_valid_days is None


# --- formula injection --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["=HYPERLINK(1)", "+33 1", "-2", "@SUM(A1)", "'=x", "''+y"])
def test_formula_guard_on_export_and_removed_on_import(name: str) -> None:
    record = dataclasses.replace(BOB, display_name=name)
    line = dump([record]).splitlines()[1]
    assert line.split(";")[1] == "'" + name
    assert parse(dump([record])) == ([record], [])


def test_guard_on_other_cells() -> None:
    record = dataclasses.replace(BOB, email="=cmd@evil.fr", habilitation_ref="-1")
    line = dump([record]).splitlines()[1].split(";")
    assert line[2] == "'=cmd@evil.fr"
    assert line[6] == "'-1"
    assert parse(dump([record])) == ([record], [])


def test_plain_apostrophe_kept_on_import() -> None:
    records, errors = parse(csv_text(row(display_name="'Jean d'Arc")))
    assert errors == []
    assert records[0].display_name == "'Jean d'Arc"


# --- property: awkward display names ------------------------------------------------------

AWKWARD = st.text(
    alphabet=st.one_of(
        st.sampled_from(list(";,\"'=+-@\n\r\téèàçÉœ«» ")),
        st.characters(codec="utf-8", exclude_characters="\x00"),
    ),
    min_size=1,
    max_size=40,
).filter(lambda s: s == s.strip() and s != "")

RECORDS = st.builds(
    UserRecord,
    login=st.from_regex(r"[a-z0-9][a-z0-9._@-]{1,20}", fullmatch=True),
    display_name=AWKWARD,
    email=st.none() | st.just("x@y.fr"),
    role=st.sampled_from(Role),
    tenant=st.from_regex(r"[a-z0-9][a-z0-9_-]{0,10}", fullmatch=True),
    habilitation=st.just(None),
    habilitation_ref=st.none() | st.just("=REF"),
    habilitation_expires_on=st.none() | st.dates(),
    mfa_required=st.booleans(),
    password_valid_days=st.none() | st.integers(1, 3650),
    disabled=st.booleans(),
    grants=st.frozensets(
        st.builds(
            Grant,
            st.sampled_from(Action),
            st.sampled_from(["commune-a", "b"]),
            st.none() | st.sampled_from(["centre", "port_1"]),
        ),
        max_size=4,
    ),
)


@given(st.lists(RECORDS, max_size=5, unique_by=lambda r: r.login))
def test_round_trip_property(records: list[UserRecord]) -> None:
    parsed, errors = parse(dump(records))
    assert errors == []
    assert parsed == sorted(records, key=lambda r: r.login)


# --- validation: one error per bad row, right line, French message ------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"login": "a"}, "identifiant invalide « a »"),
        ({"login": "-alice"}, "identifiant invalide « -alice »"),
        ({"login": "al ice"}, "identifiant invalide « al ice »"),
        ({"login": "a" * 65}, "identifiant invalide"),
        ({"display_name": ""}, "nom affiché vide"),
        ({"display_name": "x" * 201}, "nom affiché trop long (201 caractères, maximum 200)"),
        ({"email": "carol.example.fr"}, "adresse électronique invalide « carol.example.fr »"),
        ({"email": "a@b@c"}, "adresse électronique invalide"),
        ({"role": "xyz"}, "rôle inconnu « xyz »"),
        ({"tenant": "Commune A"}, "commune invalide « Commune A »"),
        ({"tenant": "a" * 65}, "commune invalide"),
        ({"habilitation": "maire"}, "habilitation inconnue « maire »"),
        ({"habilitation_ref": ""}, "référence de l'habilitation manquante"),
        ({"habilitation_expires_on": ""}, "date d'échéance de l'habilitation manquante"),
        ({"habilitation_expires_on": "31/12/2027"}, "date d'échéance invalide « 31/12/2027 »"),
        ({"habilitation_expires_on": "2027-02-30"}, "date d'échéance invalide « 2027-02-30 »"),
        ({"mfa_required": "peut-être"}, "valeur invalide « peut-être » pour mfa_required"),
        ({"disabled": "2"}, "valeur invalide « 2 » pour disabled"),
        ({"password_valid_days": "0"}, "durée de validité du mot de passe invalide « 0 »"),
        ({"password_valid_days": "3651"}, "durée de validité du mot de passe invalide"),
        ({"password_valid_days": "dix"}, "durée de validité du mot de passe invalide « dix »"),
        ({"password_valid_days": "-5"}, "durée de validité du mot de passe invalide « -5 »"),
        ({"grants": "view_live"}, "droit invalide « view_live »"),
        ({"grants": "fly@commune-a"}, "action inconnue « fly »"),
        ({"grants": "ptz@Commune"}, "commune du droit « ptz@Commune » invalide « Commune »"),
        ({"grants": "ptz@a/"}, "groupe du droit « ptz@a/ » invalide"),
        ({"grants": "ptz@a/Port Nord"}, "groupe du droit « ptz@a/Port Nord » invalide"),
    ],
)
def test_validation_errors(changes: dict[str, str], message: str) -> None:
    text = csv_text(row(login="first"), row(**changes), row(login="third"))
    records, errors = parse(text)
    assert len(errors) == 1
    assert errors[0].line == 3
    assert message in errors[0].message
    assert [r.login for r in records] == ["first", "third"]


def test_all_bad_rows_reported_with_file_line_numbers() -> None:
    # a quoted display name over two lines shifts the following line numbers
    text = csv_text(
        row(login="carol", display_name='"Carol\nPetit"'),
        row(login="dan", role="chef"),
        row(login="eve"),
        row(login="fay", tenant="?"),
    )
    records, errors = parse(text)
    assert errors == [
        LineError(4, "rôle inconnu « chef »"),
        LineError(6, "commune invalide « ? »"),
    ]
    assert [r.login for r in records] == ["carol", "eve"]
    assert records[0].display_name == "Carol\nPetit"


def test_duplicate_login_is_an_error_on_second_occurrence() -> None:
    text = csv_text(row(login="carol"), row(login="dan"), row(login="CAROL"))
    records, errors = parse(text)
    assert errors == [LineError(4, "identifiant « carol » en double (ligne 2)")]
    assert [r.login for r in records] == ["carol", "dan"]


def test_wrong_cell_count() -> None:
    text = csv_text(GOOD) + "zed;Zed\n"
    records, errors = parse(text)
    assert errors == [LineError(3, "2 colonnes au lieu de 12")]
    assert len(records) == 1


def test_too_many_rows_is_a_single_error() -> None:
    rows = [row(login=f"user{i:05d}") for i in range(MAX_ROWS + 1)]
    records, errors = parse(csv_text(*rows))
    assert records == []
    assert len(errors) == 1
    assert "10000" in errors[0].message
    records, errors = parse(csv_text(*rows[:MAX_ROWS]))
    assert errors == []
    assert len(records) == MAX_ROWS


# --- header -------------------------------------------------------------------------------


def test_header_missing_and_unknown_columns() -> None:
    columns = [c for c in COLUMNS if c not in {"email", "grants"}] + ["password_hash"]
    records, errors = parse(";".join(columns) + "\n")
    assert records == []
    assert len(errors) == 1
    assert errors[0].line == 1
    message = errors[0].message
    assert message.startswith("en-tête invalide")
    assert "colonnes manquantes : « email », « grants »" in message
    assert "colonnes inconnues : « password_hash »" in message


def test_header_duplicate_column() -> None:
    records, errors = parse(";".join([*COLUMNS, "role"]) + "\n" + ";".join(GOOD.values()))
    assert records == []
    assert errors == [LineError(1, "en-tête invalide : colonnes en double : « role »")]


def test_header_is_case_and_space_insensitive() -> None:
    header = ";".join(f" {c.upper()} " for c in COLUMNS)
    records, errors = parse(header + "\n" + ";".join(GOOD.values()) + "\n")
    assert errors == []
    assert len(records) == 1


@pytest.mark.parametrize("text", ["", "\ufeff"])
def test_empty_file(text: str) -> None:
    assert parse(text) == ([], [LineError(1, "fichier vide")])


def test_header_only_is_no_record() -> None:
    assert parse(dump([])) == ([], [])


# --- plan ---------------------------------------------------------------------------------


def test_plan_created_updated_unchanged_absent() -> None:
    zoe = dataclasses.replace(BOB, login="zoe")
    current = {"alice": ALICE, "bob": BOB, "zoe": zoe}
    alice2 = dataclasses.replace(
        ALICE,
        role=Role.SUPERVISOR,
        disabled=True,
        grants=ALICE.grants | {Grant(Action.EXPORT, "commune-a")},
    )
    carol = dataclasses.replace(BOB, login="carol")
    result = plan(current, [alice2, BOB, carol])
    assert result.created == [carol]
    assert result.updated == [
        (
            alice2,
            {
                "role": ("operator", "supervisor"),
                "disabled": ("non", "oui"),
                "grants": (
                    "playback@commune-a/centre|view_live@commune-a",
                    "export@commune-a|playback@commune-a/centre|view_live@commune-a",
                ),
            },
        )
    ]
    assert result.unchanged == ["bob"]
    assert result.absent == ["zoe"]

    report = result.report()
    assert json.loads(json.dumps(report)) == report
    assert report == {
        "created": ["carol"],
        "updated": [
            {
                "login": "alice",
                "changes": {
                    "role": {"old": "operator", "new": "supervisor"},
                    "disabled": {"old": "non", "new": "oui"},
                    "grants": {
                        "old": "playback@commune-a/centre|view_live@commune-a",
                        "new": "export@commune-a|playback@commune-a/centre|view_live@commune-a",
                    },
                },
            }
        ],
        "unchanged": 1,
        "absent": ["zoe"],
        "counts": {"created": 1, "updated": 1, "unchanged": 1, "absent": 1},
    }


def test_plan_none_and_dates_as_cells() -> None:
    changed = dataclasses.replace(
        ALICE, email=None, habilitation_expires_on=date(2028, 1, 1), password_valid_days=None
    )
    result = plan({"alice": ALICE}, [changed])
    assert result.updated[0][1] == {
        "email": ("alice@mairie-a.fr", ""),
        "habilitation_expires_on": ("2027-03-31", "2028-01-01"),
        "password_valid_days": ("90", ""),
    }


def test_plan_empty_installation_and_import_of_own_export() -> None:
    assert plan({}, [ALICE]).report()["counts"] == {
        "created": 1, "updated": 0, "unchanged": 0, "absent": 0,
    }  # fmt: skip
    records, _ = parse(dump([ALICE, BOB]))
    again = plan({"alice": ALICE, "bob": BOB}, records)
    assert again.unchanged == ["alice", "bob"]
    assert again.created == []
    assert again.updated == []
    assert again.absent == []
