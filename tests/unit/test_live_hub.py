"""The live fan-out: viewers start at a keyframe, a slow viewer is cut to the next
keyframe without holding back the others, parameter sets reach every keyframe."""

from __future__ import annotations

import asyncio
import threading

from ingest.live.hub import LiveHub
from vms.media.nal import annexb_parameter_sets, has_parameter_sets

SPS = b"\x00\x00\x00\x01\x67\x4d\x40\x1e"
PPS = b"\x00\x00\x00\x01\x68\xee\x3c\x80"
IDR = b"\x00\x00\x00\x01\x65\x88\x84"
P = b"\x00\x00\x00\x01\x41\x9a"


def publish_gops(feed, gops: int, gop: int = 25) -> None:  # type: ignore[no-untyped-def]
    for i in range(gops * gop):
        key = i % gop == 0
        feed.publish(IDR if key else P + bytes([i % 256]), i * 3600, key)


def test_viewer_starts_at_keyframe_with_parameter_sets() -> None:
    hub = LiveHub()
    feed = hub.feed("cam", "sub")
    feed.set_source("h264", 640, 360, SPS + PPS)

    async def main() -> list[tuple[int, bool, bytes]]:
        sub = feed.subscribe(max_frames=1000)
        feed.publish(P, 0, False)  # before any keyframe: not shown
        publish_gops(feed, 2)
        await asyncio.sleep(0)
        out = []
        for _ in range(50):
            f = await sub.get()
            out.append((f.pts, f.keyframe, f.data))
        sub.close()
        return out

    frames = asyncio.run(main())
    assert frames[0][1] and frames[0][0] == 0
    assert frames[0][2].startswith(SPS + PPS) and has_parameter_sets(frames[0][2])
    assert [f[0] for f in frames] == [i * 3600 for i in range(50)]
    assert not feed.active  # the last viewer left


def test_slow_viewer_is_cut_to_next_keyframe_and_others_get_everything() -> None:
    hub = LiveHub()
    feed = hub.feed("cam", "main")
    feed.set_source("h264", 1280, 720, SPS + PPS)

    async def main() -> tuple[int, int, list[int], bool]:
        fast = feed.subscribe(max_frames=1000)
        slow = feed.subscribe(max_frames=40)
        got: list[int] = []

        async def drain() -> None:
            while len(got) < 125:
                got.append((await fast.get()).pts)

        reader = asyncio.ensure_future(drain())
        # published from another thread, as the recorder does
        t = threading.Thread(target=publish_gops, args=(feed, 5))
        t.start()
        await asyncio.to_thread(t.join)
        await reader
        first_after_cut = await asyncio.wait_for(slow.get(), 5)
        slow.close()
        fast.close()
        return fast.cuts, slow.cuts, got, first_after_cut.keyframe

    fast_cuts, slow_cuts, got, resumed_on_key = asyncio.run(main())
    assert fast_cuts == 0 and got == [i * 3600 for i in range(125)]
    assert slow_cuts >= 1
    assert resumed_on_key


def test_closed_subscriber_wakes_its_reader() -> None:
    feed = LiveHub().feed("cam", "sub")

    async def main() -> bool:
        sub = feed.subscribe()
        waiter = asyncio.ensure_future(sub.get())
        await asyncio.sleep(0)
        threading.Thread(target=sub.close).start()
        try:
            await asyncio.wait_for(waiter, 5)
        except EOFError:
            return True
        return False

    assert asyncio.run(main())


def test_avcc_extradata_converted_to_annexb() -> None:
    sps, pps = SPS[4:], PPS[4:]
    avcc = bytes([1, 0x4D, 0x40, 0x1E, 0xFF, 0xE1]) + len(sps).to_bytes(2, "big") + sps
    avcc += bytes([1]) + len(pps).to_bytes(2, "big") + pps
    assert annexb_parameter_sets(avcc) == SPS + PPS
    assert annexb_parameter_sets(SPS + PPS) == SPS + PPS
    assert annexb_parameter_sets(b"\x01\x02") == b""  # truncated record: nothing
    assert annexb_parameter_sets(None) == b""
