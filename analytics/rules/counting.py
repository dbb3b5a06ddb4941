"""Anonymous counting across a line, per direction and class, in time buckets."""

from __future__ import annotations

from collections import Counter as _Tally
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Literal
from zoneinfo import ZoneInfo

from analytics.rules.base import Rule
from analytics.rules.geometry import segments_intersect, side_of_line, validate_line
from analytics.rules.model import Event, Frame, Point
from vms.messages import msg

Direction = Literal["direct", "inverse"]
Granularity = Literal["15min", "hour", "day"]
LOCAL_TZ_NAME = "Europe/Paris"
QUARTER = timedelta(minutes=15)


@cache
def local_tz() -> ZoneInfo:
    """The installations' civil time zone (read from the system tz database once)."""
    return ZoneInfo(LOCAL_TZ_NAME)


@dataclass(frozen=True, slots=True)
class Bucket:
    """Counts of one time bucket: ``counts[(direction, cls)]``. ``start`` is UTC for
    15-minute and hourly buckets, local midnight (Europe/Paris) for daily ones."""

    start: datetime
    end: datetime
    counts: dict[tuple[str, str], int] = field(default_factory=dict)


class Counter:
    """Crossings per direction and class, stored per 15-minute bucket (UTC).

    Paris is a whole number of hours from UTC, so UTC quarters and hours are also
    local ones; days are local days (23 or 25 hours on DST changes).
    """

    def __init__(self) -> None:
        self._quarters: dict[datetime, _Tally[tuple[str, str]]] = {}

    def add(self, at: datetime, direction: str, cls: str) -> None:
        at = at.astimezone(UTC)
        start = at.replace(minute=at.minute - at.minute % 15, second=0, microsecond=0)
        self._quarters.setdefault(start, _Tally())[(direction, cls)] += 1

    def total(self, direction: str, cls: str) -> int:
        return sum(t[(direction, cls)] for t in self._quarters.values())

    def drop_before(self, at: datetime) -> None:
        """Forget quarters that end before ``at`` (once they have been stored elsewhere)."""
        for start in [s for s in self._quarters if s + QUARTER <= at]:
            del self._quarters[start]

    def buckets(self, granularity: Granularity) -> list[Bucket]:
        """Non-empty buckets in time order."""
        merged: dict[datetime, _Tally[tuple[str, str]]] = {}
        for start, tally in self._quarters.items():
            merged.setdefault(self._bucket_start(start, granularity), _Tally()).update(tally)
        return [
            Bucket(start, self._bucket_end(start, granularity), dict(merged[start]))
            for start in sorted(merged)
        ]

    @staticmethod
    def _bucket_start(quarter: datetime, granularity: Granularity) -> datetime:
        if granularity == "15min":
            return quarter
        if granularity == "hour":
            return quarter.replace(minute=0)
        local = quarter.astimezone(local_tz())
        return local.replace(hour=0, minute=0).replace(fold=0)

    @staticmethod
    def _bucket_end(start: datetime, granularity: Granularity) -> datetime:
        if granularity == "15min":
            return start + QUARTER
        if granularity == "hour":
            return start + timedelta(hours=1)
        # wall-clock arithmetic on the local date, so DST days last 23 or 25 hours
        next_day = (start.date() + timedelta(days=1)).isoformat()
        return datetime.fromisoformat(next_day).replace(tzinfo=local_tz())


@dataclass(slots=True)
class _TrackState:
    point: Point
    side: int  # last non-zero side, 0 until known


class LineCrossing(Rule):
    """Counts tracks whose reference point crosses the segment a-b.

    "direct" is a crossing towards the side reached by turning a->b a quarter turn
    clockwise on screen (downwards for a line drawn left to right, rightwards for a line
    drawn bottom to top); "inverse" the other way. Each crossing is counted in
    ``counter`` and returned as an event of kind "comptage".
    """

    kind = "comptage"

    def __init__(
        self,
        rule_id: str,
        a: Sequence[float],
        b: Sequence[float],
        classes: Iterable[str],
        min_confidence: float = 0.0,
        counter: Counter | None = None,
    ) -> None:
        super().__init__(rule_id, classes, min_confidence)
        self.a, self.b = validate_line(a, b)
        self.counter = counter if counter is not None else Counter()
        self._tracks: dict[int, _TrackState] = {}

    def step(self, frame: Frame) -> list[Event]:
        events = []
        for d in self._wanted(frame):
            p = d.foot
            side = side_of_line(self.a, self.b, p)
            st = self._tracks.get(d.track_id)
            if st is None:
                self._tracks[d.track_id] = _TrackState(p, side)
                continue
            if side == 0:
                continue  # on the line: wait until it is clearly on one side
            crossed = (
                st.side != 0 and side != st.side and segments_intersect(st.point, p, self.a, self.b)
            )
            st.point, st.side = p, side
            if not crossed:
                continue
            direction: Direction = "direct" if side > 0 else "inverse"
            self.counter.add(frame.at, direction, d.cls)
            events.append(
                self._event(
                    frame,
                    msg(
                        "analytics.label.counting",
                        rule_id=self.rule_id,
                        direction=msg(f"analytics.direction.{direction}"),
                    ),
                    d.cls,
                    d.track_id,
                    d.confidence,
                    (d.box,),
                    {"direction": direction, "total": self.counter.total(direction, d.cls)},
                )
            )
        return events

    def reset(self) -> None:
        self._tracks.clear()  # the counter is kept

    def forget(self, track_id: int) -> None:
        self._tracks.pop(track_id, None)
