"""Clock port. Wall time is timezone-aware UTC; monotonic time is for timers."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Current wall time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a monotonic clock (for timeouts and backoff)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block the calling thread (real clock) or advance time (simulated)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)
