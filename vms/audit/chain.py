"""Hash chain of audit entries. Pure.

Each entry's hash is the SHA-256 of its canonical form, which includes the previous
entry's hash: altering a row changes its hash (the recomputed hash differs), and
deleting or inserting a row breaks the link to the next one or the sequence. The
chain proves that nothing was changed after the fact, as long as its head is kept
elsewhere too (SIEM stream, periodic export).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditEntry:
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


@dataclass(frozen=True, slots=True)
class ChainBreak:
    seq: int
    reason: str


def canonical(
    seq: int,
    at: datetime,
    actor: str,
    tenant: str | None,
    action: str,
    target: str | None,
    detail: dict[str, object],
    source_ip: str | None,
    prev_hash: str,
) -> bytes:
    """Deterministic bytes of an entry: sorted-key JSON, UTC time with microseconds."""
    stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    doc = {
        "seq": seq,
        "at": stamp,
        "actor": actor,
        "tenant": tenant,
        "action": action,
        "target": target,
        "detail": detail,
        "source_ip": source_ip,
        "prev": prev_hash,
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(
    seq: int,
    at: datetime,
    actor: str,
    tenant: str | None,
    action: str,
    target: str | None,
    detail: dict[str, object],
    source_ip: str | None,
    prev_hash: str,
) -> str:
    data = canonical(seq, at, actor, tenant, action, target, detail, source_ip, prev_hash)
    return hashlib.sha256(data).hexdigest()


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
    digest = entry_hash(seq, at, actor, tenant, action, target, detail, source_ip, prev_hash)
    return AuditEntry(seq, at, actor, tenant, action, target, detail, source_ip, prev_hash, digest)


def verify_chain(
    entries: Iterable[AuditEntry], start_prev: str = GENESIS, start_seq: int | None = None
) -> ChainBreak | None:
    """The first broken link of ``entries`` (in chain order), or None. Streams."""
    prev = start_prev
    expected = start_seq
    for e in entries:
        if expected is not None and e.seq != expected:
            return ChainBreak(expected, "numéro de séquence manquant")
        recomputed = entry_hash(
            e.seq, e.at, e.actor, e.tenant, e.action, e.target, e.detail, e.source_ip, e.prev_hash
        )
        if recomputed != e.hash:
            return ChainBreak(e.seq, "empreinte recalculée différente : entrée modifiée")
        if e.prev_hash != prev:
            return ChainBreak(e.seq, "maillon précédent ne correspond pas : entrée supprimée")
        prev = e.hash
        expected = e.seq + 1
    return None
