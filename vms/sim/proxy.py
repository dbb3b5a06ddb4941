"""A TCP proxy that imitates a flaky radio link (faisceau hertzien) in front of a camera.

Faults: ``down`` (connections cut, new ones refused: the listening socket is closed),
``stall`` (connections stay open but nothing is forwarded either way), ``throttle``
(a bandwidth cap per direction) and ``flap`` (a schedule of downs and ups). Every change
is logged with its monotonic and wall time, so tests can compare the injected outages
with the recorded gaps. RTSP over TCP carries the media interleaved on the control
connection, so the proxy sees all of it.

One thread owns every socket (a selector loop with a bounded buffer per direction and
backpressure); the fault methods may be called from any thread: they hand the change to
that thread and return once it is in effect. Stdlib only; traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import NamedTuple
from urllib.parse import urlsplit, urlunsplit

logger = logging.getLogger(__name__)

_CHUNK = 65536
_MAX_BUFFERED = 4 * _CHUNK  # per direction and connection; beyond it, stop reading
_IDLE_S = 0.2


class LinkEvent(NamedTuple):
    """A change of the link: kind is "down", "up", "stall", "resume" or "throttle"."""

    monotonic: float
    wall: datetime
    kind: str


class _Bucket:
    """Token bucket for one direction (bytes per second; a burst of a tenth of a second)."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.burst = max(1, rate // 10)
        self.tokens = float(self.burst)
        self.last = time.monotonic()

    def refill(self, now: float) -> None:
        self.tokens = min(float(self.burst), self.tokens + (now - self.last) * self.rate)
        self.last = now

    def wait_s(self) -> float:
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


class _Conn:
    """A client connection and its upstream connection, with one buffer per direction."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self.to_upstream = bytearray()
        self.to_client = bytearray()
        self.masks: dict[socket.socket, int] = {client: 0, upstream: 0}

    def peer(self, sock: socket.socket) -> socket.socket:
        return self.upstream if sock is self.client else self.client

    def outbox(self, sock: socket.socket) -> bytearray:
        """The buffer of data waiting to be written to ``sock``."""
        return self.to_upstream if sock is self.upstream else self.to_client


class FaultProxy:
    """``FaultProxy(host, port)`` listens on 127.0.0.1 (``.port``, ephemeral unless
    ``listen_port`` is given) and forwards every connection to ``host:port``."""

    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        host: str = "127.0.0.1",
        listen_port: int = 0,
    ) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.host = host
        self.port = listen_port
        self.events: list[LinkEvent] = []
        self.bytes_to_client = 0
        self.bytes_to_upstream = 0
        self.connections_accepted = 0
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)
        self._listener: socket.socket | None = None
        self._conns: dict[socket.socket, _Conn] = {}
        self._lock = threading.Lock()
        self._commands: list[tuple[Callable[[], None], threading.Event]] = []
        self._is_down = False
        self._up_at: float | None = None
        self._stall_until: float | None = None
        self._buckets: dict[str, _Bucket] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._flappers: list[threading.Thread] = []

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> FaultProxy:
        if self._thread is not None:
            raise RuntimeError("proxy already started")
        self._listen()
        self._thread = threading.Thread(target=self._run, daemon=True, name="fault-proxy")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the flap schedules and the proxy, and close every socket."""
        self._stop.set()
        for t in self._flappers:
            t.join(5)
        self._flappers.clear()
        if self._thread is not None:
            self._wake()
            self._thread.join(5)
            self._thread = None
        for conn in list(self._conns.values()):
            self._close(conn)
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        self._sel.close()
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def url_for(self, url: str) -> str:
        """The same URL (rtsp://user:pass@host:port/path), through this proxy."""
        parts = urlsplit(url)
        netloc = f"{self.host}:{self.port}"
        if parts.username is not None:
            auth = (
                parts.username if parts.password is None else f"{parts.username}:{parts.password}"
            )
            netloc = f"{auth}@{netloc}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))

    @property
    def active_connections(self) -> int:
        return len({id(c) for c in self._conns.values()})

    # -- faults (any thread) ---------------------------------------------------------

    def down(self, seconds: float | None = None) -> None:
        """Cut every connection and refuse new ones until ``up()``, or for ``seconds``."""

        def apply() -> None:
            self._up_at = None if seconds is None else time.monotonic() + seconds
            if self._is_down:
                return
            self._is_down = True
            for conn in list(self._conns.values()):
                self._close(conn)
            if self._listener is not None:
                self._sel.unregister(self._listener)
                self._listener.close()
                self._listener = None
            self._log("down")

        self._call(apply)

    def up(self) -> None:
        """Accept connections again (the link is back)."""
        self._call(self._do_up)

    def stall(self, seconds: float) -> None:
        """Keep the connections open but forward nothing for ``seconds``."""

        def apply() -> None:
            if self._stall_until is None:
                self._log("stall")
            self._stall_until = time.monotonic() + seconds

        self._call(apply)

    def throttle(self, bytes_per_s: int | None) -> None:
        """Cap each direction at ``bytes_per_s``; None lifts the cap."""
        if bytes_per_s is not None and bytes_per_s <= 0:
            raise ValueError(f"throttle rate must be positive, not {bytes_per_s}")

        def apply() -> None:
            if bytes_per_s is None:
                self._buckets = {}
            else:
                self._buckets = {d: _Bucket(bytes_per_s) for d in ("down", "up")}
            self._log("throttle")

        self._call(apply)

    def flap(self, count: int, down_s: float, up_s: float) -> threading.Thread:
        """In a background thread: ``count`` times, wait ``up_s`` then cut the link for
        ``down_s``. Returns the thread (join it to wait for the schedule's end)."""

        def run() -> None:
            for _ in range(count):
                if self._stop.wait(up_s):
                    return
                self.down()
                if self._stop.wait(down_s):
                    return
                self.up()

        t = threading.Thread(target=run, daemon=True, name="fault-flap")
        self._flappers = [f for f in self._flappers if f.is_alive()]
        self._flappers.append(t)
        t.start()
        return t

    def outages(self) -> list[tuple[datetime, datetime]]:
        """(down, up) wall-time pairs of the completed outages."""
        out = []
        start: datetime | None = None
        for e in list(self.events):
            if e.kind == "down":
                start = e.wall
            elif e.kind == "up" and start is not None:
                out.append((start, e.wall))
                start = None
        return out

    # -- the loop thread -------------------------------------------------------------

    def _call(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the loop thread and wait until it has run."""
        if self._thread is None or threading.current_thread() is self._thread:
            fn()
            return
        done = threading.Event()
        with self._lock:
            self._commands.append((fn, done))
        self._wake()
        if not done.wait(5):
            raise RuntimeError("fault proxy loop is not responding")

    def _log(self, kind: str) -> None:
        self.events.append(LinkEvent(time.monotonic(), datetime.now(UTC), kind))
        logger.info("proxy :%s -> %s:%s: link %s", self.port, *self.upstream, kind)

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def _do_up(self) -> None:
        self._up_at = None
        if not self._is_down:
            return
        self._is_down = False
        self._listen()
        self._log("up")

    def _listen(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(64)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self._listener = sock
        self._sel.register(sock, selectors.EVENT_READ, None)

    def _close(self, conn: _Conn) -> None:
        for s in (conn.client, conn.upstream):
            if self._conns.pop(s, None) is not None:
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
            upstream = socket.create_connection(self.upstream, timeout=2)
        except OSError:
            client.close()  # the camera behind the link refuses: so does the link
            return
        self.connections_accepted += 1
        for s in (client, upstream):
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = _Conn(client, upstream)
        self._conns[client] = conn
        self._conns[upstream] = conn

    def _interest(self, conn: _Conn, sock: socket.socket, flowing: bool) -> int:
        mask = 0
        if flowing:
            peer = conn.peer(sock)
            bucket = self._buckets.get("down" if sock is conn.upstream else "up")
            if len(conn.outbox(peer)) < _MAX_BUFFERED and (bucket is None or bucket.tokens >= 1):
                mask |= selectors.EVENT_READ
            if conn.outbox(sock):
                mask |= selectors.EVENT_WRITE
        return mask

    def _update_registrations(self, flowing: bool) -> None:
        for sock, conn in list(self._conns.items()):
            mask = self._interest(conn, sock, flowing)
            if mask == conn.masks[sock]:
                continue
            if conn.masks[sock] == 0:
                self._sel.register(sock, mask, conn)
            elif mask == 0:
                self._sel.unregister(sock)
            else:
                self._sel.modify(sock, mask, conn)
            conn.masks[sock] = mask

    def _read(self, conn: _Conn, sock: socket.socket) -> None:
        toward_client = sock is conn.upstream
        bucket = self._buckets.get("down" if toward_client else "up")
        limit = _CHUNK if bucket is None else max(1, min(_CHUNK, int(bucket.tokens)))
        try:
            data = sock.recv(limit)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        peer = conn.peer(sock)
        if not data:
            # the other side closed: pass on what is still buffered, then close both
            with contextlib.suppress(OSError):
                peer.send(conn.outbox(peer))
            self._close(conn)
            return
        if bucket is not None:
            bucket.tokens -= len(data)
        conn.outbox(peer).extend(data)
        if toward_client:
            self.bytes_to_client += len(data)
        else:
            self.bytes_to_upstream += len(data)
        self._write(conn, peer)  # most of the time it goes straight through

    def _write(self, conn: _Conn, sock: socket.socket) -> None:
        box = conn.outbox(sock)
        if not box:
            return
        try:
            sent = sock.send(box)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(conn)
            return
        del box[:sent]

    def _run(self) -> None:
        try:
            self._loop()
        except Exception:
            logger.exception("proxy :%s: loop failed", self.port)
            raise

    def _loop(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            with self._lock:
                commands, self._commands = self._commands, []
            for fn, done in commands:
                try:
                    fn()
                finally:
                    done.set()
            if self._up_at is not None and now >= self._up_at:
                self._do_up()
            if self._stall_until is not None and now >= self._stall_until:
                self._stall_until = None
                self._log("resume")
            for bucket in self._buckets.values():
                bucket.refill(now)
            flowing = self._stall_until is None
            self._update_registrations(flowing)
            timeout = _IDLE_S
            for deadline in (self._up_at, self._stall_until):
                if deadline is not None:
                    timeout = min(timeout, max(0.0, deadline - now))
            for bucket in self._buckets.values():
                if bucket.tokens < 1:
                    timeout = min(timeout, bucket.wait_s())
            for key, mask in self._sel.select(timeout):
                sock = key.fileobj
                if sock is self._wake_r:
                    with contextlib.suppress(OSError):
                        self._wake_r.recv(4096)
                elif sock is self._listener:
                    self._accept()
                elif isinstance(sock, socket.socket):
                    conn = self._conns.get(sock)
                    if conn is None:
                        continue  # closed earlier in this round
                    if mask & selectors.EVENT_WRITE:
                        self._write(conn, sock)
                    if mask & selectors.EVENT_READ and sock in self._conns:
                        self._read(conn, sock)
