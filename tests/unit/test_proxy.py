"""The fault proxy against a local echo server (stdlib sockets only)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from vms.sim.proxy import FaultProxy, LinkEvent


@pytest.fixture
def echo_port() -> Iterator[int]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            while not stop.is_set():
                try:
                    data = conn.recv(4096)
                except OSError:
                    return
                if not data:
                    return
                conn.sendall(data)

    def accept() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield srv.getsockname()[1]
    stop.set()
    t.join(2)
    srv.close()


def roundtrip(port: int, payload: bytes = b"hello", timeout: float = 2.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(payload)
        return s.recv(4096)


def test_passes_data(echo_port: int) -> None:
    with FaultProxy("127.0.0.1", echo_port) as proxy:
        assert roundtrip(proxy.port) == b"hello"


def test_down_cuts_and_refuses_then_up_restores(echo_port: int) -> None:
    with FaultProxy("127.0.0.1", echo_port) as proxy:
        conn = socket.create_connection(("127.0.0.1", proxy.port), timeout=2)
        conn.sendall(b"a")
        assert conn.recv(10) == b"a"
        proxy.down()
        assert conn.recv(10) == b""  # the open connection was cut
        conn.close()
        with pytest.raises(ConnectionRefusedError):
            roundtrip(proxy.port)
        proxy.up()
        assert roundtrip(proxy.port) == b"hello"
        assert [e.kind for e in proxy.events] == ["down", "up"]
        assert len(proxy.outages()) == 1


def test_stall_holds_data_then_resumes(echo_port: int) -> None:
    with FaultProxy("127.0.0.1", echo_port) as proxy:
        conn = socket.create_connection(("127.0.0.1", proxy.port), timeout=3)
        proxy.stall(0.6)
        t0 = time.monotonic()
        conn.sendall(b"late")
        assert conn.recv(10) == b"late"
        assert time.monotonic() - t0 >= 0.5
        conn.close()


def test_down_for_seconds_comes_back_by_itself(echo_port: int) -> None:
    with FaultProxy("127.0.0.1", echo_port) as proxy:
        proxy.down(0.3)
        with pytest.raises(ConnectionRefusedError):
            roundtrip(proxy.port)
        time.sleep(0.5)
        assert roundtrip(proxy.port) == b"hello"
        down, up = proxy.events
        assert (down.kind, up.kind) == ("down", "up")
        assert 0.25 <= up.monotonic - down.monotonic <= 0.45


def test_events_are_time_stamped_tuples(echo_port: int) -> None:
    with FaultProxy("127.0.0.1", echo_port) as proxy:
        t0 = time.monotonic()
        proxy.stall(0.1)
        time.sleep(0.3)
        proxy.down()
        proxy.down()  # already down: no new event
        proxy.up()
    kinds = [kind for _mono, _wall, kind in proxy.events]
    assert kinds == ["stall", "resume", "down", "up"]
    assert all(isinstance(e, LinkEvent) and e.wall.tzinfo is not None for e in proxy.events)
    monos = [e.monotonic for e in proxy.events]
    assert t0 <= monos[0] <= monos[1] <= monos[2] <= monos[3]
    assert 0.08 <= monos[1] - monos[0] <= 0.3


def test_throttle_caps_the_rate(echo_port: int) -> None:
    with FaultProxy("127.0.0.1", echo_port) as proxy:
        proxy.throttle(100_000)
        payload = bytes(50_000)
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as conn:
            t0 = time.monotonic()
            conn.sendall(payload)
            got = 0
            while got < len(payload):
                got += len(conn.recv(65536))
            elapsed = time.monotonic() - t0
        # 50 kB at 100 kB/s each way, with a burst of a tenth of a second
        assert 0.35 <= elapsed <= 2.0, elapsed
        proxy.throttle(None)
        t0 = time.monotonic()
        assert roundtrip(proxy.port, bytes(1000)) == bytes(1000)
        assert time.monotonic() - t0 < 0.5


def test_stop_closes_open_connections(echo_port: int) -> None:
    proxy = FaultProxy("127.0.0.1", echo_port).start()
    conn = socket.create_connection(("127.0.0.1", proxy.port), timeout=2)
    conn.sendall(b"x")
    assert conn.recv(10) == b"x"
    assert proxy.active_connections == 1
    proxy.stop()
    assert conn.recv(10) == b""
    conn.close()
    with pytest.raises(ConnectionRefusedError):
        roundtrip(proxy.port)


def test_upstream_refusing_closes_the_client(echo_port: int) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    with (
        FaultProxy("127.0.0.1", dead_port) as proxy,
        socket.create_connection(("127.0.0.1", proxy.port), timeout=2) as conn,
    ):
        assert conn.recv(10) == b""


def test_flap_schedule(echo_port: int) -> None:
    with FaultProxy("127.0.0.1", echo_port) as proxy:
        proxy.flap(3, down_s=0.1, up_s=0.1).join(5)
        assert [e.kind for e in proxy.events] == ["down", "up"] * 3
        assert roundtrip(proxy.port) == b"hello"


def test_url_for_rewrites_host_and_port(echo_port: int) -> None:
    with FaultProxy("127.0.0.1", echo_port) as proxy:
        url = proxy.url_for("rtsp://127.0.0.1:8554/cam0/main")
        assert url == f"rtsp://127.0.0.1:{proxy.port}/cam0/main"
        url = proxy.url_for("rtsp://admin:p%40ss@10.0.0.7/Streaming/101?transport=tcp")
        assert url == f"rtsp://admin:p%40ss@127.0.0.1:{proxy.port}/Streaming/101?transport=tcp"
