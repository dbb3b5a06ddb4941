"""Which ingest worker should record which camera. Pure.

Rendezvous (highest random weight) hashing: each camera goes to the live worker of its
site with the highest hash of (camera, worker). Every worker computes the same answer
from the same membership without talking to the others; adding a worker moves only
the cameras it now wins (about 1/N of them), removing one moves only its own.

The placement is a preference, not an assignment: ownership is what the lease store
says (``vms.cluster.leases``). ``plan`` turns the difference between the two into the
claims and releases of one worker."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Worker:
    id: str
    site: str | None = None
    """Site or data centre of the worker; a camera pinned to a site goes to its
    workers only."""


@dataclass(frozen=True, slots=True)
class CameraSlot:
    id: str
    site: str | None = None
    """Pin: only workers of this site may record the camera (None: any)."""


@dataclass(frozen=True, slots=True)
class Plan:
    claim: list[str] = field(default_factory=list)
    release: list[str] = field(default_factory=list)


def weight(camera_id: str, worker_id: str) -> int:
    digest = hashlib.sha256(f"{camera_id}\0{worker_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def eligible(camera: CameraSlot, worker: Worker) -> bool:
    return camera.site is None or camera.site == worker.site


def preferred(camera: CameraSlot, workers: Mapping[str, Worker]) -> str | None:
    """The worker that should record ``camera`` (None: no live worker of its site)."""
    best: tuple[int, str] | None = None
    for w in workers.values():
        if eligible(camera, w):
            key = (weight(camera.id, w.id), w.id)
            if best is None or key > best:
                best = key
    return None if best is None else best[1]


def plan(
    me: Worker,
    cameras: Sequence[CameraSlot],
    workers: Mapping[str, Worker],
    owners: Mapping[str, str],
    unowned_for: Mapping[str, float],
    orphan_after_s: float,
    max_moves: int,
) -> Plan:
    """What worker ``me`` should do now.

    ``owners``: camera -> owning worker, as the lease store says; ``unowned_for``:
    seconds each camera without owner has been seen so. ``me`` claims the free cameras
    it is preferred for, and any free camera it may record that has stayed free for
    ``orphan_after_s`` (its preferred worker is not taking it). It releases, at most
    ``max_moves`` at a time, the cameras it owns whose preferred worker is now another
    live worker (a worker joined), or that it may no longer record (pin changed)."""
    result = Plan()
    workers = {**workers, me.id: me}
    for cam in cameras:
        owner = owners.get(cam.id)
        best = preferred(cam, workers)
        if owner is None:
            if not eligible(cam, me):
                continue
            if best == me.id or unowned_for.get(cam.id, 0.0) >= orphan_after_s:
                result.claim.append(cam.id)
        elif owner == me.id and best != me.id and len(result.release) < max_moves:
            result.release.append(cam.id)
    return result
