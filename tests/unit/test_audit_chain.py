"""The audit hash chain: intact chains verify, each kind of tampering is located."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from vms.audit.chain import (
    GENESIS,
    AuditEntry,
    ChainBreak,
    canonical,
    entry_hash,
    seal,
    verify_chain,
)

T0 = datetime(2026, 11, 1, tzinfo=UTC)
PINNED = "d7409a2dd61eb996878a1701c30b0d88ed089eb640800939a19509096d8a50cb"


def chain(n: int) -> list[AuditEntry]:
    out: list[AuditEntry] = []
    prev = GENESIS
    for i in range(1, n + 1):
        e = seal(
            i, T0 + timedelta(seconds=i), f"user{i % 3}", "commune-a", "camera.view_live",
            f"cam{i}", {"motif": "Réquisition n° 2026/é", "de": i}, "10.0.0.1", prev,
        )  # fmt: skip
        out.append(e)
        prev = e.hash
    return out


def test_an_intact_chain_verifies() -> None:
    assert verify_chain(chain(50)) is None
    assert verify_chain(iter(chain(50)), start_seq=1) is None


def test_an_altered_detail_is_found_at_its_row() -> None:
    entries = chain(50)
    entries[20] = dataclasses.replace(entries[20], detail={"motif": "autre"})
    broken = verify_chain(entries)
    assert broken is not None and broken.seq == 21 and "modifiée" in broken.reason


def test_a_deleted_row_is_found() -> None:
    entries = chain(50)
    del entries[10]
    broken = verify_chain(entries, start_seq=1)
    assert broken is not None and broken.seq == 11 and "manquant" in broken.reason
    # the first row deleted: the sequence cannot tell, the broken link does
    broken = verify_chain(chain(50)[1:])
    assert broken is not None and broken.seq == 2 and "supprimée" in broken.reason


def test_swapped_rows_and_a_rewritten_hash_are_found() -> None:
    entries = chain(50)
    entries[5], entries[6] = entries[6], entries[5]
    broken = verify_chain(entries, start_seq=1)
    assert broken is not None and broken.seq == 6
    entries = chain(50)
    entries[30] = dataclasses.replace(entries[30], hash="f" * 64)
    broken = verify_chain(entries)
    assert broken is not None and broken.seq == 31


def test_verification_can_start_from_an_anchor() -> None:
    entries = chain(20)
    assert verify_chain(entries[10:], start_prev=entries[9].hash, start_seq=11) is None
    assert verify_chain(entries[10:]) is not None  # not from the genesis


def test_canonical_form_is_compact_sorted_utf8_with_utc_microseconds() -> None:
    paris = timezone(timedelta(hours=1))
    e = seal(7, datetime(2026, 11, 1, 13, 0, tzinfo=paris), "agent.é", None, "export",
             "cam1", {"z": 1, "a": "Réquisition « 42 »"}, None, GENESIS)  # fmt: skip
    assert (
        canonical(e)
        == (
            '{"action":"export","actor":"agent.é","at":"2026-11-01T12:00:00.000000Z",'
            '"detail":{"a":"Réquisition « 42 »","z":1},"prev":"' + GENESIS + '","seq":7,'
            '"source_ip":null,"target":"cam1","tenant":null}'
        ).encode()
    )
    assert e.hash == hashlib.sha256(canonical(e)).hexdigest() == entry_hash(e)


def test_unicode_detail_hashes_the_same_whatever_the_key_order_or_time_zone() -> None:
    detail: dict[str, object] = {
        "motif": "Réquisition judiciaire n° 2026/0042 — véhicule",
        "plage": ["😀", "ß"],
    }
    a = seal(1, T0, "système", "commune-a", "export", "cam1", detail, "::1", GENESIS)
    b = seal(1, T0.astimezone(timezone(timedelta(hours=-5))), "système", "commune-a",
             "export", "cam1", dict(reversed(detail.items())), "::1", GENESIS)  # fmt: skip
    assert a.hash == b.hash
    # pinned: a change to the canonical form would break every stored chain
    assert a.hash == PINNED


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError):
        seal(1, datetime(2026, 11, 1), "system", None, "boot", None, {}, None, GENESIS)


def test_verification_streams_from_a_generator() -> None:
    consumed = 0

    def rows() -> Iterator[AuditEntry]:
        nonlocal consumed
        prev = GENESIS
        for i in range(1, 2001):
            e = seal(i, T0, "system", None, "tick", None, {"i": i}, None, prev)
            prev = e.hash
            consumed += 1
            yield e

    assert verify_chain(rows(), start_seq=1) is None and consumed == 2000


def test_a_duplicated_row_and_an_inserted_row_are_found() -> None:
    entries = chain(10)
    broken = verify_chain([*entries[:5], entries[4], *entries[5:]], start_seq=1)
    assert broken == ChainBreak(6, "numéro de séquence en double ou hors ordre")
    # a forged row re-sealed in place: its own hash is right, the next link is not
    forged = seal(5, T0, "intrus", "commune-a", "x", None, {}, None, entries[3].hash)
    broken = verify_chain([*entries[:4], forged, *entries[5:]], start_seq=1)
    assert broken is not None and broken.seq == 6 and "maillon" in broken.reason
