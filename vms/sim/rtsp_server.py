"""Simulated RTSP cameras (GStreamer RTSP server). Run with the SYSTEM interpreter,
which has the gi bindings: ``/usr/bin/python3 -m vms.sim.rtsp_server ...`` with the
repository on PYTHONPATH. Imports only the stdlib, gi and vms.media.sei (pure).

Camera i serves /cam{i}/main (1280x720 @ 25 fps) and /cam{i}/sub (640x360 @ 25 fps).
- "counter" cameras (cam0 .. cam{K-1}) encode live (x264, a keyframe per second) with
  their name and the clock burnt in, and carry a frame-counter SEI in every frame
  (vms.media.sei). The counter advances whether or not anyone watches, like a camera.
- "loop" cameras replay pre-encoded files frame by frame, paced at 25 fps, with no
  encoding at run time (see vms.sim.footage).
Media are shared and live: every client of a mount sees the same stream.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from pathlib import Path

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

from vms.media.sei import build_counter_sei, insert_before_first_slice  # noqa: E402

logger = logging.getLogger("vms.sim")
FPS = 25
FRAME_NS = 1_000_000_000 // FPS
AUD = b"\x00\x00\x00\x01\x09"
APPSRC_LAUNCH = (
    "( appsrc name=src is-live=true do-timestamp=true format=time "
    'caps="video/x-h264,stream-format=byte-stream,alignment=au,framerate=25/1" '
    "! h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96 )"
)


def is_keyframe(au: bytes) -> bool:
    i = au.find(b"\x00\x00\x01")
    while 0 <= i < len(au) - 3:
        if au[i + 3] & 0x1F == 5:
            return True
        i = au.find(b"\x00\x00\x01", i + 3)
    return False


class Outlet:
    """The appsrc elements currently fed for one mount (one per prepared media).

    A new media is primed with the last keyframe (without its counter SEI), so the
    server can answer DESCRIBE at once, like a camera, instead of waiting for the next
    keyframe to learn the parameter sets. Data pushed before PLAY reaches no client."""

    def __init__(self) -> None:
        self.sources: list[Gst.Element] = []
        self.lock = threading.Lock()
        self.last_keyframe: bytes | None = None

    def push(self, data: bytes, clean: bytes | None = None) -> None:
        if is_keyframe(data):
            self.last_keyframe = clean if clean is not None else data
        with self.lock:
            sources = list(self.sources)
        for src in sources:
            src.emit("push-buffer", Gst.Buffer.new_wrapped(data))

    def attach(self, src: Gst.Element) -> None:
        with self.lock:
            self.sources.append(src)
        if self.last_keyframe is not None:
            src.emit("push-buffer", Gst.Buffer.new_wrapped(self.last_keyframe))


def make_factory(outlet: Outlet) -> GstRtspServer.RTSPMediaFactory:
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(APPSRC_LAUNCH)
    factory.set_shared(True)
    factory.set_suspend_mode(GstRtspServer.RTSPSuspendMode.NONE)

    def on_configure(_factory: object, media: GstRtspServer.RTSPMedia) -> None:
        src = media.get_element().get_by_name("src")
        outlet.attach(src)

        def on_unprepared(_media: object) -> None:
            with outlet.lock:
                if src in outlet.sources:
                    outlet.sources.remove(src)

        media.connect("unprepared", on_unprepared)

    factory.connect("media-configure", on_configure)
    return factory


def load_access_units(path: Path) -> list[bytes]:
    data = path.read_bytes()
    return [AUD + part for part in data.split(AUD) if part]


class LoopPlayer(threading.Thread):
    """Paces every loop camera at 25 fps from one thread, without encoding."""

    def __init__(self, streams: list[tuple[Outlet, list[bytes], int]]) -> None:
        super().__init__(daemon=True, name="loop-player")
        self.streams = streams
        self.stop = threading.Event()

    def run(self) -> None:
        frame = 0
        next_t = time.monotonic()
        while not self.stop.is_set():
            for outlet, aus, offset in self.streams:
                if outlet.sources:
                    outlet.push(aus[(frame + offset) % len(aus)])
            frame += 1
            next_t += 1 / FPS
            delay = next_t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -1:
                next_t = time.monotonic()  # fell far behind: do not burst


class CounterCamera:
    """A live-encoded camera whose frames carry a counter SEI."""

    def __init__(self, name: str, outlets: dict[str, Outlet]) -> None:
        self.name = name
        self.outlets = outlets
        self.counter = 0
        self.lock = threading.Lock()
        enc = (
            "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=25 bframes=0 threads=1 "
            "bitrate={kbps} ! video/x-h264,stream-format=byte-stream,alignment=au,profile=main"
        )
        self.pipeline = Gst.parse_launch(
            f"videotestsrc is-live=true pattern=ball ! "
            f"video/x-raw,width=1280,height=720,framerate={FPS}/1 ! "
            f'textoverlay text="{name}" valignment=top halignment=left font-desc="Sans 24" ! '
            f'clockoverlay valignment=bottom halignment=right time-format="%Y-%m-%d %H:%M:%S" '
            f"! tee name=t "
            f"t. ! queue leaky=downstream max-size-buffers=2 ! {enc.format(kbps=2000)} "
            f"! appsink name=main emit-signals=true sync=false max-buffers=5 drop=true "
            f"t. ! queue leaky=downstream max-size-buffers=2 ! videoscale ! "
            f"video/x-raw,width=640,height=360 ! {enc.format(kbps=500)} "
            f"! appsink name=sub emit-signals=true sync=false max-buffers=5 drop=true"
        )
        # The counter is taken on the main stream; the sub stream carries the same
        # counter for the frame of the same capture time (best effort).
        self.pipeline.get_by_name("main").connect("new-sample", self._on_sample, "main")
        self.pipeline.get_by_name("sub").connect("new-sample", self._on_sample, "sub")
        self.sub_counter = 0

    def _on_sample(self, sink: Gst.Element, stream: str) -> Gst.FlowReturn:
        sample = sink.emit("pull-sample")
        buf = sample.get_buffer()
        ok, info = buf.map(Gst.MapFlags.READ)
        if not ok:
            return Gst.FlowReturn.ERROR
        try:
            data = bytes(info.data)
        finally:
            buf.unmap(info)
        wall_us = time.time_ns() // 1000
        if stream == "main":
            with self.lock:
                counter = self.counter
                self.counter += 1
        else:
            counter = self.sub_counter
            self.sub_counter += 1
        self.outlets[stream].push(
            insert_before_first_slice(data, build_counter_sei(counter, wall_us)), clean=data
        )
        return Gst.FlowReturn.OK

    def start(self) -> None:
        self.pipeline.set_state(Gst.State.PLAYING)

    def stop(self) -> None:
        self.pipeline.set_state(Gst.State.NULL)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Simulated RTSP cameras")
    p.add_argument("--port", type=int, default=8554)
    p.add_argument("--loop-cameras", type=int, default=4)
    p.add_argument("--counter-cameras", type=int, default=0)
    p.add_argument("--footage-dir", type=Path, required=True)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s sim: %(message)s")
    Gst.init(None)

    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    mounts = server.get_mount_points()

    counters: list[CounterCamera] = []
    for i in range(args.counter_cameras):
        outlets = {"main": Outlet(), "sub": Outlet()}
        for stream, outlet in outlets.items():
            mounts.add_factory(f"/cam{i}/{stream}", make_factory(outlet))
        counters.append(CounterCamera(f"cam{i}", outlets))

    loops: list[tuple[Outlet, list[bytes], int]] = []
    if args.loop_cameras:
        footage = {
            s: load_access_units(args.footage_dir / f"loop-{s}.h264") for s in ("main", "sub")
        }
        for j in range(args.loop_cameras):
            i = args.counter_cameras + j
            for stream, aus in footage.items():
                outlet = Outlet()
                mounts.add_factory(f"/cam{i}/{stream}", make_factory(outlet))
                # each camera starts on a different second of the footage
                loops.append((outlet, aus, (j * 7 * FPS) % len(aus)))

    if server.attach(None) == 0:
        print("ERROR cannot listen", flush=True)
        return 1
    for cam in counters:
        cam.start()
    player = LoopPlayer(loops)
    player.start()

    loop = GLib.MainLoop()

    def shutdown(*_: object) -> bool:
        loop.quit()
        return False

    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, shutdown)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, shutdown)
    print("READY", flush=True)
    loop.run()
    player.stop.set()
    for cam in counters:
        cam.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
