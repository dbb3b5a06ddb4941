"""The audit hash chain: intact chains verify, each kind of tampering is located."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from vms.audit.chain import GENESIS, AuditEntry, seal, verify_chain

T0 = datetime(2026, 11, 1, tzinfo=UTC)


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
