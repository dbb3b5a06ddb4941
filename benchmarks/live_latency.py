"""Glass-to-glass latency of live video: a simulated counter camera burns the wall-clock
time of each frame's capture into the picture (vms.media.stamp); headless Chromium
plays the camera through the relay of an ingest worker, reads the stamp back from each
rendered frame (requestVideoFrameCallback, the frame drawn to a canvas) and records
``Date.now()`` minus the stamp (one machine, one clock). Two paths, with the operator
console's own player (vms/web/static/player.js):

- WebRTC: WHEP offer → relay → aiortc, H.264 passed through;
- fMP4 over a WebSocket into Media Source Extensions (the fallback).

Baseline, in the same run: the same camera decoded straight from RTSP by PyAV (FFmpeg,
low-delay decoder, no relay, no browser), the stamp read from the decoded picture, so
the table shows what the relay and the browser add. The browser reaches the relay
through this script's own small web server, which adds the relay's secret and watcher
headers as the operator service does (the page never sees the secret).

    bash scripts/netns.sh .venv/bin/python benchmarks/live_latency.py --seconds 20

Prints p50/p95/p99/max per path and their ratio to the baseline, writes
benchmarks/results/live_latency.json. Correctness in the timed window: every frame's
stamp must decode (start bits and CRC), and the baseline checks that the stamp of each
decoded picture equals the capture time of the frame-counter SEI of its access unit.
The first ``--warmup`` seconds of each path are discarded; "busy" is the whole machine's
CPU meanwhile (% of one core), since other work on a shared machine delays frames too.
WebRTC needs the private network namespace of scripts/netns.sh; without it only the
fMP4 path and the baseline run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import av
import av.codec.context
from aiohttp import web

from benchmarks.live_fanout import RelayProcess
from benchmarks.procstat import Usage, machine
from vms.media import stamp
from vms.media.sei import parse_counter_sei
from vms.sim.launcher import SimCameras, free_port
from vms.web.api.live import pipe

ROOT = Path(__file__).resolve().parent.parent
PLAYER_JS = ROOT / "vms" / "web" / "static" / "player.js"
GOAL_P95_MS = 300.0
START_TIMEOUT_S = 30.0
# as tests/e2e: headless, no sandbox (root in a container), host ICE candidates shown
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-features=WebRtcHideLocalIpsWithMdns", "--autoplay-policy=no-user-gesture-required",
]  # fmt: skip

PAGE = """<!doctype html>
<html lang="fr"><meta charset="utf-8"><title>latence</title>
<video id="v" muted playsinline></video>
<script type="application/json" id="cfg">%CONFIG%</script>
<script type="module">
import { openLive } from "/player.js";
const cfg = JSON.parse(document.getElementById("cfg").textContent);
const [rx, ry, rw, rh] = cfg.rect;
const video = document.getElementById("v");
const canvas = document.createElement("canvas");
canvas.width = rw; canvas.height = rh;
const ctx = canvas.getContext("2d", { willReadFrequently: true });
window.bench = { samples: [], states: [], estimates: [], sizes: 0 };
function onFrame(_now, meta) {
  const wall = Date.now();
  if (video.videoWidth === cfg.width && video.videoHeight === cfg.height) {
    ctx.drawImage(video, rx, ry, rw, rh, 0, 0, rw, rh);
    const px = ctx.getImageData(0, 0, rw, rh).data;
    const levels = cfg.points.map(([x, y]) => {
      const i = 4 * (y * rw + x);
      return Math.round((px[i] + px[i + 1] + px[i + 2]) / 3);
    });
    const received = meta.receiveTime === undefined ? null
      : Math.round(performance.timeOrigin + meta.receiveTime);
    bench.samples.push([wall, levels, meta.presentedFrames, received]);
  } else {
    bench.sizes += 1;
  }
  video.requestVideoFrameCallback(onFrame);
}
video.requestVideoFrameCallback(onFrame);
openLive(video, {
  whep: "/whep", fmp4: "/fmp4", fmp4Only: cfg.fmp4Only,
  onState: (state, message) => bench.states.push([state, message, video.dataset.transport]),
  onLatency: (ms) => bench.estimates.push([Date.now(), ms]),
});
</script>
</html>
"""


def stats(latencies_ms: list[float]) -> dict[str, float | None]:
    if not latencies_ms:
        return {"p50": None, "p95": None, "p99": None, "max": None, "mean": None}
    ordered = sorted(latencies_ms)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    return {
        "p50": pct(50),
        "p95": pct(95),
        "p99": pct(99),
        "max": ordered[-1],
        "mean": sum(ordered) / len(ordered),
    }


def busy_pct(before: Usage, seconds: float) -> float:
    """The machine's busy time since ``before`` (% of one core, all cores summed)."""
    return 100 * (machine().cpu_s - before.cpu_s) / seconds


def stamp_gaps(stamps_ms: list[int]) -> int:
    """Frames missing between consecutive stamps (a 25 fps camera stamps every 40 ms)."""
    missing = 0
    for a, b in itertools.pairwise(stamps_ms):
        missing += max(0, round((b - a) / 40) - 1)
    return missing


# -- baseline: straight from RTSP -------------------------------------------------------


def measure_direct(url: str, warmup_s: float, seconds: float) -> dict[str, Any]:
    """Decode the camera with PyAV (low-delay decoder, one thread) and read the stamp
    of each picture as soon as it is decoded."""
    busy0: Usage | None = None
    options = {"rtsp_transport": "tcp", "fflags": "nobuffer",
               "analyzeduration": "200000", "probesize": "200000"}  # fmt: skip
    container = av.open(url, options=options, timeout=(10.0, 10.0))
    latencies: list[float] = []
    stamps: list[int] = []
    unreadable = mismatched = 0
    try:
        video = container.streams.video[0]
        ctx = video.codec_context
        ctx.thread_count = 1
        ctx.flags |= av.codec.context.Flags.low_delay
        start = time.monotonic() + warmup_s
        for packet in container.demux(video):
            now = time.monotonic()
            if now > start + seconds:
                break
            if now >= start and busy0 is None:
                busy0 = machine()
            sei = parse_counter_sei(bytes(packet))
            for frame in packet.decode():
                wall_ms = time.time_ns() // 1_000_000
                if now < start:
                    continue
                plane = frame.planes[0]
                where = stamp.layout(frame.width, frame.height)
                value = stamp.read(memoryview(plane), plane.line_size, where)
                if value is None:
                    unreadable += 1
                    continue
                if sei is None or value != (sei[1] // 1000) % stamp.MODULUS_MS:
                    mismatched += 1
                captured = stamp.unwrap(value, wall_ms)
                stamps.append(captured)
                latencies.append(wall_ms - captured)
    finally:
        container.close()
    return {
        "machine_cpu_pct": busy_pct(busy0, seconds) if busy0 is not None else None,
        "path": "direct",
        "label": "RTSP → PyAV decode (no relay)",
        "frames": len(latencies),
        "unreadable": unreadable,
        "stamp_differs_from_sei": mismatched,
        "frames_skipped": stamp_gaps(stamps),
        "latency_ms": stats(latencies),
    }


# -- the browser's side: a page, the player, and a proxy to the relay ------------------


class Proxy:
    """The page, the console's player, and the two live endpoints it calls, forwarded
    to the relay with the relay's secret and a watcher, as the operator service does."""

    def __init__(self, relay: RelayProcess, stream: str, width: int, height: int):
        self.relay = relay
        self.stream = stream
        self.width, self.height = width, height
        self.port = free_port()
        self.http: aiohttp.ClientSession | None = None
        self.runner: web.AppRunner | None = None

    @property
    def relay_path(self) -> str:
        return f"{self.relay.base}/relay/v1/streams/cam0/{self.stream}"

    async def start(self) -> None:
        self.http = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_get("/", self.page)
        app.router.add_get("/player.js", self.player)
        app.router.add_post("/whep", self.whep)
        app.router.add_delete("/whep/{session}", self.whep_end)
        app.router.add_get("/fmp4", self.fmp4)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
        if self.http is not None:
            await self.http.close()

    async def page(self, request: web.Request) -> web.StreamResponse:
        where = stamp.layout(self.width, self.height)
        config = {
            "width": self.width,
            "height": self.height,
            "rect": [where.x0, where.y0, where.width_px, where.height_px],
            "points": [[x - where.x0, y - where.y0] for x, y in where.centres()],
            "fmp4Only": request.query.get("transport") == "fmp4",
        }
        return web.Response(
            text=PAGE.replace("%CONFIG%", json.dumps(config)), content_type="text/html"
        )

    async def player(self, _request: web.Request) -> web.StreamResponse:
        return web.FileResponse(PLAYER_JS, headers={"Content-Type": "text/javascript"})

    async def whep(self, request: web.Request) -> web.StreamResponse:
        assert self.http is not None
        headers = self.relay.headers() | {"Content-Type": "application/sdp"}
        offer = await request.read()
        async with self.http.post(f"{self.relay_path}/webrtc", data=offer, headers=headers) as r:
            data = await r.json(content_type=None)
            if r.status != 201:
                return web.json_response(data, status=r.status)
        return web.Response(
            status=201,
            body=str(data["answer"]).encode(),
            content_type="application/sdp",
            headers={"Location": f"/whep/{data['session']}"},
        )

    async def whep_end(self, request: web.Request) -> web.StreamResponse:
        assert self.http is not None
        url = f"{self.relay.base}/relay/v1/sessions/{request.match_info['session']}"
        async with self.http.delete(url, headers=self.relay.headers()) as r:
            return web.Response(status=r.status)

    async def fmp4(self, request: web.Request) -> web.StreamResponse:
        assert self.http is not None
        upstream = await self.http.ws_connect(
            f"{self.relay_path}/fmp4", headers=self.relay.headers(), max_msg_size=0
        )
        ws = web.WebSocketResponse()
        await ws.prepare(request)

        try:
            await pipe(upstream, ws)  # the operator service's own relaying
        except ConnectionError:
            pass
        finally:
            await upstream.close()
            with contextlib.suppress(ConnectionError):
                await ws.close()
        return ws


async def measure_browser(
    proxy: Proxy, chromium: str, transport: str, warmup_s: float, seconds: float
) -> dict[str, Any]:
    """Play the camera in Chromium through ``transport`` (webrtc or fmp4)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=chromium, args=CHROMIUM_FLAGS, headless=True
        )
        try:
            page = await browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(f"http://127.0.0.1:{proxy.port}/?transport={transport}")
            deadline = time.monotonic() + START_TIMEOUT_S
            while not await page.evaluate("bench.samples.length"):
                if time.monotonic() > deadline:
                    states = await page.evaluate("bench.states")
                    raise RuntimeError(f"no frame rendered over {transport}: {states} {errors}")
                await asyncio.sleep(0.2)
            await asyncio.sleep(warmup_s)
            start_ms, busy0 = time.time_ns() // 1_000_000, machine()
            await asyncio.sleep(seconds)
            end_ms, busy = time.time_ns() // 1_000_000, busy_pct(busy0, seconds)
            samples = await page.evaluate("bench.samples")
            states = await page.evaluate("bench.states")
            used = await page.evaluate("document.getElementById('v').dataset.transport")
            estimates = await page.evaluate("bench.estimates")
            quality = await page.evaluate(
                "(() => { const q = document.getElementById('v').getVideoPlaybackQuality();"
                " return {total: q.totalVideoFrames, dropped: q.droppedVideoFrames}; })()"
            )
        finally:
            await browser.close()
    latencies: list[float] = []
    network: list[float] = []
    stamps: list[int] = []
    unreadable = 0
    for wall, levels, _presented, received in samples:
        if not start_ms <= wall < end_ms:
            continue
        value = stamp.decode_levels(levels)
        if value is None:
            unreadable += 1
            continue
        captured = stamp.unwrap(value, wall)
        stamps.append(captured)
        latencies.append(wall - captured)
        if received is not None:
            network.append(received - captured)
    if used != transport:
        raise RuntimeError(f"the player used {used!r}, not {transport}: {states}")
    return {
        "machine_cpu_pct": busy,
        "path": transport,
        "label": {"webrtc": "relay → WebRTC → Chromium", "fmp4": "relay → fMP4/MSE → Chromium"}[
            transport
        ],
        "frames": len(latencies),
        "unreadable": unreadable,
        "frames_skipped": stamp_gaps(stamps),
        "latency_ms": stats(latencies),
        # WebRTC only: capture to the arrival of the frame's last packet in the browser
        "capture_to_receive_ms": stats(network) if network else None,
        "playback_quality": quality,
        # what the console's player shows as latency (its own estimate, about every second)
        "player_estimate_ms": stats([ms for t, ms in estimates if start_ms <= t < end_ms]),
        "page_errors": errors,
    }


# -- the run --------------------------------------------------------------------------


def stream_size(url: str) -> tuple[int, int]:
    container = av.open(url, options={"rtsp_transport": "tcp"}, timeout=(10.0, 10.0))
    try:
        ctx = container.streams.video[0].codec_context
        return int(ctx.width), int(ctx.height)
    finally:
        container.close()


async def run_browser_paths(
    relay: RelayProcess, stream: str, size: tuple[int, int], args: argparse.Namespace
) -> list[dict[str, Any]]:
    proxy = Proxy(relay, stream, *size)
    await proxy.start()
    rows = []
    try:
        for transport in args.paths:
            rows.append(
                await measure_browser(proxy, args.chromium, transport, args.warmup, args.seconds)
            )
    finally:
        await proxy.stop()
    return rows


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def print_table(rows: list[dict[str, Any]]) -> None:
    base = next((r for r in rows if r["path"] == "direct"), None)
    head = f"{'path':34s} {'frames':>6s} {'bad':>4s} {'skip':>4s} " + "".join(
        f"{k:>7s}" for k in ("p50", "p95", "p99", "max")
    )
    print(head + "  busy   p50/p95 vs direct   added p50/p95 (ms)")
    for r in rows:
        lat = r["latency_ms"]
        line = (
            f"{r['label']:34s} {r['frames']:6d} {r['unreadable']:4d} {r['frames_skipped']:4d} "
            + "".join(f"{fmt(lat[k]):>7s}" for k in ("p50", "p95", "p99", "max"))
            + f" {fmt(r['machine_cpu_pct']):>4s}%"
        )
        if base is not None and r is not base and lat["p50"] is not None:
            b = base["latency_ms"]
            line += (
                f"   {lat['p50'] / b['p50']:.1f}x / {lat['p95'] / b['p95']:.1f}x"
                f"         +{lat['p50'] - b['p50']:.0f} / +{lat['p95'] - b['p95']:.0f}"
            )
        print(line)
    for r in rows:
        if r.get("capture_to_receive_ms"):
            print(
                f"{r['path']}: capture to the last packet in the browser p50 "
                f"{fmt(r['capture_to_receive_ms']['p50'])} ms (the rest: jitter buffer, "
                "decoding, rendering)"
            )
        if r.get("player_estimate_ms"):
            print(
                f"{r['path']}: the player's own latency estimate p50 "
                f"{fmt(r['player_estimate_ms']['p50'])} ms (measured: "
                f"{fmt(r['latency_ms']['p50'])} ms)"
            )
    for r in rows:
        if r["path"] != "direct" and r["latency_ms"]["p95"] is not None:
            met = "met" if r["latency_ms"]["p95"] <= GOAL_P95_MS else "NOT met"
            print(f"goal p95 <= {GOAL_P95_MS:.0f} ms over {r['path']}: {met}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measured per path")
    parser.add_argument("--warmup", type=float, default=2.0, help="discarded per path")
    parser.add_argument("--stream", choices=("main", "sub"), default="sub")
    parser.add_argument(
        "--paths", nargs="+", choices=("webrtc", "fmp4"), default=["webrtc", "fmp4"]
    )
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "live_latency.json"
    )
    args = parser.parse_args()
    if "webrtc" in args.paths and not os.environ.get("VMS_NETNS_ADDR"):
        print("WebRTC skipped: run inside scripts/netns.sh (no loopback ICE candidates)")
        args.paths = [p for p in args.paths if p != "webrtc"]
    sim = SimCameras(loop_cameras=0, counter_cameras=1, port=0)
    sim.start()
    rows: list[dict[str, Any]] = []
    try:
        url = sim.url(0, args.stream)
        size = stream_size(url)
        rows.append(measure_direct(url, args.warmup, args.seconds))
        with RelayProcess(url, args.stream) as relay:
            rows += asyncio.run(run_browser_paths(relay, args.stream, size, args))
    finally:
        sim.stop()
    print(f"{args.stream} stream {size[0]}x{size[1]}, {args.seconds:.0f} s per path")
    print_table(rows)
    meta = {
        "machine": {"cores": os.cpu_count()},
        "stream": args.stream,
        "size": list(size),
        "seconds": args.seconds,
        "warmup_s": args.warmup,
        "goal_p95_ms": GOAL_P95_MS,
        "results": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(meta, indent=2))
    print(f"results: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
