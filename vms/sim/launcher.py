"""Starts the simulated cameras (vms/sim/rtsp_server.py) as a child process of the system
interpreter, which has the GStreamer bindings; and the ``vms sim`` command."""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import vms
from vms.errors import unavailable
from vms.sim.footage import prepare_footage

SYSTEM_PYTHON = "/usr/bin/python3"
REPO_ROOT = Path(vms.__file__).resolve().parent.parent
SERVER_SCRIPT = Path(__file__).resolve().with_name("rtsp_server.py")
DEFAULT_FOOTAGE_DIR = REPO_ROOT / "var" / "footage"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free at the time of the call."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class SimCameras:
    """``counter_cameras`` live-encoded cameras with frame counters (cam0 ..), then
    ``loop_cameras`` cameras replaying footage without encoding. ``port=0`` picks a free
    port. The server's stderr goes to ``log_path`` when given, else to ours."""

    def __init__(
        self,
        loop_cameras: int = 4,
        counter_cameras: int = 0,
        port: int = 8554,
        footage_dir: Path | None = None,
        host: str = "127.0.0.1",
        log_path: Path | None = None,
    ) -> None:
        if loop_cameras < 0 or counter_cameras < 0:
            raise ValueError("camera counts must not be negative")
        self.loop_cameras = loop_cameras
        self.counter_cameras = counter_cameras
        self.port = port
        self.host = host
        self.footage_dir = footage_dir or DEFAULT_FOOTAGE_DIR
        self.log_path = log_path
        self.process: subprocess.Popen[str] | None = None
        self._log: IO[bytes] | None = None
        self._drainer: threading.Thread | None = None

    @property
    def count(self) -> int:
        return self.loop_cameras + self.counter_cameras

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def url(self, i: int, stream: str = "main") -> str:
        if not 0 <= i < self.count or stream not in ("main", "sub"):
            raise IndexError(f"no simulated camera stream cam{i}/{stream}")
        return f"rtsp://{self.host}:{self.port}/cam{i}/{stream}"

    def urls(self, i: int) -> dict[str, str]:
        return {"main": self.url(i, "main"), "sub": self.url(i, "sub")}

    def start(self, timeout_s: float = 30.0) -> None:
        """Prepare the footage (first use only), start the server, wait for READY."""
        if self.process is not None:
            raise RuntimeError("simulated cameras already started")
        if self.loop_cameras:
            prepare_footage(self.footage_dir)
        if self.port == 0:
            self.port = free_port(self.host)
        cmd = [
            SYSTEM_PYTHON, str(SERVER_SCRIPT), "--port", str(self.port),
            "--loop-cameras", str(self.loop_cameras),
            "--counter-cameras", str(self.counter_cameras),
            "--footage-dir", str(self.footage_dir),
        ]  # fmt: skip
        if self.log_path is not None:
            self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop())
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
        try:
            self.process = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=self._log, text=True, env=env
            )
        except OSError as err:
            self._close_log()
            raise unavailable("Le simulateur de caméras n'a pas démarré", str(err)) from err
        stdout = self.process.stdout
        assert stdout is not None
        deadline = time.monotonic() + timeout_s
        last = ""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([stdout], [], [], 0.2)
            if ready:
                line = stdout.readline()
                if line.strip() == "READY":
                    # keep draining stdout so the child never blocks on a full pipe
                    self._drainer = threading.Thread(
                        target=self._drain, args=(stdout,), daemon=True, name="sim-stdout"
                    )
                    self._drainer.start()
                    return
                if not line:
                    break
                last = line.strip() or last
            elif self.process.poll() is not None:
                break
        self.stop()
        raise unavailable("Le simulateur de caméras n'a pas démarré", last or " ".join(cmd))

    @staticmethod
    def _drain(stdout: IO[str]) -> None:
        with contextlib.suppress(OSError, ValueError):
            for _ in stdout:
                pass

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 5 s). Idempotent."""
        proc, self.process = self.process, None
        if proc is not None:
            stop_processes([proc], 5)
            if self._drainer is not None:
                self._drainer.join(2)
                self._drainer = None
            if proc.stdout is not None:
                proc.stdout.close()
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> SimCameras:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """``vms sim``: serve simulated cameras until Ctrl-C."""
    p = argparse.ArgumentParser(prog="vms sim", description="Caméras RTSP simulées")
    p.add_argument("--cameras", type=int, default=4, help="caméras « boucle » (sans encodage)")
    p.add_argument("--counter-cameras", type=int, default=0, help="caméras à compteur encodé")
    p.add_argument("--port", type=int, default=8554)
    p.add_argument(
        "--data-dir", type=Path, default=None, help="dossier de la vidéo d'exemple encodée"
    )
    args = p.parse_args(argv)
    sim = SimCameras(args.cameras, args.counter_cameras, args.port, args.data_dir)
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        sim.start()
        for i in range(sim.count):
            urls = sim.urls(i)
            print(f"cam{i}\t{urls['main']}\t{urls['sub']}", flush=True)
        while not stop.wait(1):
            if sim.process is None or sim.process.poll() is not None:
                return 1
    finally:
        sim.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def stop_processes(procs: Iterable[subprocess.Popen[Any]], timeout_s: float = 30.0) -> None:
    """SIGTERM every process, then wait for each; one still running after ``timeout_s``
    is killed (the simulator, workers started by tests and benchmarks)."""
    procs = [p for p in procs if p.poll() is None]
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
