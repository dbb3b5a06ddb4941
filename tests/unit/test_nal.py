"""NAL framing and the picture check that drops the parser's flushed fragments."""

from __future__ import annotations

import struct

from vms.media.nal import carries_picture, nal_units

AUD = b"\x09\x30"
SPS = b"\x67\x42\x00\x1f"
PPS = b"\x68\xce\x3c\x80"
IDR = b"\x65\x88\x84\x00\x33"
P_SLICE = b"\x41\x9a\x02"
HEVC_VPS = b"\x40\x01\x0c"
HEVC_IDR = b"\x26\x01\xaf"


def annexb(*units: bytes) -> bytes:
    return b"".join(b"\x00\x00\x00\x01" + u for u in units)


def avcc(*units: bytes) -> bytes:
    return b"".join(struct.pack(">I", len(u)) + u for u in units)


def test_both_framings_split_into_the_same_units() -> None:
    units = [AUD, SPS, PPS, IDR]
    assert nal_units(annexb(*units)) == units
    assert nal_units(avcc(*units)) == units


def test_a_delimiter_alone_is_not_a_picture() -> None:
    # what a recording of a link cut stored before the check: 00000002 0930
    assert not carries_picture(avcc(AUD), "h264")
    assert not carries_picture(annexb(AUD, SPS, PPS), "h264")
    assert not carries_picture(b"", "h264")


def test_slices_are_pictures_in_either_framing() -> None:
    assert carries_picture(annexb(AUD, SPS, PPS, IDR), "h264")
    assert carries_picture(avcc(AUD, P_SLICE), "h264")


def test_hevc_uses_its_own_nal_types() -> None:
    assert not carries_picture(annexb(HEVC_VPS), "hevc")
    assert carries_picture(annexb(HEVC_VPS, HEVC_IDR), "hevc")
    # an H.264 delimiter byte read as HEVC is type 4 (a picture): the codec matters
    assert carries_picture(annexb(AUD), "hevc")


def test_codecs_without_nal_units_are_not_filtered() -> None:
    assert carries_picture(b"\xff\xd8\xff", "mjpeg")
