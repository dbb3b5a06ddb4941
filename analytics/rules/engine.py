"""The rule engine of one camera: dispatches frames to its active rules.

Pure: frames in, events out. The engine honours the legal basis (no analysis outside
its dates: every rule is reset and nothing is returned), each rule's schedule, keeps
the track book (what each track did lately) and tells rules when a track is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from analytics.rules.abandoned import AbandonedObject
from analytics.rules.base import Rule
from analytics.rules.class_alarm import ClassAlarm
from analytics.rules.config import (
    AbandonedRuleConfig,
    CameraAnalyticsConfig,
    ClassAlarmRuleConfig,
    CountingRuleConfig,
    CrowdMovementRuleConfig,
    DensityRuleConfig,
    IntrusionRuleConfig,
    OnGroundRuleConfig,
    RuleConfig,
    WrongWayRuleConfig,
)
from analytics.rules.counting import Counter, LineCrossing
from analytics.rules.crowd import CrowdMovement, Density
from analytics.rules.geometry import GeometryError
from analytics.rules.intrusion import ZoneIntrusion
from analytics.rules.model import Event, Frame, Track
from analytics.rules.on_ground import PersonOnGround
from analytics.rules.wrong_way import WrongWay
from vms.errors import invalid
from vms.messages import msg

__all__ = ["GeometryError", "RuleEngine", "build_rule"]

log = logging.getLogger(__name__)
TRACK_HISTORY_S = 10.0


def build_rule(cfg: RuleConfig) -> Rule:
    """The rule object a validated configuration describes."""
    conf = cfg.min_confidence
    match cfg:
        case IntrusionRuleConfig():
            return ZoneIntrusion(cfg.id, cfg.zone, cfg.classes, cfg.min_dwell_s, cfg.mode, conf)
        case CountingRuleConfig():
            return LineCrossing(cfg.id, cfg.a, cfg.b, cfg.classes, conf)
        case WrongWayRuleConfig():
            return WrongWay(
                cfg.id, cfg.lane, cfg.direction, cfg.classes, cfg.min_distance,
                cfg.max_angle_deg, cfg.window_s, conf,
            )  # fmt: skip
        case OnGroundRuleConfig():
            return PersonOnGround(
                cfg.id, cfg.fall_classes, cfg.person_classes, cfg.use_geometry,
                cfg.min_ratio, cfg.min_duration_s, conf,
            )  # fmt: skip
        case AbandonedRuleConfig():
            return AbandonedObject(
                cfg.id, cfg.min_static_s, cfg.person_absent_s, cfg.person_radius,
                cfg.person_classes, cfg.object_classes, min_confidence=conf,
            )  # fmt: skip
        case DensityRuleConfig():
            return Density(
                cfg.id, cfg.zone, cfg.area_m2, cfg.max_per_m2, cfg.min_duration_s,
                cfg.person_classes, conf,
            )  # fmt: skip
        case CrowdMovementRuleConfig():
            return CrowdMovement(
                cfg.id, cfg.zone, cfg.factor, cfg.min_tracks, cfg.min_speed, cfg.baseline_s,
                cfg.min_baseline_samples, cfg.person_classes, conf,
            )  # fmt: skip
        case ClassAlarmRuleConfig():
            return ClassAlarm(cfg.id, cfg.kind, cfg.classes, conf, cfg.min_duration_s, cfg.gap_s)


class RuleEngine:
    """Runs one camera's rules. Feed it the camera's frames in time order."""

    def __init__(self, camera: CameraAnalyticsConfig) -> None:
        self.camera = camera
        self._rules: list[tuple[RuleConfig, str, Rule]] = [
            (cfg, camera.model_of(cfg).id, build_rule(cfg)) for cfg in camera.rules if cfg.enabled
        ]
        self._model_labels = {m.id: m.label for m in camera.models}
        self._tracks: dict[str, dict[int, Track]] = {m.id: {} for m in camera.models}
        self._last_at: dict[str, datetime] = {}
        self._running = False

    @property
    def counters(self) -> Mapping[str, Counter]:
        """Counting rules' counters by rule id (kept across schedule and basis gaps)."""
        return {cfg.id: r.counter for cfg, _, r in self._rules if isinstance(r, LineCrossing)}

    def tracks(self, model_id: str = "") -> Mapping[int, Track]:
        return self._tracks[model_id or self.camera.models[0].id]

    def active(self, at: datetime) -> bool:
        """Whether analysis may run at ``at``: enabled, within the legal basis."""
        basis = self.camera.legal_basis
        return self.camera.enabled and basis is not None and basis.active(at)

    def step(self, frame: Frame) -> list[Event]:
        if frame.at.tzinfo is None:
            raise invalid(msg("analytics.config.naive_time"))
        if frame.camera_id != self.camera.camera_id:
            raise ValueError(f"frame of {frame.camera_id} sent to {self.camera.camera_id}")
        model_id = frame.model or self.camera.models[0].id
        if model_id not in self._tracks:
            raise ValueError(f"{frame.camera_id}: unknown model {model_id!r}")
        last = self._last_at.get(model_id)
        if last is not None and frame.at < last:
            log.warning("%s: frame at %s older than %s, ignored", frame.camera_id, frame.at, last)
            return []
        self._last_at[model_id] = frame.at
        if not self.active(frame.at):
            if self._running:
                log.info("%s: outside the legal basis, analytics stops", frame.camera_id)
            self._stop()
            return []
        self._running = True
        lost = self._update_tracks(model_id, frame)
        events: list[Event] = []
        label = self._model_labels[model_id]
        for cfg, rule_model, rule in self._rules:
            if rule_model != model_id:
                continue
            for track_id in lost:
                rule.forget(track_id)
            if not cfg.in_schedule(frame.at):
                rule.reset()
                continue
            events.extend(replace(e, model=label) for e in rule.step(frame))
        return events

    def _stop(self) -> None:
        self._running = False
        for _, _, rule in self._rules:
            rule.reset()
        for book in self._tracks.values():
            book.clear()

    def _update_tracks(self, model_id: str, frame: Frame) -> list[int]:
        book = self._tracks[model_id]
        for d in frame.detections:
            old = book.get(d.track_id)
            points = () if old is None else old.points
            points = (
                *(p for p in points if (frame.at - p[0]).total_seconds() <= TRACK_HISTORY_S),
                (frame.at, d.foot),
            )
            first_at = frame.at if old is None else old.first_at
            book[d.track_id] = Track(d.track_id, d.cls, first_at, frame.at, points)
        timeout = self.camera.track_timeout_s
        lost = [t for t, tr in book.items() if (frame.at - tr.last_at).total_seconds() > timeout]
        for track_id in lost:
            del book[track_id]
        return lost
