"""Multi-object tracking by box overlap, ByteTrack-style, one tracker per camera.

Each frame: tracks predict their box (last box moved by a smoothed velocity); confident
detections (``>= high``) are associated first with every live track, by IoU, greedily
from the best pair; the tracks still unmatched then take the weak detections
(``low .. high``), which keeps a partly hidden person on the same id instead of
dropping it. Confident detections left over start new tracks; weak ones are dropped.
A track not seen for ``max_lost`` frames is forgotten; its id is never reused.
Detections are matched regardless of class (a person who falls changes class from
Normal to Fall but stays the same track). Pure Python and numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from analytics.rules.model import Box, Detection
from vms.errors import invalid

Floats = npt.NDArray[np.float64]


def iou_matrix(a: Sequence[Box], b: Sequence[Box]) -> Floats:
    """IoU of every box of ``a`` with every box of ``b``: shape (len(a), len(b))."""
    if not a or not b:
        return np.zeros((len(a), len(b)))
    aa = np.asarray(a, dtype=np.float64)[:, None, :]
    bb = np.asarray(b, dtype=np.float64)[None, :, :]
    w = (np.minimum(aa[..., 2], bb[..., 2]) - np.maximum(aa[..., 0], bb[..., 0])).clip(0)
    h = (np.minimum(aa[..., 3], bb[..., 3]) - np.maximum(aa[..., 1], bb[..., 1])).clip(0)
    inter = w * h
    area_a = (aa[..., 2] - aa[..., 0]) * (aa[..., 3] - aa[..., 1])
    area_b = (bb[..., 2] - bb[..., 0]) * (bb[..., 3] - bb[..., 1])
    union = area_a + area_b - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def greedy_match(iou: Floats, min_iou: float) -> list[tuple[int, int]]:
    """Pairs (row, column) taken from the highest IoU down, each row and column once."""
    pairs: list[tuple[int, int]] = []
    if iou.size == 0:
        return pairs
    rows, cols = np.nonzero(iou >= min_iou)
    order = np.argsort(-iou[rows, cols], kind="stable")
    used_r: set[int] = set()
    used_c: set[int] = set()
    for k in order:
        r, c = int(rows[k]), int(cols[k])
        if r not in used_r and c not in used_c:
            pairs.append((r, c))
            used_r.add(r)
            used_c.add(c)
    return pairs


@dataclass(slots=True)
class _Track:
    track_id: int
    box: Box
    velocity: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    lost_frames: int = 0
    hits: int = 1

    def predicted(self) -> Box:
        steps = self.lost_frames + 1
        b, v = self.box, self.velocity
        return (
            b[0] + v[0] * steps,
            b[1] + v[1] * steps,
            b[2] + v[2] * steps,
            b[3] + v[3] * steps,
        )

    def update(self, box: Box, smoothing: float) -> None:
        steps = self.lost_frames + 1
        self.velocity = (
            smoothing * self.velocity[0] + (1 - smoothing) * (box[0] - self.box[0]) / steps,
            smoothing * self.velocity[1] + (1 - smoothing) * (box[1] - self.box[1]) / steps,
            smoothing * self.velocity[2] + (1 - smoothing) * (box[2] - self.box[2]) / steps,
            smoothing * self.velocity[3] + (1 - smoothing) * (box[3] - self.box[3]) / steps,
        )
        self.box = box
        self.lost_frames = 0
        self.hits += 1


class Tracker:
    """Tracks of one camera (track ids are per camera, from 1)."""

    def __init__(
        self,
        high: float = 0.4,
        low: float = 0.1,
        match_iou: float = 0.3,
        low_match_iou: float = 0.5,
        max_lost: int = 30,
        smoothing: float = 0.7,
    ) -> None:
        if not 0.0 <= low <= high <= 1.0 or max_lost < 0:
            raise invalid("Bornes du suivi hors limites.", f"{low=} {high=} {max_lost=}")
        self.high = high
        self.low = low
        self.match_iou = match_iou
        self.low_match_iou = low_match_iou
        self.max_lost = max_lost
        self.smoothing = smoothing
        self._tracks: list[_Track] = []
        self._next_id = 1

    def update(self, detections: Sequence[Detection]) -> list[Detection]:
        """The detections of one frame, with track ids; weak unmatched ones are dropped."""
        strong = [d for d in detections if d.confidence >= self.high]
        weak = [d for d in detections if self.low <= d.confidence < self.high]
        out: list[Detection] = []
        predicted = [t.predicted() for t in self._tracks]

        matched_tracks: set[int] = set()
        pairs = greedy_match(iou_matrix(predicted, [d.box for d in strong]), self.match_iou)
        matched_strong = set()
        for ti, di in pairs:
            out.append(self._assign(self._tracks[ti], strong[di]))
            matched_tracks.add(ti)
            matched_strong.add(di)

        # second pass: tracks seen last frame, still unmatched, against weak detections
        rest = [
            i for i, t in enumerate(self._tracks) if i not in matched_tracks and t.lost_frames == 0
        ]
        iou = iou_matrix([predicted[i] for i in rest], [d.box for d in weak])
        for ri, di in greedy_match(iou, self.low_match_iou):
            ti = rest[ri]
            out.append(self._assign(self._tracks[ti], weak[di]))
            matched_tracks.add(ti)

        survivors: list[_Track] = []
        for i, track in enumerate(self._tracks):
            if i not in matched_tracks:
                track.lost_frames += 1
            if track.lost_frames <= self.max_lost:
                survivors.append(track)
        for di, det in enumerate(strong):
            if di not in matched_strong:
                track = _Track(self._next_id, det.box)
                self._next_id += 1
                survivors.append(track)
                out.append(replace(det, track_id=track.track_id))
        self._tracks = survivors
        return out

    def _assign(self, track: _Track, det: Detection) -> Detection:
        track.update(det.box, self.smoothing)
        return replace(det, track_id=track.track_id)


class CameraTrackers:
    """One ``Tracker`` per camera, created on the camera's first frame."""

    def __init__(self, **tracker_options: float) -> None:
        self._options = tracker_options
        self._trackers: dict[str, Tracker] = {}

    def update(self, camera_id: str, detections: Sequence[Detection]) -> list[Detection]:
        tracker = self._trackers.get(camera_id)
        if tracker is None:
            tracker = self._trackers[camera_id] = Tracker(**self._options)  # type: ignore[arg-type]
        return tracker.update(detections)

    def forget(self, camera_id: str) -> None:
        self._trackers.pop(camera_id, None)
