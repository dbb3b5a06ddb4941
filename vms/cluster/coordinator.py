"""One ingest worker's share of the cameras (docs/design/cluster.md).

A thread runs an asyncio loop that, every ``tick_s``:

1. writes the worker's heartbeat;
2. renews each lease it holds ``ttl_s / 3`` after its last renewal, 64 at a time
   (compare-and-set on the revision it last wrote); a lease
   found taken is stopped at once;
3. fences: a lease not renewed successfully since ``ttl_s - margin_s`` ago (the bus is
   unreachable: partition, overload) is stopped before the server can expire it and
   hand the camera to another worker, so two workers never record one camera;
4. applies the placement plan (``vms.cluster.placement.plan``): claims free cameras
   it is preferred for (or left free too long), releases those another live worker is
   now preferred for (a worker joined), at most ``max_moves`` per tick.

Starting and stopping the recording of a camera (``on_start``, ``on_stop``) block
(threads to join, a segment to close): they run in a thread pool while the loop keeps
renewing the other leases. A camera is released in the store only after its recording
has stopped."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from vms.cluster.leases import LeaseStoreUnavailable, NatsLeases
from vms.cluster.placement import CameraSlot, Worker, plan
from vms.domain.model import GapCause
from vms.errors import unavailable
from vms.messages import msg

log = logging.getLogger(__name__)


RENEW_BATCH = 64
"""Lease renewals in flight at once."""


@dataclass(frozen=True, slots=True)
class LeaseSettings:
    ttl_s: float = 5.0
    margin_s: float = 1.5
    """A lease is dropped this long before the server would expire it."""
    tick_s: float = 0.5
    orphan_after_s: float = 5.0
    """A free camera whose preferred worker does not take it within this time is
    taken by any worker that may record it."""
    max_moves: int = 8
    """Cameras released per tick when rebalancing."""
    settle_s: float = 2.0
    """A worker seen for less than this is not yet given cameras (it may be starting
    or flapping)."""


@dataclass(slots=True)
class _Held:
    revision: int
    renewed_at: float
    """When the call that last wrote the lease was sent (monotonic)."""


class Coordinator:
    def __init__(
        self,
        store: NatsLeases,
        me: Worker,
        cameras: Sequence[CameraSlot],
        on_start: Callable[[str], None],
        on_stop: Callable[[str, GapCause], None],
        settings: LeaseSettings | None = None,
    ) -> None:
        self.store = store
        self.me = me
        self.cameras = list(cameras)
        self.on_start = on_start
        self.on_stop = on_stop
        self.settings = settings or LeaseSettings()
        self.held: dict[str, _Held] = {}
        self._busy: set[str] = set()
        """Cameras being started or stopped (a task of the pool is on them)."""
        self._stopping_cams: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._free_since: dict[str, float] = {}
        self._seen_since: dict[str, float] = {}
        self._last_beat = 0.0
        self._joined = 0.0
        self._pool = concurrent.futures.ThreadPoolExecutor(8, thread_name_prefix="lease")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="cluster", daemon=True)
        self._started = threading.Event()
        self._error: BaseException | None = None

    # -- lifecycle (caller's thread) -------------------------------------------------

    def start(self, timeout_s: float = 15.0) -> None:
        self._thread.start()
        if not self._started.wait(timeout_s):
            if self.store.refused:
                raise unavailable(msg("cluster.bus_refused"))
            raise unavailable(msg("cluster.bus_silent", seconds=round(timeout_s)))
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        """Stop recording every held camera, release the leases, leave."""
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and self._thread.is_alive():
            loop.call_soon_threadsafe(stopping.set)
            self._thread.join(60)
        self._pool.shutdown(wait=True)

    def owned(self) -> list[str]:
        return sorted(self.held)

    # -- loop ------------------------------------------------------------------------

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as err:  # reported to start() when it happens there
            self._error = err
            self._started.set()
            log.exception("cluster: coordinator stopped")

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        await self.store.open()
        await self.store.heartbeat(self.me)
        self._last_beat = self._joined = time.monotonic()
        self._started.set()
        log.info("cluster: worker %s (site %s) joined", self.me.id, self.me.site or "-")
        try:
            while not self._stopping.is_set():
                await self._tick()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.settings.tick_s)
        finally:
            await self._leave()
            await self.store.close()

    async def _tick(self) -> None:
        s = self.settings
        now = time.monotonic()
        # every tick: a worker's entry expires with its leases (not ttl/4 later), so
        # its cameras go straight to their next preferred worker
        if now - self._last_beat >= s.tick_s:
            try:
                await self.store.heartbeat(self.me)
                self._last_beat = now
            except LeaseStoreUnavailable as err:
                log.warning("cluster: heartbeat not written (%s)", err)
        await self._renew()
        await self._fence()
        if not self.store.synced.is_set() or now - self._joined < s.settle_s:
            return  # a partial view would misplace cameras; workers starting together
            # see each other before placing any
        await self._apply_plan(time.monotonic())

    async def _renew(self) -> None:
        """Renew the leases last renewed ``ttl / 3`` ago or more, ``RENEW_BATCH`` at a
        time concurrently (a worker may hold hundreds of cameras)."""
        s = self.settings
        now = time.monotonic()
        due = [
            (cam, held)
            for cam, held in self.held.items()
            if cam not in self._stopping_cams and now - held.renewed_at >= s.ttl_s / 3
        ]
        for i in range(0, len(due), RENEW_BATCH):
            await asyncio.gather(*(self._renew_one(c, h) for c, h in due[i : i + RENEW_BATCH]))

    async def _renew_one(self, cam: str, held: _Held) -> None:
        sent = time.monotonic()
        try:
            rev = await self.store.renew(cam, self.me.id, held.revision)
        except LeaseStoreUnavailable:
            return  # fenced if it lasts
        if rev is None:
            log.warning("cluster: lease of %s lost to another worker", cam)
            self._begin_stop(cam, GapCause.HANDOVER, release=False)
            return
        held.revision = rev
        held.renewed_at = sent

    async def _fence(self) -> None:
        now = time.monotonic()
        for cam, held in list(self.held.items()):
            valid_until = held.renewed_at + self.settings.ttl_s - self.settings.margin_s
            if cam not in self._stopping_cams and now >= valid_until:
                log.error("cluster: lease of %s not renewed in time: recording stopped", cam)
                self._begin_stop(cam, GapCause.HANDOVER, release=False)

    async def _apply_plan(self, now: float) -> None:
        s = self.settings
        owners = self.store.owners()
        live = self.store.workers()
        for w in live:
            self._seen_since.setdefault(w, now)
        for w in list(self._seen_since):
            if w not in live:
                del self._seen_since[w]
        settled = {k: w for k, w in live.items() if now - self._seen_since[k] >= s.settle_s}
        for slot in self.cameras:
            if slot.id in owners or slot.id in self.held:
                self._free_since.pop(slot.id, None)
            else:
                self._free_since.setdefault(slot.id, now)
        free_for = {c: now - t for c, t in self._free_since.items()}
        current = {c: o.worker for c, o in owners.items()}
        current.update({c: self.me.id for c in self.held})
        p = plan(self.me, self.cameras, settled, current, free_for, s.orphan_after_s, s.max_moves)
        for cam in p.release:
            if cam in self.held and cam not in self._busy and cam not in self._stopping_cams:
                log.info("cluster: %s handed over (another worker is preferred)", cam)
                self._begin_stop(cam, GapCause.HANDOVER, release=True)
        for cam in p.claim:
            if cam in self.held or cam in self._busy or cam in self._stopping_cams:
                continue
            sent = time.monotonic()
            try:
                rev = await self.store.claim(cam, self.me.id)
            except LeaseStoreUnavailable as err:
                log.warning("cluster: claim of %s failed (%s)", cam, err)
                continue
            if rev is None:
                continue
            self.held[cam] = _Held(rev, sent)
            log.info("cluster: %s taken (free for %.1f s; workers %s)", cam,
                     free_for.get(cam, 0.0), sorted(settled))  # fmt: skip
            self._free_since.pop(cam, None)
            self._busy.add(cam)
            self._spawn(self._start_camera(cam))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _start_camera(self, cam: str) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._pool, self.on_start, cam)
            log.info("cluster: %s recorded by %s", cam, self.me.id)
        except Exception:
            log.exception("cluster: start of %s failed; lease released", cam)
            held = self.held.pop(cam, None)
            if held is None:
                return
            with contextlib.suppress(LeaseStoreUnavailable):
                await self.store.release(cam, held.revision)
        finally:
            self._busy.discard(cam)

    def _begin_stop(self, cam: str, cause: GapCause, release: bool) -> None:
        self._stopping_cams.add(cam)
        self._spawn(self._stop_camera(cam, cause, release))

    async def _stop_camera(self, cam: str, cause: GapCause, release: bool) -> None:
        loop = asyncio.get_running_loop()
        self._stopping_cams.add(cam)
        while cam in self._busy:  # a start under way ends first  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        self._busy.add(cam)
        try:
            await loop.run_in_executor(self._pool, self.on_stop, cam, cause)
        except Exception:
            log.exception("cluster: stop of %s failed", cam)
        finally:
            self._busy.discard(cam)
            self._stopping_cams.discard(cam)
            held = self.held.pop(cam, None)
        if release and held is not None:
            try:
                await self.store.release(cam, held.revision)
            except LeaseStoreUnavailable as err:
                log.warning("cluster: release of %s not written (%s); it expires", cam, err)

    async def _leave(self) -> None:
        while self._tasks:
            await asyncio.gather(*self._tasks)
        await asyncio.gather(*(self._stop_camera(c, GapCause.SHUTDOWN, release=True)
                               for c in list(self.held)))  # fmt: skip
        with contextlib.suppress(LeaseStoreUnavailable):
            await self.store.leave(self.me.id)
        log.info("cluster: worker %s left", self.me.id)
