"""External inputs of the alert desk (CSD-13): alarms of a hypervisor, an intrusion
alarm panel or a sensor network, received by the webhook ``POST
/api/v1/alerts/inputs/{source}`` (operator service) or over MQTT (desk worker,
``vms.alerts.mqtt``). Both validate the same message (``ExternalInput``) and store it
with the same statement and columns (``columns`` here, ``vms.db.alerts.INSERT_EXTERNAL_SQL``):
source ``externe``, the kind's procedure (priority, deadline), idempotent on the sender's
``external_id``. During a maintenance window of its camera the alert is recorded closed
by the system (``suppressed_by``; LAW-10: nothing is hidden from the record)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from vms.alerts.suppression import maintenance_report
from vms.domain.alerts import SYSTEM_ACTOR, State, ack_due

SOURCE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
"""Name of a sending system (the webhook's path, ``mqtt`` for the MQTT input)."""
IDENT = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
ALL_COMMUNES = "*"


def in_scope(communes: Sequence[str], tenant: str) -> bool:
    """Whether an input limited to ``communes`` may raise an alert of commune ``tenant``
    (``"*"``: any)."""
    return ALL_COMMUNES in communes or tenant in communes


class ExternalInput(BaseModel):
    """One external alarm (JSON)."""

    model_config = ConfigDict(extra="forbid")
    kind: str = Field(description="Type d'alarme externe (liste configurée : "
                      "alarme_intrusion_batiment, capteur_lorawan, externe…)",
                      pattern=r"^[a-z0-9_]{1,64}$")  # fmt: skip
    title: str = Field(description="Intitulé de l'alarme", min_length=1, max_length=200)
    camera_id: str | None = Field(None, description="Caméra concernée", pattern=IDENT)
    commune: str | None = Field(None, description="Commune concernée (sans caméra)",
                                pattern=IDENT)  # fmt: skip
    site: str | None = Field(None, description="Lieu (bâtiment, capteur)", max_length=200)
    detail: str | dict[str, Any] = Field("", description="Description ou données du capteur")
    external_id: str | None = Field(None, description="Identifiant de l'alarme chez "
                                    "l'émetteur : un renvoi ne crée pas de doublon",
                                    min_length=1, max_length=200)  # fmt: skip
    at: AwareDatetime | None = Field(None, description="Heure de l'alarme (ISO 8601) ; "
                                     "défaut : réception")  # fmt: skip

    @model_validator(mode="after")
    def _target(self) -> ExternalInput:
        if (self.camera_id is None) == (self.commune is None):
            raise ValueError("indiquer soit « camera_id », soit « commune »")
        if not self.title.strip():
            raise ValueError("l'intitulé est obligatoire")
        if isinstance(self.detail, dict) and len(str(self.detail)) > 8000:
            raise ValueError("« detail » : 8000 caractères au plus")
        if isinstance(self.detail, str) and len(self.detail) > 4000:
            raise ValueError("« detail » : 4000 caractères au plus")
        return self


def columns(
    msg: ExternalInput,
    *,
    tenant_id: str,
    input_source: str,
    priority: int,
    ack_deadline_s: int,
    maintenance: tuple[int, str] | None,
    now: datetime,
) -> dict[str, Any]:
    """The columns of the alert ``msg`` raises (``maintenance``: the camera's window in
    force, which makes it recorded closed by the system)."""
    raised = raised_at(msg, now)
    detail: dict[str, Any] = {"source": input_source}
    if msg.site:
        detail["site"] = msg.site.strip()
    if isinstance(msg.detail, dict):
        detail["donnees"] = msg.detail
    elif msg.detail.strip():
        detail["description"] = msg.detail.strip()
    closed: dict[str, Any] = dict.fromkeys(
        ("closed_at", "closed_by", "qualification", "report", "suppressed_by")
    ) | {"state": State.NEW.value}
    if maintenance is not None:
        closed = {"state": State.CLOSED.value, "closed_at": now, "closed_by": SYSTEM_ACTOR,
                  "qualification": "technique", "suppressed_by": maintenance[0],
                  "report": maintenance_report(maintenance[1])}  # fmt: skip
    return {
        "tenant": tenant_id, "camera": msg.camera_id, "kind": msg.kind,
        "priority": priority, "title": msg.title.strip(), "raised_at": raised,
        "ack_due_at": ack_due(raised, ack_deadline_s), "detail": detail,
        "input_source": input_source, "external_id": msg.external_id, **closed,
    }  # fmt: skip


def raised_at(msg: ExternalInput, now: datetime) -> datetime:
    """When the alarm was raised: its ``at``, never in the future; default now."""
    return min(msg.at, now) if msg.at is not None else now
