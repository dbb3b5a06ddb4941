"""Replica outage and repair, retention purge with a simulated clock, S3 replica:
real PostgreSQL, real filesystem, real SeaweedFS."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.fakes.clock import SimulatedClock
from tests.fixtures.s3 import S3Server
from tests.integration.harness import Recording, wait_for
from vms.db.index import PgSegmentIndex
from vms.domain.model import LegalHold, SegmentRecord
from vms.domain.ports import BlobStore, CameraRow
from vms.errors import VmsError
from vms.sim.launcher import SimCameras
from vms.storage.check import check
from vms.storage.fs import FsBlobStore
from vms.storage.holds import HoldKeeper
from vms.storage.purge import Purger
from vms.storage.repair import Repairer
from vms.storage.s3 import S3BlobStore

pytestmark = pytest.mark.integration


def test_replica_outage_does_not_stop_recording_and_repair_restores_it(
    sim_cameras: Callable[..., SimCameras], pg_index: PgSegmentIndex, tmp_path: Path
) -> None:
    sim = sim_cameras(loop=1)
    a, b = FsBlobStore("a", tmp_path / "a"), FsBlobStore("b", tmp_path / "b")
    a.root.mkdir()
    b.root.mkdir()
    with Recording(pg_index, [a, b], tmp_path / "spool", {"cam0": sim.url(0)}):
        assert wait_for(lambda: len(pg_index.segments("cam0")) >= 1, 20)
        b.root.rename(tmp_path / "b-away")  # data centre B is cut off
        before = len(pg_index.segments("cam0"))
        assert wait_for(lambda: len(pg_index.segments("cam0")) >= before + 3, 30)
        missing = pg_index.segments_missing_replica("b")
        assert len(missing) >= 2
        assert Repairer(pg_index, [a, b]).run_once().skipped_replicas == 1
        (tmp_path / "b-away").rename(b.root)  # B is back
        time.sleep(5)
    report = Repairer(pg_index, [a, b]).run_once()
    assert report.copied >= len(missing)
    assert pg_index.segments_missing_replica("b") == []
    result = check(pg_index, [a, b], datetime.now(UTC))
    assert result.ok, result.text()
    assert result.under_replicated == []


def _segment(
    store_list: list[BlobStore], index: PgSegmentIndex, cam: str, start: datetime, key: str
) -> None:
    data = f"{cam}{start}".encode() * 100
    for s in store_list:
        s.put(key, data)
    index.add_segment(SegmentRecord(
        camera_id=cam, stream="main", start_at=start, end_at=start + timedelta(seconds=4),
        media_start_90k=0, duration_90k=360_000, frames=100, bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(), key=key, run_id=1,
        replicas=tuple(s.name for s in store_list),
    ))  # fmt: skip


def test_retention_purges_both_replicas_and_spares_held_footage(
    pg_index: PgSegmentIndex, tmp_path: Path
) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0)
    clock = SimulatedClock(t0)
    stores: list[BlobStore] = [FsBlobStore("a", tmp_path / "a"), FsBlobStore("b", tmp_path / "b")]
    for s in stores:
        assert isinstance(s, FsBlobStore)
        s.root.mkdir()
    pg_index.upsert_camera(CameraRow("cam1", "commune-a", "Mairie", 15))
    pg_index.upsert_camera(CameraRow("cam2", "commune-a", "Marché", 7))
    with pytest.raises(VmsError, match="maximum légal de 30 jours"):
        pg_index.upsert_camera(CameraRow("cam3", "commune-a", "Gare", 31))
    for i in range(3):
        _segment(stores, pg_index, "cam1", t0 + timedelta(minutes=i), f"a/cam1/main/{i}.mp4")
        _segment(stores, pg_index, "cam2", t0 + timedelta(minutes=i), f"a/cam2/main/{i}.mp4")
    pg_index.add_hold(LegalHold("PV 2026/0042", ("cam1",), t0 + timedelta(minutes=1),
                                t0 + timedelta(minutes=1, seconds=30), None, "flagrant_delit",
                                "OPJ Durand"))  # fmt: skip
    purger = Purger(pg_index, stores, clock)
    clock.advance(timedelta(days=8))  # cam2 (7 days) expires, cam1 (15 days) not yet
    assert purger.run_once().destroyed == 3
    clock.advance(timedelta(days=8))
    assert purger.run_once().destroyed == 2  # cam1 minus the held segment
    kept = pg_index.segments()
    assert [s.key for s in kept] == ["a/cam1/main/1.mp4"]
    for s in stores:
        assert sorted(b.key for b in s.list()) == ["a/cam1/main/1.mp4"]
    assert len(pg_index.destruction_register()) == 5
    assert check(pg_index, stores, clock.now()).ok


def test_purge_waits_for_a_down_replica(pg_index: PgSegmentIndex, tmp_path: Path) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0)
    clock = SimulatedClock(t0)
    a, b = FsBlobStore("a", tmp_path / "a"), FsBlobStore("b", tmp_path / "b")
    a.root.mkdir()
    b.root.mkdir()
    pg_index.upsert_camera(CameraRow("cam1", "commune-a", "Mairie", 1))
    _segment([a, b], pg_index, "cam1", t0, "a/cam1/main/0.mp4")
    clock.advance(timedelta(days=2))
    b.root.rename(tmp_path / "away")
    report = Purger(pg_index, [a, b], clock).run_once()
    assert (report.destroyed, report.deferred) == (0, 1)
    overdue = check(pg_index, [a, b], clock.now())
    assert overdue.overdue == ["a/cam1/main/0.mp4"] and not overdue.ok
    (tmp_path / "away").rename(b.root)
    assert Purger(pg_index, [a, b], clock).run_once().destroyed == 1
    assert list(b.list()) == [] and list(a.list()) == []


def test_s3_replica_round_trip_and_fast_failure(s3_server: S3Server) -> None:
    store = S3BlobStore("s3", s3_server.endpoint, s3_server.bucket(), s3_server.access_key,
                        s3_server.secret_key, secure=False)  # fmt: skip
    assert store.healthy()
    store.put("commune-a/cam1/main/2026/11/22/x.mp4", b"segment")
    assert store.get("commune-a/cam1/main/2026/11/22/x.mp4") == b"segment"
    info = store.stat("commune-a/cam1/main/2026/11/22/x.mp4")
    assert info is not None and info.bytes == 7
    assert [b.key for b in store.list("commune-a/")] == ["commune-a/cam1/main/2026/11/22/x.mp4"]
    store.delete("commune-a/cam1/main/2026/11/22/x.mp4")
    store.delete("commune-a/cam1/main/2026/11/22/x.mp4")  # idempotent
    assert store.stat("commune-a/cam1/main/2026/11/22/x.mp4") is None
    with pytest.raises(VmsError):
        store.get("commune-a/cam1/main/2026/11/22/x.mp4")
    with pytest.raises(VmsError):
        store.put("../escape", b"x")
    dead = S3BlobStore("dead", "127.0.0.1:9", "vms-dead", "k", "s", secure=False)
    t = time.monotonic()
    assert not dead.healthy()
    with pytest.raises(VmsError):
        dead.put("k", b"x")
    assert time.monotonic() - t < 5


def test_repair_between_filesystem_and_s3(
    s3_server: S3Server, pg_index: PgSegmentIndex, tmp_path: Path
) -> None:
    fs = FsBlobStore("a", tmp_path / "a")
    fs.root.mkdir()
    s3 = S3BlobStore("b", s3_server.endpoint, s3_server.bucket(), s3_server.access_key,
                     s3_server.secret_key, secure=False)  # fmt: skip
    pg_index.upsert_camera(CameraRow("cam1", "commune-a", "Mairie", 15))
    t0 = datetime.now(UTC).replace(microsecond=0)
    _segment([fs], pg_index, "cam1", t0, "commune-a/cam1/main/0.mp4")
    assert Repairer(pg_index, [fs, s3]).run_once().copied == 1
    assert s3.get("commune-a/cam1/main/0.mp4") == fs.get("commune-a/cam1/main/0.mp4")
    assert check(pg_index, [fs, s3], t0).ok


def test_held_footage_gets_an_s3_object_legal_hold_until_release_and_purge(
    pg_index: PgSegmentIndex, s3_server: S3Server, tmp_path: Path
) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0)
    clock = SimulatedClock(t0)
    s3 = S3BlobStore("s3", s3_server.endpoint, s3_server.bucket(), s3_server.access_key,
                     s3_server.secret_key, secure=False, object_lock=True)  # fmt: skip
    fs = FsBlobStore("a", tmp_path / "a")
    fs.root.mkdir()
    stores: list[BlobStore] = [fs, s3]
    pg_index.upsert_camera(CameraRow("cam1", "commune-a", "Mairie", 1))
    for i in range(3):
        _segment(stores, pg_index, "cam1", t0 + timedelta(minutes=i), f"a/cam1/main/{i}.mp4")
    hold_id = pg_index.add_hold(LegalHold("PV 2026/77", ("cam1",), t0 + timedelta(minutes=1),
                                          t0 + timedelta(minutes=1, seconds=30), None))  # fmt: skip
    keeper = HoldKeeper(pg_index, stores, clock)
    assert keeper.run_once() == 1
    assert keeper.run_once() == 0  # put once
    assert [s3.legal_hold(f"a/cam1/main/{i}.mp4") for i in range(3)] == [False, True, False]
    # the server itself refuses to delete the held version
    version = next(
        v.version_id for v in s3.client.list_objects(s3.bucket, prefix="a/cam1/main/1.mp4",
                                                     include_version=True)
    )  # fmt: skip
    with pytest.raises(Exception, match=r"(?i)lock|hold|denied|protected"):
        s3.client.remove_object(s3.bucket, "a/cam1/main/1.mp4", version_id=version)
    clock.advance(timedelta(days=2))
    assert Purger(pg_index, stores, clock).run_once().destroyed == 2
    assert [b.key for b in s3.list("a/")] == ["a/cam1/main/1.mp4"]
    # released: the next purge lifts the object hold and deletes every version
    pg_index.release_hold(hold_id, "OPJ")
    assert Purger(pg_index, stores, clock).run_once().destroyed == 1
    left = list(
        s3.client.list_objects(s3.bucket, prefix="a/", include_version=True, recursive=True)
    )
    assert left == [] and list(fs.list()) == []
