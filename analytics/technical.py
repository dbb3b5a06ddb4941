"""Technical image analytics (CSD-12 deployment quality, CSD-10 technical alerts): a camera
that is obstructed, out of focus, turned away from its scene, or too dark to be useful.

Each frame is reduced once to a few ``FrameMeasures`` (OpenCV on a small grey copy);
each detector turns one measure into a condition (true = "looks wrong") and passes it
through a ``Hysteresis`` timer: the alert is raised when the condition has held for
``raise_after_s`` seconds and cleared when it has been false for ``clear_after_s``
seconds, so one bad frame (a bus passing close, an exposure change) raises nothing.

Blur and obstruction are judged against the camera's own running baseline, learnt while
the condition is false: a camera facing a white wall is not "obstructed", a camera
watching a grassy park is not "blurred". Time ``at`` is seconds on the caller's clock.
See ``docs/design/analytics-images.md``.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from analytics.motion import to_small_gray
from vms.errors import invalid, precondition
from vms.messages import msg

log = logging.getLogger(__name__)

Image = npt.NDArray[np.uint8]


class TechnicalKind(enum.Enum):
    OBSTRUCTION = "obstruction"
    BLUR = "blur"
    SCENE_CHANGE = "scene_change"
    DARKNESS = "darkness"


@dataclass(frozen=True, slots=True)
class TechnicalAlert:
    kind: TechnicalKind
    started_at: float
    """When the condition began (seconds, caller's clock), not when the alert was raised."""
    value: float
    """The measure when the alert was raised (see ``FrameMeasures``)."""
    threshold: float
    """The threshold the measure crossed (absolute, baseline already applied)."""

    @property
    def label(self) -> str:
        return msg(f"analytics.technical.{self.kind.value}")


# -- hysteresis (pure) ----------------------------------------------------------------------


class AlarmState(enum.Enum):
    CLEAR = "clear"
    PENDING = "pending"  # condition true, not yet for raise_after_s
    RAISED = "raised"
    CLEARING = "clearing"  # raised, condition false, not yet for clear_after_s


class Hysteresis:
    """Debounces a boolean condition in time: raise after ``raise_after_s`` of true,
    clear after ``clear_after_s`` of false."""

    def __init__(self, name: str, raise_after_s: float, clear_after_s: float) -> None:
        if raise_after_s < 0 or clear_after_s < 0:
            raise invalid("Les délais doivent être positifs.", f"{name}: negative delay")
        self.name = name
        self.raise_after_s = raise_after_s
        self.clear_after_s = clear_after_s
        self.state = AlarmState.CLEAR
        self.since = 0.0  # when the current state began
        self.started_at = 0.0  # when the condition that raised (or may raise) began

    def _set_state(self, state: AlarmState, at: float) -> None:
        log.debug("%s - %s -> %s", self.name, self.state.value, state.value)
        self.state = state
        self.since = at

    def update(self, condition: bool, at: float) -> AlarmState:
        """Feed the condition observed at ``at``; returns the new state."""
        s = self.state
        if s is AlarmState.CLEAR and condition:
            self._set_state(AlarmState.PENDING, at)
            self.started_at = at
        elif s is AlarmState.PENDING and not condition:
            self._set_state(AlarmState.CLEAR, at)
        elif s is AlarmState.RAISED and not condition:
            self._set_state(AlarmState.CLEARING, at)
        elif s is AlarmState.CLEARING and condition:
            self._set_state(AlarmState.RAISED, at)
        # timers (a zero delay moves at once)
        if self.state is AlarmState.PENDING and at - self.since >= self.raise_after_s:
            self._set_state(AlarmState.RAISED, at)
        elif self.state is AlarmState.CLEARING and at - self.since >= self.clear_after_s:
            self._set_state(AlarmState.CLEAR, at)
        return self.state

    @property
    def active(self) -> bool:
        return self.state in (AlarmState.RAISED, AlarmState.CLEARING)


# -- measures (OpenCV) ----------------------------------------------------------------------

_WIDTH = 160
_GRID = 8  # blocks per side for the uniformity measure
_REF_SIZE = (64, 48)


@dataclass(frozen=True, slots=True)
class FrameMeasures:
    mean_luma: float
    """Mean grey level, 0-255."""
    sharpness: float
    """Variance of the Laplacian of the grey image (higher = more fine detail)."""
    uniform_ratio: float
    """Share of the 8x8 blocks whose grey standard deviation is below the uniform limit."""
    thumb: npt.NDArray[np.float32]
    """64x48 blurred grey thumbnail, zero mean and unit variance (lighting removed)."""


def measure(frame: Image, uniform_std: float = 6.0) -> FrameMeasures:
    """Reduce a BGR or grey frame to the measures the detectors use."""
    gray = to_small_gray(frame, _WIDTH)
    mean = float(gray.mean())
    lap = cv2.Laplacian(gray, cv2.CV_32F)
    sharpness = float(lap.var())
    h, w = gray.shape
    bh, bw = h // _GRID, w // _GRID
    blocks = gray[: bh * _GRID, : bw * _GRID].astype(np.float32)
    blocks = blocks.reshape(_GRID, bh, _GRID, bw).transpose(0, 2, 1, 3).reshape(_GRID, _GRID, -1)
    uniform = float((blocks.std(axis=2) < uniform_std).mean())
    small = cv2.GaussianBlur(
        cv2.resize(gray, _REF_SIZE, interpolation=cv2.INTER_AREA).astype(np.float32), (5, 5), 0
    )
    std = float(small.std())
    thumb = ((small - float(small.mean())) / (std if std > 1e-3 else 1.0)).astype(np.float32)
    return FrameMeasures(mean, sharpness, uniform, thumb)


# -- detectors ------------------------------------------------------------------------------


class _Detector:
    kind: TechnicalKind

    def __init__(self, camera_id: str, raise_after_s: float, clear_after_s: float) -> None:
        self.camera_id = camera_id
        self.timer = Hysteresis(f"{camera_id} {self.kind.value}", raise_after_s, clear_after_s)
        self.alert: TechnicalAlert | None = None

    def _judge(self, m: FrameMeasures, at: float) -> tuple[bool, float, float]:
        """(condition, value, threshold) for this frame."""
        raise NotImplementedError

    def update(self, m: FrameMeasures, at: float) -> TechnicalAlert | None:
        """Feed one frame's measures; returns the active alert, or None."""
        condition, value, threshold = self._judge(m, at)
        was_active = self.timer.active
        self.timer.update(condition, at)
        if self.timer.active and not was_active:
            self.alert = TechnicalAlert(self.kind, self.timer.started_at, value, threshold)
            log.warning(
                "%s: %s raised (value %.3g, threshold %.3g)",
                self.camera_id,
                self.kind.value,
                value,
                threshold,
            )
        elif was_active and not self.timer.active:
            log.info("%s: %s cleared", self.camera_id, self.kind.value)
            self.alert = None
        return self.alert


class DarknessDetector(_Detector):
    """Mean luma below ``max_luma`` (night without IR, lamp failure, lens capped)."""

    kind = TechnicalKind.DARKNESS

    def __init__(
        self,
        camera_id: str,
        max_luma: float = 35.0,
        raise_after_s: float = 60.0,
        clear_after_s: float = 30.0,
    ) -> None:
        super().__init__(camera_id, raise_after_s, clear_after_s)
        self.max_luma = max_luma

    def _judge(self, m: FrameMeasures, at: float) -> tuple[bool, float, float]:
        # A little hysteresis on the value too: once raised, clear only above max + 5.
        threshold = self.max_luma + (5.0 if self.timer.active else 0.0)
        return m.mean_luma < threshold, m.mean_luma, threshold


class _BaselineDetector(_Detector):
    """A detector whose threshold is relative to the camera's own running baseline,
    learnt (exponential average over ``baseline_s``) while the condition is false."""

    def __init__(
        self,
        camera_id: str,
        raise_after_s: float,
        clear_after_s: float,
        baseline_s: float,
        warmup_s: float,
    ) -> None:
        super().__init__(camera_id, raise_after_s, clear_after_s)
        self.baseline_s = baseline_s
        self.warmup_s = warmup_s
        self.baseline: float | None = None
        self._first_at: float | None = None
        self._last_at: float | None = None

    def _learn(self, value: float, at: float) -> None:
        dt = 0.0 if self._last_at is None else max(0.0, at - self._last_at)
        if self._first_at is None:
            self._first_at = at
        if self.baseline is None:
            self.baseline = value
        else:
            # average of all samples during warm-up, then exponential over baseline_s
            age = max(at - self._first_at, dt, 1e-6)
            rate = min(1.0, dt / min(age, self.baseline_s))
            self.baseline += rate * (value - self.baseline)
        self._last_at = at

    def _warm(self, at: float) -> bool:
        return self._first_at is not None and at - self._first_at >= self.warmup_s


class BlurDetector(_BaselineDetector):
    """Sharpness (variance of Laplacian) below ``ratio`` x the camera's baseline: defocus,
    condensation, a dirty or sprayed dome."""

    kind = TechnicalKind.BLUR

    def __init__(
        self,
        camera_id: str,
        ratio: float = 0.35,
        raise_after_s: float = 60.0,
        clear_after_s: float = 30.0,
        baseline_s: float = 3600.0,
        warmup_s: float = 30.0,
    ) -> None:
        super().__init__(camera_id, raise_after_s, clear_after_s, baseline_s, warmup_s)
        self.ratio = ratio

    def _judge(self, m: FrameMeasures, at: float) -> tuple[bool, float, float]:
        if self.baseline is None or not self._warm(at):
            self._learn(m.sharpness, at)
            return False, m.sharpness, 0.0
        threshold = self.ratio * self.baseline
        condition = m.sharpness < threshold
        if not condition and not self.timer.active:
            self._learn(m.sharpness, at)
        else:
            self._last_at = at
        return condition, m.sharpness, threshold


class ObstructionDetector(_BaselineDetector):
    """A large uniform area that the scene did not have: a hand, a bag, a sticker, paint,
    a branch or a banner in front of the lens. Measured as the share of image blocks with
    almost no texture; the alert needs at least ``min_uniform`` of them and
    ``margin`` more than the camera's baseline (a sky or a wall is part of the scene)."""

    kind = TechnicalKind.OBSTRUCTION

    def __init__(
        self,
        camera_id: str,
        min_uniform: float = 0.6,
        margin: float = 0.3,
        raise_after_s: float = 30.0,
        clear_after_s: float = 30.0,
        baseline_s: float = 3600.0,
        warmup_s: float = 30.0,
    ) -> None:
        super().__init__(camera_id, raise_after_s, clear_after_s, baseline_s, warmup_s)
        self.min_uniform = min_uniform
        self.margin = margin

    def _judge(self, m: FrameMeasures, at: float) -> tuple[bool, float, float]:
        if self.baseline is None or not self._warm(at):
            self._learn(m.uniform_ratio, at)
            return False, m.uniform_ratio, 1.0
        threshold = min(1.0, max(self.min_uniform, self.baseline + self.margin))
        condition = m.uniform_ratio >= threshold
        if not condition and not self.timer.active:
            self._learn(m.uniform_ratio, at)
        else:
            self._last_at = at
        return condition, m.uniform_ratio, threshold


class SceneChangeDetector(_Detector):
    """The view no longer matches the long-term reference: the camera was turned, knocked
    or re-installed. Compared as the zero-mean normalised cross-correlation of blurred
    thumbnails, which a global lighting change (gain, offset) leaves unchanged and which
    pedestrians and cars covering a small share of the image barely move. The reference
    follows slow changes (shadows, seasons) over ``reference_s`` while the view matches;
    after a real change an operator accepts the new view with ``accept_scene``."""

    kind = TechnicalKind.SCENE_CHANGE

    def __init__(
        self,
        camera_id: str,
        min_correlation: float = 0.5,
        raise_after_s: float = 30.0,
        clear_after_s: float = 30.0,
        reference_s: float = 1800.0,
    ) -> None:
        super().__init__(camera_id, raise_after_s, clear_after_s)
        self.min_correlation = min_correlation
        self.reference_s = reference_s
        self.reference: npt.NDArray[np.float32] | None = None
        self._last_at: float | None = None

    def accept_scene(self, m: FrameMeasures, at: float) -> None:
        """Take the current view as the new reference (after an intended move)."""
        self.reference = m.thumb.copy()
        self._last_at = at

    def _judge(self, m: FrameMeasures, at: float) -> tuple[bool, float, float]:
        if self.reference is None:
            self.accept_scene(m, at)
            return False, 1.0, self.min_correlation
        corr = float((m.thumb * self.reference).mean())
        condition = corr < self.min_correlation
        dt = 0.0 if self._last_at is None else max(0.0, at - self._last_at)
        self._last_at = at
        if not condition and not self.timer.active:
            rate = min(1.0, dt / self.reference_s)
            self.reference += rate * (m.thumb - self.reference)
        return condition, corr, self.min_correlation


@dataclass(frozen=True, slots=True)
class TechnicalChanges:
    """What changed with one frame: alerts raised, alerts cleared, and all active ones."""

    raised: tuple[TechnicalAlert, ...]
    cleared: tuple[TechnicalAlert, ...]
    active: tuple[TechnicalAlert, ...]


class TechnicalMonitor:
    """The four detectors of one camera, fed from one measurement per frame. A few frames
    per minute are enough (these are slow conditions); one frame per second is plenty.

    While the image is too dark, blur and obstruction are not judged (a dark image has
    neither edges nor texture) and their state is held."""

    def __init__(
        self,
        camera_id: str,
        *,
        darkness: DarknessDetector | None = None,
        blur: BlurDetector | None = None,
        obstruction: ObstructionDetector | None = None,
        scene_change: SceneChangeDetector | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.darkness = darkness or DarknessDetector(camera_id)
        self.blur = blur or BlurDetector(camera_id)
        self.obstruction = obstruction or ObstructionDetector(camera_id)
        self.scene_change = scene_change or SceneChangeDetector(camera_id)
        self._last: FrameMeasures | None = None
        self._last_at: float | None = None

    def update(self, frame: Image, at: float) -> TechnicalChanges:
        if self._last_at is not None and at < self._last_at:
            raise precondition("Horodatage antérieur à l'image précédente.", f"{at}")
        self._last_at = at
        m = measure(frame)
        self._last = m
        before = {d.kind: d.alert for d in self._all()}
        dark = self.darkness.update(m, at) is not None or m.mean_luma < self.darkness.max_luma
        if not dark:
            self.blur.update(m, at)
            self.obstruction.update(m, at)
        self.scene_change.update(m, at)
        after = {d.kind: d.alert for d in self._all()}
        raised = tuple(a for k, a in after.items() if a is not None and before[k] is None)
        cleared = tuple(a for k, a in before.items() if a is not None and after[k] is None)
        active = tuple(a for a in after.values() if a is not None)
        return TechnicalChanges(raised, cleared, active)

    def accept_scene(self) -> None:
        """Operator action: the current view is the intended one."""
        if self._last is None or self._last_at is None:
            raise precondition("Aucune image reçue pour cette caméra.", self.camera_id)
        self.scene_change.accept_scene(self._last, self._last_at)

    def _all(self) -> list[_Detector]:
        return [self.darkness, self.blur, self.obstruction, self.scene_change]
