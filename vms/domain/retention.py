"""Retention rules (CSI L252-5, LAW-01). Pure."""

from __future__ import annotations

from datetime import datetime, timedelta

from vms.errors import invalid
from vms.messages import msg

LEGAL_MAX_RETENTION_DAYS = 30
MIN_RETENTION_DAYS = 1


def validate_retention_days(days: int) -> int:
    """Return ``days`` or raise a French INVALID_ARGUMENT error above the legal maximum."""
    if days > LEGAL_MAX_RETENTION_DAYS:
        raise invalid(
            msg("retention.above_legal_max", days=days, max_days=LEGAL_MAX_RETENTION_DAYS)
        )
    if days < MIN_RETENTION_DAYS:
        raise invalid(msg("retention.below_min", min_days=MIN_RETENTION_DAYS))
    return days


def expiry(end_at: datetime, retention_days: int) -> datetime:
    """The instant a segment ending at ``end_at`` must be destroyed."""
    return end_at + timedelta(days=retention_days)


def is_expired(end_at: datetime, retention_days: int, now: datetime) -> bool:
    return expiry(end_at, retention_days) <= now
