"""The alert state machine (ALR-01..03, LAW-10). Pure: which action is allowed from
which state, what it changes, and the acknowledgement deadline. See
``docs/design/alerts.md``.

``apply(alert, action, params, actor, now)`` returns the changes to store and the
history row; a forbidden transition raises ``VmsError`` (FAILED_PRECONDITION, French),
a missing or invalid parameter ``VmsError`` (INVALID_ARGUMENT, French).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from vms.errors import ErrorKind, VmsError, invalid

SYSTEM_ACTOR = "systeme"


class State(enum.StrEnum):
    NEW = "nouvelle"
    ACKNOWLEDGED = "prise_en_compte"
    DOUBT_REMOVAL = "levee_de_doute"
    ESCALATED = "escaladee"
    CLOSED = "cloturee"

    @property
    def label(self) -> str:
        return _STATE_LABELS[self]


_STATE_LABELS = {
    State.NEW: "Nouvelle",
    State.ACKNOWLEDGED: "Prise en compte",
    State.DOUBT_REMOVAL: "Levée de doute en cours",
    State.ESCALATED: "Escaladée aux forces de l'ordre",
    State.CLOSED: "Clôturée",
}

OPEN_STATES = frozenset(State) - {State.CLOSED}
QUALIFICATIONS = ("incident_reel", "fausse_alerte", "test", "technique")
SERVICES = ("police_nationale", "gendarmerie", "police_municipale", "pompiers", "samu")

# action -> the states it may start from, and the state it leads to (None: unchanged)
TRANSITIONS: dict[str, tuple[frozenset[State], State | None]] = {
    "acknowledge": (frozenset({State.NEW}), State.ACKNOWLEDGED),
    "assign": (OPEN_STATES, None),
    "start": (frozenset({State.ACKNOWLEDGED}), State.DOUBT_REMOVAL),
    "escalate": (frozenset({State.ACKNOWLEDGED, State.DOUBT_REMOVAL}), State.ESCALATED),
    "close": (OPEN_STATES - {State.NEW}, State.CLOSED),
    "reopen": (frozenset({State.CLOSED}), State.NEW),
}
ACTION_LABELS = {
    "acknowledge": "prendre en compte",
    "assign": "affecter",
    "start": "commencer la levée de doute",
    "escalate": "escalader aux forces de l'ordre",
    "close": "clôturer",
    "reopen": "rouvrir",
}


@dataclass(frozen=True, slots=True)
class AlertView:
    """What the state machine needs of a stored alert."""

    state: State
    raised_at: datetime
    ack_deadline_s: int
    priority: int
    source: str
    forces_calls: tuple[dict[str, Any], ...] = ()
    overdue_at: datetime | None = None
    """When the automatic escalation for a missed deadline happened (it happens once)."""


@dataclass(frozen=True, slots=True)
class Transition:
    """The columns to update and the history row to write."""

    changes: dict[str, Any]
    from_state: State
    to_state: State
    detail: dict[str, Any] = field(default_factory=dict)


def ack_due(raised_at: datetime, ack_deadline_s: int) -> datetime:
    return raised_at + timedelta(seconds=ack_deadline_s)


def lateness_s(ack_due_at: datetime, acknowledged_at: datetime | None, now: datetime) -> int:
    """Seconds past the deadline: at acknowledgement, or now while unacknowledged;
    0 when on time."""
    end = acknowledged_at or now
    return max(0, int((end - ack_due_at).total_seconds()))


def required_text(params: dict[str, Any], key: str, what: str, max_len: int = 4000) -> str:
    """``params[key]``, stripped; a French error naming ``what`` if absent or too long."""
    value = params.get(key)
    if not isinstance(value, str) or not value.strip():
        raise invalid(f"{what} est obligatoire.")
    if len(value) > max_len:
        raise invalid(f"{what} : {max_len} caractères au plus.")
    return value.strip()


def _choice(params: dict[str, Any], key: str, what: str, allowed: tuple[str, ...]) -> str:
    value = params.get(key)
    if value not in allowed:
        raise invalid(f"{what} : valeur attendue parmi {', '.join(allowed)}.")
    return str(value)


def apply(
    alert: AlertView, action: str, params: dict[str, Any], actor: str, now: datetime
) -> Transition:
    """The transition ``action`` makes from ``alert``'s state, or VmsError."""
    if action not in TRANSITIONS:
        raise invalid(f"Action inconnue : {action!r}.")
    sources, target = TRANSITIONS[action]
    if alert.state not in sources:
        raise VmsError(
            ErrorKind.FAILED_PRECONDITION,
            f"Impossible de {ACTION_LABELS[action]} une alerte « {alert.state.label} ».",
        )
    to_state = target or alert.state
    changes: dict[str, Any] = {"state": to_state.value}
    detail: dict[str, Any] = {}
    if action == "acknowledge":
        changes |= {"acknowledged_at": now, "acknowledged_by": actor}
        due = ack_due(alert.raised_at, alert.ack_deadline_s)
        detail["retard_s"] = lateness_s(due, now, now)
        if not alert_assigned(params):
            changes["assigned_to"] = actor
    elif action == "assign":
        login = required_text(params, "assigned_to", "L'opérateur affecté", 64)
        changes["assigned_to"] = login
        detail["affecte_a"] = login
    elif action == "escalate":
        call = {
            "service": _choice(params, "service", "Le service appelé", SERVICES),
            "reference": required_text(params, "reference", "La référence de l'appel", 200),
            "called_at": now.isoformat(),
            "by": actor,
            "share_link_id": params.get("share_link_id"),
        }
        if call["share_link_id"] is not None and not isinstance(call["share_link_id"], int):
            raise invalid("Le lien de partage doit être un identifiant numérique.")
        changes["forces_calls"] = [*alert.forces_calls, call]
        detail["appel"] = call
    elif action == "close":
        qualification = _choice(params, "qualification", "La qualification", QUALIFICATIONS)
        report = required_text(params, "report", "Le compte rendu de clôture")
        changes |= {"closed_at": now, "closed_by": actor, "qualification": qualification,
                    "report": report}  # fmt: skip
        detail |= {"qualification": qualification}
    elif action == "reopen":
        reason = required_text(params, "reason", "Le motif de réouverture", 1000)
        changes |= {"closed_at": None, "closed_by": None, "qualification": None, "report": None,
                    "acknowledged_at": None, "acknowledged_by": None, "overdue_at": None,
                    "raised_at": now, "ack_due_at": ack_due(now, alert.ack_deadline_s)}  # fmt: skip
        detail["motif"] = reason
    return Transition(changes, alert.state, to_state, detail)


def alert_assigned(params: dict[str, Any]) -> bool:
    """An acknowledgement may keep the current assignee (``keep_assignee``)."""
    return bool(params.get("keep_assignee"))


def overdue(alert: AlertView, now: datetime) -> Transition | None:
    """The automatic escalation of an alert still new after its deadline (ALR-03): the
    priority goes up by one (1 is the highest); None if not due or already escalated."""
    if alert.state is not State.NEW or alert.overdue_at is not None:
        return None
    if now < ack_due(alert.raised_at, alert.ack_deadline_s):
        return None
    priority = max(1, alert.priority - 1)
    return Transition(
        {"overdue_at": now, "priority": priority},
        alert.state,
        alert.state,
        {
            "priorite": priority,
            "echeance": ack_due(alert.raised_at, alert.ack_deadline_s).isoformat(),
        },
    )


def system_close(alert: AlertView, reason: str, now: datetime) -> Transition:
    """A technical alert whose fault cleared, closed by the system. Analytics alerts
    are never closed automatically (LAW-10: an operator decides)."""
    if alert.source != "technique":
        raise VmsError(
            ErrorKind.FAILED_PRECONDITION,
            "Seule une alerte technique peut être clôturée automatiquement.",
        )
    if alert.state is State.CLOSED:
        raise VmsError(ErrorKind.FAILED_PRECONDITION, "Alerte déjà clôturée.")
    return Transition(
        {"state": State.CLOSED.value, "closed_at": now, "closed_by": SYSTEM_ACTOR,
         "qualification": "technique", "report": f"Rétabli automatiquement : {reason}"},
        alert.state, State.CLOSED, {"motif": reason},
    )  # fmt: skip
