"""Placement of cameras on ingest workers (rendezvous hashing) and one worker's plan."""

from __future__ import annotations

from collections import Counter

from vms.cluster.placement import CameraSlot, Worker, plan, preferred

CAMS = [CameraSlot(f"cam-{i:03d}") for i in range(600)]


def _workers(*ids: str, site: str | None = None) -> dict[str, Worker]:
    return {i: Worker(i, site) for i in ids}


def test_every_camera_has_one_preferred_worker_and_the_share_is_even() -> None:
    workers = _workers("w1", "w2", "w3")
    share = Counter(preferred(c, workers) for c in CAMS)
    assert set(share) == {"w1", "w2", "w3"}
    assert all(150 <= n <= 250 for n in share.values()), share


def test_a_joining_worker_takes_only_cameras_it_now_wins() -> None:
    before = {c.id: preferred(c, _workers("w1", "w2", "w3")) for c in CAMS}
    after = {c.id: preferred(c, _workers("w1", "w2", "w3", "w4")) for c in CAMS}
    moved = [c for c in before if before[c] != after[c]]
    assert all(after[c] == "w4" for c in moved)  # nobody else moves
    assert 100 <= len(moved) <= 200  # about a quarter


def test_a_lost_worker_moves_only_its_own_cameras() -> None:
    before = {c.id: preferred(c, _workers("w1", "w2", "w3")) for c in CAMS}
    after = {c.id: preferred(c, _workers("w1", "w3")) for c in CAMS}
    assert {c for c in before if before[c] != after[c]} == {c for c in before if before[c] == "w2"}


def test_pinned_cameras_go_to_their_site_only() -> None:
    workers = {"a1": Worker("a1", "dc-a"), "b1": Worker("b1", "dc-b"), "b2": Worker("b2", "dc-b")}
    pinned = [CameraSlot(f"cam-{i}", "dc-a") for i in range(50)]
    assert {preferred(c, workers) for c in pinned} == {"a1"}
    assert preferred(CameraSlot("x", "dc-c"), workers) is None


def test_plan_claims_free_preferred_cameras_and_orphans_after_a_while() -> None:
    me, other = Worker("w1"), Worker("w2")
    workers = {"w1": me, "w2": other}
    mine = [c for c in CAMS[:40] if preferred(c, workers) == "w1"]
    theirs = [c for c in CAMS[:40] if preferred(c, workers) == "w2"]
    p = plan(me, CAMS[:40], workers, {}, {}, orphan_after_s=3, max_moves=8)
    assert sorted(p.claim) == sorted(c.id for c in mine) and p.release == []
    # w2 does not take its cameras: after orphan_after_s w1 takes them too
    late = {c.id: 5.0 for c in theirs}
    p = plan(me, CAMS[:40], workers, {}, late, orphan_after_s=3, max_moves=8)
    assert sorted(p.claim) == sorted(c.id for c in CAMS[:40])


def test_plan_releases_what_a_new_worker_wins_a_few_at_a_time() -> None:
    me = Worker("w1")
    owners = {c.id: "w1" for c in CAMS[:100]}
    workers = {"w1": me, "w2": Worker("w2")}
    p = plan(me, CAMS[:100], workers, owners, {}, orphan_after_s=3, max_moves=8)
    assert len(p.release) == 8 and not p.claim
    assert all(preferred(CameraSlot(c), workers) == "w2" for c in p.release)


def test_plan_leaves_cameras_owned_by_others_alone() -> None:
    me = Worker("w1")
    owners = {c.id: "w9" for c in CAMS[:50]}  # w9 unknown (dying): its lease decides
    p = plan(me, CAMS[:50], {"w1": me}, owners, {}, orphan_after_s=0, max_moves=8)
    assert p.claim == [] and p.release == []


def test_plan_releases_a_camera_pinned_elsewhere() -> None:
    me = Worker("w1", "dc-a")
    cam = CameraSlot("c1", "dc-b")
    p = plan(me, [cam], {"w1": me}, {"c1": "w1"}, {}, orphan_after_s=0, max_moves=8)
    assert p.release == ["c1"]
    p = plan(me, [cam], {"w1": me}, {}, {"c1": 99.0}, orphan_after_s=0, max_moves=8)
    assert p.claim == []
