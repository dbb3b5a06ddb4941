"""Asyncio helpers shared by the HTTP servers of the tiers (no aiohttp import here:
the recording tier may use them without depending on the web stack)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any


async def stop_runner(runner: Any, grace_s: float = 0.25) -> None:
    """Stop an aiohttp AppRunner and make sure no connection outlives it.

    ``runner.cleanup()`` closes the open connections, but a TLS connection only closes
    once the peer answers close_notify: a browser that went away never does, and the
    event loop would end with the socket still open. After ``grace_s`` such
    connections are aborted."""
    server = getattr(runner, "server", None)
    connections = getattr(server, "_connections", {})
    transports = list(connections.values())
    await runner.cleanup()
    await asyncio.sleep(grace_s)
    # and those accepted while the runner was stopping (a console reconnecting)
    for transport in {*transports, *connections.values()}:
        transport.abort()
    await asyncio.sleep(0)  # let connection_lost run


async def abort_leftover_transports() -> None:
    """Abort the socket transports still open on the running loop before it ends.

    ``stop_runner`` aborts the connections aiohttp knows, but a TLS connection still in
    its handshake when the site stops (a console reconnecting at that moment) belongs to
    no handler yet; Python 3.11 has no ``Server.abort_clients()`` (3.13). Such a socket
    would outlive the loop. The loop's selector still watches it: abort its transport."""
    loop = asyncio.get_running_loop()
    selector = getattr(loop, "_selector", None)
    if selector is None:
        return
    for key in list(selector.get_map().values()):
        handles = key.data if isinstance(key.data, tuple) else ()
        for handle in handles:
            transport = getattr(getattr(handle, "_callback", None), "__self__", None)
            # one still closing (a TLS shutdown waiting for its peer) would outlive the
            # loop too: abort it as well
            if isinstance(transport, asyncio.Transport):
                transport.abort()
    await asyncio.sleep(0)  # let connection_lost run


def bound_port(site: Any, default: int) -> int:
    """The port an aiohttp TCPSite listens on (its configured one may be 0)."""
    sockets = getattr(getattr(site, "_server", None), "sockets", None)
    return int(sockets[0].getsockname()[1]) if sockets else default


class ServerThread:
    """An asyncio service in its own thread and event loop, beside synchronous code.

    ``start()`` returns once ``serve()`` has called ``ready()``, or raises what made it
    fail; ``stop()`` makes ``stopped()`` return inside ``serve()``, then joins."""

    thread_name = "aio"

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self, timeout: float = 30.0) -> None:
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"{self.thread_name} did not start")
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has ended already
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(15)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as err:  # reported to start()
            self._error = err
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            await self.serve()
        finally:
            await abort_leftover_transports()

    def ready(self) -> None:
        self._ready.set()

    async def stopped(self) -> None:
        assert self._stop is not None
        await self._stop.wait()

    async def serve(self) -> None:
        raise NotImplementedError
