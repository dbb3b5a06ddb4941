"""The fault proxy against a local echo server (stdlib sockets only)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from vms.sim.proxy import FaultProxy


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


def test_flap_schedule(echo_port: int) -> None:
    with FaultProxy("127.0.0.1", echo_port) as proxy:
        proxy.flap(3, down_s=0.1, up_s=0.1).join(5)
        assert [e.kind for e in proxy.events] == ["down", "up"] * 3
        assert roundtrip(proxy.port) == b"hello"


def test_url_for_rewrites_host_and_port(echo_port: int) -> None:
    with FaultProxy("127.0.0.1", echo_port) as proxy:
        url = proxy.url_for("rtsp://127.0.0.1:8554/cam0/main")
        assert url == f"rtsp://127.0.0.1:{proxy.port}/cam0/main"
