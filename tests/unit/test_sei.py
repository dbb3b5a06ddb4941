from __future__ import annotations

import struct

import pytest

from vms.media.nal import nal_units
from vms.media.sei import (
    SIM_SEI_UUID,
    build_counter_sei,
    insert_before_first_slice,
    parse_counter_sei,
)

IDR = b"\x00\x00\x00\x01\x65\x88\x84\x00\x33"
SPS_PPS = b"\x00\x00\x00\x01\x09\xf0\x00\x00\x00\x01\x67\x42\x00\x00\x00\x01\x68\xce"


def to_avcc(annexb: bytes) -> bytes:
    return b"".join(struct.pack(">I", len(u)) + u for u in nal_units(annexb))


def test_round_trip_annexb_and_avcc() -> None:
    au = SPS_PPS + build_counter_sei(12345, 1_700_000_000_123_456) + IDR
    assert parse_counter_sei(au) == (12345, 1_700_000_000_123_456)
    assert parse_counter_sei(to_avcc(au)) == (12345, 1_700_000_000_123_456)
    # 3-byte start codes
    assert parse_counter_sei(au.replace(b"\x00\x00\x00\x01", b"\x00\x00\x01")) == (
        12345,
        1_700_000_000_123_456,
    )


def test_avcc_whose_first_length_looks_like_a_start_code() -> None:
    # a first NAL of 256..511 bytes gives the prefix 00 00 01 xx
    slice_300 = b"\x41" + bytes(range(1, 256)) + b"\x01" * 44
    au = to_avcc(b"\x00\x00\x00\x01" + slice_300) + to_avcc(build_counter_sei(9, 10))
    assert au.startswith(b"\x00\x00\x01")
    assert parse_counter_sei(au) == (9, 10)


def test_emulation_prevention_is_applied_and_removed() -> None:
    # counter 0 and a small wall clock give long runs of zero bytes
    sei = build_counter_sei(0, 1)
    assert b"\x00\x00\x00" not in sei[4:]
    assert b"\x00\x00\x01" not in sei[4:]
    assert b"\x00\x00\x03" in sei
    assert parse_counter_sei(sei) == (0, 1)
    for n in (1, 2, 3, 256, 0x0300, 0x00000301, 2**40, 2**64 - 1):
        assert parse_counter_sei(build_counter_sei(n, n % 2**63)) == (n, n % 2**63)
    assert parse_counter_sei(build_counter_sei(5, -1)) == (5, -1)


def test_out_of_range_values_are_refused() -> None:
    with pytest.raises(ValueError):
        build_counter_sei(-1, 0)
    with pytest.raises(ValueError):
        build_counter_sei(2**64, 0)
    with pytest.raises(ValueError):
        build_counter_sei(0, 2**63)


def test_garbage_and_foreign_sei_give_none() -> None:
    assert parse_counter_sei(b"") is None
    assert parse_counter_sei(b"\xff" * 40) is None
    assert parse_counter_sei(b"\x00\x00\x00\x01") is None
    assert parse_counter_sei(IDR) is None
    assert parse_counter_sei(to_avcc(IDR)) is None
    foreign = b"\x00\x00\x00\x01\x06\x05\x20" + bytes(32) + b"\x80"
    assert parse_counter_sei(foreign) is None
    truncated = build_counter_sei(1, 2)[:-10]
    assert parse_counter_sei(truncated) is None


def test_counter_found_after_another_sei_message() -> None:
    # one SEI NAL: a recovery point message (type 6), then ours
    body = SIM_SEI_UUID + struct.pack(">Qq", 77, 88)
    rbsp = b"\x06\x01\x84" + bytes([5, len(body)]) + body + b"\x80"
    nal = b"\x00\x00\x00\x01\x06" + rbsp
    assert parse_counter_sei(nal + IDR) == (77, 88)


def test_sei_goes_after_parameter_sets_and_before_the_slice() -> None:
    sei = build_counter_sei(7, 8)
    au = insert_before_first_slice(SPS_PPS + IDR, sei)
    assert au == SPS_PPS + sei + IDR
    assert parse_counter_sei(au) == (7, 8)
    assert insert_before_first_slice(SPS_PPS, sei) == SPS_PPS + sei
