"""The bounded queue of access units of every consumer (live viewers, fMP4 viewers,
analytics over NATS): starts at a keyframe, drops its backlog when full and resumes at
the next keyframe (vms.media.queue)."""

from __future__ import annotations

from vms.cluster.frames import Unit
from vms.media.queue import KeyframeQueue


def _u(i: int, key: bool = False) -> Unit:
    return Unit(bytes([i]), key, "h264")


def _drain(q: KeyframeQueue[Unit]) -> list[int]:
    out = []
    while (u := q.pop()) is not None:
        out.append(u.data[0])
    return out


def test_starts_at_the_first_keyframe() -> None:
    q = KeyframeQueue[Unit](10)
    for i, key in enumerate([False, False, True, False, False]):
        q.push(_u(i, key))
    assert _drain(q) == [2, 3, 4]


def test_a_full_queue_drops_its_backlog_and_resumes_at_the_next_keyframe() -> None:
    q = KeyframeQueue[Unit](3)
    q.push(_u(0, True))
    q.push(_u(1))
    q.push(_u(2))
    q.push(_u(3))  # full: everything dropped, waits for a keyframe
    q.push(_u(4))
    assert len(q) == 0 and q.cuts == 1
    q.push(_u(5, True))
    q.push(_u(6))
    assert _drain(q) == [5, 6]
    assert q.received == 7


def test_a_keyframe_arriving_on_a_full_queue_is_kept() -> None:
    q = KeyframeQueue[Unit](2)
    q.push(_u(0, True))
    q.push(_u(1))
    q.push(_u(2, True))
    assert _drain(q) == [2] and q.cuts == 1
