"""Fragmented-MP4 reader on a golden file (tests/data/tiny_frag.mp4: 96x64, 25 fps,
2 s, a keyframe every 10 frames, made with ffmpeg's frag_keyframe+empty_moov)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vms.media.mp4 import Mp4Error, iter_boxes, parse_fragmented

DATA = (Path(__file__).parent.parent / "data" / "tiny_frag.mp4").read_bytes()


def test_top_level_boxes() -> None:
    kinds = [b.type for b in iter_boxes(DATA)]
    assert kinds[:2] == ["ftyp", "moov"]
    assert kinds.count("moof") == kinds.count("mdat") == 5


def test_counts_samples_and_duration() -> None:
    mp4 = parse_fragmented(DATA)
    assert mp4.samples == 50
    assert mp4.duration == 2 * mp4.timescale
    assert all(f.keyframe_first for f in mp4.fragments)
    assert [f.samples for f in mp4.fragments] == [10] * 5
    starts = [f.base_decode_time for f in mp4.fragments]
    assert starts == sorted(starts) and starts[0] == 0
    assert mp4.torn_bytes == 0


@pytest.mark.parametrize("cut", [150, 1000, 6000])
def test_torn_tail_keeps_complete_fragments(cut: int) -> None:
    torn = DATA[: len(DATA) - cut]
    mp4 = parse_fragmented(torn)
    assert mp4.complete_end <= len(torn)
    assert mp4.samples == 40  # the last fragment is gone, the others are intact
    assert mp4.torn_bytes == len(torn) - mp4.complete_end
    again = parse_fragmented(torn[: mp4.complete_end])
    assert again.samples == 40 and again.torn_bytes == 0


def test_torn_index_at_the_end_loses_no_sample() -> None:
    # the file ends with an mfra index (143 bytes): tearing it loses no media
    mp4 = parse_fragmented(DATA[:-7])
    assert mp4.samples == 50
    assert mp4.torn_bytes == 143 - 7


def test_not_an_mp4() -> None:
    with pytest.raises(Mp4Error):
        parse_fragmented(b"\x00\x00\x00\x08free" + b"garbage" * 10)
    with pytest.raises(Mp4Error):
        parse_fragmented(b"")
