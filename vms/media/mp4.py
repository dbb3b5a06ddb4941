"""Minimal ISO-BMFF reader for fragmented MP4 segments. Pure: bytes in, facts out.

Used to recover a segment cut short by a crash (keep every complete fragment, drop
the torn tail) and by ``vms check`` to count frames and duration without decoding.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass


class Mp4Error(ValueError):
    """The bytes are not a readable fragmented MP4."""


@dataclass(frozen=True, slots=True)
class Box:
    type: str
    offset: int
    size: int
    header: int

    @property
    def end(self) -> int:
        return self.offset + self.size

    @property
    def body(self) -> int:
        return self.offset + self.header


@dataclass(frozen=True, slots=True)
class Fragment:
    """One moof+mdat pair."""

    offset: int
    end: int
    base_decode_time: int
    samples: int
    duration: int
    keyframe_first: bool


@dataclass(frozen=True, slots=True)
class FragmentedMp4:
    timescale: int
    init_end: int
    fragments: tuple[Fragment, ...]
    complete_end: int
    total_bytes: int

    @property
    def samples(self) -> int:
        return sum(f.samples for f in self.fragments)

    @property
    def duration(self) -> int:
        return sum(f.duration for f in self.fragments)

    @property
    def torn_bytes(self) -> int:
        """Bytes after the last complete fragment (a crash's torn tail)."""
        return self.total_bytes - self.complete_end


def iter_boxes(data: bytes | memoryview, start: int = 0, end: int | None = None) -> Iterator[Box]:
    """Yield the boxes in ``data[start:end]``; stop (without error) at a truncated box."""
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if pos + 16 > end:
                return
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            return
        yield Box(kind.decode("latin-1"), pos, size, header)
        pos += size


def _child(data: bytes | memoryview, parent: Box, kind: str) -> Box | None:
    for box in iter_boxes(data, parent.body, parent.end):
        if box.type == kind:
            return box
    return None


def _path(data: bytes | memoryview, parent: Box, *kinds: str) -> Box | None:
    box: Box | None = parent
    for kind in kinds:
        if box is None:
            return None
        box = _child(data, box, kind)
    return box


def _timescale(data: bytes | memoryview, moov: Box) -> int:
    mdhd = _path(data, moov, "trak", "mdia", "mdhd")
    if mdhd is None:
        raise Mp4Error("moov without trak/mdia/mdhd")
    version = data[mdhd.body]
    off = mdhd.body + (20 if version == 1 else 12)
    (timescale,) = struct.unpack_from(">I", data, off)
    return int(timescale)


def _trex_default_duration(data: bytes | memoryview, moov: Box) -> int:
    trex = _path(data, moov, "mvex", "trex")
    if trex is None:
        return 0
    (duration,) = struct.unpack_from(">I", data, trex.body + 12)
    return int(duration)


_SAMPLE_IS_NON_SYNC = 0x00010000


def _parse_traf(
    data: bytes | memoryview, traf: Box, trex_duration: int
) -> tuple[int, int, int, bool]:
    tfhd = _child(data, traf, "tfhd")
    tfdt = _child(data, traf, "tfdt")
    if tfhd is None:
        raise Mp4Error("traf without tfhd")
    flags = int.from_bytes(bytes(data[tfhd.body + 1 : tfhd.body + 4]), "big")
    pos = tfhd.body + 8  # version/flags + track_ID
    if flags & 0x01:
        pos += 8
    if flags & 0x02:
        pos += 4
    default_duration = trex_duration
    if flags & 0x08:
        (default_duration,) = struct.unpack_from(">I", data, pos)
        pos += 4
    if flags & 0x10:
        pos += 4
    default_flags = 0
    if flags & 0x20:
        (default_flags,) = struct.unpack_from(">I", data, pos)
    base = 0
    if tfdt is not None:
        version = data[tfdt.body]
        fmt = ">Q" if version == 1 else ">I"
        (base,) = struct.unpack_from(fmt, data, tfdt.body + 4)
    samples = 0
    duration = 0
    first_key = False
    for trun in iter_boxes(data, traf.body, traf.end):
        if trun.type != "trun":
            continue
        tflags = int.from_bytes(bytes(data[trun.body + 1 : trun.body + 4]), "big")
        (count,) = struct.unpack_from(">I", data, trun.body + 4)
        pos = trun.body + 8
        if tflags & 0x001:
            pos += 4
        first_flags: int | None = None
        if tflags & 0x004:
            (first_flags,) = struct.unpack_from(">I", data, pos)
            pos += 4
        for i in range(count):
            sample_duration = default_duration
            sample_flags = default_flags
            if tflags & 0x100:
                (sample_duration,) = struct.unpack_from(">I", data, pos)
                pos += 4
            if tflags & 0x200:
                pos += 4
            if tflags & 0x400:
                (sample_flags,) = struct.unpack_from(">I", data, pos)
                pos += 4
            if tflags & 0x800:
                pos += 4
            if i == 0 and samples == 0:
                f = first_flags if first_flags is not None else sample_flags
                first_key = not (f & _SAMPLE_IS_NON_SYNC)
            duration += sample_duration
        samples += count
    return int(base), samples, duration, first_key


def parse_fragmented(data: bytes | memoryview) -> FragmentedMp4:
    """Parse the top level of a fragmented MP4, tolerating a torn tail."""
    moov: Box | None = None
    init_end = 0
    fragments: list[Fragment] = []
    pending_moof: Box | None = None
    complete_end = 0
    for box in iter_boxes(data):
        if box.type in ("ftyp", "styp", "free", "skip", "sidx"):
            if moov is None:
                init_end = box.end
            complete_end = max(complete_end, box.end) if not pending_moof else complete_end
        elif box.type == "moov":
            moov = box
            init_end = box.end
            complete_end = box.end
        elif box.type == "moof":
            pending_moof = box
        elif box.type == "mdat" and pending_moof is not None:
            if moov is None:
                raise Mp4Error("fragment before moov")
            traf = _child(data, pending_moof, "traf")
            if traf is None:
                raise Mp4Error("moof without traf")
            base, samples, duration, key = _parse_traf(
                data, traf, _trex_default_duration(data, moov)
            )
            fragments.append(Fragment(pending_moof.offset, box.end, base, samples, duration, key))
            complete_end = box.end
            pending_moof = None
        elif box.type == "mfra":
            complete_end = box.end
    if moov is None:
        raise Mp4Error("no moov box: not an MP4 initialisation segment")
    return FragmentedMp4(
        timescale=_timescale(data, moov),
        init_end=init_end,
        fragments=tuple(fragments),
        complete_end=complete_end,
        total_bytes=len(data),
    )
