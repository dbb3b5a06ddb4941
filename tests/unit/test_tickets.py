"""The intervention ticket state machine (vms/domain/tickets.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vms.domain.tickets import TRANSITIONS, TicketState, apply
from vms.errors import ErrorKind, VmsError

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


def test_the_usual_path() -> None:
    assert apply(TicketState.OPEN, "assign", {"assigned_to": " tech "}, "op", NOW) == {
        "state": "affecte",
        "assigned_to": "tech",
    }
    assert apply(TicketState.ASSIGNED, "on_site", {}, "tech", NOW) == {"state": "sur_site"}
    assert apply(TicketState.ON_SITE, "resolve", {"resolution": "Câble"}, "tech", NOW) == {
        "state": "resolu",
        "resolution": "Câble",
        "resolved_at": NOW,
    }
    assert apply(TicketState.RESOLVED, "close", {}, "op", NOW) == {
        "state": "clos",
        "closed_at": NOW,
    }


@pytest.mark.parametrize("state", list(TicketState))
@pytest.mark.parametrize("action", list(TRANSITIONS))
def test_forbidden_transitions_name_the_state(state: TicketState, action: str) -> None:
    params = {"assigned_to": "tech", "resolution": "ok"}
    if state in TRANSITIONS[action][0]:
        assert apply(state, action, params, "op", NOW)["state"]
        return
    with pytest.raises(VmsError) as err:
        apply(state, action, params, "op", NOW)
    assert err.value.kind is ErrorKind.FAILED_PRECONDITION
    assert f"« {state.label} »" in err.value.message


def test_missing_fields_and_unknown_actions() -> None:
    with pytest.raises(VmsError, match=r"^La résolution est obligatoire\.$"):
        apply(TicketState.OPEN, "resolve", {"resolution": "  "}, "op", NOW)
    with pytest.raises(VmsError, match=r"^Le technicien affecté est obligatoire\.$"):
        apply(TicketState.OPEN, "assign", {}, "op", NOW)
    with pytest.raises(VmsError, match="Action inconnue"):
        apply(TicketState.OPEN, "explode", {}, "op", NOW)
