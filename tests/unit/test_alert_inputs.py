"""The external alarm message and the columns it stores (vms.alerts.inputs), pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from vms.alerts.inputs import ExternalInput, columns

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_exactly_one_target() -> None:
    for body in ({}, {"camera_id": "a1", "commune": "commune-a"}):
        with pytest.raises(ValidationError, match="soit « camera_id », soit « commune »"):
            ExternalInput.model_validate({"kind": "externe", "title": "x", **body})
    with pytest.raises(ValidationError):
        ExternalInput.model_validate({"kind": "externe", "title": "x", "camera_id": "a1",
                                      "at": "2026-03-01T12:00:00"})  # naive: refused  # fmt: skip


def test_columns_new_and_during_maintenance() -> None:
    msg = ExternalInput.model_validate({
        "camera_id": "a1", "kind": "capteur_lorawan", "title": " Crue ", "site": "Pont",
        "detail": {"niveau_cm": 182}, "external_id": "L-1",
        "at": (NOW + timedelta(hours=1)).isoformat(),  # in the future: now
    })  # fmt: skip
    c = columns(msg, tenant_id="commune-a", input_source="lora", priority=3,
                ack_deadline_s=900, maintenance=None, now=NOW)  # fmt: skip
    assert (c["title"], c["raised_at"], c["ack_due_at"], c["state"]) == (
        "Crue", NOW, NOW + timedelta(seconds=900), "nouvelle")  # fmt: skip
    assert c["detail"] == {"source": "lora", "site": "Pont", "donnees": {"niveau_cm": 182}}
    assert c["suppressed_by"] is None and c["closed_at"] is None
    c = columns(msg, tenant_id="commune-a", input_source="lora", priority=3,
                ack_deadline_s=900, maintenance=(7, "Travaux"), now=NOW)  # fmt: skip
    assert (c["state"], c["qualification"], c["suppressed_by"], c["closed_by"]) == (
        "cloturee", "technique", 7, "systeme")  # fmt: skip
    assert c["report"] == "Levée pendant une maintenance de la caméra : Travaux"
