"""The simulated cameras as a client sees them (PyAV over RTSP/TCP), directly and through
the fault proxy."""

from __future__ import annotations

import itertools
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import av
import pytest

from tests.fixtures.sim import SimFactory
from vms.media.sei import parse_counter_sei
from vms.sim.proxy import FaultProxy

pytestmark = pytest.mark.integration

FRAME_90K = 90_000 // 25


@dataclass
class Pulled:
    codec: str
    width: int
    height: int
    pts: list[int] = field(default_factory=list)
    keyframes: list[int] = field(default_factory=list)  # indices into pts
    counters: list[tuple[int, int]] = field(default_factory=list)  # (counter, wall_us)
    ended: str = ""  # why the read stopped early, if it did


def pull(url: str, seconds: float, open_timeout_s: float = 10.0) -> Pulled:
    """Demux ``url`` for ``seconds`` (from the first packet), or until it breaks."""
    options = {"rtsp_transport": "tcp", "analyzeduration": "200000"}  # SDP has the rest
    container = av.open(url, options=options, timeout=(open_timeout_s, 3.0))
    try:
        stream = container.streams.video[0]
        out = Pulled(stream.codec_context.name, stream.width, stream.height)
        start: float | None = None
        try:
            for packet in container.demux(stream):
                if packet.pts is None:
                    continue
                start = start or time.monotonic()
                if packet.is_keyframe:
                    out.keyframes.append(len(out.pts))
                out.pts.append(packet.pts)
                found = parse_counter_sei(bytes(packet))
                if found is not None:
                    out.counters.append(found)
                if time.monotonic() - start >= seconds:
                    break
            else:
                out.ended = "eof"
        except av.error.FFmpegError as err:
            out.ended = repr(err)
        return out
    finally:
        container.close()


def check_video(p: Pulled, width: int, height: int) -> None:
    assert (p.codec, p.width, p.height) == ("h264", width, height)
    steps = [b - a for a, b in itertools.pairwise(p.pts)]
    assert steps and min(steps) > 0, steps  # monotonic
    assert statistics.median(steps) == FRAME_90K, steps
    fps = (len(p.pts) - 1) * 90_000 / (p.pts[-1] - p.pts[0])
    assert 24.5 <= fps <= 25.5, fps
    gops = [b - a for a, b in itertools.pairwise(p.keyframes)]
    assert gops and set(gops) == {25}, p.keyframes


def check_consecutive(counters: list[tuple[int, int]]) -> None:
    numbers = [c for c, _ in counters]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), numbers
    walls = [w for _, w in counters]
    steps_us = [b - a for a, b in itertools.pairwise(walls)]
    # the wall clock of capture advances by a frame period (40 ms) per frame
    assert all(30_000 <= s <= 50_000 for s in steps_us), steps_us
    assert abs(walls[-1] / 1e6 - time.time()) < 10


def test_counter_and_loop_cameras_main_and_sub(sim_cameras: SimFactory) -> None:
    sim = sim_cameras(loop=1, counter=1)
    urls = [sim.url(0, "main"), sim.url(1, "main"), sim.url(0, "sub"), sim.url(1, "sub")]
    with ThreadPoolExecutor(len(urls)) as pool:
        counter_main, loop_main, counter_sub, loop_sub = pool.map(lambda u: pull(u, 3.2), urls)

    check_video(counter_main, 1280, 720)
    check_video(loop_main, 1280, 720)
    check_video(counter_sub, 640, 360)
    check_video(loop_sub, 640, 360)
    # every frame of a counter camera carries the counter; loop cameras carry none
    assert len(counter_main.counters) == len(counter_main.pts)
    check_consecutive(counter_main.counters)
    check_consecutive(counter_sub.counters)
    assert loop_main.counters == [] and loop_sub.counters == []


def test_many_reconnections_are_served(sim_cameras: SimFactory) -> None:
    sim = sim_cameras(loop=1, counter=1)
    last = -1
    for _ in range(8):
        cam0 = pull(sim.url(0), 0.2, open_timeout_s=5)
        assert cam0.counters and cam0.counters[0][0] > last
        last = cam0.counters[-1][0]
        assert pull(sim.url(1), 0.2, open_timeout_s=5).pts


def test_clients_of_a_mount_share_one_live_stream(sim_cameras: SimFactory) -> None:
    sim = sim_cameras(counter=1)
    with ThreadPoolExecutor(2) as pool:
        long = pool.submit(pull, sim.url(0), 3.0)
        time.sleep(0.5)
        short = pull(sim.url(0), 1.0)
        stays = long.result(timeout=15)
    # the one that stayed saw every frame, before, during and after the other's visit
    check_consecutive(stays.counters)
    check_consecutive(short.counters)
    seen = {c for c, _ in stays.counters}
    assert {c for c, _ in short.counters} <= seen
    assert dict(short.counters).items() <= dict(stays.counters).items()  # same frames


def test_through_the_proxy_down_then_up(sim_cameras: SimFactory) -> None:
    sim = sim_cameras(counter=1)
    with FaultProxy("127.0.0.1", sim.port) as proxy:
        url = proxy.url_for(sim.url(0))
        before = pull(url, 1.0)
        check_consecutive(before.counters)

        with ThreadPoolExecutor(1) as pool:
            cut = pool.submit(pull, url, 30.0)
            time.sleep(2.0)  # streaming through the proxy
            proxy.down()
            broken = cut.result(timeout=10)  # the cut ends the session early
        assert broken.ended, "the client did not notice the cut"
        assert len(broken.pts) < 30 * 25
        check_consecutive(broken.counters)
        with pytest.raises(av.error.FFmpegError):
            pull(url, 0.5, open_timeout_s=2)  # refused while down
        time.sleep(1.0)
        proxy.up()

        after = pull(url, 1.0)
        check_consecutive(after.counters)
    kinds = [e.kind for e in proxy.events]
    assert kinds == ["down", "up"]
    ((down_at, up_at),) = proxy.outages()
    assert up_at > down_at
    # the camera kept counting during the outage: the counter jumped by about its length
    jump = after.counters[0][0] - broken.counters[-1][0]
    outage_frames = (proxy.events[1].monotonic - proxy.events[0].monotonic) * 25
    assert jump > outage_frames, (jump, outage_frames)
    assert jump < outage_frames + 3 * 25, (jump, outage_frames)
