"""Lossless export of one camera: the recorded fMP4 segments copied, packet by packet
(no decoding, no re-encoding), into one progressive MP4 with the index at the front
(``movflags=+faststart``) that VLC, ffplay and browsers play.

- Segments are streamed one at a time: one segment's packets are in memory, never the
  whole range.
- Trimming is at GOP granularity at the start (the first exported frame is the last
  keyframe at or before the requested start: a lossless copy cannot start mid-GOP) and
  at frame granularity at the end (frames at or after the requested end are left out;
  references only point backwards in decode order, so what is kept stays decodable).
- Gaps are closed: each segment's media continues where the previous one ended; the
  placed segments (``PlacedSegment``) keep the exact media → wall mapping.
- When the stream's parameters change inside the range (codec, size, parameter sets,
  audio layout), the camera gets another output file (a new "part").
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from vms.domain.model import SegmentRecord
from vms.errors import ErrorKind, VmsError
from vms.evidence.manifest import CameraOutcome, PartOutcome
from vms.evidence.timeline import PlacedSegment
from vms.messages import msg

logger = logging.getLogger(__name__)

ReadSegment = Callable[[SegmentRecord], bytes]

_MUX_OPTIONS = {"movflags": "+faststart"}
# The stream parameters of our segments are all in their init segment (avcC): tell
# avformat_find_stream_info not to decode frames to guess them (20 ms → 1 ms a segment).
_DEMUX_OPTIONS = {"analyzeduration": "0", "skip_frame": "all", "threads": "1"}


@dataclass(frozen=True, slots=True)
class _Layout:
    """What must stay equal for segments to share one output file."""

    video: tuple[object, ...]
    audio: tuple[object, ...] | None


def _layout(video: Any, audio: Any | None) -> _Layout:
    v = video.codec_context
    a = None
    if audio is not None:
        ac = audio.codec_context
        a = (ac.name, ac.sample_rate, ac.channels, bytes(ac.extradata or b""), audio.time_base)
    return _Layout((v.name, v.width, v.height, bytes(v.extradata or b""), video.time_base), a)


def _micros(delta: timedelta) -> int:
    return delta // timedelta(microseconds=1)


class _Part:
    """One output MP4 being written."""

    def __init__(self, path: Path, video: Any, audio: Any | None) -> None:
        self.path = path
        self.container = av.open(str(path), "w", format="mp4", options=_MUX_OPTIONS)
        self.time_base: Fraction = video.time_base
        self.video = self.container.add_stream_from_template(video)
        self.video.time_base = video.time_base
        self.audio = None
        self.audio_time_base: Fraction | None = None
        if audio is not None:
            self.audio = self.container.add_stream_from_template(audio)
            self.audio.time_base = audio.time_base
            self.audio_time_base = audio.time_base
        self.next_ticks = 0
        """Video media end so far, in ``time_base`` ticks: where the next segment goes."""
        self.last_audio_dts: int | None = None
        cc = video.codec_context
        self.outcome = PartOutcome(path.name, cc.name, cc.width, cc.height)
        if audio is not None:
            self.outcome.audio = audio.codec_context.name

    def close(self) -> None:
        self.container.close()
        self.outcome.duration = self.next_ticks * self.time_base


def _split(container: Any) -> tuple[Any, Any | None, list[Any], list[Any]]:
    video = container.streams.video[0]
    audio = container.streams.audio[0] if container.streams.audio else None
    streams = [video] if audio is None else [video, audio]
    vpk: list[Any] = []
    apk: list[Any] = []
    for packet in container.demux(streams):
        if packet.dts is None or packet.size == 0:
            continue  # the demuxer's flush packet
        (vpk if packet.stream is video else apk).append(packet)
    return video, audio, vpk, apk


def _end_ticks(seg: SegmentRecord, packets: Sequence[Any], time_base: Fraction) -> int:
    """Decode time just after the last packet of a segment, relative to its first."""
    first, last = packets[0].dts, packets[-1].dts
    if packets[-1].duration:
        return int(last - first + packets[-1].duration)
    recorded = int(Fraction(seg.duration_90k, 90_000) / time_base)
    if recorded > last - first:
        return recorded
    interval = last - packets[-2].dts if len(packets) > 1 else int(Fraction(1, 25) / time_base)
    return int(last - first + interval)


class CameraRemuxer:
    """Copies a camera's segments into ``videos_dir/<camera>.mp4`` (or parts)."""

    def __init__(
        self,
        outcome: CameraOutcome,
        videos_dir: Path,
        read: ReadSegment,
        start: datetime,
        end: datetime,
        on_bytes: Callable[[int], None],
    ) -> None:
        self.outcome = outcome
        self.videos_dir = videos_dir
        self.read = read
        self.start = start
        self.end = end
        self.on_bytes = on_bytes
        self._part: _Part | None = None
        self._layout: _Layout | None = None
        self._paths: list[Path] = []

    def run(self) -> None:
        try:
            for seg in self.outcome.segments:
                data = self.read(seg)
                self.outcome.plaintext_sha256[seg.key] = hashlib.sha256(data).hexdigest()
                self._segment(seg, data)
                self.on_bytes(seg.bytes)
            self._close_part()
        except av.FFmpegError as err:  # from the muxer: writing or ordering packets
            detail = msg("export.muxer_failed", camera_id=self.outcome.camera.camera_id)
            raise VmsError(
                ErrorKind.INTERNAL, msg("export.write_failed", detail=detail), str(err)
            ) from err
        finally:
            if self._part is not None:  # an error left it open
                self._part.container.close()
        self._name_parts()

    def _segment(self, seg: SegmentRecord, data: bytes) -> None:
        try:
            container = av.open(io.BytesIO(data), "r", format="mp4", options=_DEMUX_OPTIONS)
        except av.FFmpegError as err:
            raise self._unreadable(seg, err) from err
        with container:
            try:
                video, audio, vpk, apk = _split(container)
            except (av.FFmpegError, IndexError) as err:
                raise self._unreadable(seg, err) from err
            if not vpk:
                logger.warning("%s: segment %s has no video frame", seg.camera_id, seg.key)
                return
            layout = _layout(video, audio)
            if self._part is None or layout != self._layout:
                self._close_part()
                self._open_part(video, audio)
                self._layout = layout
            assert self._part is not None
            self._place(seg, self._part, vpk, apk)

    def _unreadable(self, seg: SegmentRecord, err: Exception) -> VmsError:
        camera_id = self.outcome.camera.camera_id
        return VmsError(
            ErrorKind.INTERNAL,
            msg("export.unreadable_segment", camera_id=camera_id, key=seg.key),
            str(err),
        )

    def _open_part(self, video: Any, audio: Any | None) -> None:
        index = len(self._paths)
        path = self.videos_dir / f".{self.outcome.camera.camera_id}.{index}.tmp.mp4"
        self._part = _Part(path, video, audio)
        self._paths.append(path)
        if index:
            logger.info(
                "%s: stream parameters changed, export part %d",
                self.outcome.camera.camera_id,
                index + 1,
            )

    def _close_part(self) -> None:
        if self._part is not None:
            self._part.close()
            self.outcome.parts.append(self._part.outcome)
            self._part = None

    def _place(self, seg: SegmentRecord, part: _Part, vpk: list[Any], apk: list[Any]) -> None:
        tb = part.time_base
        dts0 = vpk[0].dts
        start_ticks = Fraction(_micros(self.start - seg.start_at), 1_000_000) / tb
        end_ticks = Fraction(_micros(self.end - seg.start_at), 1_000_000) / tb
        first = 0
        if start_ticks > 0:  # last keyframe at or before the requested start
            for i, p in enumerate(vpk):
                if p.dts - dts0 > start_ticks:
                    break
                if p.is_keyframe:
                    first = i
        stop = len(vpk)
        for i in range(first, len(vpk)):
            if vpk[i].dts - dts0 >= end_ticks:
                stop = i
                break
        kept = vpk[first:stop]
        if not kept:
            return
        origin = kept[0].dts
        seg_end = _end_ticks(seg, vpk, tb) + dts0 if stop == len(vpk) else vpk[stop].dts
        base = part.next_ticks
        for p in kept:
            dts, pts = p.dts, p.pts
            p.dts = base + dts - origin
            p.pts = base + (dts if pts is None else pts) - origin
            p.stream = part.video
            part.container.mux(p)
        media_end = base + seg_end - origin
        if apk and part.audio is not None and part.audio_time_base is not None:
            self._audio(part, apk, origin * tb, base * tb, media_end * tb)
        part.next_ticks = media_end
        part.outcome.frames += len(kept)
        self.outcome.placed.append(
            PlacedSegment(
                segment=seg,
                part=len(self._paths) - 1,
                frames=len(kept),
                media_start=base * tb,
                media_end=media_end * tb,
                wall_start=seg.start_at
                + timedelta(microseconds=round((origin - dts0) * tb * 1_000_000)),
                head_dropped=first,
                tail_dropped=len(vpk) - stop,
            )
        )

    @staticmethod
    def _audio(
        part: _Part, packets: list[Any], origin_s: Fraction, base_s: Fraction, end_s: Fraction
    ) -> None:
        """Audio follows the video's placement: same shift, within the kept video."""
        atb = part.audio_time_base
        assert atb is not None and part.audio is not None
        for p in packets:
            at_s = p.dts * atb - origin_s + base_s
            if at_s < base_s or at_s >= end_s:
                continue
            dts = round(at_s / atb)
            if part.last_audio_dts is not None and dts <= part.last_audio_dts:
                continue
            shift = dts - p.dts
            p.pts = (p.dts if p.pts is None else p.pts) + shift
            p.dts = dts
            p.stream = part.audio
            part.container.mux(p)
            part.last_audio_dts = dts

    def _name_parts(self) -> None:
        """Give the parts their final names: <camera>.mp4, or <camera>-partie-N.mp4."""
        camera_id = self.outcome.camera.camera_id
        single = len(self._paths) == 1
        for index, (path, part) in enumerate(zip(self._paths, self.outcome.parts, strict=True)):
            name = f"{camera_id}.mp4" if single else f"{camera_id}-partie-{index + 1}.mp4"
            path.replace(self.videos_dir / name)
            part.path = f"{self.videos_dir.name}/{name}"
