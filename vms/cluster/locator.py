"""Which ingest worker's relay serves a camera now (live video, PTZ, ONVIF probes).

Each ingest worker keeps a ``RelayDirectory`` of the cameras it holds. A web node asks
through a ``Locator``:

- ``NatsLocator`` (several workers, ``[cluster] nats_url``): a request on
  ``<prefix>.relay.<camera>``, answered by the worker holding the camera; each worker's
  ``RelayResponder`` subscribes to that subject while it holds the camera, so nobody
  answers ("no responders", at once) when no worker holds it, and a worker that died
  stops answering with its connection. ``<prefix>.relay-any.<commune>`` (a queue
  group of the workers holding cameras of that commune: one of them answers) gives a
  relay of the caller's perimeter, for ONVIF probes of cameras not yet added.
- ``LocalLocator`` (``vms serve``, one process): the same question asked of the
  process's own directory: the in-process bus.
- ``DbLocator`` (a web node without NATS in front of one ingest worker in another
  process): the relay each worker announces in ``live_relays`` / ``ptz_relays``.

The handlers call ``locate`` / ``any_relay`` the same way whatever the transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any, Protocol

import nats
import nats.errors
from psycopg_pool import AsyncConnectionPool

from vms.cluster import servers
from vms.db import live
from vms.db.scope import scoped

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_S = 2.0
CONNECT_TIMEOUT_S = 5.0
ANY_GROUP = "relays"


@dataclass(frozen=True)
class Holding:
    """A camera as served by one relay."""

    relay_url: str
    streams: tuple[str, ...]
    ptz: bool
    worker: str

    def to_json(self) -> bytes:
        return json.dumps(
            {"relay_url": self.relay_url, "streams": list(self.streams), "ptz": self.ptz,
             "worker": self.worker}
        ).encode()  # fmt: skip

    @classmethod
    def from_json(cls, data: bytes) -> Holding:
        doc = json.loads(data)
        return cls(
            str(doc["relay_url"]),
            tuple(str(s) for s in doc["streams"]),
            bool(doc["ptz"]),
            str(doc["worker"]),
        )


def relay_subject(prefix: str, camera_id: str) -> str:
    return f"{prefix}.relay.{camera_id}"


def any_subject(prefix: str, tenant: str) -> str:
    return f"{prefix}.relay-any.{tenant}"


class RelayDirectory:
    """The cameras this worker's relay serves now, with their communes (thread-safe).
    ``listeners`` hear each change (camera id, holding or None)."""

    def __init__(self, relay_url: str, worker: str) -> None:
        self.relay_url = relay_url
        self.worker = worker
        self._held: dict[str, tuple[Holding, str]] = {}  # camera -> (holding, commune)
        self._lock = threading.Lock()
        self.listeners: list[Any] = []

    def hold(self, camera_id: str, tenant: str, streams: list[str], ptz: bool) -> None:
        holding = Holding(self.relay_url, tuple(sorted(set(streams))), ptz, self.worker)
        with self._lock:
            self._held[camera_id] = (holding, tenant)
        for listener in list(self.listeners):
            listener(camera_id, holding)

    def drop(self, camera_id: str) -> None:
        with self._lock:
            had = self._held.pop(camera_id, None)
        if had is not None:
            for listener in list(self.listeners):
                listener(camera_id, None)

    def tenants(self) -> set[str]:
        """The communes of the cameras held."""
        with self._lock:
            return {tenant for _, tenant in self._held.values()}

    def get(self, camera_id: str) -> Holding | None:
        with self._lock:
            entry = self._held.get(camera_id)
        return entry[0] if entry else None

    def held(self) -> dict[str, Holding]:
        with self._lock:
            return {camera: holding for camera, (holding, _) in self._held.items()}


class Locator(Protocol):
    async def locate(self, camera_id: str, tenant: str) -> Holding | None:
        """The relay serving ``camera_id`` now (None: no worker holds it). ``tenant``:
        the camera's commune (row-level security of the database transport)."""

    async def any_relay(self, tenants: AbstractSet[str]) -> str | None:
        """A relay of an ingest worker holding cameras of one of ``tenants`` (ONVIF
        probes run on the cameras' network, through a worker of the caller's
        perimeter), or None."""

    async def close(self) -> None: ...


class LocalLocator:
    """The in-process bus of ``vms serve``: this process's own relay directory."""

    def __init__(self, directory: RelayDirectory) -> None:
        self.directory = directory

    async def locate(self, camera_id: str, tenant: str) -> Holding | None:
        return self.directory.get(camera_id)

    async def any_relay(self, tenants: AbstractSet[str]) -> str | None:
        return self.directory.relay_url if self.directory.tenants() & tenants else None

    async def close(self) -> None:
        pass


class DbLocator:
    """A web node without NATS: the relays the ingest worker announced in the database."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def locate(self, camera_id: str, tenant: str) -> Holding | None:
        async with scoped(self.pool, {tenant}) as conn:
            streams = await live.relays_of(conn, camera_id)
            ptz = await live.ptz_relay_url(conn, camera_id)
        if not streams and ptz is None:
            return None
        url = streams[0][1] if streams else str(ptz)
        return Holding(url, tuple(s for s, _ in streams), ptz is not None, "")

    async def any_relay(self, tenants: AbstractSet[str]) -> str | None:
        async with scoped(self.pool, tenants) as conn:
            return await live.any_relay_url(conn)

    async def close(self) -> None:
        pass


class NatsLocator:
    """A web node's questions over NATS, answered by the worker holding the camera.
    Connects on first use, in the caller's event loop (the web server's)."""

    def __init__(self, url: str, prefix: str, timeout_s: float = REQUEST_TIMEOUT_S) -> None:
        self.url = url
        self.prefix = prefix
        self.timeout_s = timeout_s
        self._nc: Any = None
        self._lock: asyncio.Lock | None = None

    async def _client(self) -> Any:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._nc is None or self._nc.is_closed:
                # the client retries a first connection forever: bounded here, so that a
                # request answers 503 while the bus is down (the next one tries again)
                self._nc = await asyncio.wait_for(
                    nats.connect(
                        servers(self.url), name="vms-web-locator", connect_timeout=2,
                        reconnect_time_wait=0.5, max_reconnect_attempts=-1,
                    ),
                    CONNECT_TIMEOUT_S,
                )  # fmt: skip
            return self._nc

    async def _ask(self, subject: str) -> bytes | None:
        try:
            nc = await self._client()
            msg = await nc.request(subject, b"", timeout=self.timeout_s)
        except nats.errors.NoRespondersError:
            return None
        except (nats.errors.Error, TimeoutError, OSError) as err:
            log.warning("relay locator: no answer on %s (%s)", subject, err)
            return None
        return bytes(msg.data)

    async def locate(self, camera_id: str, tenant: str) -> Holding | None:
        data = await self._ask(relay_subject(self.prefix, camera_id))
        if data is None:
            return None
        try:
            return Holding.from_json(data)
        except (ValueError, KeyError, TypeError) as err:
            log.warning("relay locator: unreadable answer for %s (%s)", camera_id, err)
            return None

    async def any_relay(self, tenants: AbstractSet[str]) -> str | None:
        for tenant in sorted(tenants):  # "no responders" at once for the others
            data = await self._ask(any_subject(self.prefix, tenant))
            if data:
                return data.decode()
        return None

    async def close(self) -> None:
        if self._nc is not None:
            with contextlib.suppress(nats.errors.Error, OSError):
                await self._nc.close()
            self._nc = None


class RelayResponder:
    """An ingest worker's answers over NATS: subscribed to each camera it holds and to
    the queue group of each commune it holds cameras of (the directory's changes).
    Own thread and loop."""

    def __init__(self, url: str, prefix: str, directory: RelayDirectory) -> None:
        self.url = url
        self.prefix = prefix
        self.directory = directory
        self._subs: dict[str, Any] = {}
        self._tenant_subs: dict[str, Any] = {}
        self._nc: Any = None
        self._guard: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True, name="relay-locator")

    def start(self, timeout_s: float = 15.0) -> None:
        self.directory.listeners.append(self._changed)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            log.warning("relay locator: no answer from NATS yet; retrying in the background")

    def stop(self) -> None:
        with contextlib.suppress(ValueError):
            self.directory.listeners.remove(self._changed)
        loop, stop = self._loop, self._stop
        self._loop = None
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # closed meanwhile
                loop.call_soon_threadsafe(stop.set)
        if self._thread.is_alive():
            self._thread.join(10)

    def _main(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        self._stop = asyncio.Event()
        self._guard = asyncio.Lock()
        nc = await nats.connect(
            servers(self.url), name=f"vms-relay-{self.directory.worker}",
            max_reconnect_attempts=-1, reconnect_time_wait=0.5,
        )  # fmt: skip
        self._nc = nc
        self._loop = asyncio.get_running_loop()  # changes are followed from now on
        try:
            for camera_id in self.directory.held():
                await self._sync(camera_id)
            self._ready.set()
            await self._stop.wait()
        finally:
            with contextlib.suppress(nats.errors.Error, OSError):
                await nc.close()

    def _changed(self, camera_id: str, holding: Holding | None) -> None:
        loop = self._loop
        if loop is not None:
            asyncio.run_coroutine_threadsafe(self._sync(camera_id), loop)

    async def _sync(self, camera_id: str) -> None:
        """Subscribed to the camera's subject exactly while the directory holds it."""
        assert self._guard is not None
        async with self._guard:
            held = self.directory.get(camera_id) is not None
            sub = self._subs.get(camera_id)
            if held and sub is None:
                subject = relay_subject(self.prefix, camera_id)
                self._subs[camera_id] = await self._nc.subscribe(subject, cb=self._on_request)
            elif not held and sub is not None:
                del self._subs[camera_id]
                with contextlib.suppress(nats.errors.Error):
                    await sub.unsubscribe()
            tenants = self.directory.tenants()
            for tenant in tenants - self._tenant_subs.keys():
                self._tenant_subs[tenant] = await self._nc.subscribe(
                    any_subject(self.prefix, tenant), queue=ANY_GROUP, cb=self._on_any
                )
            for tenant in self._tenant_subs.keys() - tenants:
                with contextlib.suppress(nats.errors.Error):
                    await self._tenant_subs.pop(tenant).unsubscribe()

    async def _on_request(self, msg: Any) -> None:
        holding = self.directory.get(msg.subject.rsplit(".", 1)[-1])
        if holding is not None and msg.reply:
            await msg.respond(holding.to_json())

    async def _on_any(self, msg: Any) -> None:
        if msg.reply:
            await msg.respond(self.directory.relay_url.encode())
