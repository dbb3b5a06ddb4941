"""Permission decisions. Pure: who may do what on which camera, today.

Deny by default. A grant allows one action on the cameras of one commune, or of one
camera group of that commune. Actions that show images also need a habilitation in
force (LAW-03): access stops the day after its expiry date.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date


class Action(enum.StrEnum):
    VIEW_LIVE = "view_live"
    PLAYBACK = "playback"
    EXPORT = "export"
    PTZ = "ptz"
    MANAGE_HOLDS = "manage_holds"
    LIFT_MASKS = "lift_masks"
    CONFIGURE_ANALYTICS = "configure_analytics"
    ADMIN_USERS = "admin_users"
    ADMIN_CAMERAS = "admin_cameras"
    READ_AUDIT = "read_audit"
    HANDLE_ALERTS = "handle_alerts"
    """Handle the alert desk's alerts of a camera (acknowledge, escalate, close...)."""
    ALERT_INPUT = "alert_input"
    """Post external alarms (webhook of a hypervisor, an intrusion alarm, a sensor) on
    a camera or a commune; meant for a machine client's API token."""
    READ_STATISTICS = "read_statistics"
    """Read a commune's anonymised alert statistics (ALR-05): no image, no login, no
    free text; meant for the members of the ethics and monitoring committees."""


IMAGE_ACTIONS = frozenset(
    {Action.VIEW_LIVE, Action.PLAYBACK, Action.EXPORT, Action.PTZ, Action.LIFT_MASKS}
)
# the actions under which a camera appears in one's camera tree
CAMERA_ACTIONS = IMAGE_ACTIONS | {
    Action.ADMIN_CAMERAS,
    Action.CONFIGURE_ANALYTICS,
    Action.HANDLE_ALERTS,
}


class Habilitation(enum.StrEnum):
    POLICE_NATIONALE = "police_nationale"
    GENDARMERIE = "gendarmerie"
    POLICE_MUNICIPALE = "police_municipale"
    AGENT_AGREE = "agent_agree"
    OPERATEUR_CSD = "operateur_csd"
    ADMIN_TECHNIQUE = "admin_technique"

    @property
    def label(self) -> str:
        return _HABILITATION_LABELS[self]


_HABILITATION_LABELS = {
    Habilitation.POLICE_NATIONALE: "Police nationale",
    Habilitation.GENDARMERIE: "Gendarmerie nationale",
    Habilitation.POLICE_MUNICIPALE: "Police municipale",
    Habilitation.AGENT_AGREE: "Agent agréé",
    Habilitation.OPERATEUR_CSD: "Opérateur CSD",
    Habilitation.ADMIN_TECHNIQUE: "Administrateur technique",
}


class Role(enum.StrEnum):
    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    AUDITOR = "auditor"
    COMMUNE_VIEWER = "commune_viewer"
    REQUESTER = "requester"


@dataclass(frozen=True, slots=True)
class Grant:
    action: Action
    tenant: str
    camera_group: str | None = None
    """None: every camera of the tenant."""


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    login: str
    role: Role
    home_tenant: str
    grants: frozenset[Grant]
    habilitation: Habilitation | None
    habilitation_expires: date | None
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class CameraRef:
    camera_id: str
    tenant: str
    groups: frozenset[str]


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str
    """French, for the audit log and the refusal message."""

    def __bool__(self) -> bool:
        return self.allowed


def habilitation_in_force(principal: Principal, today: date) -> Decision:
    """Valid through its expiry day inclusive. A habilitation without an expiry date is
    refused: the prefecture's authorisation is always for a term."""
    if principal.habilitation is None:
        return Decision(False, "aucune habilitation à visionner les images")
    if principal.habilitation_expires is None:
        return Decision(False, "aucune habilitation en cours : date d'échéance inconnue")
    if principal.habilitation_expires < today:
        return Decision(
            False, f"habilitation expirée le {principal.habilitation_expires.isoformat()}"
        )
    return Decision(True, "habilitation en cours de validité")


def decide(
    principal: Principal,
    action: Action,
    camera: CameraRef | None,
    today: date,
    tenant: str | None = None,
) -> Decision:
    """May ``principal`` do ``action`` on ``camera`` (or, for actions on no camera such
    as ADMIN_USERS or READ_AUDIT, in ``tenant``)? Deny by default; the reason, in
    French, goes to the audit log and the refusal message."""
    if principal.disabled:
        return Decision(False, "compte désactivé")
    if action in IMAGE_ACTIONS:
        valid = habilitation_in_force(principal, today)
        if not valid:
            return valid
    scope = camera.tenant if camera is not None else tenant
    if scope is None:
        return Decision(False, "aucune commune désignée")
    for g in principal.grants:
        if g.action != action or g.tenant != scope:
            continue
        if g.camera_group is None or (camera is not None and g.camera_group in camera.groups):
            return Decision(True, f"droit « {action.value} » sur {scope}")
    return Decision(False, f"aucun droit « {action.value} » sur {scope}")


def visible_tenants(
    principal: Principal, actions: Action | Iterable[Action], today: date
) -> frozenset[str]:
    """Tenants where the principal holds ``actions`` (one, or any of several), to scope
    SQL queries. Image actions count only with a habilitation in force, as in ``decide``;
    a group-scoped grant counts (the query then narrows to the group's cameras)."""
    if principal.disabled:
        return frozenset()
    wanted = {actions} if isinstance(actions, Action) else set(actions)
    if not habilitation_in_force(principal, today):
        wanted -= IMAGE_ACTIONS
    return frozenset(g.tenant for g in principal.grants if g.action in wanted)
