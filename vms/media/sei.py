"""Frame-counter SEI of the simulated cameras, so tests know exactly which frames a
camera sent and which were recorded. Pure: bytes in, bytes out.

The SEI is an H.264 ``user_data_unregistered`` message (payload type 5): the 16-byte
``SIM_SEI_UUID``, then the frame counter (uint64, big-endian; 0 for the camera's first
frame, +1 per encoded frame) and the camera's wall clock at capture (int64 microseconds
since the Unix epoch, big-endian). It travels in its own SEI NAL unit (type 6) placed
before the first slice of each access unit.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from vms.media.nal import nal_units

SIM_SEI_UUID = bytes.fromhex("6d2b1d3c5a8e4f0e9c61a1f0c0de5e11")
_NAL_SEI = 6
_NAL_SLICE = 1
_NAL_IDR = 5
_PAYLOAD_USER_DATA_UNREGISTERED = 5
_BODY = struct.Struct(">Qq")  # counter, wall_us
_START = b"\x00\x00\x00\x01"


def _escape(rbsp: bytes) -> bytes:
    """Insert emulation-prevention bytes (00 00 0x -> 00 00 03 0x, for x <= 3)."""
    out = bytearray()
    zeros = 0
    for b in rbsp:
        if zeros >= 2 and b <= 3:
            out.append(3)
            zeros = 0
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return bytes(out)


def _unescape(ebsp: bytes) -> bytes:
    """Remove emulation-prevention bytes (the 03 of 00 00 03)."""
    if b"\x00\x00\x03" not in ebsp:
        return ebsp
    out = bytearray()
    zeros = 0
    for b in ebsp:
        if zeros >= 2 and b == 3:
            zeros = 0
            continue
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return bytes(out)


def build_counter_sei(counter: int, wall_us: int) -> bytes:
    """An Annex-B SEI NAL unit (with its 4-byte start code) carrying ``counter``
    (0 <= counter < 2**64) and ``wall_us`` (a signed 64-bit number)."""
    if not 0 <= counter < 2**64 or not -(2**63) <= wall_us < 2**63:
        raise ValueError(f"counter {counter} or wall clock {wall_us} out of range")
    payload = SIM_SEI_UUID + _BODY.pack(counter, wall_us)
    rbsp = bytes([_PAYLOAD_USER_DATA_UNREGISTERED, len(payload)]) + payload + b"\x80"
    return _START + bytes([_NAL_SEI]) + _escape(rbsp)


def insert_before_first_slice(access_unit: bytes, nal: bytes) -> bytes:
    """Insert an Annex-B ``nal`` (with start code) before the first slice of an Annex-B
    access unit, where an SEI belongs (after the delimiter and the parameter sets)."""
    pos = 0
    while True:
        i = access_unit.find(b"\x00\x00\x01", pos)
        if i < 0 or i + 3 >= len(access_unit):
            return access_unit + nal
        if access_unit[i + 3] & 0x1F in (_NAL_SLICE, _NAL_IDR):
            start = i - 1 if i > 0 and access_unit[i - 1] == 0 else i
            return access_unit[:start] + nal + access_unit[start:]
        pos = i + 3


def _sei_messages(rbsp: bytes) -> Iterator[tuple[int, bytes]]:
    """(payload type, payload) of each message of an SEI RBSP (after the NAL header)."""
    pos = 0
    while pos < len(rbsp) and rbsp[pos] != 0x80:  # 0x80: rbsp trailing bits
        values = []
        for _ in range(2):  # payload type, then payload size: 0xFF means "add 255"
            value = 0
            while pos < len(rbsp) and rbsp[pos] == 0xFF:
                value += 255
                pos += 1
            if pos >= len(rbsp):
                return
            values.append(value + rbsp[pos])
            pos += 1
        ptype, size = values
        if pos + size > len(rbsp):
            return
        yield ptype, rbsp[pos : pos + size]
        pos += size


def parse_counter_sei(access_unit: bytes) -> tuple[int, int] | None:
    """(counter, wall_us) from the simulator's SEI in ``access_unit`` (Annex-B or AVCC),
    or None when it carries none."""
    for nal in nal_units(access_unit):
        if nal[0] & 0x1F != _NAL_SEI:
            continue
        for ptype, payload in _sei_messages(_unescape(nal[1:])):
            if (
                ptype == _PAYLOAD_USER_DATA_UNREGISTERED
                and len(payload) >= 16 + _BODY.size
                and payload[:16] == SIM_SEI_UUID
            ):
                counter, wall_us = _BODY.unpack_from(payload, 16)
                return int(counter), int(wall_us)
    return None
