"""Pure parts of the detection tier: non-maximum suppression, letterboxing, and the
tracker (stable ids, re-association through a weak detection, loss after N frames,
ids never reused, class changes keep the id)."""

from __future__ import annotations

import numpy as np

from analytics.detector import letterbox, nms
from analytics.rules.model import Detection
from analytics.tracker import CameraTrackers, Tracker


def det(x: float, conf: float = 0.9, cls: str = "Normal", w: float = 0.1) -> Detection:
    return Detection(-1, cls, conf, (x, 0.4, x + w, 0.7))


def test_nms_keeps_the_best_of_overlapping_boxes_and_every_separate_one() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [0, 0, 10, 10.5]], float)
    scores = np.array([0.8, 0.9, 0.5, 0.3])
    assert nms(boxes, scores, 0.5) == [1, 2]
    assert sorted(nms(boxes, scores, 0.99)) == [0, 1, 2, 3]  # nothing overlaps that much
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5) == []


def test_letterbox_keeps_the_aspect_ratio_and_centres_the_picture() -> None:
    frame = np.full((576, 768, 3), 200, np.uint8)
    out, lb = letterbox(frame, 640)
    assert out.shape == (640, 640, 3)
    assert lb.scale == 640 / 768 and lb.pad_x == 0 and lb.pad_y == 80
    assert out[0, 0, 0] != 200 and out[320, 320, 0] == 200  # padding above, picture inside


def test_tracker_ids_are_stable_recover_through_weak_detections_and_expire() -> None:
    tracker = Tracker(max_lost=2)
    ids = []
    for step in range(5):  # two people walking right, 0.02 per frame
        out = tracker.update([det(0.1 + 0.02 * step), det(0.6 + 0.02 * step)])
        ids.append(sorted(d.track_id for d in out))
    assert ids == [[1, 2]] * 5
    # one person seen weakly for a frame (occlusion): still track 1
    out = tracker.update([det(0.2, conf=0.3), det(0.7)])
    assert sorted(d.track_id for d in out) == [1, 2]
    # a fall: the class changes, the id stays
    out = tracker.update([det(0.22, cls="Fall"), det(0.72)])
    assert {d.cls: d.track_id for d in out} == {"Fall": 1, "Normal": 2}
    # person 2 leaves: after max_lost frames its track is gone, and a newcomer gets id 3
    for _ in range(3):
        tracker.update([det(0.24)])
    out = tracker.update([det(0.26), det(0.72)])
    assert sorted(d.track_id for d in out) == [1, 3]
    # a weak detection alone never starts a track
    assert [d.track_id for d in Tracker().update([det(0.5, conf=0.2)])] == []


def test_trackers_are_per_camera() -> None:
    trackers = CameraTrackers()
    a = trackers.update("a1", [det(0.1)])
    b = trackers.update("b1", [det(0.1), det(0.5)])
    assert [d.track_id for d in a] == [1] and sorted(d.track_id for d in b) == [1, 2]
