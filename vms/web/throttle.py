"""Per-client throttling of sign-in attempts (sliding one-minute window, in memory).

Account lockout (``users.locked_until``) stops guessing one account's password; this
stops one address from spraying many accounts."""

from __future__ import annotations

from collections import deque


class Throttle:
    def __init__(self, per_minute: int, max_clients: int = 100_000) -> None:
        self.per_minute = per_minute
        self.max_clients = max_clients
        self._hits: dict[str, deque[float]] = {}

    def allow(self, client: str, now: float) -> bool:
        """Record an attempt from ``client`` at monotonic time ``now``; False when it is
        over the limit (the attempt is then not counted)."""
        hits = self._hits.get(client)
        if hits is None:
            if len(self._hits) >= self.max_clients:
                self._forget_idle(now)
            hits = self._hits[client] = deque()
        while hits and hits[0] <= now - 60.0:
            hits.popleft()
        if len(hits) >= self.per_minute:
            return False
        hits.append(now)
        return True

    def _forget_idle(self, now: float) -> None:
        for client in [c for c, h in self._hits.items() if not h or h[-1] <= now - 60.0]:
            del self._hits[client]
