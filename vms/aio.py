"""Asyncio helpers shared by the HTTP servers of the tiers (no aiohttp import here:
the recording tier may use them without depending on the web stack)."""

from __future__ import annotations

import asyncio
from typing import Any


async def stop_runner(runner: Any, grace_s: float = 0.25) -> None:
    """Stop an aiohttp AppRunner and make sure no connection outlives it.

    ``runner.cleanup()`` closes the open connections, but a TLS connection only closes
    once the peer answers close_notify: a browser that went away never does, and the
    event loop would end with the socket still open. After ``grace_s`` such
    connections are aborted."""
    server = getattr(runner, "server", None)
    transports = list(getattr(server, "_connections", {}).values())
    await runner.cleanup()
    await asyncio.sleep(grace_s)
    for transport in transports:
        transport.abort()
    await asyncio.sleep(0)  # let connection_lost run
