"""The pure segmenter: cut points, fragment syncs, discontinuities."""

from __future__ import annotations

import itertools

from ingest.segmenter import Action, Segmenter, State
from vms.domain.model import GapCause

TPS = 90_000
FRAME = TPS // 25  # 25 fps


Packet = tuple[int, bool, int]  # dts, keyframe, size


def pkt(i: int, gop: int = 25, base: int = 0, size: int = 1000) -> Packet:
    return (base + i * FRAME, i % gop == 0, size)


def feed(seg: Segmenter, packets: list[Packet]) -> list:  # type: ignore[type-arg]
    return [seg.push(*p) for p in packets]


def test_drops_until_first_keyframe_then_starts_a_run() -> None:
    seg = Segmenter(TPS)
    packets = [(i * FRAME, i == 3, 10) for i in range(5)]
    actions = [d.action for d in feed(seg, packets)]
    assert actions == [Action.DROP] * 3 + [Action.START, Action.WRITE]
    assert seg.dropped == 3
    assert seg.state is State.RECORDING


def test_cuts_on_first_keyframe_at_or_after_target() -> None:
    seg = Segmenter(TPS, target_s=4.0)
    decisions = feed(seg, [pkt(i) for i in range(25 * 9)])
    cuts = [i for i, d in enumerate(decisions) if d.action is Action.CUT]
    assert cuts == [100, 200]
    closed = decisions[100].closed
    assert closed is not None
    assert closed.frames == 100
    assert closed.start_dts == 0
    assert closed.duration_ticks == 4 * TPS


def test_long_gop_delays_the_cut_to_the_next_keyframe() -> None:
    seg = Segmenter(TPS, target_s=4.0)
    decisions = feed(seg, [pkt(i, gop=60) for i in range(200)])
    assert [i for i, d in enumerate(decisions) if d.action is Action.CUT] == [120]


def test_sync_requested_at_least_every_fragment_interval() -> None:
    seg = Segmenter(TPS, target_s=4.0, fragment_s=1.0)
    decisions = feed(seg, [pkt(i) for i in range(100)])
    syncs = [i for i, d in enumerate(decisions) if d.sync]
    assert syncs == [25, 50, 75]
    gaps = [b - a for a, b in zip([0, *syncs], syncs, strict=False)]
    assert max(gaps) * FRAME <= TPS


def test_forward_jump_ends_the_run_and_reports_discontinuity() -> None:
    seg = Segmenter(TPS, gap_s=1.0)
    feed(seg, [pkt(i) for i in range(30)])
    # 3 s of missing frames, resuming on a non-keyframe then a keyframe
    late = [pkt(i) for i in range(105, 126)]
    decisions = feed(seg, late)
    first = decisions[0]
    assert first.action is Action.DROP
    assert first.discontinuity is GapCause.TIMESTAMP_JUMP
    assert first.closed is not None
    assert first.closed.frames == 30
    assert first.closed.end_dts == 30 * FRAME
    restart = decisions[-1]
    assert restart.action is Action.START and restart.new_run
    assert seg.run_start_dts == 125 * FRAME


def test_backwards_timestamp_is_a_discontinuity() -> None:
    seg = Segmenter(TPS)
    feed(seg, [pkt(i) for i in range(10)])
    d = seg.push(0, True, 10)
    assert d.action is Action.START and d.new_run
    assert d.discontinuity is GapCause.TIMESTAMP_JUMP


def test_end_closes_the_open_segment_once() -> None:
    seg = Segmenter(TPS)
    feed(seg, [pkt(i) for i in range(40)])
    closed = seg.end()
    assert closed is not None and closed.frames == 40
    assert seg.end() is None
    assert seg.push(*pkt(1)).action is Action.DROP


def test_frames_and_bytes_add_up_across_segments() -> None:
    seg = Segmenter(TPS, target_s=2.0)
    packets = [pkt(i, size=100 + i) for i in range(25 * 7)]
    decisions = feed(seg, packets)
    summaries = [d.closed for d in decisions if d.closed is not None]
    last = seg.end()
    assert last is not None
    summaries.append(last)
    assert sum(s.frames for s in summaries) == len(packets)
    assert sum(s.bytes for s in summaries) == sum(size for _, _, size in packets)
    # segments tile the media timeline with no hole and no overlap
    for a, b in itertools.pairwise(summaries):
        assert a.end_dts == b.start_dts


def test_jittered_timestamps_still_cut_at_the_target_keyframe() -> None:
    seg = Segmenter(TPS, target_s=4.0)

    def jitter(i: int) -> int:
        return -20 if i == 125 else 0  # the keyframe 4 s later arrives 20 ticks early

    packets = [(i * FRAME + jitter(i), i % 25 == 0, 10) for i in range(25, 200)]
    decisions = feed(seg, packets)
    cuts = [i for i, d in zip(range(25, 200), decisions, strict=True) if d.action is Action.CUT]
    assert cuts == [125]
