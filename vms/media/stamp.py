"""Capture-time stamp of the simulated counter cameras: the capture wall clock of each
frame, burnt into the picture as a row of black and white blocks, so that whoever
shows the frame (a browser canvas, a decoder) can read back when it was captured and
measure glass-to-glass latency. Pure: no IO, stdlib only (the simulator imports it
under the system interpreter).

Layout, for a picture ``width`` x ``height`` (both streams of a camera, so one reader
fits both): square blocks of ``width // 40`` pixels (16 on 640x360, 32 on 1280x720,
aligned on the 16x16 macroblocks), ``ROWS`` rows of ``COLS`` blocks, the first block at
(1 block, 4 blocks) from the top-left corner, below the camera name the simulator
writes. 48 bits, row by row, most significant first:

- 2 start bits, 1 then 0;
- 40 bits: the capture time in milliseconds since the Unix epoch, modulo 2**40
  (34.8 years: ``unwrap`` restores it from any clock within half that);
- 6 check bits: the CRC-6 (x^6 + x + 1) of the 40 time bits.

A bit is white (luma 235) for 1, black (luma 16) for 0; a reader thresholds the luma
at the block's centre (``LUMA_THRESHOLD``). Blocks this size survive H.264 at the
simulator's bit rates without error; the start bits and the CRC reject a misread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

COLS = 24
ROWS = 2
BITS = COLS * ROWS
VALUE_BITS = 40
CRC_BITS = 6
MODULUS_MS = 1 << VALUE_BITS
START = (1, 0)
WHITE = 235
BLACK = 16
LUMA_THRESHOLD = 128
_CRC_POLY = 0b000011  # x^6 + x + 1, without its x^6 term (CRC-6-ITU)

assert len(START) + VALUE_BITS + CRC_BITS == BITS


@dataclass(frozen=True, slots=True)
class Layout:
    """Where the stamp lies in a picture (pixels, luma plane)."""

    block_px: int
    x0: int
    y0: int

    @property
    def width_px(self) -> int:
        return COLS * self.block_px

    @property
    def height_px(self) -> int:
        return ROWS * self.block_px

    def centres(self) -> list[tuple[int, int]]:
        """(x, y) of the centre of each block, in bit order."""
        half = self.block_px // 2
        return [
            (self.x0 + col * self.block_px + half, self.y0 + row * self.block_px + half)
            for row in range(ROWS)
            for col in range(COLS)
        ]


def layout(width: int, height: int) -> Layout:
    """The stamp's place in a ``width`` x ``height`` picture; ValueError if it does not
    fit (a picture narrower than 320 pixels)."""
    block = width // 40
    if block < 8:
        raise ValueError(f"a {width}x{height} picture is too small for the stamp")
    placed = Layout(block, block, 4 * block)
    if placed.x0 + placed.width_px > width or placed.y0 + placed.height_px > height:
        raise ValueError(f"a {width}x{height} picture is too small for the stamp")
    return placed


def crc6(value: int) -> int:
    """CRC-6 (x^6 + x + 1, zero initial value) of the 40 bits of ``value``."""
    crc = 0
    for i in range(VALUE_BITS - 1, -1, -1):
        feedback = ((crc >> (CRC_BITS - 1)) & 1) ^ ((value >> i) & 1)
        crc = (crc << 1) & ((1 << CRC_BITS) - 1)
        if feedback:
            crc ^= _CRC_POLY
    return crc


def encode(wall_ms: int) -> list[int]:
    """The 48 bits (0 or 1, in block order) that stamp the capture time ``wall_ms``
    (milliseconds since the Unix epoch; only its value modulo 2**40 is kept)."""
    value = wall_ms % MODULUS_MS
    word = (value << CRC_BITS) | crc6(value)
    width = VALUE_BITS + CRC_BITS
    return [*START, *((word >> (width - 1 - i)) & 1 for i in range(width))]


def decode(bits: Sequence[int]) -> int | None:
    """The capture time modulo 2**40 (ms) from 48 bits, or None when the start bits or
    the CRC do not match (no stamp, or a misread block)."""
    if len(bits) != BITS or tuple(bits[: len(START)]) != START:
        return None
    word = 0
    for bit in bits[len(START) :]:
        word = (word << 1) | (1 if bit else 0)
    value, check = word >> CRC_BITS, word & ((1 << CRC_BITS) - 1)
    return value if crc6(value) == check else None


def decode_levels(levels: Sequence[float]) -> int | None:
    """``decode`` from the luma (or grey level, 0..255) at each block centre."""
    return decode([1 if level >= LUMA_THRESHOLD else 0 for level in levels])


def unwrap(stamp_ms: int, reference_ms: int) -> int:
    """The full time (ms since the epoch) of a stamp read modulo 2**40, taking the one
    nearest to ``reference_ms`` (the reader's clock)."""
    delta = (reference_ms - stamp_ms) % MODULUS_MS
    if delta >= MODULUS_MS // 2:
        delta -= MODULUS_MS
    return reference_ms - delta


def draw(plane: memoryview | bytearray, stride: int, where: Layout, wall_ms: int) -> None:
    """Write the stamp of ``wall_ms`` into a luma plane (``stride`` bytes per row), in
    place. The stamp owns the whole rows it lies on: they are rewritten from edge to
    edge (black around the blocks) in one copy, which costs far less in Python than
    writing each block's rows."""
    bits = encode(wall_ms)
    size = where.block_px
    on, off = bytes([WHITE]) * size, bytes([BLACK]) * size
    left = bytes([BLACK]) * where.x0
    right = bytes([BLACK]) * (stride - where.x0 - where.width_px)
    lines = []
    for row in range(ROWS):
        blocks = (on if bit else off for bit in bits[row * COLS : (row + 1) * COLS])
        lines.append(b"".join((left, *blocks, right)) * size)
    band = b"".join(lines)
    start = where.y0 * stride
    plane[start : start + len(band)] = band


def read(plane: bytes | bytearray | memoryview, stride: int, where: Layout) -> int | None:
    """``decode`` the stamp of a luma plane (``stride`` bytes per row)."""
    return decode_levels([plane[y * stride + x] for x, y in where.centres()])
