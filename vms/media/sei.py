"""Frame-counter SEI used by the simulated cameras, so tests know exactly which frames
a camera sent and which were recorded. Pure: bytes in, bytes out.

The SEI is an H.264 ``user_data_unregistered`` message (payload type 5): a 16-byte
UUID, then the frame counter (uint64, big-endian) and the camera's wall clock at
capture (int64 microseconds since the Unix epoch, big-endian).
"""

from __future__ import annotations

import struct

SIM_SEI_UUID = bytes.fromhex("6d2b1d3c5a8e4f0e9c61a1f0c0de5e11")
_NAL_SEI = 6
_PAYLOAD_USER_DATA_UNREGISTERED = 5
_START = b"\x00\x00\x00\x01"


def _escape(rbsp: bytes) -> bytes:
    """Insert emulation-prevention bytes (00 00 0x → 00 00 03 0x for x <= 3)."""
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
    """An Annex-B SEI NAL unit (with start code) carrying ``counter`` and ``wall_us``."""
    payload = SIM_SEI_UUID + struct.pack(">Qq", counter, wall_us)
    rbsp = bytes([_PAYLOAD_USER_DATA_UNREGISTERED, len(payload)]) + payload + b"\x80"
    return _START + bytes([_NAL_SEI]) + _escape(rbsp)


def insert_before_first_slice(access_unit: bytes, nal: bytes) -> bytes:
    """Insert an Annex-B ``nal`` (with start code) before the first slice of an Annex-B
    access unit, where an SEI belongs (after AUD, SPS and PPS)."""
    pos = 0
    while True:
        i = access_unit.find(b"\x00\x00\x01", pos)
        if i < 0 or i + 3 >= len(access_unit):
            return access_unit + nal
        if access_unit[i + 3] & 0x1F in (1, 5):
            start = i - 1 if i > 0 and access_unit[i - 1] == 0 else i
            return access_unit[:start] + nal + access_unit[start:]
        pos = i + 3


def _nal_units(data: bytes) -> list[bytes]:
    """Split an access unit into NAL units, Annex-B or 4-byte length-prefixed (AVCC)."""
    if data.startswith((b"\x00\x00\x01", b"\x00\x00\x00\x01")):
        units = []
        for part in data.split(b"\x00\x00\x01"):
            part = part.rstrip(b"\x00")
            if part:
                units.append(part)
        return units
    units = []
    pos = 0
    while pos + 4 <= len(data):
        (size,) = struct.unpack_from(">I", data, pos)
        pos += 4
        if size == 0 or pos + size > len(data):
            return []
        units.append(data[pos : pos + size])
        pos += size
    return units


def parse_counter_sei(access_unit: bytes) -> tuple[int, int] | None:
    """Return (counter, wall_us) from the simulator's SEI in ``access_unit``, or None."""
    for nal in _nal_units(access_unit):
        if not nal or nal[0] & 0x1F != _NAL_SEI:
            continue
        rbsp = _unescape(nal[1:])
        if len(rbsp) < 2 + 16 + 16 or rbsp[0] != _PAYLOAD_USER_DATA_UNREGISTERED:
            continue
        body = rbsp[2 : 2 + rbsp[1]]
        if len(body) >= 32 and body[:16] == SIM_SEI_UUID:
            counter, wall_us = struct.unpack_from(">Qq", body, 16)
            return int(counter), int(wall_us)
    return None
