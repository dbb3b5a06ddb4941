"""H.264/H.265 NAL-unit framing. Pure: bytes in, answers out.

Access units come framed two ways: Annex-B (start codes, as RTSP delivers them) or
4-byte length prefixes (AVCC/HVCC, as MP4 samples store them).
"""

from __future__ import annotations

import struct


def _avcc_units(data: bytes) -> list[bytes] | None:
    """NAL units of a 4-byte length-prefixed access unit, or None if it is not one."""
    units = []
    pos = 0
    while pos < len(data):
        if pos + 4 > len(data):
            return None
        (size,) = struct.unpack_from(">I", data, pos)
        pos += 4
        if size == 0 or pos + size > len(data) or data[pos] & 0x80:
            return None  # forbidden_zero_bit set: not a NAL header
        units.append(data[pos : pos + size])
        pos += size
    return units


def _annexb_units(data: bytes) -> list[bytes]:
    """NAL units of an Annex-B access unit (3- or 4-byte start codes)."""
    units = []
    for part in data.split(b"\x00\x00\x01")[1:]:
        unit = part.rstrip(b"\x00")  # trailing zeros belong to the next start code
        if unit:
            units.append(unit)
    return units


def nal_units(access_unit: bytes) -> list[bytes]:
    """The NAL units of an access unit, framed either way (detected): AVCC (4-byte
    lengths, as in MP4 samples) when the lengths tile the data exactly, else Annex-B."""
    units = _avcc_units(access_unit)
    return units if units is not None else _annexb_units(access_unit)


# NAL unit types that carry a coded picture (slice data).
_H264_VCL = frozenset({1, 2, 3, 4, 5})


def carries_picture(access_unit: bytes, codec: str) -> bool:
    """True when the access unit holds at least one slice (a picture), False when it
    holds only parameter sets, delimiters or SEI: what libavformat's parser flushes
    when a stream ends after the first packets of an access unit."""
    if codec == "h264":
        return any(nal[0] & 0x1F in _H264_VCL for nal in nal_units(access_unit))
    if codec == "hevc":  # HEVC VCL types are 0..31
        return any((nal[0] >> 1) & 0x3F < 32 for nal in nal_units(access_unit))
    return True  # other codecs: no NAL structure to check


_START = b"\x00\x00\x00\x01"


def annexb_parameter_sets(extradata: bytes | None) -> bytes:
    """The H.264 parameter sets of a stream's extradata as Annex-B bytes. RTSP gives
    them already Annex-B (from the SDP's sprop-parameter-sets); an MP4 source gives an
    avcC record (version byte 1), converted here. Empty when there are none."""
    if not extradata:
        return b""
    if extradata[0] != 1:
        return extradata if extradata.startswith((_START, b"\x00\x00\x01")) else b""
    out = bytearray()
    try:
        pos = 5
        for count_mask in (0x1F, 0xFF):  # SPS count (low 5 bits), then PPS count
            count = extradata[pos] & count_mask
            pos += 1
            for _ in range(count):
                (size,) = struct.unpack_from(">H", extradata, pos)
                pos += 2
                out += _START + extradata[pos : pos + size]
                pos += size
    except (IndexError, struct.error):
        return b""
    return bytes(out)


def has_parameter_sets(access_unit: bytes) -> bool:
    """True when an H.264 access unit carries its own SPS (a decoder can start on it)."""
    return any(nal[0] & 0x1F == 7 for nal in _annexb_units(access_unit))
