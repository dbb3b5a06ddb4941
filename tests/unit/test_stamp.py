from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vms.media import stamp

NOW_MS = 1_790_000_000_123  # 2026-09-21


def blank_plane(width: int, height: int, luma: int = stamp.BLACK) -> bytearray:
    return bytearray([luma]) * (width * height)


def test_layout_of_both_simulator_streams_is_macroblock_aligned() -> None:
    sub = stamp.layout(640, 360)
    assert (sub.block_px, sub.x0, sub.y0) == (16, 16, 64)
    assert (sub.width_px, sub.height_px) == (384, 32)
    main = stamp.layout(1280, 720)
    assert (main.block_px, main.x0, main.y0) == (32, 32, 128)
    # the same picture, scaled: the sub-stream's centres are the main's halved
    assert [(x // 2, y // 2) for x, y in main.centres()] == sub.centres()
    assert len(sub.centres()) == stamp.BITS


def test_too_small_pictures_are_refused() -> None:
    with pytest.raises(ValueError, match="too small"):
        stamp.layout(160, 120)
    with pytest.raises(ValueError, match="too small"):
        stamp.layout(640, 80)


def test_bits_carry_start_value_and_crc() -> None:
    bits = stamp.encode(NOW_MS)
    assert len(bits) == 48 and set(bits) <= {0, 1}
    assert bits[:2] == [1, 0]
    value = int("".join(map(str, bits[2:42])), 2)
    assert value == NOW_MS % 2**40
    assert int("".join(map(str, bits[42:])), 2) == stamp.crc6(value)
    assert stamp.decode(bits) == NOW_MS % 2**40


def test_crc6_reference_values() -> None:
    # CRC-6-ITU: the remainder of m(x) * x^6 by g(x) = x^6 + x + 1, where x^6 = x + 1
    assert stamp.crc6(0) == 0
    assert stamp.crc6(1) == 0b000011  # x^6
    assert stamp.crc6(0b10) == 0b000110  # x^7 = x^2 + x
    assert stamp.crc6(1 << 5) == 0b100011  # x^11 = x^5 (x + 1) = x^5 + x + 1
    assert stamp.crc6(1 << 6) == 0b000101  # x^12 = (x + 1)^2 = x^2 + 1
    a, b = 0x12_3456_789A, 0xFE_DCBA_9876
    assert stamp.crc6(a ^ b) == stamp.crc6(a) ^ stamp.crc6(b)


@given(st.integers(min_value=0, max_value=2**40 - 1), st.integers(min_value=0, max_value=47))
def test_any_single_flipped_block_is_rejected(value: int, flipped: int) -> None:
    bits = stamp.encode(value)
    bits[flipped] ^= 1
    assert stamp.decode(bits) is None


@given(
    st.integers(min_value=0, max_value=2**40 - 1),
    st.integers(min_value=2, max_value=47),
    st.integers(min_value=2, max_value=47),
)
def test_any_two_flipped_blocks_are_rejected(value: int, first: int, second: int) -> None:
    bits = stamp.encode(value)
    bits[first] ^= 1
    bits[second] ^= 1
    if first == second:
        assert stamp.decode(bits) == value
    else:
        assert stamp.decode(bits) is None


def test_nothing_to_read_on_a_plain_picture() -> None:
    assert stamp.decode([0] * 48) is None
    assert stamp.decode([1] * 48) is None
    assert stamp.decode([1, 0]) is None
    assert stamp.decode_levels([stamp.BLACK] * 48) is None


@pytest.mark.parametrize(("width", "height"), [(640, 360), (1280, 720), (704, 576)])
def test_draw_then_read_a_luma_plane(width: int, height: int) -> None:
    plane = blank_plane(width, height)
    where = stamp.layout(width, height)
    stamp.draw(plane, width, where, NOW_MS)
    assert stamp.read(plane, width, where) == NOW_MS % 2**40
    # white only inside the stamp's rectangle
    touched = {i for i, v in enumerate(plane) if v != stamp.BLACK}
    assert min(touched) // width >= where.y0
    assert max(touched) // width < where.y0 + where.height_px
    assert all(where.x0 <= i % width < where.x0 + where.width_px for i in touched)


def test_draw_owns_the_rows_of_the_stamp_and_nothing_else() -> None:
    width, height = 640, 360
    plane = blank_plane(width, height, luma=100)
    where = stamp.layout(width, height)
    stamp.draw(plane, width, where, NOW_MS)
    band = range(where.y0 * width, (where.y0 + where.height_px) * width)
    assert all(v == 100 for i, v in enumerate(plane) if i not in band)
    assert set(plane[band.start : band.stop]) == {stamp.BLACK, stamp.WHITE}
    assert len(plane) == width * height


def test_draw_with_a_padded_stride() -> None:
    width, height, stride = 640, 360, 704
    plane = blank_plane(stride, height)
    where = stamp.layout(width, height)
    stamp.draw(memoryview(plane), stride, where, NOW_MS)
    assert stamp.read(bytes(plane), stride, where) == NOW_MS % 2**40
    assert stamp.read(plane, width, where) is None  # read with the wrong stride


def test_levels_are_thresholded_like_a_compressed_picture() -> None:
    # coding noise around the nominal levels does not change a bit
    levels = [200 if bit else 60 for bit in stamp.encode(NOW_MS)]
    assert stamp.decode_levels(levels) == NOW_MS % 2**40


def test_unwrap_restores_the_epoch_time() -> None:
    read = NOW_MS % 2**40
    assert stamp.unwrap(read, NOW_MS + 250) == NOW_MS  # read 250 ms after capture
    assert stamp.unwrap(read, NOW_MS - 5) == NOW_MS  # clocks a little apart
    # across a wrap of the modulus
    capture = 3 * 2**40 - 10
    assert stamp.unwrap(capture % 2**40, capture + 30) == capture
    assert stamp.unwrap((capture + 20) % 2**40, capture) == capture + 20
