"""Capped exponential backoff with jitter. Pure: the caller sleeps."""

from __future__ import annotations

import random


class Backoff:
    """Delays grow ``initial_s * 2**n`` up to ``max_s``; each delay is drawn uniformly
    in [delay/2, delay] ("equal jitter") so that many cameras behind one radio link do
    not reconnect in lockstep, while a delay never exceeds the cap."""

    def __init__(self, initial_s: float, max_s: float, rng: random.Random | None = None) -> None:
        if initial_s <= 0 or max_s < initial_s:
            raise ValueError("need 0 < initial_s <= max_s")
        self.initial_s = initial_s
        self.max_s = max_s
        self.attempts = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        base = min(self.max_s, self.initial_s * (2 ** min(self.attempts, 30)))
        self.attempts += 1
        return float(base / 2 + self._rng.random() * base / 2)

    def reset(self) -> None:
        self.attempts = 0
