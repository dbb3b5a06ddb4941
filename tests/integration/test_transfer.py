"""Copying recordings to another installation (EVD-10) with the command line: the
source writes a signed file, the destination checks it with the source's public key,
stores the segments on its own replicas and indexes them; both sides audit. A file
altered in transit is refused and nothing is indexed."""

from __future__ import annotations

import io
import tarfile
import uuid
from pathlib import Path

import psycopg
import pytest

from tests.fixtures.postgres import TEMPLATE, _with_db
from tests.fixtures.recorded import Recorded
from tests.fixtures.web import WebEnv
from vms.cli import main
from vms.db.index import PgSegmentIndex
from vms.db.pool import open_pool
from vms.storage.fs import FsBlobStore
from vms.storage.reader import SegmentReader

pytestmark = pytest.mark.integration


def config(path: Path, dsn: str, data: Path, replicas: list[Path]) -> Path:
    text = f'data_dir = "{data}"\n[database]\ndsn = "{dsn}"\n'
    for i, r in enumerate(replicas):
        text += f'[[storage.replicas]]\nname = "r{i}"\nkind = "fs"\npath = "{r}"\n'
    path.write_text(text, encoding="utf-8")
    return path


def test_recordings_copied_to_another_installation_and_indexed_there(
    recorded_web: tuple[WebEnv, Recorded], pg_server: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    web, rec = recorded_web
    assert rec.store is not None
    source = config(tmp_path / "src.toml", rec.dsn, tmp_path / "src", [rec.store.root])
    # rename the fixture's replica to the configured one ("r0")
    web.sql("UPDATE segments SET replicas = '{r0}'")
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    dst_dsn = _with_db(pg_server, name)
    dst_replicas = [tmp_path / "dst-a", tmp_path / "dst-b"]
    dest = config(tmp_path / "dst.toml", dst_dsn, tmp_path / "dst", dst_replicas)
    try:
        segs = rec.segments["a1"]
        out = tmp_path / "a1.tar"
        code = main([
            "--config", str(source), "transfer", "out", "--cameras", "a1",
            "--from", segs[0].start_at.isoformat(), "--to", segs[-1].end_at.isoformat(),
            "--out", str(out), "--motive", "Dessaisissement au profit du CSU voisin",
            "--by", "admin",
        ])  # fmt: skip
        assert code == 0, capsys.readouterr()
        assert main(["--config", str(source), "export", "key"]) == 0
        key = tmp_path / "source.pem"
        key.write_bytes(capsys.readouterr().out.split("empreinte")[0].encode())

        # altered in transit: refused, nothing indexed
        bad = tmp_path / "bad.tar"
        with tarfile.open(out) as src, tarfile.open(bad, "w") as dst:
            for m in src.getmembers():
                data = src.extractfile(m).read()  # type: ignore[union-attr]
                if m.name.endswith("000001.mp4"):
                    data = data[:200] + bytes([data[200] ^ 1]) + data[201:]
                dst.addfile(m, io.BytesIO(data))
        args = ["--config", str(dest), "transfer", "in", "--cle", str(key),
                "--tenant", "commune-a", "--by", "agent"]  # fmt: skip
        assert main([*args[:4], str(bad), *args[4:]]) == 2
        assert "altéré" in capsys.readouterr().err

        assert main([*args[:4], str(out), *args[4:]]) == 0
        assert "copie-a1" in capsys.readouterr().out
        pool = open_pool(dst_dsn, 1, 2)
        try:
            index = PgSegmentIndex(pool)
            copied = index.segments("copie-a1")
            assert len(copied) == len(segs)
            assert sum(s.frames for s in copied) == sum(s.frames for s in segs)
            assert [s.start_at for s in copied] == [s.start_at for s in segs]
            reader = SegmentReader([FsBlobStore(f"r{i}", r) for i, r in enumerate(dst_replicas)])
            source_reader = SegmentReader([rec.store])
            assert reader.read(copied[0]) == source_reader.read(segs[0])
            assert [g.cause.value for g in index.gaps("copie-a1")] == ["timeout"]
        finally:
            pool.close()
        with psycopg.connect(dst_dsn) as conn:
            (entry,) = conn.execute(
                "SELECT actor, detail FROM audit WHERE action = 'recordings.transfer_in'"
            ).fetchall()
        assert entry[0] == "cli:agent" and entry[1]["cameras"] == {"a1": "copie-a1"}
        out_audit = web.sql("SELECT actor FROM audit WHERE action = 'recordings.transfer_out'")
        assert out_audit == [("cli:admin",)]
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
