"""Permission decisions: deny by default, tenant and group scope, habilitation expiry."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import pytest

from vms.domain.access import (
    IMAGE_ACTIONS,
    Action,
    CameraRef,
    Grant,
    Habilitation,
    Principal,
    Role,
    decide,
    visible_tenants,
)

TODAY = date(2026, 11, 22)
CAM_A = CameraRef("a1", "commune-a", frozenset({"centre"}))
CAM_A_PORT = CameraRef("a2", "commune-a", frozenset({"port"}))
CAM_B = CameraRef("b1", "commune-b", frozenset({"centre"}))


def user(*grants: Grant, expires: date | None = date(2027, 1, 1), **kw: object) -> Principal:
    p = Principal(
        user_id=1, login="alice", role=Role.OPERATOR, home_tenant="commune-a",
        grants=frozenset(grants), habilitation=Habilitation.POLICE_MUNICIPALE,
        habilitation_expires=expires,
    )  # fmt: skip
    return dataclasses.replace(p, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("principal", "action", "camera", "allowed"),
    [
        (user(), Action.VIEW_LIVE, CAM_A, False),  # no grant: denied by default
        (user(Grant(Action.VIEW_LIVE, "commune-a")), Action.VIEW_LIVE, CAM_A, True),
        (user(Grant(Action.VIEW_LIVE, "commune-a")), Action.VIEW_LIVE, CAM_B, False),
        (user(Grant(Action.VIEW_LIVE, "commune-a")), Action.PLAYBACK, CAM_A, False),
        (user(Grant(Action.VIEW_LIVE, "commune-a", "centre")), Action.VIEW_LIVE, CAM_A, True),
        (user(Grant(Action.VIEW_LIVE, "commune-a", "centre")), Action.VIEW_LIVE, CAM_A_PORT, False),
        (user(Grant(Action.VIEW_LIVE, "commune-a"), disabled=True), Action.VIEW_LIVE, CAM_A, False),
        (user(Grant(Action.EXPORT, "commune-a"), habilitation=None), Action.EXPORT, CAM_A, False),
    ],
)
def test_decisions(principal: Principal, action: Action, camera: CameraRef, allowed: bool) -> None:
    decision = decide(principal, action, camera, TODAY)
    assert decision.allowed is allowed and bool(decision) is allowed
    assert decision.reason


def test_habilitation_is_valid_through_its_expiry_day_and_not_after() -> None:
    p = user(Grant(Action.PLAYBACK, "commune-a"), expires=TODAY)
    assert decide(p, Action.PLAYBACK, CAM_A, TODAY)
    late = decide(p, Action.PLAYBACK, CAM_A, date(2026, 11, 23))
    assert not late and "expirée" in late.reason


def test_actions_without_images_need_no_habilitation() -> None:
    p = user(Grant(Action.READ_AUDIT, "commune-a"), habilitation=None)
    assert decide(p, Action.READ_AUDIT, None, TODAY, tenant="commune-a")
    assert not decide(p, Action.READ_AUDIT, None, TODAY, tenant="commune-b")
    assert not decide(p, Action.READ_AUDIT, None, TODAY)  # no tenant named


def test_visible_tenants_drop_image_grants_once_the_habilitation_expired() -> None:
    p = user(
        Grant(Action.VIEW_LIVE, "commune-a"),
        Grant(Action.ADMIN_CAMERAS, "commune-b"),
        expires=date(2026, 1, 1),
    )
    assert visible_tenants(p, [Action.VIEW_LIVE, Action.ADMIN_CAMERAS], TODAY) == {"commune-b"}
    assert visible_tenants(p, [Action.VIEW_LIVE], date(2025, 12, 1)) == {"commune-a"}


GRANTS_A = (
    Grant(Action.ADMIN_USERS, "commune-a"),
    Grant(Action.PLAYBACK, "commune-a", "port"),
    Grant(Action.PTZ, "commune-b"),
)


@pytest.mark.parametrize(
    ("action", "camera", "tenant", "kw", "allowed", "reason"),
    [
        # non-image actions: decided on the ``tenant`` argument, no habilitation needed
        (Action.ADMIN_USERS, None, "commune-a", {"habilitation": None}, True, "droit"),
        (Action.ADMIN_USERS, None, "commune-b", {}, False, "aucun droit"),
        (Action.ADMIN_USERS, None, "commune-a", {"disabled": True}, False, "désactivé"),
        # a group-scoped grant needs a camera of that group
        (Action.PLAYBACK, CAM_A_PORT, None, {}, True, "droit"),
        (Action.PLAYBACK, CAM_A, None, {}, False, "aucun droit"),
        (Action.PLAYBACK, None, "commune-a", {}, False, "aucun droit"),
        # the grant is for commune-b: the principal's home tenant does not matter
        (Action.PTZ, CAM_B, None, {}, True, "droit"),
        (Action.PTZ, CAM_A, None, {}, False, "aucun droit"),
        # image actions: a habilitation with a known term is required
        (Action.PTZ, CAM_B, None, {"habilitation": None}, False, "aucune habilitation"),
        (Action.PTZ, CAM_B, None, {"habilitation_expires": None}, False, "aucune habilitation"),
        (Action.PTZ, CAM_B, None, {"habilitation_expires": date(2026, 11, 21)}, False, "expirée"),
        (Action.PTZ, CAM_B, None, {"habilitation_expires": TODAY}, True, "droit"),
        # no camera and no tenant: nothing to be allowed on
        (Action.ADMIN_USERS, None, None, {}, False, "aucune commune"),
    ],
)
def test_rules(
    action: Action,
    camera: CameraRef | None,
    tenant: str | None,
    kw: dict[str, Any],
    allowed: bool,
    reason: str,
) -> None:
    decision = decide(user(*GRANTS_A, **kw), action, camera, TODAY, tenant=tenant)
    assert bool(decision) is allowed
    assert reason in decision.reason


def test_image_actions_and_labels() -> None:
    assert {Action.VIEW_LIVE, Action.PLAYBACK, Action.EXPORT, Action.PTZ, Action.LIFT_MASKS} == (
        IMAGE_ACTIONS
    )
    assert Habilitation("gendarmerie").label == "Gendarmerie nationale"
    assert Habilitation.OPERATEUR_CSD.label == "Opérateur CSD"
    assert all(h.label for h in Habilitation)
    assert Role("requester") is Role.REQUESTER


def test_visible_tenants_takes_one_action_or_several() -> None:
    p = user(*GRANTS_A)
    assert visible_tenants(p, Action.PLAYBACK, TODAY) == {"commune-a"}  # group grant counts
    assert visible_tenants(p, [Action.PTZ, Action.ADMIN_USERS], TODAY) == {"commune-a", "commune-b"}
    assert visible_tenants(p, Action.READ_AUDIT, TODAY) == frozenset()
    assert visible_tenants(user(*GRANTS_A, disabled=True), Action.ADMIN_USERS, TODAY) == set()
