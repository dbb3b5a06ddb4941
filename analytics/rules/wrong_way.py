"""A person or vehicle moving against the direction of traffic (décret 2023-828)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from datetime import datetime

from analytics.rules.base import Rule
from analytics.rules.geometry import (
    angle_deg,
    distance,
    point_in_polygon,
    validate_polygon,
    validate_vector,
)
from analytics.rules.model import Event, Frame, Point
from vms.messages import msg


class WrongWay(Rule):
    """One event per track whose displacement inside the lane, over the last
    ``window_s`` seconds, is at least ``min_distance`` long and makes more than
    ``max_angle_deg`` with the allowed direction."""

    kind = "contresens"

    def __init__(
        self,
        rule_id: str,
        lane: Sequence[Sequence[float]],
        direction: Sequence[float],
        classes: Iterable[str],
        min_distance: float = 0.1,
        max_angle_deg: float = 120.0,
        window_s: float = 5.0,
        min_confidence: float = 0.0,
    ) -> None:
        super().__init__(rule_id, classes, min_confidence)
        self.lane = validate_polygon(lane)
        self.direction = validate_vector(direction)
        self.min_distance = min_distance
        self.max_angle_deg = max_angle_deg
        self.window_s = window_s
        self._paths: dict[int, deque[tuple[datetime, Point]]] = {}
        self._fired: set[int] = set()

    def step(self, frame: Frame) -> list[Event]:
        events = []
        for d in self._wanted(frame):
            if d.track_id in self._fired:
                continue
            p = d.foot
            if not point_in_polygon(p, self.lane):
                self._paths.pop(d.track_id, None)
                continue
            path = self._paths.setdefault(d.track_id, deque())
            path.append((frame.at, p))
            while (frame.at - path[0][0]).total_seconds() > self.window_s:
                path.popleft()
            start = path[0][1]
            moved = distance(start, p)
            if moved < self.min_distance:
                continue
            angle = angle_deg((p[0] - start[0], p[1] - start[1]), self.direction)
            if angle > self.max_angle_deg:
                self._fired.add(d.track_id)
                self._paths.pop(d.track_id, None)
                events.append(
                    self._event(
                        frame,
                        msg("analytics.label.wrong_way", rule_id=self.rule_id),
                        d.cls,
                        d.track_id,
                        d.confidence,
                        (d.box,),
                        {"angle_deg": round(angle, 1), "distance": round(moved, 4)},
                    )
                )
        return events

    def reset(self) -> None:
        self._paths.clear()
        self._fired.clear()

    def forget(self, track_id: int) -> None:
        self._paths.pop(track_id, None)
        self._fired.discard(track_id)
