"""Excessive density and crowd movement in a calibrated zone (décret 2023-828)."""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Iterable, Sequence
from datetime import datetime

from analytics.rules.base import Rule
from analytics.rules.geometry import distance, point_in_polygon, validate_polygon
from analytics.rules.model import Event, Frame, Point
from vms.messages import msg


class Density(Rule):
    """People whose reference point is in the zone, divided by the zone's real area,
    above ``max_per_m2`` for ``min_duration_s`` -> one event; the rule re-arms once the
    density falls back under the threshold."""

    kind = "densite"

    def __init__(
        self,
        rule_id: str,
        zone: Sequence[Sequence[float]],
        area_m2: float,
        max_per_m2: float,
        min_duration_s: float = 10.0,
        person_classes: Iterable[str] = ("person",),
        min_confidence: float = 0.0,
    ) -> None:
        super().__init__(rule_id, person_classes, min_confidence)
        self.zone = validate_polygon(zone)
        self.area_m2 = area_m2
        self.max_per_m2 = max_per_m2
        self.min_duration_s = min_duration_s
        self._above_since: datetime | None = None
        self._fired = False

    def step(self, frame: Frame) -> list[Event]:
        inside = [d for d in self._wanted(frame) if point_in_polygon(d.foot, self.zone)]
        density = len(inside) / self.area_m2
        if density <= self.max_per_m2:
            self.reset()
            return []
        if self._above_since is None:
            self._above_since = frame.at
        above_s = (frame.at - self._above_since).total_seconds()
        if self._fired or above_s < self.min_duration_s:
            return []
        self._fired = True
        return [
            self._event(
                frame,
                msg("analytics.label.density", rule_id=self.rule_id, density=density),
                "person" if not inside else inside[0].cls,
                None,
                min(d.confidence for d in inside),
                tuple(d.box for d in inside),
                {
                    "count": len(inside),
                    "density_per_m2": round(density, 4),
                    "above_s": round(above_s, 3),
                },
            )
        ]

    def reset(self) -> None:
        self._above_since = None
        self._fired = False


class CrowdMovement(Rule):
    """Sudden collective motion: the mean speed of the tracks in the zone (picture
    widths per second, at least ``min_tracks`` tracks moving) exceeds ``factor`` times
    the running median of that mean over ``baseline_s``, and ``min_speed``.

    The baseline needs ``min_baseline_samples`` samples first; samples taken during an
    episode stay out of it. One event per episode; an episode ends when the mean speed
    falls back under the threshold.
    """

    kind = "mouvement_foule"

    def __init__(
        self,
        rule_id: str,
        zone: Sequence[Sequence[float]],
        factor: float = 3.0,
        min_tracks: int = 5,
        min_speed: float = 0.05,
        baseline_s: float = 60.0,
        min_baseline_samples: int = 20,
        person_classes: Iterable[str] = ("person",),
        min_confidence: float = 0.0,
    ) -> None:
        super().__init__(rule_id, person_classes, min_confidence)
        self.zone = validate_polygon(zone)
        self.factor = factor
        self.min_tracks = min_tracks
        self.min_speed = min_speed
        self.baseline_s = baseline_s
        self.min_baseline_samples = min_baseline_samples
        self._last: dict[int, tuple[datetime, Point]] = {}
        self._baseline: deque[tuple[datetime, float]] = deque()
        self._in_episode = False

    def step(self, frame: Frame) -> list[Event]:
        speeds, boxes = [], []
        seen: dict[int, tuple[datetime, Point]] = {}
        for d in self._wanted(frame):
            p = d.foot
            if not point_in_polygon(p, self.zone):
                continue
            seen[d.track_id] = (frame.at, p)
            prev = self._last.get(d.track_id)
            if prev is not None and frame.at > prev[0]:
                speeds.append(distance(prev[1], p) / (frame.at - prev[0]).total_seconds())
                boxes.append(d.box)
        self._last = seen
        while (
            self._baseline and (frame.at - self._baseline[0][0]).total_seconds() > self.baseline_s
        ):
            self._baseline.popleft()
        if len(speeds) < self.min_tracks:
            self._in_episode = False
            return []
        mean = statistics.fmean(speeds)
        if len(self._baseline) < self.min_baseline_samples:
            self._baseline.append((frame.at, mean))
            return []
        median = statistics.median(v for _, v in self._baseline)
        if mean <= max(self.factor * median, self.min_speed):
            self._in_episode = False
            self._baseline.append((frame.at, mean))
            return []
        if self._in_episode:
            return []
        self._in_episode = True
        return [
            self._event(
                frame,
                msg("analytics.label.crowd_movement", rule_id=self.rule_id),
                next(iter(sorted(self.classes))),
                None,
                1.0,
                tuple(boxes),
                {
                    "tracks": len(speeds),
                    "mean_speed": round(mean, 4),
                    "median_speed": round(median, 4),
                },
            )
        ]

    def reset(self) -> None:
        self._last.clear()
        self._baseline.clear()
        self._in_episode = False

    def forget(self, track_id: int) -> None:
        self._last.pop(track_id, None)
