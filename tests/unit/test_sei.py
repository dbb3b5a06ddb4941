from __future__ import annotations

import struct

from vms.media.sei import build_counter_sei, insert_before_first_slice, parse_counter_sei

IDR = b"\x00\x00\x00\x01\x65\x88\x84\x00\x33"


def to_avcc(annexb: bytes) -> bytes:
    units = [u for u in annexb.split(b"\x00\x00\x00\x01") if u]
    return b"".join(struct.pack(">I", len(u)) + u for u in units)


def test_round_trip_annexb_and_avcc() -> None:
    au = build_counter_sei(12345, 1_700_000_000_123_456) + IDR
    assert parse_counter_sei(au) == (12345, 1_700_000_000_123_456)
    assert parse_counter_sei(to_avcc(au)) == (12345, 1_700_000_000_123_456)


def test_emulation_prevention_is_applied_and_removed() -> None:
    # counter 0 and small wall clock give long runs of zero bytes
    sei = build_counter_sei(0, 1)
    assert b"\x00\x00\x00" not in sei[4:]
    assert b"\x00\x00\x03" in sei
    assert parse_counter_sei(sei) == (0, 1)
    for n in (1, 2, 3, 256, 2**40, 2**63 - 1):
        assert parse_counter_sei(build_counter_sei(n, n)) == (n, n)


def test_garbage_and_foreign_sei_give_none() -> None:
    assert parse_counter_sei(b"") is None
    assert parse_counter_sei(b"\xff" * 40) is None
    assert parse_counter_sei(IDR) is None
    foreign = b"\x00\x00\x00\x01\x06\x05\x20" + bytes(32) + b"\x80"
    assert parse_counter_sei(foreign) is None


def test_sei_goes_after_parameter_sets_and_before_the_slice() -> None:
    sps_pps = b"\x00\x00\x00\x01\x09\xf0\x00\x00\x00\x01\x67\x42\x00\x00\x00\x01\x68\xce"
    sei = build_counter_sei(7, 8)
    au = insert_before_first_slice(sps_pps + IDR, sei)
    assert au == sps_pps + sei + IDR
    assert parse_counter_sei(au) == (7, 8)
