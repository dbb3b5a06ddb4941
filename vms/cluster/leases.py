"""Camera leases and worker membership in NATS JetStream key-value buckets.

Two buckets, both with a time to live (``ttl_s``) after the last write of a key:

- ``<prefix>-workers``: one key per live ingest worker (its site), rewritten every
  every half second (heartbeat);
- ``<prefix>-cameras``: one key per camera being recorded, whose value names its
  worker. A worker takes a free camera with an atomic create (refused when the key
  exists) and keeps it by rewriting the key with the revision it last wrote
  (compare-and-set); a key not rewritten for ``ttl_s`` is removed by the server, which
  frees the camera for another worker.

The server writes a marker when it removes an expired key, so a watcher of each bucket
keeps an in-memory view of both (``workers``, ``owners``) without polling. All the
coordination is NATS's: nothing here elects or votes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from dataclasses import dataclass
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.js.api import KeyValueConfig
from nats.js.kv import KeyValue

from vms.cluster import servers
from vms.cluster.placement import Worker
from vms.config import redacted

log = logging.getLogger(__name__)

_DELETED = ("DEL", "PURGE")
_KEY = re.compile(r"^[-_=.a-zA-Z0-9]+$")


class LeaseStoreUnavailable(Exception):
    """The bus did not answer in time: a lease may or may not have been written."""


@dataclass(frozen=True, slots=True)
class Owner:
    worker: str
    revision: int


def camera_key(camera_id: str) -> str:
    """The bucket key of a camera (camera ids are configuration identifiers)."""
    if not _KEY.fullmatch(camera_id):
        raise ValueError(f"camera id not usable as a lease key: {camera_id!r}")
    return camera_id


class NatsLeases:
    def __init__(
        self, url: str, prefix: str, ttl_s: float, name: str, request_timeout_s: float = 1.0
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.ttl_s = ttl_s
        self.name = name
        self.request_timeout_s = request_timeout_s
        self._nc: Any = None
        self._workers_kv: KeyValue | None = None
        self._cameras_kv: KeyValue | None = None
        self._workers: dict[str, Worker] = {}
        self._owners: dict[str, Owner] = {}
        self._beat_at: dict[str, float] = {}  # worker -> wall time its heartbeat was written
        self.alive_s = max(2.0, ttl_s / 2)
        self._watch_tasks: list[asyncio.Task[None]] = []
        self.synced = asyncio.Event()
        self.refused = False
        """The server refused the credentials at the last attempt."""

    # -- connection --------------------------------------------------------------

    async def open(self) -> None:
        self._nc = await nats.connect(
            servers(self.url),
            name=self.name,
            connect_timeout=2,
            reconnect_time_wait=0.5,
            max_reconnect_attempts=-1,
            ping_interval=2,
            max_outstanding_pings=2,
            reconnected_cb=self._reconnected,
            disconnected_cb=self._disconnected,
            error_cb=self._error,
        )
        self.refused = False
        js = self._nc.jetstream(timeout=self.request_timeout_s)
        marker = max(1.0, self.ttl_s / 2)
        self._workers_kv = await self._bucket(js, f"{self.prefix}-workers", marker)
        self._cameras_kv = await self._bucket(js, f"{self.prefix}-cameras", marker)
        await self._watch()

    async def _bucket(self, js: Any, name: str, marker: float) -> KeyValue:
        try:
            return await js.key_value(name)  # type: ignore[no-any-return]
        except nats.js.errors.BucketNotFoundError:
            pass
        cfg = KeyValueConfig(bucket=name, history=1, ttl=self.ttl_s, limit_marker_ttl=marker)
        try:
            return await js.create_key_value(cfg)  # type: ignore[no-any-return]
        except nats.js.errors.BadRequestError:  # created by another worker meanwhile
            return await js.key_value(name)  # type: ignore[no-any-return]

    async def close(self) -> None:
        for t in self._watch_tasks:
            t.cancel()
        self._watch_tasks.clear()
        if self._nc is not None:
            with contextlib.suppress(nats.errors.Error, OSError):
                await self._nc.close()

    async def _disconnected(self) -> None:
        log.warning("cluster: NATS connection lost (%s)", redacted(self.url))

    async def _reconnected(self) -> None:
        self.refused = False
        log.info("cluster: NATS connection back; reading the buckets again")
        await self._watch()

    async def _error(self, err: Exception) -> None:
        # nats-py reports a refused login as a plain Error ("Authorization Violation")
        if isinstance(err, nats.errors.AuthorizationError) or "authorization" in str(err).lower():
            if not self.refused:
                log.error("cluster: NATS refuses this worker's credentials (cluster.nats_user)")
            self.refused = True  # until connected again
        else:
            log.debug("cluster: NATS: %s", err)

    # -- views -------------------------------------------------------------------

    async def _watch(self) -> None:
        for t in self._watch_tasks:
            t.cancel()
        self.synced.clear()
        assert self._workers_kv is not None and self._cameras_kv is not None
        ready = [asyncio.Event(), asyncio.Event()]
        follow = self._follow
        self._watch_tasks = [
            asyncio.create_task(follow(self._workers_kv, "workers", self._on_worker, ready[0])),
            asyncio.create_task(follow(self._cameras_kv, "cameras", self._on_camera, ready[1])),
        ]
        try:
            await asyncio.wait_for(asyncio.gather(*(r.wait() for r in ready)), 5)
        except TimeoutError:
            log.warning("cluster: the buckets' current state did not arrive in time")
            return
        self.synced.set()

    async def _follow(self, kv: KeyValue, label: str, apply: Any, ready: asyncio.Event) -> None:
        fresh: dict[str, Any] = {}
        try:
            watcher = await kv.watchall()
            while True:
                try:
                    entry = await watcher.updates(timeout=3600)  # type: ignore[no-untyped-call]
                except nats.errors.TimeoutError:
                    continue
                if entry is None:  # end of the current values
                    if not ready.is_set():
                        apply(None, fresh)
                        ready.set()
                    continue
                if ready.is_set():
                    apply(entry, None)
                elif entry.operation not in _DELETED:
                    fresh[entry.key] = entry
        except asyncio.CancelledError:
            raise
        except (nats.errors.Error, OSError) as err:
            log.warning("cluster: watch of the %s bucket ended (%s)", label, err)

    def _on_worker(self, entry: Any, snapshot: dict[str, Any] | None) -> None:
        if snapshot is not None:
            self._workers = {k: _worker(k, e.value) for k, e in snapshot.items()}
            self._beat_at = {k: _beat(e.value) for k, e in snapshot.items()}
        elif entry.operation in _DELETED:
            self._workers.pop(entry.key, None)
        else:
            self._workers[entry.key] = _worker(entry.key, entry.value)
            self._beat_at[entry.key] = _beat(entry.value)

    def _on_camera(self, entry: Any, snapshot: dict[str, Any] | None) -> None:
        if snapshot is not None:
            self._owners = {k: _owner(e) for k, e in snapshot.items()}
        elif entry.operation in _DELETED:
            self._owners.pop(entry.key, None)
        else:
            self._owners[entry.key] = _owner(entry)

    def workers(self) -> dict[str, Worker]:
        """The live workers: their entry has not expired and their last heartbeat was
        written less than ``alive_s`` ago by their clock (a worker heartbeats every
        0.5 s: a dead one drops out within ``alive_s``, long before its entry and its
        leases expire, even when this view receives its last heartbeats late).
        Clocks are NTP-synchronised (the health checks watch drift); a worker whose
        clock lags by more than ``alive_s`` keeps its cameras but gets no new ones."""
        now = time.time()
        return {
            k: w for k, w in self._workers.items() if now - self._beat_at.get(k, 0.0) < self.alive_s
        }

    def owners(self) -> dict[str, Owner]:
        """camera id -> its current lease, as last seen."""
        return dict(self._owners)

    # -- writes ------------------------------------------------------------------

    async def heartbeat(self, worker: Worker) -> None:
        assert self._workers_kv is not None
        body = json.dumps({"site": worker.site, "at": time.time()}).encode()
        await self._call(self._workers_kv.put(worker.id, body))

    async def leave(self, worker_id: str) -> None:
        assert self._workers_kv is not None
        await self._call(self._workers_kv.delete(worker_id))

    async def claim(self, camera_id: str, worker_id: str) -> int | None:
        """Take a free camera: its lease's revision, None if another worker has it."""
        assert self._cameras_kv is not None
        body = json.dumps({"worker": worker_id}).encode()
        kv, key = self._cameras_kv, camera_key(camera_id)
        try:
            rev = await self._call(kv.create(key, body))
        except nats.js.errors.KeyWrongLastSequenceError:
            # the key may hold the server's expiry marker (no value: "Nats-Marker-Reason:
            # MaxAge", kept ``limit_marker_ttl``), which a create does not replace
            try:
                entry = await self._call(kv.get(key))
            except (nats.js.errors.KeyNotFoundError, nats.js.errors.KeyDeletedError):
                return None
            if entry.value:
                return None  # a live lease
            try:
                rev = await self._call(kv.update(key, body, last=entry.revision))
            except nats.js.errors.KeyWrongLastSequenceError:
                return None
        self._owners[camera_id] = Owner(worker_id, int(rev))
        return int(rev)

    async def renew(self, camera_id: str, worker_id: str, revision: int) -> int | None:
        """Keep a camera: the new revision, None if the lease is no longer ours (it
        expired and was taken, or was deleted)."""
        assert self._cameras_kv is not None
        body = json.dumps({"worker": worker_id}).encode()
        try:
            rev = await self._call(
                self._cameras_kv.update(camera_key(camera_id), body, last=revision)
            )
        except nats.js.errors.KeyWrongLastSequenceError:
            return None
        return int(rev)

    async def release(self, camera_id: str, revision: int) -> None:
        """Free a camera we hold (nothing if it is no longer ours)."""
        assert self._cameras_kv is not None
        with contextlib.suppress(nats.js.errors.KeyWrongLastSequenceError):
            await self._call(self._cameras_kv.delete(camera_key(camera_id), last=revision))

    async def _call(self, aw: Any) -> Any:
        try:
            return await aw
        except (nats.js.errors.KeyWrongLastSequenceError, nats.js.errors.KeyNotFoundError):
            raise
        except nats.js.errors.APIError as err:
            if getattr(err, "err_code", None) == 10071:  # wrong last sequence
                raise nats.js.errors.KeyWrongLastSequenceError(err.description) from err
            raise LeaseStoreUnavailable(str(err)) from err
        except (nats.errors.Error, OSError, TimeoutError) as err:
            raise LeaseStoreUnavailable(str(err) or type(err).__name__) from err


def _worker(key: str, value: bytes) -> Worker:
    try:
        site = json.loads(value).get("site")
    except (ValueError, AttributeError):
        site = None
    return Worker(key, site if isinstance(site, str) else None)


def _beat(value: bytes) -> float:
    """Wall time a heartbeat was written (0: unreadable, taken as dead)."""
    try:
        at = json.loads(value).get("at")
    except (ValueError, AttributeError):
        return 0.0
    return float(at) if isinstance(at, int | float) else 0.0


def _owner(entry: Any) -> Owner:
    try:
        worker = str(json.loads(entry.value)["worker"])
    except (ValueError, KeyError, TypeError):
        worker = "?"
    return Owner(worker, int(entry.revision))


def current_owners(url: str, prefix: str = "vms") -> dict[str, str]:
    """camera -> worker recording it now, read once from the bucket (operations, tests,
    benchmarks; the workers keep a watched view instead)."""

    async def read() -> dict[str, str]:
        nc = await nats.connect(servers(url), connect_timeout=2, max_reconnect_attempts=1)
        try:
            kv = await nc.jetstream().key_value(f"{prefix}-cameras")
            try:
                keys = await kv.keys()
            except nats.js.errors.NoKeysError:
                return {}
            out = {}
            for k in keys:
                with contextlib.suppress(nats.js.errors.KeyNotFoundError):
                    entry = await kv.get(k)
                    if entry.value:
                        out[k] = _owner(entry).worker
            return out
        finally:
            await nc.close()

    try:
        return asyncio.run(read())
    except nats.js.errors.BucketNotFoundError:
        return {}
