"""Suppression rules of the alert desk (docs/design/alerts.md, "Suppression rules"),
pure: what a maintenance window does to an alert, and when a technical fault flaps.

LAW-10: nothing is hidden from the record. During a maintenance window of its camera a
technical fault raises nothing (the technician is expected to cut the stream), while an
analytics or external alert is still stored, closed at once by the system with
qualification ``technique`` and ``suppressed_by`` = the window (an operator may reopen
it). A fault that was raised ``count`` times or more within ``window_s`` is held open
when it clears, instead of being closed and re-opened again and again."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

FLAPPING = "instable"
"""History action of a fault held open because it flaps."""


@dataclass(frozen=True, slots=True)
class FlapSettings:
    count: int = 3
    """Raises of one camera's fault within ``window_s`` that make it flap (0: never)."""
    window_s: float = 600.0


def flapping(raised_at: Iterable[datetime], now: datetime, settings: FlapSettings) -> bool:
    """Whether a fault raised at ``raised_at`` (its alerts' times) flaps at ``now``."""
    if settings.count <= 0:
        return False
    since = now - timedelta(seconds=settings.window_s)
    return sum(1 for at in raised_at if at >= since) >= settings.count


def maintenance_report(reason: str) -> str:
    """The closing report of an alert raised during a maintenance window (French)."""
    return f"Levée pendant une maintenance de la caméra : {reason}"
