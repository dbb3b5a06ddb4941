"""kill -9 of the ingest worker mid-segment: after a restart at most ~1 s of what
was received is missing, and index and storage agree (`vms check` is clean)."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.integration.harness import counters_in, wait_for
from vms.db.index import PgSegmentIndex
from vms.sim.launcher import SimCameras
from vms.storage.fs import FsBlobStore

pytestmark = pytest.mark.integration
VMS = [sys.executable, "-m", "vms"]


def write_config(tmp: Path, dsn: str, url: str) -> Path:
    cfg = tmp / "vms.toml"
    cfg.write_text(f"""
data_dir = "{tmp / "data"}"
[database]
dsn = "{dsn}"
[storage]
spool_dir = "{tmp / "spool"}"
[[storage.replicas]]
name = "a"
kind = "fs"
path = "{tmp / "a"}"
[[storage.replicas]]
name = "b"
kind = "fs"
path = "{tmp / "b"}"
[ingest]
stall_timeout_s = 2
reconnect_max_s = 0.5
[[cameras]]
id = "cam0"
tenant = "commune-a"
name = "Place de la Mairie"
[[cameras.streams]]
name = "main"
url = "{url}"
""")
    return cfg


def test_kill_9_mid_segment_loses_at_most_a_second(
    sim_cameras: Callable[..., SimCameras],
    pg_index: PgSegmentIndex,
    pg_dsn: str,
    tmp_path: Path,
) -> None:
    sim = sim_cameras(counter=1)
    cfg = write_config(tmp_path, pg_dsn, sim.url(0))
    worker = subprocess.Popen([*VMS, "--config", str(cfg), "ingest"], stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: len(pg_index.segments("cam0")) >= 1, 30)
        time.sleep(2.0)  # well inside the second segment (4 s target)
        partial = list((tmp_path / "spool").glob("*/*/*.partial"))
        assert partial, "no segment in progress at kill time"
        killed_at_us = time.time_ns() // 1000
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
    before = {s.key for s in pg_index.segments("cam0")}

    restart = subprocess.Popen([*VMS, "--config", str(cfg), "ingest"], stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: len(pg_index.segments("cam0")) >= len(before) + 2, 30)
    finally:
        restart.send_signal(signal.SIGTERM)
        restart.wait(30)

    a = FsBlobStore("a", tmp_path / "a")
    frames = []
    for s in pg_index.segments("cam0"):
        frames += counters_in(a.get(s.key), tmp_path)
    counters = sorted({c: w for c, w, _ in frames}.items())
    holes = [(x, y) for x, y in itertools.pairwise(counters) if y[0] != x[0] + 1]
    assert len(holes) == 1, holes  # the crash, and nothing else
    (_last_counter, last_us), _ = holes[0]
    # what was recovered reaches to within ~1 s of the kill (fragment interval 1 s,
    # plus the camera-to-worker latency)
    lost_us = killed_at_us - last_us
    assert lost_us <= 1_300_000, f"{lost_us / 1e6:.2f} s of received video lost"
    gaps = pg_index.gaps("cam0")
    assert [g.cause.value for g in gaps] == ["crash"]

    out = subprocess.run([*VMS, "--config", str(cfg), "check"], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "état : conforme" in out.stdout
    assert not list((tmp_path / "spool").glob("*/*/*.partial"))
    assert datetime.now(UTC) > gaps[0].end_at
