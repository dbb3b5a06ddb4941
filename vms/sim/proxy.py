"""A TCP proxy that imitates a flaky radio link (faisceau hertzien) in front of a camera.

Faults: ``down`` (connections cut, new ones refused: the listening socket is closed),
``stall`` (connections stay open but nothing is forwarded), ``throttle`` (bandwidth
cap), and ``flap`` (a schedule of downs and ups). Every change is logged with its time
so tests can compare the injected outages with the recorded gaps. Stdlib only;
traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

_CHUNK = 65536


@dataclass(frozen=True, slots=True)
class LinkEvent:
    monotonic: float
    wall: datetime
    kind: str  # "down", "up", "stall", "resume", "throttle"


class FaultProxy:
    def __init__(self, upstream_host: str, upstream_port: int, host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self.host = host
        self.port = 0
        self.events: list[LinkEvent] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._down = False
        self._stall_until = 0.0
        self._rate: int | None = None
        self._stop = threading.Event()
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._sel.register(self._wake_r, selectors.EVENT_READ, ("wake", None))
        self._thread: threading.Thread | None = None
        self._flapper: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> FaultProxy:
        self._listen()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="fault-proxy")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(5)
        if self._flapper is not None:
            self._flapper.join(5)
        with self._lock:
            self._close_all()
            if self._listener is not None:
                self._listener.close()
                self._listener = None
        self._sel.close()
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def url_for(self, url: str) -> str:
        """The same RTSP URL, through this proxy."""
        parts = urlsplit(url)
        netloc = f"{self.host}:{self.port}"
        if parts.username:
            netloc = f"{parts.username}:{parts.password or ''}@{netloc}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))

    # -- faults ----------------------------------------------------------------------

    def _log(self, kind: str) -> None:
        self.events.append(LinkEvent(time.monotonic(), datetime.now(UTC), kind))

    def down(self) -> None:
        with self._lock:
            if self._down:
                return
            self._down = True
            self._close_all()
            if self._listener is not None:
                self._sel.unregister(self._listener)
                self._listener.close()
                self._listener = None
            self._log("down")
        self._wake()

    def up(self) -> None:
        with self._lock:
            if not self._down:
                return
            self._down = False
            self._listen()
            self._log("up")
        self._wake()

    def stall(self, seconds: float) -> None:
        with self._lock:
            self._stall_until = time.monotonic() + seconds
            self._log("stall")
        threading.Timer(seconds, self._resume).start()

    def _resume(self) -> None:
        with self._lock:
            self._log("resume")
        self._wake()

    def throttle(self, bytes_per_s: int | None) -> None:
        with self._lock:
            self._rate = bytes_per_s
            self._log("throttle")

    def flap(self, count: int, down_s: float, up_s: float) -> threading.Thread:
        """Cut the link ``count`` times for ``down_s``, with ``up_s`` between cuts."""

        def run() -> None:
            for _ in range(count):
                if self._stop.wait(up_s):
                    return
                self.down()
                if self._stop.wait(down_s):
                    return
                self.up()

        self._flapper = threading.Thread(target=run, daemon=True, name="fault-flap")
        self._flapper.start()
        return self._flapper

    def outages(self) -> list[tuple[datetime, datetime]]:
        """(down, up) wall-time pairs of completed outages."""
        out = []
        start: datetime | None = None
        for e in self.events:
            if e.kind == "down":
                start = e.wall
            elif e.kind == "up" and start is not None:
                out.append((start, e.wall))
                start = None
        return out

    # -- plumbing --------------------------------------------------------------------

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def _listen(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(64)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self._listener = sock
        self._sel.register(sock, selectors.EVENT_READ, ("accept", None))

    def _close_all(self) -> None:
        for a, b in self._pairs:
            for s in (a, b):
                with contextlib.suppress(KeyError, ValueError):
                    self._sel.unregister(s)
                s.close()
        self._pairs.clear()

    def _close_pair(self, pair: tuple[socket.socket, socket.socket]) -> None:
        if pair in self._pairs:
            self._pairs.remove(pair)
            for s in pair:
                with contextlib.suppress(KeyError, ValueError):
                    self._sel.unregister(s)
                s.close()

    def _accept(self) -> None:
        assert self._listener is not None
        try:
            client, _ = self._listener.accept()
        except OSError:
            return
        try:
            upstream = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            client.close()
            return
        client.setblocking(False)
        upstream.setblocking(False)
        pair = (client, upstream)
        self._pairs.append(pair)
        self._sel.register(client, selectors.EVENT_READ, ("data", (pair, upstream)))
        self._sel.register(upstream, selectors.EVENT_READ, ("data", (pair, client)))

    def _loop(self) -> None:
        budget = 0.0
        last = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            stalled = now < self._stall_until
            timeout = min(0.05, max(0.0, self._stall_until - now)) if stalled else 0.2
            events = self._sel.select(timeout)
            with self._lock:
                now = time.monotonic()
                if self._rate is not None:
                    budget = min(self._rate, budget + (now - last) * self._rate)
                last = now
                for key, _mask in events:
                    kind, data = key.data
                    if kind == "wake":
                        self._wake_r.recv(4096)
                    elif kind == "accept" and self._listener is not None:
                        self._accept()
                    elif kind == "data" and not stalled and data is not None:
                        pair, dest = data
                        if pair not in self._pairs:
                            continue
                        if self._rate is not None and budget <= 0:
                            continue
                        limit = _CHUNK if self._rate is None else max(1, int(min(budget, _CHUNK)))
                        try:
                            chunk = key.fileobj.recv(limit)  # type: ignore[union-attr]
                        except (BlockingIOError, InterruptedError):
                            continue
                        except OSError:
                            chunk = b""
                        if not chunk:
                            self._close_pair(pair)
                            continue
                        if self._rate is not None:
                            budget -= len(chunk)
                        try:
                            dest.setblocking(True)
                            dest.settimeout(5)
                            dest.sendall(chunk)
                            dest.setblocking(False)
                        except OSError:
                            self._close_pair(pair)
            if stalled or (self._rate is not None and budget <= 0):
                time.sleep(0.01)
