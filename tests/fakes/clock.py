"""A simulated clock: time moves only when told to (Moonfire's SimulatedClocks)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class SimulatedClock:
    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._mono = 0.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def sleep(self, seconds: float) -> None:
        self.advance(timedelta(seconds=seconds))

    def advance(self, delta: timedelta) -> None:
        self._now += delta
        self._mono += delta.total_seconds()
