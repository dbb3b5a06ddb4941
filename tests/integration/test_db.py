"""The segment index against a real PostgreSQL (embedded)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from vms.db.index import PgSegmentIndex
from vms.db.migrate import adapt_for_timescale, migrate, partitioning_mode
from vms.domain.model import Gap, GapCause, LegalHold, SegmentRecord
from vms.domain.ports import CameraRow
from vms.errors import VmsError

pytestmark = pytest.mark.integration
T0 = datetime.now(UTC).replace(microsecond=0)


def seg(
    camera: str, start: datetime, key: str, replicas: tuple[str, ...] = ("a", "b"), run_id: int = 1
) -> SegmentRecord:
    return SegmentRecord(
        camera_id=camera,
        stream="main",
        start_at=start,
        end_at=start + timedelta(seconds=4),
        media_start_90k=0,
        duration_90k=360_000,
        frames=100,
        bytes=1000,
        sha256="0" * 64,
        key=key,
        run_id=run_id,
        replicas=replicas,
    )


def test_migrations_are_idempotent_and_native(pg_pool: ConnectionPool) -> None:
    with pg_pool.connection() as conn:
        assert migrate(conn) == []
        assert partitioning_mode(conn) == "native"
        n = conn.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = 'segments'::regclass")
        row = n.fetchone()
        assert row is not None and row[0] >= 3


def test_timescale_rewrite_turns_partitioned_tables_into_hypertables() -> None:
    sql = "CREATE TABLE segments (\n  start_at timestamptz\n) PARTITION BY RANGE (start_at);"
    out, after = adapt_for_timescale(sql)
    assert "PARTITION BY" not in out
    assert after[0] == "CREATE EXTENSION IF NOT EXISTS timescaledb"
    assert "create_hypertable('segments', 'start_at'" in after[1]


def test_retention_above_30_days_is_refused_by_code_and_schema(
    pg_index: PgSegmentIndex, pg_pool: ConnectionPool
) -> None:
    with pytest.raises(VmsError, match="30 jours"):
        pg_index.upsert_camera(CameraRow("cam1", "commune-a", "Mairie", 31))
    pg_index.upsert_camera(CameraRow("cam1", "commune-a", "Mairie", 30))
    with pg_pool.connection() as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("UPDATE cameras SET retention_days = 45 WHERE id = 'cam1'")


def test_segments_runs_gaps_round_trip(pg_index: PgSegmentIndex) -> None:
    pg_index.upsert_camera(CameraRow("cam1", "commune-a", "Mairie", 15))
    pg_index.open_run("cam1", "main", T0, run_id=42)
    pg_index.open_run("cam1", "main", T0, run_id=42)  # idempotent
    first = pg_index.add_segment(seg("cam1", T0, "k1"))
    assert pg_index.add_segment(seg("cam1", T0, "k1", ("c",))) == first  # retried commit
    assert pg_index.segments("cam1")[0].replicas == ("a", "b", "c")
    pg_index.close_run(42, T0 + timedelta(seconds=4), GapCause.STALL)
    assert pg_index.last_run_end("cam1", "main") == (T0 + timedelta(seconds=4), GapCause.STALL)
    pg_index.add_gap(
        Gap("cam1", "main", T0 + timedelta(seconds=4), T0 + timedelta(seconds=6), GapCause.STALL)
    )
    assert [g.cause for g in pg_index.gaps("cam1")] == [GapCause.STALL]
    assert pg_index.segments_missing_replica("b") == []
    pg_index.set_replicas(first, T0, ["a"])
    assert [s.key for s in pg_index.segments_missing_replica("b")] == ["k1"]


def test_dangling_runs_are_closed_at_their_last_segment(pg_index: PgSegmentIndex) -> None:
    pg_index.upsert_camera(CameraRow("cam1", "commune-a", "Mairie", 15))
    pg_index.open_run("cam1", "main", T0, run_id=7)
    pg_index.add_segment(seg("cam1", T0, "k1", run_id=7))
    assert pg_index.close_dangling_runs(GapCause.CRASH) == 1
    assert pg_index.last_run_end("cam1", "main") == (T0 + timedelta(seconds=4), GapCause.CRASH)


def test_a_late_segment_of_a_failed_over_run_shortens_the_failover_gap(
    pg_index: PgSegmentIndex,
) -> None:
    """The worker that died had one segment in its spool: committed at its restart, the
    run it belongs to ends later and the failover gap starts where footage stops."""
    pg_index.upsert_camera(CameraRow("cam1", "commune-a", "Mairie", 15))
    pg_index.open_run("cam1", "main", T0, run_id=7)
    pg_index.add_segment(seg("cam1", T0, "k1", run_id=7))
    assert pg_index.close_dangling_runs(GapCause.FAILOVER, "cam1") == 1
    resumed = T0 + timedelta(seconds=12)  # the next worker's first segment
    pg_index.add_gap(Gap("cam1", "main", T0 + timedelta(seconds=4), resumed, GapCause.FAILOVER))
    pg_index.open_run("cam1", "main", resumed, run_id=8)

    pg_index.add_segment(seg("cam1", T0 + timedelta(seconds=4), "k2", run_id=7))  # spool
    assert pg_index.extend_closed_run(7, T0 + timedelta(seconds=8))
    (gap,) = pg_index.gaps("cam1")
    assert (gap.start_at, gap.end_at, gap.cause) == (
        T0 + timedelta(seconds=8), resumed, GapCause.FAILOVER
    )  # fmt: skip
    assert not pg_index.extend_closed_run(7, T0 + timedelta(seconds=8))  # done already
    assert not pg_index.extend_closed_run(8, T0 + timedelta(seconds=20))  # still open


def test_purge_candidates_honour_retention_and_holds(pg_index: PgSegmentIndex) -> None:
    pg_index.upsert_camera(CameraRow("cam1", "commune-a", "Mairie", 15))
    pg_index.upsert_camera(CameraRow("cam2", "commune-b", "Port", 15))
    pg_index.add_segment(seg("cam1", T0, "k1"))
    pg_index.add_segment(seg("cam2", T0, "k2"))
    hold = LegalHold(
        "PV 2026/123",
        ("cam2",),
        T0 - timedelta(hours=1),
        T0 + timedelta(hours=1),
        None,
        "flagrant_delit",
        "OPJ Martin",
    )
    hold_id = pg_index.add_hold(hold)
    assert pg_index.purge_candidates(T0 + timedelta(days=14)) == []
    later = T0 + timedelta(days=16)
    assert [c.key for c in pg_index.purge_candidates(later)] == ["k1"]
    with pytest.raises(VmsError, match="référence"):
        pg_index.add_hold(LegalHold(" ", ("cam2",), T0, T0 + timedelta(hours=1), None))
    pg_index.release_hold(hold_id, "magistrat")
    assert sorted(c.key for c in pg_index.purge_candidates(later)) == ["k1", "k2"]
    ids = [c.id for c in pg_index.purge_candidates(later)]
    assert pg_index.delete_segments(ids, later, "retention") == 2
    assert pg_index.segments() == []
    register = pg_index.destruction_register()
    assert {r["key"] for r in register} == {"k1", "k2"}


def test_empty_old_partitions_are_dropped_whole(pg_index: PgSegmentIndex) -> None:
    pg_index.upsert_camera(CameraRow("cam1", "commune-a", "Mairie", 15))
    old = T0 - timedelta(days=40)
    pg_index.add_segment(seg("cam1", old, "old"))  # creates that day's partition
    later = T0 + timedelta(days=1)
    assert pg_index.drop_expired_partitions(later - timedelta(days=31)) != []  # empty old days
    name = f"segments_{old:%Y%m%d}"
    assert name not in pg_index.drop_expired_partitions(later)  # still holds a row
    ids = [s.id for s in pg_index.segments() if s.id is not None]
    pg_index.delete_segments(ids, later, "retention")
    assert name in pg_index.drop_expired_partitions(later - timedelta(days=31))
