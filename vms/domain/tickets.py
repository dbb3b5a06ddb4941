"""The intervention ticket state machine (CSD-10, CONF-03). Pure: which action is
allowed from which state and what it changes. See ``docs/design/alerts.md``.

``apply(state, action, params, actor, now)`` returns the columns to update; a
forbidden transition raises ``VmsError`` (FAILED_PRECONDITION, French), a missing
parameter ``VmsError`` (INVALID_ARGUMENT, French).
"""

from __future__ import annotations

import enum
import logging
from datetime import datetime
from typing import Any

from vms.domain.alerts import required_text
from vms.errors import ErrorKind, VmsError, invalid

logger = logging.getLogger(__name__)


class TicketState(enum.StrEnum):
    OPEN = "ouvert"
    ASSIGNED = "affecte"
    ON_SITE = "sur_site"
    RESOLVED = "resolu"
    CLOSED = "clos"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    TicketState.OPEN: "Ouvert",
    TicketState.ASSIGNED: "Affecté",
    TicketState.ON_SITE: "Intervention sur site",
    TicketState.RESOLVED: "Résolu",
    TicketState.CLOSED: "Clos",
}

ACTIVE_STATES = frozenset({TicketState.OPEN, TicketState.ASSIGNED, TicketState.ON_SITE})
"""States of a ticket still to be worked on (``tickets_dedup_open`` keeps one per key)."""

# action -> the states it may start from, and the state it leads to (None: unchanged)
TRANSITIONS: dict[str, tuple[frozenset[TicketState], TicketState | None]] = {
    "assign": (frozenset({TicketState.OPEN, TicketState.ASSIGNED}), TicketState.ASSIGNED),
    "on_site": (frozenset({TicketState.OPEN, TicketState.ASSIGNED}), TicketState.ON_SITE),
    "resolve": (ACTIVE_STATES, TicketState.RESOLVED),
    "close": (frozenset({TicketState.RESOLVED}), TicketState.CLOSED),
}
ACTION_LABELS = {
    "assign": "affecter",
    "on_site": "signaler sur site",
    "resolve": "résoudre",
    "close": "clore",
}


def apply(
    state: TicketState, action: str, params: dict[str, Any], actor: str, now: datetime
) -> dict[str, Any]:
    """The columns ``action`` changes on a ticket in ``state``, or VmsError."""
    if action not in TRANSITIONS:
        raise invalid(f"Action inconnue : {action!r}.")
    sources, target = TRANSITIONS[action]
    if state not in sources:
        raise VmsError(
            ErrorKind.FAILED_PRECONDITION,
            f"Impossible de {ACTION_LABELS[action]} un ticket « {state.label} ».",
        )
    to_state = target or state
    changes: dict[str, Any] = {"state": to_state.value}
    if action == "assign":
        changes["assigned_to"] = required_text(params, "assigned_to", "Le technicien affecté", 64)
    elif action == "resolve":
        changes |= {"resolution": required_text(params, "resolution", "La résolution", 4000),
                    "resolved_at": now}  # fmt: skip
    elif action == "close":
        changes["closed_at"] = now
    logger.debug("- %s -> %s (%s by %s)", state.value, to_state.value, action, actor)
    return changes
