"""Image analytics on synthetic frames: motion gate, technical alerts, static foreground."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from analytics.motion import MotionGate
from analytics.static_foreground import StaticForeground
from analytics.technical import (
    AlarmState,
    BlurDetector,
    DarknessDetector,
    Hysteresis,
    ObstructionDetector,
    SceneChangeDetector,
    TechnicalKind,
    TechnicalMonitor,
)
from vms.errors import ErrorKind, VmsError

H, W = 240, 320
Frame = npt.NDArray[np.uint8]


def scene(seed: int = 0) -> Frame:
    """A textured, stable scene: smooth blobs plus fine texture (grey, 240x320)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(40, 200, (12, 16)).astype(np.float32)
    base = np.kron(coarse, np.ones((20, 20), np.float32))
    fine = rng.normal(0, 18, (H, W))
    return np.clip(base + fine, 0, 255).astype(np.uint8)


class Noisy:
    """The scene plus sensor-like Gaussian noise on each frame."""

    def __init__(self, base: Frame, sigma: float = 3.0, seed: int = 1) -> None:
        self.base = base.astype(np.float32)
        self.sigma = sigma
        self.rng = np.random.default_rng(seed)

    def __call__(self, base: Frame | None = None) -> Frame:
        b = self.base if base is None else base.astype(np.float32)
        return np.clip(b + self.rng.normal(0, self.sigma, b.shape), 0, 255).astype(np.uint8)


def with_square(base: Frame, x: int, y: int, size: int = 30, value: int = 250) -> Frame:
    out = base.copy()
    out[y : y + size, x : x + size] = value
    return out


# -- motion gate ----------------------------------------------------------------------------


def test_gate_passes_moving_square_and_gates_static_scene() -> None:
    base = scene()
    noisy = Noisy(base)
    gate = MotionGate("cam-1", periodic_s=1000)
    first = gate.check(noisy(), 0.0)
    assert first.run_inference and first.reason == "periodique"
    # static scene with noise: everything gated
    for i in range(1, 50):
        d = gate.check(noisy(), i * 0.2)
        assert not d.run_inference and d.reason == "calme", (i, d)
    # a square moving across: passed, with a box around it
    for i in range(20):
        x = 20 + 12 * i
        d = gate.check(noisy(with_square(base, x, 100)), 10 + i * 0.2)
        if i == 0:
            continue  # needs one frame against the background
        assert d.run_inference and d.reason == "mouvement", (i, d)
        assert d.motion_ratio > 0.005
        assert any(b[0] <= (x + 15) / W <= b[2] and b[1] <= 115 / H <= b[3] for b in d.boxes)
    assert gate.counters.frames_seen == 70
    assert gate.counters.passed_periodic == 1
    assert gate.counters.passed_motion >= 19


def test_gate_periodic_pass() -> None:
    noisy = Noisy(scene())
    gate = MotionGate("cam-1", periodic_s=10)
    reasons = [gate.check(noisy(), i * 0.5).reason for i in range(61)]  # 0 .. 30 s
    passed = [i * 0.5 for i, r in enumerate(reasons) if r != "calme"]
    assert passed == [0.0, 10.0, 20.0, 30.0]
    assert set(reasons) == {"periodique", "calme"}
    assert gate.counters.frames_passed == 4
    assert gate.counters.saved_ratio == pytest.approx(1 - 4 / 61)


def test_gate_ignore_polygon_suppresses_motion_inside() -> None:
    base = scene()
    tree = [(0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)]  # left half always moves
    gate = MotionGate("cam-1", ignore=[tree], periodic_s=1000)
    noisy = Noisy(base)
    gate.check(noisy(), 0.0)
    for i in range(1, 20):
        d = gate.check(noisy(with_square(base, 10 + 5 * (i % 4), 60 + 5 * i)), i * 0.2)
        assert d.reason == "calme" and d.boxes == (), (i, d)
    d = gate.check(noisy(with_square(base, 230, 100)), 5.0)  # right half
    assert d.reason == "mouvement"


def test_gate_rejects_bad_polygon() -> None:
    with pytest.raises(VmsError) as info:
        MotionGate("cam-1", ignore=[[(0.0, 0.0), (1.5, 0.0), (0.0, 1.0)]])
    assert info.value.kind is ErrorKind.INVALID_ARGUMENT
    assert info.value.message == (
        "Les sommets d'un polygone sont en coordonnées normalisées (0 à 1)."
    )


# -- hysteresis and technical detectors -----------------------------------------------------


def test_hysteresis_raise_and_clear_delays() -> None:
    h = Hysteresis("cam-1 test", raise_after_s=5, clear_after_s=3)
    assert h.update(True, 0) is AlarmState.PENDING
    assert h.update(False, 2) is AlarmState.CLEAR  # too short: nothing raised
    assert h.update(True, 3) is AlarmState.PENDING
    assert h.update(True, 7.9) is AlarmState.PENDING
    assert h.update(True, 8) is AlarmState.RAISED
    assert h.started_at == 3
    assert h.update(False, 9) is AlarmState.CLEARING
    assert h.update(True, 10) is AlarmState.RAISED  # a short gap does not clear
    assert h.update(False, 11) is AlarmState.CLEARING
    assert h.update(False, 13.9) is AlarmState.CLEARING
    assert h.update(False, 14) is AlarmState.CLEAR


def run_monitor(
    monitor: TechnicalMonitor, frames: list[tuple[float, Frame]]
) -> dict[TechnicalKind, tuple[float | None, float | None]]:
    """Feed frames; return, per kind, when it was first raised and first cleared."""
    seen: dict[TechnicalKind, tuple[float | None, float | None]] = {}
    for at, frame in frames:
        changes = monitor.update(frame, at)
        for a in changes.raised:
            seen.setdefault(a.kind, (at, None))
        for a in changes.cleared:
            seen[a.kind] = (seen[a.kind][0], at)
    return seen


def fast_monitor() -> TechnicalMonitor:
    cam = "cam-1"
    return TechnicalMonitor(
        cam,
        darkness=DarknessDetector(cam, raise_after_s=5, clear_after_s=3),
        blur=BlurDetector(cam, raise_after_s=5, clear_after_s=3, warmup_s=5),
        obstruction=ObstructionDetector(cam, raise_after_s=5, clear_after_s=3, warmup_s=5),
        scene_change=SceneChangeDetector(cam, raise_after_s=5, clear_after_s=3),
    )


def timeline(*parts: tuple[float, Frame | Noisy]) -> list[tuple[float, Frame]]:
    """Frames once a second: each part lasts its seconds with its frame (or noisy source)."""
    out: list[tuple[float, Frame]] = []
    at = 0.0
    for seconds, source in parts:
        for _ in range(int(seconds)):
            out.append((at, source() if isinstance(source, Noisy) else source))
            at += 1.0
    return out


def test_darkness_raises_and_clears_with_hysteresis() -> None:
    base = scene()
    dark = (base * 0.08).astype(np.uint8)
    m = fast_monitor()
    seen = run_monitor(m, timeline((20, Noisy(base)), (3, dark), (2, base), (12, dark), (10, base)))
    # the 3 s darkness is too short; the 12 s one (from 25 s) is raised at 30 s, cleared at
    # 37 + 3 s
    assert seen == {TechnicalKind.DARKNESS: (30.0, 40.0)}


def test_darkness_alert_labels_and_values() -> None:
    base = scene()
    d = DarknessDetector("cam-1", raise_after_s=0, clear_after_s=0)
    m = TechnicalMonitor("cam-1", darkness=d)
    changes = m.update((base * 0.1).astype(np.uint8), 0.0)
    (alert,) = changes.raised
    assert alert.label == "Image trop sombre"
    assert alert.started_at == 0.0 and alert.threshold == 35.0 and alert.value < 35.0


def test_blur_raises_and_clears() -> None:
    import cv2

    base = scene()
    blurred: Frame = cv2.GaussianBlur(base, (0, 0), 4).astype(np.uint8)
    m = fast_monitor()
    seen = run_monitor(m, timeline((20, Noisy(base)), (15, blurred), (10, Noisy(base))))
    assert seen == {TechnicalKind.BLUR: (25.0, 38.0)}
    assert m.blur.alert is None


def test_obstruction_raises_and_clears() -> None:
    base = scene()
    covered = base.copy()
    covered[:, : int(W * 0.8)] = 60  # something flat in front of 80 % of the lens
    m = fast_monitor()
    seen = run_monitor(m, timeline((20, Noisy(base)), (15, covered), (10, Noisy(base))))
    assert seen[TechnicalKind.OBSTRUCTION] == (25.0, 38.0)
    assert TechnicalKind.DARKNESS not in seen


def test_scene_change_raises_not_for_lighting() -> None:
    base = scene(0)
    other = scene(7)  # the camera was turned
    brighter = np.clip(base.astype(np.float32) * 1.3 + 20, 0, 255).astype(np.uint8)
    m = fast_monitor()
    seen = run_monitor(
        m, timeline((20, Noisy(base)), (15, brighter), (15, other), (10, Noisy(base)))
    )
    assert seen == {TechnicalKind.SCENE_CHANGE: (40.0, 53.0)}


def test_scene_change_accept_new_view() -> None:
    base, other = scene(0), scene(7)
    m = fast_monitor()
    run_monitor(m, timeline((10, base), (10, other)))
    assert m.scene_change.alert is not None
    assert m.scene_change.alert.label == "Changement de scène"
    m.accept_scene()
    changes = [m.update(other, 20.0 + i) for i in range(5)]
    assert changes[-1].active == ()
    assert changes[3].cleared[0].kind is TechnicalKind.SCENE_CHANGE


# -- static foreground ----------------------------------------------------------------------


def test_static_foreground_finds_square_that_stays() -> None:
    base = scene()
    noisy = Noisy(base)
    sf = StaticForeground("cam-1", min_static_s=5, short_s=1, long_s=300)
    for i in range(50):  # 10 s of background, 5 fps
        assert sf.update(noisy(), i * 0.2) == []
    placed = with_square(base, 200, 150, size=24, value=10)
    first = None
    for i in range(50, 150):  # the square appears at 10 s and stays
        at = i * 0.2
        blobs = sf.update(noisy(placed), at)
        if blobs and first is None:
            first = at
            (blob,) = blobs
            x0, y0, x1, y1 = blob.box
            assert x0 == pytest.approx(200 / W, abs=0.02) and x1 == pytest.approx(224 / W, abs=0.02)
            assert y0 == pytest.approx(150 / H, abs=0.02) and y1 == pytest.approx(174 / H, abs=0.02)
            # since: when its longest-static pixel became static (the object appeared at 10 s)
            assert 9.99 <= blob.since <= at - 5 + 0.01
    # absorbed by the short model after ~1 s, then 5 s static
    assert first is not None and 15.0 <= first <= 18.0
    for i in range(150, 170):  # removed
        blobs = sf.update(noisy(), i * 0.2)
    assert blobs == []


def test_static_foreground_ignores_square_that_keeps_moving() -> None:
    base = scene()
    noisy = Noisy(base)
    sf = StaticForeground("cam-1", min_static_s=5, short_s=1, long_s=300)
    for i in range(50):
        sf.update(noisy(), i * 0.2)
    for i in range(50, 200):  # a square wandering around for 30 s
        x = 20 + int(120 + 100 * np.sin(i / 6))
        y = 40 + int(80 + 60 * np.cos(i / 9))
        assert sf.update(noisy(with_square(base, x, y, size=24, value=10)), i * 0.2) == [], i


def test_static_foreground_global_lighting_change_is_not_an_object() -> None:
    base = scene()
    sf = StaticForeground("cam-1", min_static_s=3, short_s=1, long_s=300)
    for i in range(50):
        sf.update(base, i * 0.2)
    darker = (base.astype(np.float32) * 0.6).astype(np.uint8)  # a cloud
    for i in range(50, 100):
        assert sf.update(darker, i * 0.2) == []
