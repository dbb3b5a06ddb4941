"""The relay directory and the in-process locator of ``vms serve`` (pure logic)."""

from __future__ import annotations

import asyncio

from vms.cluster.locator import Holding, LocalLocator, RelayDirectory


def test_holding_round_trips_as_json() -> None:
    h = Holding("https://10.0.0.5:8555", ("main", "sub"), True, "w1")
    assert Holding.from_json(h.to_json()) == h


def test_directory_holds_drops_and_tells_its_listeners() -> None:
    d = RelayDirectory("https://relay:1", "w1")
    heard: list[tuple[str, Holding | None]] = []
    d.listeners.append(lambda cam, h: heard.append((cam, h)))
    d.hold("cam1", "a", ["sub", "main", "sub"], ptz=False)
    assert d.get("cam1") == Holding("https://relay:1", ("main", "sub"), False, "w1")
    assert d.tenants() == {"a"}
    d.drop("cam1")
    d.drop("cam1")  # not held: nothing to tell
    assert d.get("cam1") is None and d.held() == {} and d.tenants() == set()
    assert [c for c, _ in heard] == ["cam1", "cam1"]
    assert heard[0][1] is not None and heard[1][1] is None


def test_local_locator_answers_from_the_process_directory() -> None:
    d = RelayDirectory("https://relay:1", "w1")
    d.hold("cam1", "a", ["main"], ptz=True)
    loc = LocalLocator(d)

    async def ask() -> tuple[Holding | None, Holding | None, str | None, str | None]:
        return (await loc.locate("cam1", "a"), await loc.locate("cam2", "a"),
                await loc.any_relay({"a", "b"}), await loc.any_relay({"b"}))  # fmt: skip

    held, missing, any_url, foreign = asyncio.run(ask())
    assert held is not None and held.ptz and held.streams == ("main",)
    assert missing is None
    assert any_url == "https://relay:1"
    assert foreign is None  # it holds no camera of commune b: not its relay to use
