"""Starts the simulated cameras (vms.sim.rtsp_server) as a child process of the system
interpreter, and the ``vms sim`` command."""

from __future__ import annotations

import argparse
import os
import select
import signal
import subprocess
import threading
import time
from pathlib import Path
from types import TracebackType

import vms
from vms.errors import unavailable
from vms.sim.footage import prepare_footage

SYSTEM_PYTHON = "/usr/bin/python3"
REPO_ROOT = Path(vms.__file__).resolve().parent.parent


class SimCameras:
    """``counter_cameras`` live-encoded cameras with frame counters (cam0..), then
    ``loop_cameras`` cameras replaying footage without encoding."""

    def __init__(
        self,
        loop_cameras: int = 4,
        counter_cameras: int = 0,
        port: int = 8554,
        footage_dir: Path | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.loop_cameras = loop_cameras
        self.counter_cameras = counter_cameras
        self.port = port
        self.host = host
        self.footage_dir = footage_dir or REPO_ROOT / "var" / "footage"
        self.process: subprocess.Popen[str] | None = None

    @property
    def count(self) -> int:
        return self.loop_cameras + self.counter_cameras

    def url(self, i: int, stream: str = "main") -> str:
        return f"rtsp://{self.host}:{self.port}/cam{i}/{stream}"

    def urls(self, i: int) -> dict[str, str]:
        return {"main": self.url(i, "main"), "sub": self.url(i, "sub")}

    def start(self, timeout_s: float = 30.0) -> None:
        if self.loop_cameras:
            self.footage_dir.mkdir(parents=True, exist_ok=True)
            prepare_footage(self.footage_dir)
        env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
        cmd = [
            SYSTEM_PYTHON, "-m", "vms.sim.rtsp_server", "--port", str(self.port),
            "--loop-cameras", str(self.loop_cameras),
            "--counter-cameras", str(self.counter_cameras),
            "--footage-dir", str(self.footage_dir),
        ]  # fmt: skip
        self.process = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
            cwd=REPO_ROOT,
        )
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], 0.5)
            if ready:
                line = self.process.stdout.readline()
                if line.strip() == "READY":
                    # keep draining stdout so the child never blocks on a full pipe
                    threading.Thread(target=self._drain, daemon=True).start()
                    return
                if not line:
                    break
            if self.process.poll() is not None:
                break
        self.stop()
        raise unavailable("Le simulateur de caméras n'a pas démarré", " ".join(cmd))

    def _drain(self) -> None:
        proc = self.process
        if proc is not None and proc.stdout is not None:
            for _ in proc.stdout:
                pass

    def stop(self) -> None:
        proc, self.process = self.process, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()

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
    p = argparse.ArgumentParser(prog="vms sim", description="Caméras RTSP simulées")
    p.add_argument("--cameras", type=int, default=4)
    p.add_argument("--counter-cameras", type=int, default=0)
    p.add_argument("--port", type=int, default=8554)
    args = p.parse_args(argv)
    sim = SimCameras(args.cameras, args.counter_cameras, args.port)
    sim.start()
    for i in range(sim.count):
        print(f"cam{i}\t{sim.url(i, 'main')}\t{sim.url(i, 'sub')}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        while not stop.wait(1):
            if sim.process is None or sim.process.poll() is not None:
                return 1
    finally:
        sim.stop()
    return 0
