"""Simulated RTSP cameras (GStreamer RTSP server).

Runs under the SYSTEM interpreter, which has the gi bindings (the virtual environment
does not): ``/usr/bin/python3 vms/sim/rtsp_server.py --port P --loop-cameras N
--counter-cameras K --footage-dir DIR`` (or ``-m vms.sim.rtsp_server`` with the
repository on PYTHONPATH). Imports only the stdlib, gi and vms.media (pure stdlib).

Camera i serves /cam{i}/main (1280x720 @ 25 fps) and /cam{i}/sub (640x360 @ 25 fps) on
127.0.0.1. Counter cameras come first (cam0 .. cam{K-1}), then loop cameras.

- Loop cameras replay the pre-encoded Annex-B files of vms.sim.footage without encoding:
  one Python thread walks every stream's access-unit list at 25 fps (absolute schedule,
  so no drift) and pushes each access unit to the appsrc of the mount's current media.
  The position advances whether or not anyone watches, like a camera.
- Counter cameras encode live (x264, zerolatency, a keyframe every 25 frames, no
  B-frames) a black test picture with the camera name, the running time (changes every
  frame) and the wall clock burnt in; about 16 % of a core each, main and sub (the
  encoders dominate). Every access unit carries the frame-counter SEI of vms.media.sei:
  the counter starts at 0 with the camera and counts every encoded frame, watched or
  not; the wall clock is the capture time of the frame. The same capture time, in
  milliseconds, is also burnt into the picture as the block stamp of vms.media.stamp
  (written into the raw frame just before the encoder; 1–1.5 % of a core per camera,
  mostly the gi calls of the probe), so that a browser can read it back from the
  rendered frame.

Timestamps: a frame's capture time is taken on the monotonic clock (the clock of every
GStreamer pipeline here); its PTS in a media is that time less the media's base time.
Loop frames are stamped on their nominal schedule (exactly 40 ms apart, monotonic across
loops of the file), counter frames at their capture by the test source.

Media are shared (one pipeline per mount whatever the number of clients) and live: a
joining client gets the live position. A media, once prepared, stays prepared and
PLAYING when its clients leave, so reconnecting clients join it at once (see
make_factory); frames go only to mounts that some client plays (see Outlet, Audience),
so a mount nobody watches costs next to nothing.
"""

from __future__ import annotations

import argparse
import faulthandler
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

if not __package__:  # run as a script: make vms.media importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

from vms.media.sei import build_counter_sei, insert_before_first_slice  # noqa: E402
from vms.media.stamp import Layout, draw, layout  # noqa: E402

logger = logging.getLogger("vms.sim")

FPS = 25
FRAME_NS = 1_000_000_000 // FPS
# counter cameras: stream -> (width, height, kbit/s, font size)
STREAMS = {"main": (1280, 720, 2000, 24), "sub": (640, 360, 500, 12)}
AUD = b"\x00\x00\x00\x01\x09"
# appsrc bounds its queue (1 s): a stuck media must not grow without end.
APPSRC_LAUNCH = (
    "( appsrc name=src is-live=true do-timestamp=false format=time "
    "max-buffers=25 leaky-type=downstream "
    'caps="video/x-h264,stream-format=byte-stream,alignment=au,framerate=25/1" '
    "! h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96 config-interval=-1 )"
)


class Outlet:
    """The appsrc elements of one mount's media, fed by one camera stream.

    Frames go to a media while some client plays the mount, and to a new media until
    its first PLAY: it needs them to preroll (the first keyframe gives h264parse the
    parameter sets the SDP is made of), and the frame it prerolled on waits at the
    stream's blocked pad to be the first one sent at PLAY, followed by those queued in
    the appsrc meanwhile. So a client always receives consecutive, current frames (no
    stale or repeated primer); the first client of a mount may wait up to one GOP for
    DESCRIBE, later ones join the held media at once."""

    def __init__(self, mount: str) -> None:
        self.mount = mount
        self.lock = threading.Lock()
        self.sources: list[Gst.Element] = []
        self.preparing: set[Gst.Element] = set()  # media not played yet
        self.players: set[GstRtspServer.RTSPClient] = set()

    def push(self, data: bytes, capture_ns: int) -> None:
        """Push one access unit captured at ``capture_ns`` (monotonic clock)."""
        if not self.players and not self.preparing:
            return
        with self.lock:
            targets = list(self.sources) if self.players else list(self.preparing)
        for src in targets:
            if src.current_state != Gst.State.PLAYING:  # starting, or unprepared
                continue
            buf = Gst.Buffer.new_wrapped(data)
            pts = capture_ns - src.get_base_time()
            if pts >= 0:
                buf.pts = pts
                buf.duration = FRAME_NS
            src.emit("push-buffer", buf)

    def attach(self, src: Gst.Element) -> None:
        with self.lock:
            self.sources.append(src)
            self.preparing.add(src)

    def detach(self, src: Gst.Element) -> None:
        with self.lock:
            if src in self.sources:
                self.sources.remove(src)
            self.preparing.discard(src)

    def play(self, client: GstRtspServer.RTSPClient) -> None:
        with self.lock:
            self.players.add(client)
            self.preparing.clear()

    def leave(self, client: GstRtspServer.RTSPClient) -> None:
        with self.lock:
            self.players.discard(client)
            if not self.players:
                self.preparing.clear()  # a client that never played is gone too


def make_factory(outlet: Outlet) -> GstRtspServer.RTSPMediaFactory:
    """A factory of shared media fed by ``outlet``.

    Once prepared for its first client, a media is held prepared for good (one extra
    prepare reference, taken from the main loop): it stays PLAYING and cached, so the
    next client joins it at once, at the live position. Without this, the media is
    unprepared when its last client leaves, and a client arriving during that
    teardown gets 503 (gst-rtsp-server 1.22 shares a media that is being unprepared)."""
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(APPSRC_LAUNCH)
    factory.set_shared(True)
    factory.set_suspend_mode(GstRtspServer.RTSPSuspendMode.NONE)

    def on_configure(_factory: object, media: GstRtspServer.RTSPMedia) -> None:
        src = media.get_element().get_by_name("src")
        outlet.attach(src)
        media.weak_ref(outlet.detach, src)
        held: list[bool] = []

        def hold() -> bool:
            if not held:
                held.append(media.prepare(None))
                logger.info("%s: media held prepared: %s", outlet.mount, held[0])
            return False  # GLib.SOURCE_REMOVE

        media.connect("prepared", lambda _media: GLib.idle_add(hold))
        media.connect("unprepared", lambda _media: outlet.detach(src))

    factory.connect("media-configure", on_configure)
    return factory


class Audience:
    """Which clients play which mount, from the clients' PLAY, TEARDOWN and close."""

    def __init__(self, outlets: dict[str, Outlet]) -> None:
        self.outlets = outlets

    def outlet_for(self, ctx: GstRtspServer.RTSPContext) -> Outlet | None:
        path = ctx.uri.abspath.rstrip("/") if ctx.uri is not None else ""
        while path:
            outlet = self.outlets.get(path)
            if outlet is not None:
                return outlet
            path = path.rpartition("/")[0]  # a stream's control URL: /cam0/main/stream=0
        return None

    def on_client(self, _server: object, client: GstRtspServer.RTSPClient) -> None:
        client.connect("play-request", self.on_play)
        client.connect("teardown-request", self.on_teardown)
        client.connect("closed", self.on_closed)

    def on_play(self, client: GstRtspServer.RTSPClient, ctx: GstRtspServer.RTSPContext) -> None:
        outlet = self.outlet_for(ctx)
        if outlet is None:
            logger.warning("PLAY of an unknown mount: %s", ctx.uri.abspath)
            return
        outlet.play(client)

    def on_teardown(self, client: GstRtspServer.RTSPClient, ctx: GstRtspServer.RTSPContext) -> None:
        outlet = self.outlet_for(ctx)
        if outlet is not None:
            outlet.leave(client)

    def on_closed(self, client: GstRtspServer.RTSPClient) -> None:
        for outlet in self.outlets.values():
            outlet.leave(client)


def load_access_units(path: Path) -> list[bytes]:
    """Split an Annex-B stream written with an access-unit delimiter before each frame."""
    data = path.read_bytes()
    return [AUD + part for part in data.split(AUD) if part]


class LoopStream:
    """One mount of a loop camera: the footage and where this camera is in it."""

    def __init__(self, outlet: Outlet, aus: list[bytes], offset: int) -> None:
        self.outlet = outlet
        self.aus = aus
        self.offset = offset


class LoopPlayer(threading.Thread):
    """Paces every loop camera at 25 fps from one thread, without encoding."""

    def __init__(self, streams: list[LoopStream]) -> None:
        super().__init__(daemon=True, name="loop-player")
        self.streams = streams
        self.stopping = threading.Event()

    def run(self) -> None:
        frame = 0
        start_ns = time.monotonic_ns()
        while not self.stopping.is_set():
            capture_ns = start_ns + frame * FRAME_NS
            for s in self.streams:
                s.outlet.push(s.aus[(frame + s.offset) % len(s.aus)], capture_ns)
            frame += 1
            delay_ns = start_ns + frame * FRAME_NS - time.monotonic_ns()
            if delay_ns > 0:
                self.stopping.wait(delay_ns / 1e9)
            elif delay_ns < -1_000_000_000:  # fell far behind (suspended?): skip, no burst
                start_ns = time.monotonic_ns() - frame * FRAME_NS


class Stamper:
    """Burns the capture time of each raw frame of one stream into its picture (the
    block stamp of vms.media.stamp), from probes on the encoder's sink pad, and keeps
    that time for the frame's SEI, so that picture and SEI say exactly the same.

    The raw frame is written in place: it is the only reference to its memory (the
    overlays before wrote into it the same way), though Python's own reference to the
    buffer makes it look shared, so the memory is mapped rather than the buffer. Every
    gi call costs tens of microseconds here: the segment is kept from its event rather
    than asked for at each frame, and the stamp is written in one copy."""

    def __init__(self, name: str, base_time: Callable[[], int], width: int, height: int):
        self.name = name
        self.base_time = base_time
        self.where: Layout = layout(width, height)
        self.stride = width  # I420, width a multiple of 4: no row padding
        self.frame_bytes = width * height * 3 // 2
        self.segment: Gst.Segment | None = None
        self.walls_us: dict[int, int] = {}  # running time (ns) -> capture wall clock
        self.failed = False

    def attach(self, pad: Gst.Pad) -> None:
        pad.add_probe(Gst.PadProbeType.EVENT_DOWNSTREAM, self.on_event)
        pad.add_probe(Gst.PadProbeType.BUFFER, self.on_buffer)

    def on_event(self, _pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        event = info.get_event()
        if event is not None and event.type == Gst.EventType.SEGMENT:
            self.segment = event.parse_segment()
        return Gst.PadProbeReturn.OK

    def on_buffer(self, _pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        buf = info.get_buffer()
        if buf is None or self.segment is None or buf.pts == Gst.CLOCK_TIME_NONE:
            return Gst.PadProbeReturn.OK
        running = self.segment.to_running_time(Gst.Format.TIME, buf.pts)
        if running == Gst.CLOCK_TIME_NONE:
            return Gst.PadProbeReturn.OK
        wall_us = wall_clock_us(self.base_time() + running)
        self.walls_us[running] = wall_us
        if len(self.walls_us) > 2 * FPS:  # frames the encoder dropped: forget them
            del self.walls_us[next(iter(self.walls_us))]
        if buf.n_memory() != 1:
            self._cannot_write()
            return Gst.PadProbeReturn.OK
        mem = buf.peek_memory(0)
        ok, mapped = mem.map(Gst.MapFlags.READ | Gst.MapFlags.WRITE)
        if not ok:
            self._cannot_write()
            return Gst.PadProbeReturn.OK
        try:
            if mapped.size >= self.frame_bytes:
                draw(mapped.data, self.stride, self.where, wall_us // 1000)
            else:
                self._cannot_write()
        finally:
            mem.unmap(mapped)
        return Gst.PadProbeReturn.OK

    def _cannot_write(self) -> None:
        if not self.failed:
            self.failed = True
            logger.error("%s: cannot write the stamp into the raw frames", self.name)

    def wall_us(self, running: int, capture_ns: int) -> int:
        """The wall clock stamped on the frame at ``running`` time (forgotten once read)."""
        wall_us = self.walls_us.pop(running, None)
        return wall_clock_us(capture_ns) if wall_us is None else wall_us


def wall_clock_us(capture_ns: int) -> int:
    """The wall clock (µs since the epoch) at the monotonic instant ``capture_ns``."""
    return (time.time_ns() - (time.monotonic_ns() - capture_ns)) // 1000


class CounterCamera:
    """A live-encoded camera whose frames carry the frame-counter SEI and the stamp."""

    def __init__(self, name: str, outlets: dict[str, Outlet]) -> None:
        self.name = name
        self.outlets = outlets
        self.counters = {"main": 0, "sub": 0}
        enc = (
            "x264enc name=enc_{stream} tune=zerolatency speed-preset=ultrafast "
            "key-int-max=25 bframes=0 threads=1 bitrate={kbps} ! "
            "video/x-h264,stream-format=byte-stream,alignment=au,profile=main"
        )
        # One source per stream (scaling 720p to 360p would cost more than drawing twice);
        # both are live on the same clock, so frame n of each is captured at the same time.
        branches = []
        for stream, (width, height, kbps, font) in STREAMS.items():
            branches.append(
                f"videotestsrc is-live=true pattern=black ! "
                f"video/x-raw,format=I420,width={width},height={height},framerate={FPS}/1 ! "
                f'textoverlay text="{name} {stream}" valignment=top halignment=left '
                f'font-desc="Sans {font}" ! '
                f"timeoverlay valignment=center halignment=center "
                f'font-desc="Sans {font}" ! '
                f"clockoverlay valignment=bottom halignment=right "
                f'time-format="%Y-%m-%d %H:%M:%S" font-desc="Sans {font}" ! '
                f"{enc.format(stream=stream, kbps=kbps)} ! "
                f"appsink name={stream} emit-signals=true sync=false"
            )
        self.pipeline = Gst.parse_launch("  ".join(branches))
        self.stampers: dict[str, Stamper] = {}
        for stream, (width, height, _, _) in STREAMS.items():
            stamper = Stamper(f"{name}/{stream}", self.pipeline.get_base_time, width, height)
            self.stampers[stream] = stamper
            stamper.attach(self.pipeline.get_by_name(f"enc_{stream}").get_static_pad("sink"))
            self.pipeline.get_by_name(stream).connect("new-sample", self._on_sample, stream)

    def _capture(self, sample: Gst.Sample) -> tuple[int | None, int]:
        """Running time and monotonic clock time of the capture of a sample's frame (the
        encoder shifts its output segment, so go through the running time)."""
        pts = sample.get_buffer().pts
        running = sample.get_segment().to_running_time(Gst.Format.TIME, pts)
        if pts == Gst.CLOCK_TIME_NONE or running == Gst.CLOCK_TIME_NONE:
            return None, time.monotonic_ns()
        return running, int(self.pipeline.get_base_time() + running)

    def _on_sample(self, sink: Gst.Element, stream: str) -> Gst.FlowReturn:
        sample = sink.emit("pull-sample")
        if sample is None:
            return Gst.FlowReturn.EOS
        buf = sample.get_buffer()
        ok, info = buf.map(Gst.MapFlags.READ)
        if not ok:
            return Gst.FlowReturn.ERROR
        try:
            data = bytes(info.data)
        finally:
            buf.unmap(info)
        counter = self.counters[stream]
        self.counters[stream] = counter + 1
        outlet = self.outlets[stream]
        running, capture_ns = self._capture(sample)
        if running is None:
            wall_us = wall_clock_us(capture_ns)
        else:
            wall_us = self.stampers[stream].wall_us(running, capture_ns)
        sei = build_counter_sei(counter, wall_us)
        outlet.push(insert_before_first_slice(data, sei), capture_ns)
        return Gst.FlowReturn.OK

    def start(self) -> bool:
        bus = self.pipeline.get_bus()
        bus.add_signal_watch()
        bus.connect("message::error", self._on_error)
        return bool(self.pipeline.set_state(Gst.State.PLAYING) != Gst.StateChangeReturn.FAILURE)

    def _on_error(self, _bus: Gst.Bus, message: Gst.Message) -> None:
        err, debug = message.parse_error()
        logger.error("%s: encoder failed: %s (%s)", self.name, err.message, debug)

    def stop(self) -> None:
        self.pipeline.set_state(Gst.State.NULL)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Simulated RTSP cameras")
    p.add_argument("--port", type=int, default=8554)
    p.add_argument("--loop-cameras", type=int, default=4)
    p.add_argument("--counter-cameras", type=int, default=0)
    p.add_argument("--footage-dir", type=Path, required=True)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s sim: %(message)s")
    faulthandler.register(signal.SIGUSR1)  # kill -USR1 <pid>: Python stacks on stderr
    Gst.init(None)
    if Gst.SystemClock.obtain().props.clock_type != Gst.ClockType.MONOTONIC:
        print("ERROR the GStreamer system clock is not monotonic", flush=True)
        return 1

    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    mounts = server.get_mount_points()

    counters: list[CounterCamera] = []
    for i in range(args.counter_cameras):
        outlets = {s: Outlet(f"/cam{i}/{s}") for s in ("main", "sub")}
        for outlet in outlets.values():
            mounts.add_factory(outlet.mount, make_factory(outlet))
        counters.append(CounterCamera(f"cam{i}", outlets))

    streams: list[LoopStream] = []
    if args.loop_cameras:
        footage = {s: load_access_units(args.footage_dir / f"loop-{s}.h264") for s in STREAMS}
        for j in range(args.loop_cameras):
            i = args.counter_cameras + j
            for s, aus in footage.items():
                outlet = Outlet(f"/cam{i}/{s}")
                mounts.add_factory(outlet.mount, make_factory(outlet))
                # each camera shows a different moment of the footage
                streams.append(LoopStream(outlet, aus, (j * 7 * FPS) % len(aus)))

    # Clients are served by a pool of threads, each running the connections given to it;
    # the first DESCRIBE of a mount blocks its thread up to a GOP (until the keyframe the
    # media prerolls on), so give each client its own thread rather than let them queue
    # (the default pool has one).
    by_mount = {o.mount: o for cam in counters for o in cam.outlets.values()}
    by_mount.update({st.outlet.mount: st.outlet for st in streams})
    server.get_thread_pool().set_max_threads(8 + 2 * len(by_mount))
    server.connect("client-connected", Audience(by_mount).on_client)
    if server.attach(None) == 0:
        print(f"ERROR cannot listen on 127.0.0.1:{args.port}", flush=True)
        return 1
    for cam in counters:
        if not cam.start():
            print(f"ERROR cannot start the encoder of {cam.name}", flush=True)
            return 1
    player = LoopPlayer(streams)
    player.start()

    loop = GLib.MainLoop()

    def shutdown(*_: object) -> bool:
        loop.quit()
        return False  # GLib.SOURCE_REMOVE

    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, shutdown)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, shutdown)
    print("READY", flush=True)
    loop.run()
    player.stopping.set()
    player.join(2)
    for cam in counters:
        cam.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
