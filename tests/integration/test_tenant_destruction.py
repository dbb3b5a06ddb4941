"""End-of-contract destruction of a commune (CONF-05): real PostgreSQL, real files on
two replicas, a real reversibility archive. The other commune must come out untouched."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from tests.fakes.clock import SimulatedClock
from vms.cli import build_parser
from vms.db import audit
from vms.db.index import PgSegmentIndex
from vms.domain.model import HealthSample, LegalHold, SegmentRecord
from vms.domain.ports import BlobStore, CameraRow
from vms.errors import ErrorKind, VmsError
from vms.reports.commands import ReportRequest, run
from vms.reports.destruction import DestructionRequest, destroy
from vms.storage.fs import FsBlobStore

pytestmark = pytest.mark.integration

A, B = "commune-a", "commune-b"
CAMS = {A: ["a1", "a2"], B: ["b1"]}
KEPT_TABLES = {"audit", "destruction_register", "tenant_destructions"}


class World:
    def __init__(self, pool: ConnectionPool, dsn: str, tmp: Path) -> None:
        self.pool, self.dsn, self.tmp = pool, dsn, tmp
        self.index = PgSegmentIndex(pool)
        self.t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
        self.clock = SimulatedClock(self.t0 + timedelta(hours=1))
        self.stores: list[BlobStore] = []
        for name in ("a", "b"):
            store = FsBlobStore(name, tmp / name)
            store.root.mkdir()
            self.stores.append(store)
        self.export_dir = tmp / "exports"
        self.export_dir.mkdir()

    def seed(self, tenant: str) -> None:
        t0 = self.t0
        for cam in CAMS[tenant]:
            self.index.upsert_camera(CameraRow(cam, tenant, f"Caméra {cam}", 15))
            for i in range(3):
                key = f"{tenant}/{cam}/main/{i}.mp4"
                data = f"{key}-video".encode() * 50
                for s in self.stores:
                    s.put(key, data)
                start = t0 + timedelta(seconds=4 * i)
                self.index.add_segment(SegmentRecord(
                    camera_id=cam, stream="main", start_at=start,
                    end_at=start + timedelta(seconds=4), media_start_90k=0,
                    duration_90k=360_000, frames=100, bytes=len(data),
                    sha256=hashlib.sha256(data).hexdigest(), key=key, run_id=hash(cam) % 10**9,
                    replicas=("a", "b"),
                ))  # fmt: skip
        cam = CAMS[tenant][0]
        self.index.add_health(HealthSample(cam, "main", t0, 10.0, 2_000_000, 12.0, 704, 576, 24, 0))
        with self.pool.connection() as conn:
            conn.execute("INSERT INTO runs (id, camera_id, stream, start_at, end_at) "
                         "VALUES (%s, %s, 'main', %s, %s)",
                         (hash(cam) % 10**9, cam, t0, t0 + timedelta(seconds=12)))  # fmt: skip
            conn.execute("INSERT INTO gaps (camera_id, stream, start_at, end_at, cause) "
                         "VALUES (%s, 'main', %s, %s, 'timeout')",
                         (cam, t0 - timedelta(minutes=1), t0))  # fmt: skip
            event = conn.execute(
                "INSERT INTO events (camera_id, at, rule_id, kind, cls, confidence, boxes, "
                "label, model, snapshot_key) VALUES (%s, %s, 'r1', 'intrusion', 'person', 0.9, "
                "'[]', 'Intrusion', 'yolo-test', NULL) RETURNING id",
                (cam, t0 + timedelta(seconds=2)),
            ).fetchone()
            assert event is not None
            snap = f"events/{cam}/{t0:%Y/%m/%d}/{event[0]}.jpg"
            conn.execute("UPDATE events SET snapshot_key = %s WHERE id = %s", (snap, event[0]))
            for s in self.stores:
                s.put(snap, b"jpeg " + snap.encode())
            alert = conn.execute(
                "INSERT INTO alerts (tenant_id, camera_id, source, kind, priority, title, "
                "raised_at, ack_due_at) VALUES (%s, %s, 'analytique', 'intrusion', 2, "
                "'Intrusion', %s, %s) RETURNING id",
                (tenant, cam, t0, t0 + timedelta(minutes=2)),
            ).fetchone()
            assert alert is not None
            conn.execute("INSERT INTO alert_history (alert_id, tenant_id, at, actor, action, "
                         "to_state) VALUES (%s, %s, %s, 'systeme', 'raise', 'nouvelle')",
                         (alert[0], tenant, t0))  # fmt: skip
            conn.execute("INSERT INTO tickets (tenant_id, camera_id, alert_id, declarer, element, "
                         "description, opened_at) VALUES (%s, %s, %s, 'op', 'caméra', 'flou', %s)",
                         (tenant, cam, alert[0], t0))  # fmt: skip
            bundle = self.export_dir / f"{tenant}-extrait.zip"
            bundle.write_bytes(b"bundle of " + tenant.encode())
            conn.execute(
                "INSERT INTO exports (tenant_id, camera_ids, start_at, end_at, motive, service, "
                "officer, reference, requested_by, status, bundle_path, bundle_bytes, created_at, "
                "ready_at, delivered_at) VALUES (%s, %s, %s, %s, 'enquête', 'PN', 'OPJ Martin', "
                "'PV 12', 'op', 'pret', %s, %s, %s, %s, %s)",
                (tenant, [cam], t0, t0 + timedelta(seconds=8), str(bundle),
                 bundle.stat().st_size, t0, t0, t0),
            )  # fmt: skip
            conn.execute("INSERT INTO legal_holds (reference, procedure, requested_by, "
                         "camera_ids, start_at, end_at, tenant_id, released_at, released_by) "
                         "VALUES ('PV 1', 'flagrant_delit', 'OPJ', %s, %s, %s, %s, now(), 'OPJ')",
                         ([cam], t0, t0 + timedelta(seconds=4), tenant))  # fmt: skip
            conn.execute("INSERT INTO camera_groups (id, tenant_id, name) VALUES (%s, %s, 'G')",
                         (f"g-{tenant}", tenant))  # fmt: skip
            conn.execute("INSERT INTO camera_group_members (group_id, camera_id) VALUES (%s, %s)",
                         (f"g-{tenant}", cam))  # fmt: skip
            conn.execute("INSERT INTO reports (tenant_id, kind, period_start, period_end, "
                         "created_at, created_by, content) VALUES (%s, 'enregistrements', %s, "
                         "%s, %s, 'systeme', 'x')",
                         (tenant, t0 - timedelta(days=30), t0, t0))  # fmt: skip
            user = self.user(conn, f"agent.{tenant}", tenant, [tenant])
            conn.execute("INSERT INTO wall_views (owner_id, tenant_id, name, layout, tiles, "
                         "created_at, updated_at) VALUES (%s, %s, 'Mur', 1, %s, %s, %s)",
                         (user, tenant, Jsonb([cam]), t0, t0))  # fmt: skip
            conn.execute("INSERT INTO live_links (token_hash, kind, camera_id, tenant_id, "
                         "stream, recipient, motif, created_by, created_at, expires_at) VALUES "
                         "(%s, 'partage', %s, %s, 'main', 'BAC', 'suivi', 'op', %s, %s)",
                         (f"h-{tenant}", cam, tenant, t0, t0 + timedelta(hours=1)))  # fmt: skip
            conn.execute("INSERT INTO tenant_keys (tenant_id, key_id, wrapped_key) "
                         "VALUES (%s, 1, %s)", (tenant, b"wrapped"))  # fmt: skip
            audit.append_sync(conn, t0, "op", "live.view", tenant=tenant, target=f"camera:{cam}")

    @staticmethod
    def user(conn: psycopg.Connection[Any], login: str, home: str, on: list[str]) -> int:
        row = conn.execute(
            "INSERT INTO users (login, display_name, role, home_tenant_id, password_hash) "
            "VALUES (%s, %s, 'commune_viewer', %s, 'x') RETURNING id",
            (login, login, home),
        ).fetchone()
        assert row is not None
        for tenant in on:
            conn.execute("INSERT INTO grants (user_id, action, tenant_id) "
                         "VALUES (%s, 'view_live', %s)", (row[0], tenant))  # fmt: skip
        return int(row[0])

    def archive(self, tenant: str) -> Path:
        out = self.tmp / f"reversibilite-{tenant}.zip"
        run(self.dsn, self.clock, ReportRequest("reversibilite", tenant=tenant, out=out), "cli")
        return out

    def destroy(self, archive: Path, confirm: str | None = A, simulation: bool = False,
                configured: tuple[str, ...] = ()) -> Any:  # fmt: skip
        request = DestructionRequest(A, archive, confirm, simulation=simulation)
        return destroy(self.pool, self.stores, self.clock, self.export_dir, request, configured)

    def files(self, tenant: str) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        for s in self.stores:
            for info in s.list():
                if info.key.startswith(f"{tenant}/") or any(
                    info.key.startswith(f"events/{c}/") for c in CAMS[tenant]
                ):
                    out[f"{s.name}:{info.key}"] = s.get(info.key)
        for p in self.export_dir.iterdir():
            if p.name.startswith(tenant):
                out[f"exports:{p.name}"] = p.read_bytes()
        return out

    def rows(self, tenant: str, skip: frozenset[str] = frozenset()) -> dict[str, list[str]]:
        """Every row of every table that names ``tenant`` or one of its cameras."""
        out: dict[str, list[str]] = {}
        with self.pool.connection() as conn:
            cols = conn.execute(
                "SELECT c.table_name, c.column_name FROM information_schema.columns c "
                "JOIN pg_class k ON k.relname = c.table_name AND NOT k.relispartition "
                "WHERE c.table_schema = 'public' AND c.column_name IN ('tenant_id', "
                "'home_tenant_id', 'commune_id', 'csd_id', 'parent_id', 'camera_id', "
                "'camera_ids') ORDER BY 1, 2"
            ).fetchall()
            where: dict[str, list[str]] = {"tenants": ["id = %(t)s"]}
            for table, col in cols:
                cond = {
                    "camera_id": f"{col} = ANY (%(cams)s)",
                    "camera_ids": f"{col} && %(cams)s::text[]",
                }.get(col, f"{col} = %(t)s")
                where.setdefault(table, []).append(cond)
            for table, conds in sorted(where.items()):
                if table in skip:
                    continue
                found = conn.execute(
                    f"SELECT t::text FROM {table} t WHERE {' OR '.join(conds)}".encode(),
                    {"t": tenant, "cams": CAMS[tenant]},
                ).fetchall()
                if found:
                    out[table] = sorted(str(r[0]) for r in found)
        return out


@pytest.fixture
def world(pg_pool: ConnectionPool, pg_dsn: str, tmp_path: Path) -> World:
    w = World(pg_pool, pg_dsn, tmp_path)
    w.seed(A)
    w.seed(B)
    with pg_pool.connection() as conn:  # in both communes: keeps its grants on B
        World.user(conn, "agent.ab", A, [A, B])
    return w


def test_refusals_destroy_nothing(world: World) -> None:
    archive = world.archive(A)
    assert len(world.files(A)) == 2 * (6 + 1) + 1  # 6 segments + 1 snapshot on 2 replicas, 1 bundle

    def refused(match: str, **kw: Any) -> None:
        rows, files = world.rows(A), world.files(A)
        with pytest.raises(VmsError, match=match) as err:
            world.destroy(kw.pop("archive", archive), **kw)
        assert "rien n'a été détruit" in err.value.message.lower()
        assert world.rows(A) == rows and world.files(A) == files

    refused("Confirmation incorrecte.*--confirmer commune-a", confirm="commune-b")
    refused("Confirmation incorrecte", confirm=None)
    refused("l'archive .* est celle de la commune « commune-b », pas de « commune-a »",
            archive=world.archive(B))  # fmt: skip
    refused("caméras encore dans la configuration : a1, a2", configured=("a1", "a2"))
    hold = world.index.add_hold(LegalHold("PV 2026/0042", ("a2",), world.t0,
                                          world.t0 + timedelta(minutes=1), None,
                                          "flagrant_delit", "OPJ Durand"))  # fmt: skip
    refused(f"réquisition en cours n° {hold} « PV 2026/0042 » .*prime")
    world.index.release_hold(hold, "OPJ")
    with world.pool.connection() as conn:
        conn.execute("UPDATE exports SET delivered_at = NULL WHERE tenant_id = %s", (A,))
    refused(r"extrait n° \d+ « PV 12 » non remis \(statut pret\)")
    with world.pool.connection() as conn:
        conn.execute("UPDATE exports SET delivered_at = now() WHERE tenant_id = %s", (A,))
        conn.execute("INSERT INTO tickets (tenant_id, declarer, element, description, opened_at) "
                     "VALUES (%s, 'op', 'mât', 'penché', now())", (A,))  # fmt: skip
    refused("données postérieures à l'archive \\(1 ticket\\(s\\)\\)")
    with pytest.raises(VmsError, match="n'est pas une archive de réversibilité") as err:
        bogus = world.tmp / "bogus.zip"
        bogus.write_bytes(b"not a zip")
        world.destroy(bogus)
    assert err.value.kind is ErrorKind.INVALID_ARGUMENT


def test_simulation_counts_and_destroys_nothing(world: World) -> None:
    archive = world.archive(A)
    rows, files = world.rows(A), world.files(A)
    result = world.destroy(archive, confirm=None, simulation=True)
    c = result.counts
    assert (c["segments"], c["evenements"], c["photos_evenements"]) == (6, 1, 1)
    assert c["octets_segments"] == sum(
        len(f"{A}/{cam}/main/{i}.mp4-video".encode() * 50) for cam in CAMS[A] for i in range(3)
    )
    assert (c["fichiers_extraits"], c["alertes"], c["tickets"], c["extraits"]) == (1, 1, 1, 1)
    assert (c["comptes"], c["comptes_rattaches_ailleurs"], c["droits"]) == (1, 1, 2)
    assert (c["cameras"], c["commune"], c["requisitions"], c["rapports"]) == (2, 1, 1, 1)
    assert result.archive_sha256 == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert "rien n'a été détruit (simulation)" in result.text()
    assert world.rows(A) == rows and world.files(A) == files


def test_destruction_removes_the_commune_everywhere_and_spares_the_other(world: World) -> None:
    archive = world.archive(A)
    other_rows, other_files = world.rows(B, skip=frozenset({"users"})), world.files(B)
    assert other_files and other_rows["segments"]
    result = world.destroy(archive)
    c = result.counts
    assert (c["segments"], c["evenements"], c["fichiers_extraits"], c["comptes"]) == (6, 1, 1, 1)
    # nothing of A remains outside the registers that are kept
    assert set(world.rows(A)) <= KEPT_TABLES, world.rows(A)
    assert world.files(A) == {}
    for s in world.stores:
        assert all(not k.key.startswith(f"{A}/") for k in s.list())
    # B byte for byte (the account shared with A now lives in B)
    assert world.rows(B, skip=frozenset({"users"})) == other_rows
    assert world.files(B) == other_files
    with world.pool.connection() as conn:
        users: dict[str, str] = dict(
            conn.execute("SELECT login, home_tenant_id FROM users").fetchall()
        )
        assert users == {"agent.commune-b": B, "agent.ab": B}
        grants = conn.execute(
            "SELECT g.tenant_id FROM grants g JOIN users u ON u.id = g.user_id "
            "WHERE u.login = 'agent.ab'"
        ).fetchall()
        assert grants == [(B,)]
        entry = conn.execute(
            "SELECT actor, tenant_id, target, detail FROM audit WHERE action = 'tenant.destroy'"
        ).fetchone()
        assert entry is not None and entry[:3] == ("cli", None, f"commune:{A}")
        assert entry[3]["archive_sha256"] == result.archive_sha256
        assert entry[3]["detruit"]["segments"] == 6
        # the commune's own audit entries are kept, the chain intact
        assert conn.execute("SELECT count(*) FROM audit WHERE tenant_id = %s", (A,)).fetchone()
        assert audit.verify(conn)[1] is None
        outbox = "SELECT count(*) FROM alert_outbox WHERE alert ->> 'tenant_id' = %s"
        assert [conn.execute(outbox, (t,)).fetchone() for t in (A, B)] == [(0,), (1,)]
        register = conn.execute(
            "SELECT count(*) FROM destruction_register WHERE reason = 'fin_de_contrat'"
        ).fetchone()
        assert register == (6,)
        record = conn.execute(
            "SELECT archive_sha256, finished_at IS NOT NULL FROM tenant_destructions"
        ).fetchone()
        assert record == (result.archive_sha256, True)
    # a rerun is a no-op
    again = world.destroy(archive)
    assert again.already_done is not None and "déjà été détruite" in again.text()
    with world.pool.connection() as conn:
        assert conn.execute(
            "SELECT count(*) FROM audit WHERE action = 'tenant.destroy'"
        ).fetchone() == (1,)


def test_a_replica_down_stops_the_run_and_a_rerun_finishes_it(world: World) -> None:
    archive = world.archive(A)
    b = world.stores[1]
    assert isinstance(b, FsBlobStore)
    b.root.rename(world.tmp / "b-away")
    with pytest.raises(VmsError, match="Réplique indisponible : 6 segment\\(s\\) et 1 photo"):
        world.destroy(archive)
    with world.pool.connection() as conn:
        assert conn.execute("SELECT 1 FROM tenants WHERE id = %s", (A,)).fetchone()
        assert conn.execute(
            "SELECT finished_at FROM tenant_destructions WHERE tenant_id = %s", (A,)
        ).fetchone() == (None,)
    (world.tmp / "b-away").rename(b.root)
    result = world.destroy(archive)
    assert result.counts["segments"] == 6 and result.counts["evenements"] == 1
    assert set(world.rows(A)) <= KEPT_TABLES and world.files(A) == {}
    with world.pool.connection() as conn:
        starts = conn.execute(
            "SELECT count(*) FROM audit WHERE action = 'tenant.destroy.start'"
        ).fetchone()
        assert starts == (1,)


def test_the_command_line_declares_the_destruction() -> None:
    args = build_parser().parse_args(
        ["report", "destruction", "--tenant", A, "--archive", "a.zip", "--confirmer", A]
    )
    assert (args.tenant, args.archive, args.confirmer, args.simulation) == (
        A, Path("a.zip"), A, False
    )  # fmt: skip
