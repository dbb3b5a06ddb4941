"""The alert state machine (vms.domain.alerts): every allowed transition, every
forbidden one refused in French, deadlines and their automatic escalation on a
simulated clock, the system close kept to technical alerts (LAW-10)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.fakes.clock import SimulatedClock
from vms.domain.alerts import (
    OPEN_STATES,
    SYSTEM_ACTOR,
    TRANSITIONS,
    AlertView,
    State,
    ack_due,
    apply,
    lateness_s,
    overdue,
    system_close,
)
from vms.errors import ErrorKind, VmsError

T0 = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)

PARAMS: dict[str, dict[str, Any]] = {
    "acknowledge": {},
    "assign": {"assigned_to": "operateur2"},
    "start": {},
    "escalate": {"service": "police_nationale", "reference": "Appel 17 n° 42"},
    "close": {"qualification": "fausse_alerte", "report": "Un agent d'entretien."},
    "reopen": {"reason": "Le véhicule est revenu."},
}

ALLOWED = {
    ("acknowledge", State.NEW): State.ACKNOWLEDGED,
    ("assign", State.NEW): State.NEW,
    ("assign", State.ACKNOWLEDGED): State.ACKNOWLEDGED,
    ("assign", State.DOUBT_REMOVAL): State.DOUBT_REMOVAL,
    ("assign", State.ESCALATED): State.ESCALATED,
    ("start", State.ACKNOWLEDGED): State.DOUBT_REMOVAL,
    ("escalate", State.ACKNOWLEDGED): State.ESCALATED,
    ("escalate", State.DOUBT_REMOVAL): State.ESCALATED,
    ("close", State.ACKNOWLEDGED): State.CLOSED,
    ("close", State.DOUBT_REMOVAL): State.CLOSED,
    ("close", State.ESCALATED): State.CLOSED,
    ("reopen", State.CLOSED): State.NEW,
}
FORBIDDEN = [(a, s) for a in TRANSITIONS for s in State if (a, s) not in ALLOWED]


def view(state: State = State.NEW, **kw: Any) -> AlertView:
    fields: dict[str, Any] = {
        "state": state, "raised_at": T0, "ack_deadline_s": 120, "priority": 2,
        "source": "analytique",
    }  # fmt: skip
    return AlertView(**(fields | kw))


def test_the_table_is_the_designed_one() -> None:
    assert {a for a, _ in ALLOWED} == set(TRANSITIONS)
    assert len(FORBIDDEN) == len(TRANSITIONS) * len(State) - len(ALLOWED) == 18


@pytest.mark.parametrize(("action", "state"), sorted(ALLOWED, key=str))
def test_every_allowed_transition(action: str, state: State) -> None:
    now = T0 + timedelta(seconds=30)
    t = apply(view(state), action, PARAMS[action], "operateur1", now)
    assert (t.from_state, t.to_state) == (state, ALLOWED[action, state])
    assert t.changes["state"] == ALLOWED[action, state].value


@pytest.mark.parametrize(("action", "state"), sorted(FORBIDDEN, key=str))
def test_every_forbidden_transition_is_refused_in_french(action: str, state: State) -> None:
    with pytest.raises(VmsError) as err:
        apply(view(state), action, PARAMS[action], "operateur1", T0)
    assert err.value.kind is ErrorKind.FAILED_PRECONDITION
    assert err.value.message.startswith("Impossible de ")
    assert f"une alerte « {state.label} »" in err.value.message


def test_an_unknown_action_is_refused() -> None:
    with pytest.raises(VmsError) as err:
        apply(view(), "supprimer", {}, "operateur1", T0)
    assert err.value.kind is ErrorKind.INVALID_ARGUMENT
    assert err.value.message == "Action inconnue : 'supprimer'."


def test_acknowledge_records_who_when_and_the_lateness() -> None:
    t = apply(view(), "acknowledge", {}, "operateur1", T0 + timedelta(seconds=150))
    assert t.changes == {
        "state": "prise_en_compte", "acknowledged_at": T0 + timedelta(seconds=150),
        "acknowledged_by": "operateur1", "assigned_to": "operateur1",
    }  # fmt: skip
    assert t.detail == {"retard_s": 30}
    kept = apply(view(), "acknowledge", {"keep_assignee": True}, "op", T0)
    assert "assigned_to" not in kept.changes
    assert kept.detail == {"retard_s": 0}


def test_escalate_appends_the_call_to_the_forces() -> None:
    earlier = {"service": "samu", "reference": "15-1", "called_at": "x", "by": "a",
               "share_link_id": None}  # fmt: skip
    now = T0 + timedelta(minutes=3)
    params = {**PARAMS["escalate"], "share_link_id": 7}
    t = apply(view(State.DOUBT_REMOVAL, forces_calls=(earlier,)), "escalate", params, "op", now)
    assert t.changes["forces_calls"] == [
        earlier,
        {"service": "police_nationale", "reference": "Appel 17 n° 42",
         "called_at": now.isoformat(), "by": "op", "share_link_id": 7},
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("action", "params", "message"),
    [
        ("escalate", {"service": "armee", "reference": "x"},
         "Le service appelé : valeur attendue parmi police_nationale, gendarmerie, "
         "police_municipale, pompiers, samu."),
        ("escalate", {"service": "gendarmerie", "reference": " "},
         "La référence de l'appel est obligatoire."),
        ("escalate", {"service": "gendarmerie", "reference": "r", "share_link_id": "3"},
         "Le lien de partage doit être un identifiant numérique."),
        ("close", {"qualification": "incident_reel"},
         "Le compte rendu de clôture est obligatoire."),
        ("close", {"qualification": "peut-etre", "report": "r"},
         "La qualification : valeur attendue parmi incident_reel, fausse_alerte, test, "
         "technique."),
        ("assign", {}, "L'opérateur affecté est obligatoire."),
        ("assign", {"assigned_to": "x" * 65}, "L'opérateur affecté : 64 caractères au plus."),
    ],
)  # fmt: skip
def test_a_missing_or_invalid_field_is_refused_in_french(
    action: str, params: dict[str, Any], message: str
) -> None:
    with pytest.raises(VmsError) as err:
        apply(view(State.ACKNOWLEDGED), action, params, "op", T0)
    assert err.value.kind is ErrorKind.INVALID_ARGUMENT
    assert err.value.message == message


def test_close_then_reopen_gives_a_new_deadline() -> None:
    closed_at = T0 + timedelta(minutes=5)
    t = apply(view(State.ESCALATED), "close", PARAMS["close"], "op", closed_at)
    assert t.changes == {
        "state": "cloturee", "closed_at": closed_at, "closed_by": "op",
        "qualification": "fausse_alerte", "report": "Un agent d'entretien.",
    }  # fmt: skip
    later = T0 + timedelta(hours=1)
    t = apply(view(State.CLOSED), "reopen", PARAMS["reopen"], "op", later)
    assert t.changes["state"] == "nouvelle"
    assert t.changes["raised_at"] == later
    assert t.changes["ack_due_at"] == later + timedelta(seconds=120)
    assert all(t.changes[k] is None for k in ("closed_at", "qualification", "overdue_at"))
    assert t.detail == {"motif": "Le véhicule est revenu."}


def test_sla_escalation_once_past_the_deadline_on_a_simulated_clock() -> None:
    clock = SimulatedClock(T0)
    alert = view(priority=2)
    assert ack_due(alert.raised_at, alert.ack_deadline_s) == T0 + timedelta(seconds=120)
    clock.advance(timedelta(seconds=119))
    assert overdue(alert, clock.now()) is None
    clock.advance(timedelta(seconds=1))
    t = overdue(alert, clock.now())
    assert t is not None
    assert t.changes == {"overdue_at": T0 + timedelta(seconds=120), "priority": 1}
    assert (t.from_state, t.to_state) == (State.NEW, State.NEW)
    assert t.detail == {"priorite": 1, "echeance": (T0 + timedelta(seconds=120)).isoformat()}
    # once only, and never above priority 1
    assert overdue(view(overdue_at=clock.now()), clock.now() + timedelta(hours=1)) is None
    top = overdue(view(priority=1), clock.now())
    assert top is not None and top.changes["priority"] == 1
    # an acknowledged alert is not escalated
    for state in OPEN_STATES - {State.NEW}:
        assert overdue(view(state), clock.now() + timedelta(hours=1)) is None


def test_lateness_on_a_simulated_clock() -> None:
    clock = SimulatedClock(T0)
    due = ack_due(T0, 60)
    clock.advance(timedelta(seconds=45))
    assert lateness_s(due, None, clock.now()) == 0
    clock.advance(timedelta(seconds=40))
    assert lateness_s(due, None, clock.now()) == 25  # still unacknowledged
    acknowledged = clock.now()
    clock.advance(timedelta(minutes=10))
    assert lateness_s(due, acknowledged, clock.now()) == 25  # frozen at acknowledgement


def test_system_close_only_for_technical_alerts() -> None:
    now = T0 + timedelta(minutes=2)
    t = system_close(view(source="technique"), "flux vidéo rétabli", now)
    assert t.changes == {
        "state": "cloturee", "closed_at": now, "closed_by": SYSTEM_ACTOR,
        "qualification": "technique", "report": "Rétabli automatiquement : flux vidéo rétabli",
    }  # fmt: skip
    assert (t.from_state, t.to_state) == (State.NEW, State.CLOSED)
    for source in ("analytique", "externe", "manuelle"):
        with pytest.raises(VmsError) as err:
            system_close(view(source=source), "x", now)
        assert err.value.kind is ErrorKind.FAILED_PRECONDITION
        assert err.value.message == "Seule une alerte technique peut être clôturée automatiquement."
    with pytest.raises(VmsError) as err:
        system_close(view(State.CLOSED, source="technique"), "x", now)
    assert err.value.message == "Alerte déjà clôturée."
