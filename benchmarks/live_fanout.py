"""Live fan-out: how many viewers of one camera stream the relay serves before frames
drop, and what each costs, through both outputs of an ingest worker's live relay, each
against a baseline measured in the same run on the same simulated camera (loop camera,
no encoding; main stream 1280x720 25 fps ~2 Mbit/s, or sub 640x360):

- fMP4 over WebSocket (the scalable path of the public link, CONF-01): one RTSP pull,
  one muxer, the same bytes sent to every viewer; baseline: one
  ``ffmpeg -rtsp_transport tcp -i URL -c copy -f mp4`` remux per viewer (fragment per
  frame, like ours), what a relay that opens the camera or remuxes per consumer costs.
- WebRTC (``--webrtc``): one RTSP pull, one aiortc peer per viewer (H.264 passed
  through: packetised and SRTP-encrypted per viewer); baseline: the same relay with
  one RTSP pull per viewer, as a naive per-viewer relay does.

    bash scripts/netns.sh .venv/bin/python benchmarks/live_fanout.py   # about 4 min
    # = --stream main --viewers 10 50 250 --webrtc 10 50 100 --seconds 15

Viewers are client processes (``--client-procs``), apart from the relay, whose CPU is
measured alone (/proc, user+system, all threads). Correctness in the timed window: each
viewer counts the frames it receives (fMP4: fragments, one per frame; WebRTC: RTP
packets with the marker bit, read at the UDP level without decrypting or decoding, so a
client costs little); it "keeps up" if it got at least 95 % of the 25 frames per second
of the window. The camera-side sessions are counted from the simulator's established
TCP connections. Where frames were lost: the relay's cuts (a viewer 2 s behind is moved
on to the next keyframe) and the kernel's UDP receive-buffer drops (in the JSON).
"thread" is the relay's busiest thread, its event loop: at 100 % it is the limit,
whatever the number of cores. "elsewhere" is the machine's busy time not spent by the
relay, the clients or the camera: other work on a shared machine makes every figure
pessimistic. Prints a table, writes benchmarks/results/live_fanout.json. WebRTC needs
the private network namespace of scripts/netns.sh (aiortc gathers no loopback
candidates); without it the WebRTC rows are skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import resource
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.procstat import machine, threads, total
from vms.sim.launcher import SimCameras, free_port

FPS = 25
KEEP_UP = 0.95  # share of the window's frames a viewer must get
WARMUP_S = 3.0
CONNECT_TIMEOUT_S = 120.0
SECRET_ENV = "VMS_BENCH_RELAY_SECRET"
HEADERS_ENV = "VMS_BENCH_RELAY_HEADERS"


def raise_fd_limit() -> None:
    """Hundreds of viewers need more descriptors than the usual soft limit of 1024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# -- the relay, in its own process ------------------------------------------------------


class _NoAudit:
    async def append(self, *args: Any, **kwargs: Any) -> None:
        return None


def serve_relay(config: dict[str, Any]) -> None:
    """Child process: an ingest worker's live relay on one camera stream, relayed as
    feeds cam0 .. cam{feeds-1}, each with its own on-demand RTSP pull."""
    from ingest.live.hub import LiveHub
    from ingest.live.puller import OnDemandPuller
    from ingest.live.relay import LiveRelay
    from ingest.live.server import RelayServer
    from vms.config import IngestConfig
    from vms.domain.clock import SystemClock

    raise_fd_limit()
    logging.getLogger().setLevel(logging.WARNING)
    hub = LiveHub()
    ingest = IngestConfig.model_validate({})
    pullers = [
        OnDemandPuller(hub.feed(f"cam{i}", config["stream"]), config["url"], ingest, 30)
        for i in range(config["feeds"])
    ]

    async def make() -> tuple[LiveRelay, Any]:
        async def nothing() -> None:
            return None

        return LiveRelay(hub, _NoAudit(), SystemClock(), 10_000), nothing

    server = RelayServer(make, os.environ[SECRET_ENV], "127.0.0.1", config["port"])
    server.start()
    print("READY", flush=True)
    # stdin: "cuts" -> the cuts so far (JSON line); end of file -> stop
    for line in sys.stdin:
        if line.strip() == "cuts" and server.relay is not None and server._loop is not None:
            cuts = asyncio.run_coroutine_threadsafe(_cuts(server.relay), server._loop)
            print(json.dumps(cuts.result(10)), flush=True)
    server.stop()
    for puller in pullers:
        puller.stop()


async def _cuts(relay: Any) -> dict[str, int]:
    """Times viewers fell behind and were moved on to the next keyframe (dropping the
    frames in between), on the relay's loop: the relay's side of the frame drops."""
    webrtc = sum(s.peer.track.subscriber.cuts for s in relay.sessions.values() if s.peer)
    fmp4 = sum(v.cuts for b in relay._broadcasts.values() for v in b.viewers)
    fmp4 += sum(b._sub.cuts for b in relay._broadcasts.values() if b._sub is not None)
    return {"webrtc": webrtc, "fmp4": fmp4}


class RelayProcess:
    """The relay of ``serve_relay`` in a child process; ``feeds`` > 1 relays the same
    camera stream through that many independent pulls (camera ids cam0, cam1, ...)."""

    def __init__(self, url: str, stream: str, feeds: int = 1) -> None:
        self.url = url
        self.stream = stream
        self.feeds = feeds
        self.port = free_port()
        self.secret = secrets.token_urlsafe(24)
        self.proc: subprocess.Popen[str] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def headers(self) -> dict[str, str]:
        watcher = json.dumps({"actor": "bench", "tenant": "bench", "via": "public"})
        return {"Authorization": f"Bearer {self.secret}", "X-Vms-Watcher": watcher}

    def __enter__(self) -> RelayProcess:
        config = {"url": self.url, "port": self.port, "stream": self.stream, "feeds": self.feeds}
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=os.environ | {SECRET_ENV: self.secret},
        )
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "READY":
            self.__exit__(None, None, None)
            raise RuntimeError("the relay did not start")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.proc is not None:
            assert self.proc.stdin is not None
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.close()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def cuts(self) -> int:
        """Viewer cuts so far (both outputs)."""
        assert self.proc is not None and self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write("cuts\n")
        self.proc.stdin.flush()
        return sum(json.loads(self.proc.stdout.readline()).values())


# -- viewers, in client processes --------------------------------------------------------


@dataclass(slots=True)
class Tally:
    """What one viewer received while counting."""

    frames: int = 0
    bytes: int = 0
    connected: bool = False


@dataclass
class ClientState:
    counting: bool = False
    tallies: list[Tally] = field(default_factory=list)


async def _fmp4_viewer(http: Any, url: str, headers: dict[str, str], state: ClientState) -> None:
    import aiohttp

    tally = Tally()
    state.tallies.append(tally)
    async with http.ws_connect(url, headers=headers, max_msg_size=0) as ws:
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                continue  # the codec
            if msg.type != aiohttp.WSMsgType.BINARY:
                break
            if not tally.connected:
                tally.connected = True  # the init segment
            elif state.counting:
                tally.frames += 1  # one fragment per frame
                tally.bytes += len(msg.data)


_RTP_TALLIES: dict[int, Tally] = {}
_RTP_STATE = ClientState()


def _count_rtp_at_ice_level() -> None:
    """Count SRTP packets where aioice hands them over, without decrypting, depacketising
    or decoding them (the RTP header travels in clear): a client costs a few
    microseconds per packet, so that many fit beside the relay on a small machine.
    DTLS and RTCP go on to aiortc as usual."""
    from aioice import Connection
    from aiortc.rtp import is_rtcp

    original = Connection.data_received

    def data_received(self: Any, data: bytes, component: int) -> None:
        tally = _RTP_TALLIES.get(id(self))
        if tally is None or not 127 < data[0] < 192 or is_rtcp(data):
            original(self, data, component)
            return
        if _RTP_STATE.counting:
            tally.bytes += len(data)
            if data[1] & 0x80:  # marker bit: the last packet of a frame
                tally.frames += 1

    Connection.data_received = data_received  # type: ignore[method-assign]


async def _webrtc_viewer(
    http: Any, url: str, headers: dict[str, str], gate: asyncio.Semaphore
) -> Any:
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    tally = Tally()
    _RTP_STATE.tallies.append(tally)
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    connected = asyncio.Event()

    @pc.on("connectionstatechange")
    def _state() -> None:
        if pc.connectionState == "connected":
            connected.set()

    async with gate:
        pc.addTransceiver("video", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        headers = headers | {"Content-Type": "application/sdp"}
        async with http.post(url, data=pc.localDescription.sdp, headers=headers) as r:
            body = await r.json(content_type=None)
            if r.status != 201:
                raise RuntimeError(f"relay answered {r.status}: {body}")
        await pc.setRemoteDescription(RTCSessionDescription(body["answer"], "answer"))
        ice = pc.getTransceivers()[0].receiver.transport.transport
        _RTP_TALLIES[id(ice._connection)] = tally
        await asyncio.wait_for(connected.wait(), 30)
    tally.connected = True
    return pc


async def _client(config: dict[str, Any]) -> None:
    """Child process: ``n`` viewers; "READY k" once k are connected, then counts between
    the "start" and "stop" lines of stdin and prints the tallies as JSON."""
    import aiohttp

    raise_fd_limit()
    loop = asyncio.get_running_loop()
    headers: dict[str, str] = json.loads(os.environ[HEADERS_ENV])
    conn = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=conn) as http:
        tasks: list[asyncio.Task[Any]] = []
        if config["kind"] == "fmp4":
            state = ClientState()
            for url in config["urls"]:
                tasks.append(asyncio.create_task(_fmp4_viewer(http, url, headers, state)))
            deadline = time.monotonic() + CONNECT_TIMEOUT_S
            while sum(t.connected for t in state.tallies) < len(tasks):
                if time.monotonic() > deadline or all(t.done() for t in tasks):
                    break
                await asyncio.sleep(0.1)
        else:
            _count_rtp_at_ice_level()
            state = _RTP_STATE
            gate = asyncio.Semaphore(8)
            for url in config["urls"]:
                tasks.append(asyncio.create_task(_webrtc_viewer(http, url, headers, gate)))
            await asyncio.wait(tasks, timeout=CONNECT_TIMEOUT_S)
        connected = sum(t.connected for t in state.tallies)
        print(f"READY {connected}", flush=True)
        assert (await loop.run_in_executor(None, sys.stdin.readline)).strip() == "start"
        for tally in state.tallies:
            tally.frames = tally.bytes = 0
        state.counting = True
        t0 = time.monotonic()
        assert (await loop.run_in_executor(None, sys.stdin.readline)).strip() == "stop"
        state.counting = False
        elapsed = time.monotonic() - t0
        result = {
            "elapsed_s": elapsed,
            "viewers": [[t.frames, t.bytes] for t in state.tallies],
            "connected": connected,
        }
        print(json.dumps(result), flush=True)
        for task in tasks:
            if task.done() and not task.cancelled() and task.exception() is None:
                pc = task.result()
                if pc is not None:
                    await pc.close()
            else:
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _split(items: list[str], parts: int) -> list[list[str]]:
    return [chunk for chunk in (items[i::parts] for i in range(parts)) if chunk]


class Clients:
    """Client processes, each with its share of the viewers' URLs."""

    def __init__(self, kind: str, urls: list[str], headers: dict[str, str], procs: int):
        env = os.environ | {HEADERS_ENV: json.dumps(headers)}  # the secret stays off argv
        self.procs = [
            subprocess.Popen(
                [sys.executable, __file__, "--client", json.dumps({"kind": kind, "urls": part})],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
            for part in _split(urls, procs)
        ]

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def wait_ready(self) -> int:
        connected = 0
        for p in self.procs:
            assert p.stdout is not None
            line = p.stdout.readline().split()
            connected += int(line[1]) if len(line) == 2 and line[0] == "READY" else 0
        return connected

    def send(self, word: str) -> None:
        for p in self.procs:
            assert p.stdin is not None
            p.stdin.write(word + "\n")
            p.stdin.flush()

    def results(self) -> tuple[list[list[int]], float]:
        viewers: list[list[int]] = []
        elapsed = []
        for p in self.procs:
            assert p.stdout is not None
            out = json.loads(p.stdout.readline())
            viewers += out["viewers"]
            elapsed.append(out["elapsed_s"])
        return viewers, sum(elapsed) / len(elapsed)

    def close(self) -> None:
        for p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


# -- measurement --------------------------------------------------------------------------


def rtsp_sessions(port: int) -> int:
    """Established TCP connections to the simulator's RTSP port (its RTSP sessions)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table, encoding="ascii") as f:
            for line in f.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                if state == "01" and int(local.rsplit(":", 1)[1], 16) == port:
                    count += 1
    return count


def udp_drops() -> int:
    """Datagrams the kernel dropped for want of room in a receiving socket's buffer (in
    this network namespace)."""
    with open("/proc/net/snmp", encoding="ascii") as f:
        rows = [line.split() for line in f if line.startswith("Udp:")]
    return int(dict(zip(rows[0], rows[1], strict=True))["RcvbufErrors"])


def _summary(
    viewers: list[list[int]], n: int, elapsed: float, cpu: float, others: dict[str, Any]
) -> dict[str, Any]:
    expected = FPS * elapsed
    frames = sorted(v[0] for v in viewers) or [0]
    ours = cpu + others["camera_cpu_pct"] + others["clients_cpu_pct"]
    return {
        # what else the machine ran meanwhile (other work, unattributed kernel time)
        "elsewhere_cpu_pct": others["machine_cpu_pct"] - ours,
        "cpu_pct": cpu,
        "cpu_pct_per_viewer": cpu / n,
        "viewers_keeping_up": sum(1 for f in frames if f >= KEEP_UP * expected),
        "viewers_connected": len(viewers),
        "frames_expected": round(expected),
        "frames_min": frames[0],
        "frames_median": frames[len(frames) // 2],
        "frames_max": frames[-1],  # above expected: a viewer catching up on a backlog
        "mbit_s_per_viewer": 8 * sum(v[1] for v in viewers) / max(1, len(viewers)) / elapsed / 1e6,
        **others,
    }


def measure_relay(
    sim: SimCameras, stream: str, kind: str, n: int, seconds: float, procs: int, per_viewer: bool
) -> dict[str, Any]:
    """``n`` viewers of the relay (fMP4 or WebRTC); ``per_viewer``: one pull each."""
    assert sim.pid is not None
    feeds = n if per_viewer else 1
    with RelayProcess(sim.url(0, stream), stream, feeds) as relay:
        path = "fmp4" if kind == "fmp4" else "webrtc"
        urls = [
            f"{relay.base}/relay/v1/streams/cam{i if per_viewer else 0}/{stream}/{path}"
            for i in range(n)
        ]
        clients = Clients(kind, urls, relay.headers(), procs)
        try:
            connected = clients.wait_ready()
            time.sleep(WARMUP_S)
            sessions = rtsp_sessions(sim.port)
            drops0, cuts0 = udp_drops(), relay.cuts()
            before, cam0, cl0 = total([relay.pid]), total([sim.pid]), total(clients.pids)
            all0, threads0 = machine(), threads(relay.pid)
            t0 = time.monotonic()
            clients.send("start")
            time.sleep(seconds)
            clients.send("stop")
            elapsed = time.monotonic() - t0
            after, cam1, cl1 = total([relay.pid]), total([sim.pid]), total(clients.pids)
            all1, threads1 = machine(), threads(relay.pid)
            drops, cuts = udp_drops() - drops0, relay.cuts() - cuts0
            viewers, client_elapsed = clients.results()
        finally:
            clients.close()
    return _summary(
        viewers,
        n,
        client_elapsed,
        100 * (after.cpu_s - before.cpu_s) / elapsed,
        {
            "rss_mb": after.rss_bytes / 2**20,
            "camera_sessions": sessions,
            "camera_cpu_pct": 100 * (cam1.cpu_s - cam0.cpu_s) / elapsed,
            "clients_cpu_pct": 100 * (cl1.cpu_s - cl0.cpu_s) / elapsed,
            "machine_cpu_pct": 100 * (all1.cpu_s - all0.cpu_s) / elapsed,
            # the relay's event loop is one thread: at 100 % it is the bottleneck
            "busiest_thread_cpu_pct": 100
            * max(threads1[t] - threads0.get(t, 0.0) for t in threads1)
            / elapsed,
            "negotiated": connected,
            "udp_receive_drops": drops,
            "relay_cuts": cuts,
        },
    )


class BoxCounter:
    """Counts the top-level ``moof`` boxes of an fMP4 byte stream fed in chunks."""

    def __init__(self) -> None:
        self.pending = bytearray()
        self.skip = 0
        self.moofs = 0
        self.bytes = 0

    def feed(self, chunk: bytes) -> None:
        self.bytes += len(chunk)
        if self.skip >= len(chunk):
            self.skip -= len(chunk)
            return
        self.pending += chunk[self.skip :]
        self.skip = 0
        while len(self.pending) >= 8:
            size = int.from_bytes(self.pending[:4], "big")
            if self.pending[4:8] == b"moof":
                self.moofs += 1
            if size < 8:  # 64-bit sizes and "to the end" do not occur in fragments
                raise ValueError(f"unexpected box size {size}")
            if size <= len(self.pending):
                del self.pending[:size]
            else:
                self.skip = size - len(self.pending)
                self.pending.clear()


def measure_ffmpeg(sim: SimCameras, stream: str, n: int, seconds: float) -> dict[str, Any]:
    """Baseline of the fMP4 path: one ffmpeg remux per viewer (read by this process)."""
    assert sim.pid is not None
    cmd = [
        "ffmpeg", "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp",
        # the input options of our pull (ingest.recorder.open_stream)
        "-fflags", "nobuffer", "-analyzeduration", "200000", "-probesize", "200000",
        "-i", sim.url(0, stream), "-c", "copy", "-f", "mp4",
        "-movflags", "empty_moov+default_base_moof+frag_every_frame", "pipe:1",
    ]  # fmt: skip
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE) for _ in range(n)]
    counters = [BoxCounter() for _ in range(n)]
    try:
        for p in procs:
            os.set_blocking(p.stdout.fileno(), False)  # type: ignore[union-attr]

        def drain() -> None:
            for p, counter in zip(procs, counters, strict=True):
                while chunk := p.stdout.read(1 << 16):  # type: ignore[union-attr]
                    counter.feed(chunk)

        # every remux started (n processes take a while on a small machine), then warm-up
        end = time.monotonic() + CONNECT_TIMEOUT_S
        while time.monotonic() < end and not all(c.moofs for c in counters):
            drain()
            time.sleep(0.02)
        end = time.monotonic() + WARMUP_S
        while time.monotonic() < end:
            drain()
            time.sleep(0.02)
        sessions = rtsp_sessions(sim.port)
        start = [(c.moofs, c.bytes) for c in counters]
        before, cam0 = total([p.pid for p in procs]), total([sim.pid])
        all0, me0 = machine(), total([os.getpid()])
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            drain()
            time.sleep(0.02)
        drain()
        elapsed = time.monotonic() - t0
        after, cam1 = total([p.pid for p in procs]), total([sim.pid])
        all1, me1 = machine(), total([os.getpid()])
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()
    viewers = [[c.moofs - m0, c.bytes - b0] for c, (m0, b0) in zip(counters, start, strict=True)]
    return _summary(
        viewers,
        n,
        elapsed,
        100 * (after.cpu_s - before.cpu_s) / elapsed,
        {
            "rss_mb": after.rss_bytes / 2**20,
            "camera_sessions": sessions,
            "camera_cpu_pct": 100 * (cam1.cpu_s - cam0.cpu_s) / elapsed,
            "clients_cpu_pct": 100 * (me1.cpu_s - me0.cpu_s) / elapsed,  # this process reads
            "machine_cpu_pct": 100 * (all1.cpu_s - all0.cpu_s) / elapsed,
            "negotiated": n,
        },
    )


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


HEADER = (
    f"{'path':6s} {'viewers':>7s}  {'side':8s} {'CPU %':>6s} {'thread':>6s} {'%/viewer':>8s} "
    f"{'keep up':>9s} {'frames min-max/expected':>23s} {'cuts':>4s} {'Mbit/s':>6s} "
    f"{'cam sess':>8s} {'cam CPU':>7s} {'clients':>7s} {'elsewhere':>9s}  ratio"
)


def _rows(kind: str, n: int, ours: dict[str, Any], base: dict[str, Any] | None) -> list[str]:
    """Two lines per measurement: ours, then the baseline; ratio = baseline CPU / ours."""

    def line(side: str, r: dict[str, Any]) -> str:
        clients, cuts = r["clients_cpu_pct"], r.get("relay_cuts")
        thread = r.get("busiest_thread_cpu_pct")
        return (
            f"{kind:6s} {n:7d}  {side:8s} {r['cpu_pct']:6.1f} {fmt(thread):>6s} "
            f"{r['cpu_pct_per_viewer']:8.2f} "
            f"{r['viewers_keeping_up']:4d}/{n:<4d} "
            f"{r['frames_min']:9d}-{r['frames_max']:<4d}/{r['frames_expected']:<8d} "
            f"{'-' if cuts is None else cuts:>4} {r['mbit_s_per_viewer']:6.2f} "
            f"{r['camera_sessions']:8d} {r['camera_cpu_pct']:6.1f}% "
            f"{clients:6.0f}% {r['elsewhere_cpu_pct']:8.0f}%"
        )

    lines = [line("ours", ours)]
    if base is None:
        return lines
    ratio = base["cpu_pct"] / ours["cpu_pct"] if ours["cpu_pct"] > 0 else float("nan")
    lines.append(line("baseline", base) + f"  {ratio:.1f}x")
    return lines


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        serve_relay(json.loads(sys.argv[2]))
        return 0
    if len(sys.argv) == 3 and sys.argv[1] == "--client":
        asyncio.run(_client(json.loads(sys.argv[2])))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stream", choices=("main", "sub"), default="main")
    parser.add_argument(
        "--viewers", type=int, nargs="*", default=[10, 50, 250], help="fMP4 viewer counts"
    )
    parser.add_argument(
        "--webrtc",
        type=int,
        nargs="*",
        default=[10, 50, 100],
        help="WebRTC viewer counts (skipped outside scripts/netns.sh)",
    )
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--client-procs", type=int, default=2)
    parser.add_argument(
        "--baseline-max", type=int, default=50,
        help="no baseline above this many viewers (its processes drown a small machine)",
    )  # fmt: skip
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "live_fanout.json"
    )
    args = parser.parse_args()
    if args.webrtc and not os.environ.get("VMS_NETNS_ADDR"):
        print("WebRTC skipped: run inside scripts/netns.sh (no loopback ICE candidates)")
        args.webrtc = []
    raise_fd_limit()
    sim = SimCameras(loop_cameras=1, port=0)
    sim.start()
    results: list[dict[str, Any]] = []
    print(f"{args.stream} stream, {args.seconds:.0f} s windows; baselines: fMP4 = one ffmpeg "
          "remux per viewer, WebRTC = one RTSP pull per viewer")  # fmt: skip
    print(HEADER, flush=True)
    try:
        for kind, counts in (("fmp4", args.viewers), ("webrtc", args.webrtc)):
            for n in counts:
                ours = measure_relay(sim, args.stream, kind, n, args.seconds,
                                     args.client_procs, per_viewer=False)  # fmt: skip
                base = None
                if n <= args.baseline_max:
                    if kind == "fmp4":
                        base = measure_ffmpeg(sim, args.stream, n, args.seconds)
                    else:
                        base = measure_relay(sim, args.stream, kind, n, args.seconds,
                                             args.client_procs, per_viewer=True)  # fmt: skip
                row: dict[str, Any] = {"kind": kind, "viewers": n, "ours": ours, "baseline": base}
                if base is not None and ours["cpu_pct"] > 0:
                    row["cpu_ratio_baseline_over_ours"] = base["cpu_pct"] / ours["cpu_pct"]
                if ours["cpu_pct"] > 0:
                    row["viewers_per_core"] = 100 * n / ours["cpu_pct"]
                results.append(row)
                print("\n".join(_rows(kind, n, ours, base)), flush=True)
    finally:
        sim.stop()
    for kind in ("fmp4", "webrtc"):
        served = [r for r in results if r["kind"] == kind and "viewers_per_core" in r]
        full = [r for r in served if r["ours"]["viewers_keeping_up"] == r["viewers"]]
        if full:
            best = max(full, key=lambda r: r["viewers"])
            print(
                f"{kind}: all of {best['viewers']} viewers kept up at "
                f"{best['ours']['cpu_pct']:.0f}% of a core for the relay: "
                f"{best['viewers_per_core']:.0f} viewers per core (linear extrapolation)"
            )
    meta = {
        "machine": {"cores": os.cpu_count()},
        "stream": args.stream,
        "seconds": args.seconds,
        "keep_up_share": KEEP_UP,
        "baselines": {
            "fmp4": "one ffmpeg -c copy -f mp4 (fragment per frame) per viewer",
            "webrtc": "the same relay with one RTSP pull per viewer",
        },
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(meta, indent=2))
    print(f"results: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
