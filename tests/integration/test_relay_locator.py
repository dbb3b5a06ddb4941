"""Live-relay lookups over NATS (vms.cluster.locator) against a real nats-server: a web
node's question reaches the worker that holds the camera, follows it when it moves,
gets no answer (at once) when nobody holds it or its holder died."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from tests.fixtures.nats import NatsServer
from tests.fixtures.s3 import free_port
from vms.cluster.locator import Holding, NatsLocator, RelayDirectory, RelayResponder

pytestmark = pytest.mark.integration


@pytest.fixture
def workers(nats_server: NatsServer) -> Iterator[list[tuple[RelayDirectory, RelayResponder]]]:
    out = []
    for i in (1, 2):
        d = RelayDirectory(f"https://relay-{i}:8555", f"w{i}")
        r = RelayResponder(nats_server.url, "vms", d)
        out.append((d, r))
    out[0][0].hold(
        "cam1", "commune-a", ["main", "sub"], ptz=True
    )  # held before its responder starts
    for _, r in out:
        r.start()
    yield out
    for _, r in out:
        r.stop()


def _locate(url: str, *cameras: str) -> list[Holding | None]:
    async def ask() -> list[Holding | None]:
        loc = NatsLocator(url, "vms")
        try:
            return [await loc.locate(c, "commune-a") for c in cameras]
        finally:
            await loc.close()

    return asyncio.run(ask())


def _until(url: str, camera: str, worker: str | None) -> Holding | None:
    deadline = time.monotonic() + 10
    while True:
        (h,) = _locate(url, camera)
        if (h.worker if h else None) == worker or time.monotonic() > deadline:
            return h
        time.sleep(0.1)


def test_the_holder_answers_and_is_followed(
    nats_server: NatsServer, workers: list[tuple[RelayDirectory, RelayResponder]]
) -> None:
    (d1, _), (d2, r2) = workers
    d2.hold("cam2", "commune-b", ["sub"], ptz=False)
    assert _until(nats_server.url, "cam2", "w2") is not None
    cam1, cam2, nobody = _locate(nats_server.url, "cam1", "cam2", "cam3")
    assert cam1 == Holding("https://relay-1:8555", ("main", "sub"), True, "w1")
    assert cam2 == Holding("https://relay-2:8555", ("sub",), False, "w2")
    assert nobody is None  # no responder: not a timeout

    # the camera moves from w1 to w2: the question follows it
    d1.drop("cam1")
    assert _until(nats_server.url, "cam1", None) is None
    d2.hold("cam1", "commune-a", ["main", "sub"], ptz=True)
    moved = _until(nats_server.url, "cam1", "w2")
    assert moved is not None and moved.relay_url == "https://relay-2:8555"

    # w2 dies (its connection with it): nobody answers for its cameras
    r2.stop()
    assert _locate(nats_server.url, "cam1", "cam2") == [None, None]


def test_any_relay_is_one_of_the_callers_perimeter(
    nats_server: NatsServer, workers: list[tuple[RelayDirectory, RelayResponder]]
) -> None:
    """ONVIF probes go through a worker holding cameras of the caller's communes."""
    (_, r1), (d2, r2) = workers
    d2.hold("cam2", "commune-b", ["sub"], ptz=False)
    d2.hold("cam3", "commune-a", ["sub"], ptz=False)
    assert _until(nats_server.url, "cam3", "w2") is not None

    async def ask(tenants: set[str], n: int = 1) -> list[str | None]:
        loc = NatsLocator(nats_server.url, "vms")
        try:
            return [await loc.any_relay(tenants) for _ in range(n)]
        finally:
            await loc.close()

    assert set(asyncio.run(ask({"commune-a"}, 10))) <= {
        "https://relay-1:8555", "https://relay-2:8555"
    }  # fmt: skip
    assert asyncio.run(ask({"commune-b"}, 5)) == ["https://relay-2:8555"] * 5
    assert asyncio.run(ask({"commune-c"})) == [None]  # no worker of its cameras
    d2.drop("cam2")  # w2 holds no camera of commune-b any more
    deadline = time.monotonic() + 10
    while asyncio.run(ask({"commune-b"})) != [None]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    r1.stop()
    r2.stop()
    assert asyncio.run(ask({"commune-a", "commune-b"})) == [None]


def test_a_web_node_without_the_bus_answers_nobody_instead_of_waiting() -> None:
    """NATS down when a web node first asks: no holder (503), not a request that hangs."""
    port = free_port()

    async def ask() -> tuple[Holding | None, str | None]:
        loc = NatsLocator(f"nats://127.0.0.1:{port}", "vms")
        try:
            return (await asyncio.wait_for(loc.locate("cam1", "commune-a"), 30),
                    await asyncio.wait_for(loc.any_relay({"commune-a"}), 30))  # fmt: skip
        finally:
            await loc.close()

    assert asyncio.run(ask()) == (None, None)
