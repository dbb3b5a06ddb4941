"""The per-camera pipeline's staging (``analytics/worker.py``), on synthetic pictures
with a detector that sees nobody (the detector itself is tested on real footage in
tests/integration/test_detector.py): technical faults raise and clear ``technique``
events; on a camera with an abandoned-object rule, an object put down in a quiet scene
reaches the rule although the motion gate would skip those frames."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from analytics.batcher import BatchScheduler
from analytics.rules.config import parse_camera_analytics
from analytics.rules.counting import Counter
from analytics.rules.engine import RuleEngine
from analytics.rules.model import Detection, Event
from analytics.worker import CameraAnalytics

Image = npt.NDArray[np.uint8]
T0 = datetime.now(UTC).replace(microsecond=0)
FPS = 4


class NobodyDetector:
    """Sees no object; counts its calls."""

    model_id = "nobody 1 test"

    def __init__(self) -> None:
        self.frames = 0

    def detect_batch(self, frames: Sequence[Image]) -> list[list[Detection]]:
        self.frames += len(frames)
        return [[] for _ in frames]


class Output:
    """Collects what the pipeline hands to its output."""

    def __init__(self) -> None:
        self.got: list[Event] = []
        self.analysed_frames = 0

    def events(self, events: Sequence[Event], image: Any) -> None:
        self.got.extend(events)

    def events_of(self, kind: str) -> list[Event]:
        return [e for e in self.got if e.rule_kind == kind]

    def analysed(self, *args: Any) -> None:
        self.analysed_frames += 1

    def closed(self, counters: Mapping[str, Counter], at: datetime) -> None:
        pass


def config(*rules: dict[str, object]) -> RuleEngine:
    today = T0.date()
    return RuleEngine(
        parse_camera_analytics(
            {
                "camera_id": "cam",
                "legal_basis": {
                    "reference": "Arrêté préfectoral n° 2026-042",
                    "valid_from": today - timedelta(days=1),
                    "valid_to": today + timedelta(days=1),
                },
                "models": [
                    {"id": "m", "name": "nobody", "version": "1", "classes": ["person", "suitcase"]}
                ],
                "rules": list(rules),
            }
        )
    )


def scene(rng: np.random.Generator) -> Image:
    """A textured street-like picture with sensor noise (sigma 2)."""
    base = np.zeros((288, 384, 3), np.uint8)
    for i in range(0, 384, 24):
        base[:, i : i + 12] = 90 + (i % 96)
    base[150:, :] //= 2
    noise = rng.normal(0, 2, base.shape)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def run(cam: CameraAnalytics, frames: Sequence[Image], t0_s: float = 0.0) -> None:
    for i, image in enumerate(frames):
        t = t0_s + i / FPS
        cam._analyse(image, T0 + timedelta(seconds=t), t)


def test_technical_faults_raise_and_clear_events() -> None:
    rng = np.random.default_rng(1)
    detector = NobodyDetector()
    out = Output()
    with BatchScheduler(detector, max_batch=1, max_wait_ms=1) as scheduler:
        cam = CameraAnalytics(
            "cam", "", config({"id": "zone", "kind": "intrusion",
                               "zone": [[0.1, 0.1], [0.9, 0.1], [0.5, 0.9]]}),
            scheduler, out, fps=FPS,
        )  # fmt: skip
        run(cam, [scene(rng) for _ in range(30 * FPS)])
        assert out.got == []  # a normal picture raises nothing
        dark = np.full((288, 384, 3), 8, np.uint8)
        run(cam, [dark] * (90 * FPS), t0_s=30)
        run(cam, [scene(rng) for _ in range(60 * FPS)], t0_s=120)
    darkness = [e for e in out.events_of("technique") if e.cls == "darkness"]
    assert [e.detail["state"] for e in darkness] == ["raised", "cleared"]
    raised, cleared = darkness
    assert raised.rule_kind == "technique" and raised.label == "Image trop sombre"
    assert raised.track_id is None and raised.boxes == ()
    # raised after the detector's 60 s of darkness (checked once a second), cleared after 30 s
    assert 89 <= (raised.at - T0).total_seconds() <= 92
    assert 149 <= (cleared.at - T0).total_seconds() <= 152
    assert cleared.label == "Fin : image trop sombre"


def test_object_in_a_quiet_scene_reaches_the_abandoned_rule() -> None:
    rng = np.random.default_rng(2)
    detector = NobodyDetector()
    out = Output()
    rule = {"id": "hall", "kind": "objet_abandonne", "min_static_s": 20, "person_absent_s": 5}
    with BatchScheduler(detector, max_batch=1, max_wait_ms=1) as scheduler:
        cam = CameraAnalytics("cam", "", config(rule), scheduler, out, fps=FPS)
        run(cam, [scene(rng) for _ in range(40 * FPS)])
        before = detector.frames
        assert before <= 6  # quiet: the first frame and the periodic ones only
        frames = []
        for _ in range(60 * FPS):
            image = scene(rng)
            image[180:230, 100:160] = 240  # a light case put down at t = 40 s
            frames.append(image)
        run(cam, frames, t0_s=40)
    abandoned = out.events_of("objet_abandonne")
    assert len(abandoned) == 1, out.got
    event = abandoned[0]
    x0, y0, x1, y1 = event.boxes[0]
    assert x0 < 160 / 384 and x1 > 100 / 384 and y0 < 230 / 288 and y1 > 180 / 288
    # noticed after STATIC_NOTICE_S, then timed by the rule's 20 s
    assert 40 + 20 <= (event.at - T0).total_seconds() <= 40 + 20 + 15
    # the frames with the object went to the detector although nothing moved
    assert detector.frames - before >= 30 * FPS
    assert out.analysed_frames == detector.frames


def test_no_static_stage_without_an_abandoned_rule() -> None:
    with BatchScheduler(NobodyDetector(), max_batch=1, max_wait_ms=1) as scheduler:
        cam = CameraAnalytics(
            "cam", "", config({"id": "zone", "kind": "intrusion",
                               "zone": [[0.1, 0.1], [0.9, 0.1], [0.5, 0.9]]}),
            scheduler, Output(), fps=FPS,
        )  # fmt: skip
        assert cam.static is None
