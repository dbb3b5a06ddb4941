"""Privacy masks burnt into the picture (LAW-09): the one transcoding path of ingest.

A camera with ``[[cameras.masks]]`` is decoded, every mask polygon is filled with a
uniform grey on each decoded picture, and the picture is encoded again with libx264;
what the recorder writes and the live relay sends is that masked stream only. Cameras
without masks never reach this module: their packets are copied, never decoded.

Two parts:
- the rasteriser (pure, no media library): polygons in normalised picture coordinates
  -> per-row pixel spans, computed once per picture size, then per-plane byte runs;
- ``MaskingTranscoder``: PyAV decode -> paint -> encode, handing out PyAV packets with
  what the recorder and the live feed expect of the camera's own packets: Annex-B,
  parameter sets on every keyframe (and in the extradata), keyframe flags, pts = dts
  (no B-frames) in the camera stream's own time base, a keyframe wherever the camera
  sent one (the output GOP is the camera's, capped at ``MAX_GOP_S``).

ONVIF push is not implemented: privacy masks are ONVIF Media2 operations (CreateMask,
GetMasks in ver20/media), and the WSDLs shipped with onvif-zeep-async include Media
(ver10) but not Media2, nor the Mask types. Burn-in is therefore always used (see
docs/design/recording.md, "Privacy masks").
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import av
from av.codec.context import Flags
from av.video.frame import PictureType

from vms.config import UNMASKED_SUFFIX

logger = logging.getLogger(__name__)

Point = tuple[float, float]
Polygon = tuple[Point, ...]
"""Vertices normalised to the picture: x in [0, 1] from the left, y in [0, 1] from the top."""
Span = tuple[int, int]
"""Pixel columns [start, end) of one row."""

MASK_VALUE = 128
"""Fill of every plane: Y = U = V = 128, a neutral mid grey (a black mask would read as
a dark scene; grey reads as a mask)."""
EDGE_MARGIN_PX = 2
"""The mask is grown by this many luma pixels on every side: pixels the polygon's edge
crosses are hidden too, whatever the rounding."""
X264_PRESET = "veryfast"
MAX_GOP_S = 2.0
"""A keyframe at least this often, even when the camera's GOP is longer."""
BITS_PER_PIXEL = 0.1
"""First rate target before the camera's own bitrate is measured (2.3 Mbit/s at 720p25)."""
RATE_WINDOWS_S = (2.0, 60.0)
"""The camera's bitrate is measured over its first 2 s, then every minute; when the
encoder's target is off by more than ``RATE_TOLERANCE`` it is reopened with the camera's
bitrate at the next camera keyframe (libx264 under FFmpeg 8 ignores a new target once
open). The restart costs nothing visible: that picture is a keyframe anyway."""
RATE_TOLERANCE = 0.2
MIN_BITRATE = 64_000
MAX_BITRATE = 20_000_000
_PLANAR_FORMATS = frozenset({"yuv420p", "yuvj420p"})
_MAX_THREADS = 4


def unmasked_stream(stream: str) -> str:
    """Name of the unmasked copy of a recorded stream (``keep_unmasked``)."""
    return stream + UNMASKED_SUFFIX


# -- rasterisation (pure) --------------------------------------------------------------


def _merge(spans: list[Span]) -> list[Span]:
    """Sorted, non-overlapping, non-touching spans covering the same columns."""
    out: list[Span] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def polygon_rows(polygon: Sequence[Point], width: int, height: int) -> list[list[Span]]:
    """Pixels whose centre lies inside the polygon (non-zero winding), row by row."""
    pts = [(x * width, y * height) for x, y in polygon]
    edges = [(pts[i], pts[(i + 1) % len(pts)]) for i in range(len(pts))]
    rows: list[list[Span]] = [[] for _ in range(height)]
    top = max(0, math.floor(min(y for _, y in pts)))
    bottom = min(height, math.ceil(max(y for _, y in pts)) + 1)
    for row in range(top, bottom):
        yc = row + 0.5
        crossings: list[tuple[float, int]] = []
        for (x0, y0), (x1, y1) in edges:
            if (y0 <= yc < y1) or (y1 <= yc < y0):
                x = x0 + (yc - y0) * (x1 - x0) / (y1 - y0)
                crossings.append((x, 1 if y1 > y0 else -1))
        crossings.sort()
        winding = 0
        start = 0.0
        spans: list[Span] = []
        for x, direction in crossings:
            before = winding
            winding += direction
            if before == 0 and winding != 0:
                start = x
            elif before != 0 and winding == 0:
                # columns whose centre c + 0.5 lies in [start, x)
                first = max(0, math.ceil(start - 0.5))
                last = min(width, math.ceil(x - 0.5))
                if last > first:
                    spans.append((first, last))
        rows[row] = _merge(spans)
    return rows


def rasterise(
    polygons: Sequence[Sequence[Point]], width: int, height: int, margin_px: int = EDGE_MARGIN_PX
) -> list[list[Span]]:
    """The union of the polygons as per-row spans of a ``width`` x ``height`` picture,
    grown by ``margin_px`` pixels in every direction (clipped to the picture)."""
    if width <= 0 or height <= 0:
        raise ValueError(f"picture size {width}x{height}")
    union: list[list[Span]] = [[] for _ in range(height)]
    for polygon in polygons:
        for row, spans in enumerate(polygon_rows(polygon, width, height)):
            union[row] += spans
    if margin_px <= 0:
        return [_merge(spans) for spans in union]
    grown: list[list[Span]] = [[] for _ in range(height)]
    for row, spans in enumerate(union):
        if not spans:
            continue
        wide = [(max(0, a - margin_px), min(width, b + margin_px)) for a, b in spans]
        for r in range(max(0, row - margin_px), min(height, row + margin_px + 1)):
            grown[r] += wide
    return [_merge(spans) for spans in grown]


def subsample(
    rows: list[list[Span]], fx: int, fy: int, width: int, height: int
) -> list[list[Span]]:
    """Spans of a chroma plane ``width`` x ``height`` subsampled by ``fx`` x ``fy``: a
    chroma sample is masked when any luma pixel it covers is."""
    out: list[list[Span]] = [[] for _ in range(height)]
    for row, spans in enumerate(rows):
        if spans:
            out[min(height - 1, row // fy)] += [
                (a // fx, min(width, -(-b // fx))) for a, b in spans
            ]
    return [_merge(spans) for spans in out]


def plane_runs(rows: list[list[Span]], line_size: int) -> list[tuple[int, int]]:
    """(offset, length) byte runs of a plane with ``line_size`` bytes per row (one byte
    per sample); runs that continue on the next row are joined."""
    runs: list[tuple[int, int]] = []
    for row, spans in enumerate(rows):
        for a, b in spans:
            offset = row * line_size + a
            if runs and runs[-1][0] + runs[-1][1] == offset:
                runs[-1] = (runs[-1][0], runs[-1][1] + b - a)
            else:
                runs.append((offset, b - a))
    return runs


def masked_fraction(rows: list[list[Span]], width: int) -> float:
    """Share of the picture's pixels that the mask hides."""
    covered = sum(b - a for spans in rows for a, b in spans)
    return covered / (width * len(rows)) if rows and width else 0.0


# -- painting --------------------------------------------------------------------------


class MaskPainter:
    """Fills the masks on decoded 8-bit planar YUV pictures. The byte runs of each
    plane are computed once per (format, size, line sizes)."""

    def __init__(self, polygons: Sequence[Polygon]) -> None:
        if not polygons:
            raise ValueError("no mask polygon")
        self.polygons = tuple(polygons)
        self._layouts: dict[tuple[Any, ...], tuple[list[list[tuple[int, int]]], memoryview]] = {}

    def _layout(self, frame: Any) -> tuple[list[list[tuple[int, int]]], memoryview]:
        planes = frame.planes
        key = (frame.format.name, frame.width, frame.height, tuple(p.line_size for p in planes))
        layout = self._layouts.get(key)
        if layout is None:
            luma = rasterise(self.polygons, frame.width, frame.height)
            per_plane = []
            for plane in planes:
                if plane.width == frame.width and plane.height == frame.height:
                    rows = luma
                else:
                    fx = round(frame.width / plane.width)
                    fy = round(frame.height / plane.height)
                    rows = subsample(luma, fx, fy, plane.width, plane.height)
                per_plane.append(plane_runs(rows, plane.line_size))
            longest = max((n for runs in per_plane for _, n in runs), default=0)
            layout = (per_plane, memoryview(bytes([MASK_VALUE]) * longest))
            self._layouts[key] = layout
            logger.debug(
                "mask layout %s: %.1f %% of the picture",
                key,
                100 * masked_fraction(luma, frame.width),
            )
        return layout

    def paint(self, frame: Any) -> None:
        """Fill the masks in place. ``frame`` must be writable and 8-bit planar YUV."""
        per_plane, fill = self._layout(frame)
        for plane, runs in zip(frame.planes, per_plane, strict=True):
            view = memoryview(plane)
            for offset, length in runs:
                view[offset : offset + length] = fill[:length]


# -- transcoding -----------------------------------------------------------------------


def _rate_of(source: Any) -> Fraction:
    for rate in (source.guessed_rate, source.average_rate, source.codec_context.framerate):
        if rate and 1 <= rate <= 120:
            return Fraction(rate)
    return Fraction(25)


class MaskingTranscoder:
    """One camera stream, masked: PyAV packets in (as demuxed), masked H.264 packets out.

    ``source`` is the demuxed PyAV video stream (its codec, extradata, picture size,
    time base and frame rate). Runs on the pulling thread; not thread-safe.
    """

    codec = "h264"

    def __init__(
        self, camera_id: str, stream: str, polygons: Sequence[Polygon], source: Any
    ) -> None:
        self.camera_id = camera_id
        self.stream = stream
        self.painter = MaskPainter(polygons)
        ctx = source.codec_context
        self.time_base: Fraction = source.time_base or Fraction(1, 90_000)
        self.ticks_per_second = self.time_base.denominator // self.time_base.numerator
        self.rate = _rate_of(source)
        self.width: int = ctx.width
        self.height: int = ctx.height
        self._pix_fmt = ctx.pix_fmt if ctx.pix_fmt in _PLANAR_FORMATS else "yuv420p"
        self._decoder = av.CodecContext.create(ctx.name, "r")
        if ctx.extradata:
            self._decoder.extradata = ctx.extradata
        self._decoder.thread_type = "SLICE"  # frame threads would delay live by frames
        self._sink: Any = None
        self._encoder: Any = None
        self._last_pts: int | None = None
        self._bitrate = 0
        self._window_bytes = 0
        self._window_pts: int | None = None
        self._window_s = RATE_WINDOWS_S[0]
        self._retarget = False
        self.frames = 0
        self.decode_errors = 0
        self.restarts = 0
        self._warned_reformat = False
        if self.width > 0 and self.height > 0:
            self._open_encoder()

    # -- encoder -----------------------------------------------------------------------

    def _open_encoder(self) -> None:
        if self._bitrate == 0:
            self._bitrate = round(BITS_PER_PIXEL * self.width * self.height * self.rate)
            self._bitrate = min(MAX_BITRATE, max(MIN_BITRATE, self._bitrate))
        # The encoder lives in a stream of a "null" output container: that stream's
        # codec parameters (size, time base, avcC extradata) are the template of the
        # segment files, as the camera's demuxed stream is for unmasked recording.
        sink = av.open(os.devnull, "w", format="null")
        encoder = sink.add_stream("libx264", rate=self.rate)
        ctx = encoder.codec_context
        ctx.width, ctx.height, ctx.pix_fmt = self.width, self.height, self._pix_fmt
        ctx.time_base = self.time_base
        encoder.time_base = self.time_base
        ctx.framerate = self.rate
        ctx.gop_size = max(1, round(MAX_GOP_S * self.rate))
        ctx.max_b_frames = 0
        ctx.bit_rate = self._bitrate
        ctx.thread_count = min(_MAX_THREADS, os.cpu_count() or 1)
        # parameter sets in the extradata (for the MP4 avcC) and before every keyframe
        # (for the live relay and for players joining mid-stream)
        ctx.flags |= Flags.global_header
        ctx.options = {
            "preset": X264_PRESET,
            "tune": "zerolatency",  # no lookahead, no frame delay, no B-frames
            "forced-idr": "1",
            "maxrate": str(self._bitrate),  # VBV: peaks stay what the links can carry
            "bufsize": str(self._bitrate),
            "x264-params": "repeat-headers=1:scenecut=0",
        }
        sink.start_encoding()  # opens the encoder, copies its parameters to the stream
        self._sink, self._encoder = sink, encoder
        logger.info(
            "%s/%s: masking encoder %dx%d %s fps, %d kbit/s (%s)",
            self.camera_id,
            self.stream,
            self.width,
            self.height,
            self.rate,
            self._bitrate // 1000,
            X264_PRESET,
        )

    def _close_encoder(self) -> list[Any]:
        """Flush and close the encoder; returns the packets it still held."""
        if self._encoder is None:
            return []
        out = list(self._encoder.encode(None))
        self._sink.close()
        self._sink = self._encoder = None
        return out

    @property
    def template(self) -> Any:
        """The PyAV stream segment files copy their codec parameters from (None until
        the encoder is open)."""
        return self._encoder

    @property
    def extradata(self) -> bytes | None:
        """The encoder's parameter sets (Annex-B), once it is open."""
        return None if self._encoder is None else self._encoder.codec_context.extradata

    def _measure(self, packet: Any) -> None:
        """Follow the camera's bitrate, so the masked stream costs the links and the
        storage what the camera's own would."""
        pts = packet.pts if packet.pts is not None else packet.dts
        if pts is None:
            return
        if self._window_pts is None or pts < self._window_pts:
            self._window_pts, self._window_bytes = pts, 0
        elapsed = (pts - self._window_pts) / self.ticks_per_second
        if not packet.is_keyframe or elapsed < self._window_s:
            self._window_bytes += packet.size
            return
        rate = round(self._window_bytes * 8 / elapsed)
        rate = min(MAX_BITRATE, max(MIN_BITRATE, rate))
        self._window_pts, self._window_bytes = pts, packet.size
        self._window_s = RATE_WINDOWS_S[1]
        if abs(rate - self._bitrate) > RATE_TOLERANCE * self._bitrate:
            logger.info(
                "%s/%s: camera sends %d kbit/s, masking encoder retargeted from %d",
                self.camera_id,
                self.stream,
                rate // 1000,
                self._bitrate // 1000,
            )
            self._bitrate = rate
            self._retarget = True

    # -- per packet --------------------------------------------------------------------

    def transcode(self, packet: Any) -> list[Any]:
        """Masked packets for one demuxed packet (none, one, or more after a restart).
        A packet the decoder rejects is counted and skipped: the decoder conceals or
        waits for the next keyframe, as a player of the camera's stream would."""
        self._measure(packet)
        fallback_pts = packet.pts if packet.pts is not None else packet.dts
        try:
            frames = self._decoder.decode(packet)
        except av.error.InvalidDataError as err:
            self.decode_errors += 1
            if self.decode_errors == 1 or self.decode_errors % 100 == 0:
                logger.info(
                    "%s/%s: masking decoder: %s (%d so far)",
                    self.camera_id,
                    self.stream,
                    err,
                    self.decode_errors,
                )
            return []
        out: list[Any] = []
        for frame in frames:
            out += self._encode(frame, fallback_pts)
        return out

    def _encode(self, frame: Any, fallback_pts: int | None) -> list[Any]:
        pts = frame.pts if frame.pts is not None else fallback_pts
        if pts is None:
            return []
        out: list[Any] = []
        if self._last_pts is not None and pts <= self._last_pts:
            # a camera clock that went back: a new encoder starts on a keyframe, the
            # segmenter sees the discontinuity and starts a new run
            logger.info(
                "%s/%s: timestamps went back (%d -> %d), masking encoder restarted",
                self.camera_id,
                self.stream,
                self._last_pts,
                pts,
            )
            self.restarts += 1
            out += self._close_encoder()
        self._last_pts = pts
        key = frame.key_frame
        if key and self._retarget:
            self._retarget = False
            out += self._close_encoder()
        if self._encoder is None:
            if self.width <= 0 or self.height <= 0:
                self.width, self.height = frame.width, frame.height
            if frame.format.name in _PLANAR_FORMATS:
                self._pix_fmt = frame.format.name
            self._open_encoder()
            key = True
        if (
            frame.format.name != self._pix_fmt
            or frame.width != self.width
            or frame.height != self.height
        ):
            if not self._warned_reformat:
                self._warned_reformat = True
                logger.warning(
                    "%s/%s: decoded %dx%d %s, converted to %dx%d %s before masking",
                    self.camera_id,
                    self.stream,
                    frame.width,
                    frame.height,
                    frame.format.name,
                    self.width,
                    self.height,
                    self._pix_fmt,
                )
            frame = frame.reformat(self.width, self.height, self._pix_fmt)
        else:
            # the decoder keeps this picture as a reference: paint a copy
            frame.make_writable()
        self.painter.paint(frame)
        frame.pts = pts
        frame.time_base = self.time_base
        frame.pict_type = PictureType.I if key else PictureType.NONE
        self.frames += 1
        out += self._encoder.encode(frame)
        return out

    def close(self) -> None:
        """Release the codecs (packets still held by the encoder are dropped)."""
        if self._sink is not None:
            self._sink.close()
            self._sink = self._encoder = None
