"""Hash chain of audit entries. Pure.

Each entry's hash is the SHA-256 of its canonical form, which includes the previous
entry's hash: altering a row changes its hash (the recomputed hash differs), and
deleting or inserting a row breaks the link to the next one or the sequence. The
chain proves that nothing was changed after the fact, as long as its head is kept
elsewhere too (SIEM stream, periodic export).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One sealed row. ``hash`` covers every other field, ``prev_hash`` included."""

    seq: int
    at: datetime
    actor: str
    tenant: str | None
    action: str
    target: str | None
    detail: dict[str, object]
    source_ip: str | None
    prev_hash: str
    hash: str

    def public(self) -> dict[str, object]:
        """The entry as the API, the CSV export and the SIEM stream show it."""
        return {
            "seq": self.seq, "at": self.at.isoformat(), "actor": self.actor,
            "tenant": self.tenant, "action": self.action, "target": self.target,
            "detail": self.detail, "source_ip": self.source_ip, "hash": self.hash,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first broken link: the sequence number where it breaks, and why (French)."""

    seq: int
    reason: str


def canonical(entry: AuditEntry) -> bytes:
    """Deterministic bytes of an entry, its own hash left out: sorted-key JSON, UTC time
    with microseconds (what PostgreSQL ``timestamptz`` keeps, so a row read back hashes
    the same), compact separators, UTF-8. ``detail`` must be JSON-serialisable."""
    if entry.at.utcoffset() is None:
        # a naive time would be read as local time: the hash would depend on the host
        raise ValueError("audit time must be timezone-aware")
    doc = {
        "seq": entry.seq,
        "at": entry.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor": entry.actor,
        "tenant": entry.tenant,
        "action": entry.action,
        "target": entry.target,
        "detail": entry.detail,
        "source_ip": entry.source_ip,
        "prev": entry.prev_hash,
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: AuditEntry) -> str:
    return hashlib.sha256(canonical(entry)).hexdigest()


def seal(
    seq: int,
    at: datetime,
    actor: str,
    tenant: str | None,
    action: str,
    target: str | None,
    detail: dict[str, object],
    source_ip: str | None,
    prev_hash: str,
) -> AuditEntry:
    """The entry, with its hash."""
    entry = AuditEntry(seq, at, actor, tenant, action, target, detail, source_ip, prev_hash, "")
    return dataclasses.replace(entry, hash=entry_hash(entry))


def verify_chain(
    entries: Iterable[AuditEntry], start_prev: str = GENESIS, start_seq: int | None = None
) -> ChainBreak | None:
    """The first broken link of ``entries`` (in ``seq`` order), or None when intact.

    Streams: one entry in memory at a time, so a year of audit verifies from a
    server-side cursor. ``start_prev``/``start_seq`` anchor a verification that does
    not start at the genesis (after a retention purge, or incrementally).
    """
    prev = start_prev
    expected = start_seq
    for e in entries:
        if expected is not None and e.seq > expected:
            return ChainBreak(expected, "numéro de séquence manquant : entrée supprimée")
        if expected is not None and e.seq < expected:
            return ChainBreak(expected, "numéro de séquence en double ou hors ordre")
        if entry_hash(e) != e.hash:
            return ChainBreak(e.seq, "empreinte recalculée différente : entrée modifiée")
        if e.prev_hash != prev:
            return ChainBreak(e.seq, "maillon précédent ne correspond pas : entrée supprimée")
        prev = e.hash
        expected = e.seq + 1
    return None
