"""A simulated ONVIF device (Profile S camera, PTZ optional) for the tests and the demo.

One ``OnvifSimulator`` is one camera: SOAP 1.2 over HTTP at the standard paths
(``/onvif/device_service``, ``/onvif/media_service``, ``/onvif/ptz_service``), H.264
media profiles "main" (1280x720) and "sub" (640x360) whose stream URIs are the RTSP URLs
given to the constructor (``SimCameras.urls(i)``), a snapshot served as a real JPEG, and
a PTZ node whose position integrates the continuous-move velocity over time.

Requests must carry a WS-Security UsernameToken (PasswordDigest or PasswordText), except
the operations ONVIF serves before authentication (GetSystemDateAndTime, GetServices,
...). A digest's ``Created`` must lie within ``max_skew_s`` of the device clock, which
runs ``clock_offset_s`` ahead of the host clock (a drifting camera).

Faults are set at runtime (``sim.fault = "slow"``, limited to some operations with
``sim.fault_operations``): ``slow`` answers after ``slow_s`` (or when the simulator
stops), ``soap_fault`` answers an env:Receiver fault with ``fault_reason``,
``malformed`` a truncated XML body with HTTP 200, ``http_error`` an HTTP 500 HTML page.
Every well-formed request's (service, operation) is appended to ``sim.operations``.

Requests are parsed with the standard library's expat parser after refusing any DTD:
without a DTD no entity can be declared, so nothing expands and nothing is fetched.
Responses are filled-in XML templates, values escaped.

``python -m vms.sim.onvif`` serves one device per camera on consecutive ports.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import enum
import fractions
import functools
import hashlib
import hmac
import logging
import math
import re
import signal
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType

from aiohttp import web

from vms.sim import onvif_xml as X
from vms.sim.onvif_xml import Position, Xml, fill

logger = logging.getLogger(__name__)

NS = {
    "env": "http://www.w3.org/2003/05/soap-envelope",
    "tt": "http://www.onvif.org/ver10/schema",
    "tds": "http://www.onvif.org/ver10/device/wsdl",
    "trt": "http://www.onvif.org/ver10/media/wsdl",
    "tptz": "http://www.onvif.org/ver20/ptz/wsdl",
    "ter": "http://www.onvif.org/ver10/error",
    "wsse": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
    "wsu": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd",
}
SERVICES = {"device": "tds", "media": "trt", "ptz": "tptz"}
# ONVIF Core, access policy: what a device serves before authentication
PRE_AUTH = frozenset(
    {"GetSystemDateAndTime", "GetServices", "GetServiceCapabilities", "GetWsdlUrl"}
)
RESOLUTIONS = {"main": (1280, 720), "sub": (640, 360)}
PROFILE_TOKENS = {"main": "profile_main", "sub": "profile_sub"}
MAX_PRESETS = 32
MAX_BODY_BYTES = 256 * 1024
DEFAULT_PTZ_TIMEOUT_S = 10.0
_DURATION = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d*)?)S)?)?")
_DTD = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)


class Fault(enum.Enum):
    NONE = "none"
    SLOW = "slow"
    SOAP_FAULT = "soap_fault"
    MALFORMED = "malformed"
    HTTP_ERROR = "http_error"


class XmlRefused(ValueError):
    """The payload is not XML we accept (ill-formed, or carries a DTD)."""


def parse_xml(payload: bytes) -> ET.Element:
    """Parse untrusted XML: a document type declaration is refused outright (no entity
    can be declared, so none expands; expat fetches nothing)."""
    if _DTD.search(payload):
        raise XmlRefused("DTD refused")
    try:
        return ET.fromstring(payload)
    except ET.ParseError as err:
        raise XmlRefused(str(err)) from err


def parse_duration_s(text: str) -> float:
    """xs:duration limited to days, hours, minutes and seconds ("PT1.5S")."""
    m = _DURATION.fullmatch(text.strip())
    if m is None or text.strip() in ("P", "PT"):
        raise ValueError(f"unsupported duration {text!r}")
    d, h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    return ((d * 24 + h) * 60 + mi) * 60 + s


@functools.cache
def snapshot_jpeg(width: int = 64, height: int = 36) -> bytes:
    """A small real JPEG (a grey gradient), encoded once with PyAV's MJPEG encoder."""
    import av  # here: only the snapshot needs it

    ctx = av.CodecContext.create("mjpeg", "w")
    ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuvj420p"
    ctx.time_base = fractions.Fraction(1, 25)
    frame = av.VideoFrame(width, height, "yuvj420p")
    luma = frame.planes[0]
    rows = (bytes((x * 3 + y * 5) % 256 for x in range(luma.line_size)) for y in range(height))
    luma.update(b"".join(rows))
    for plane in frame.planes[1:]:
        plane.update(bytes([128]) * plane.buffer_size)
    return b"".join(bytes(p) for p in [*ctx.encode(frame), *ctx.encode(None)])


# -- PTZ mechanics (pure) -------------------------------------------------------------


class PtzState:
    """Pan and tilt in [-1, 1], zoom in [0, 1] (the ONVIF generic position spaces).

    A continuous move integrates its velocity (``speed_per_s`` at full velocity) until
    Stop, its timeout or the limits; presets and the home position are reached at once.
    The clock is injected. Not thread-safe (the simulator holds a lock)."""

    LIMITS = ((-1.0, 1.0), (-1.0, 1.0), (0.0, 1.0))

    def __init__(self, clock: Callable[[], float] = time.monotonic, speed_per_s: float = 0.5):
        self._clock = clock
        self.speed_per_s = speed_per_s
        self._origin: Position = (0.0, 0.0, 0.0)
        self._velocity: Position = (0.0, 0.0, 0.0)
        self._since = self._until = clock()
        self.home: Position = (0.0, 0.0, 0.0)
        self.presets: dict[str, tuple[str, Position]] = {}  # token -> (name, position)
        self._next_token = 1

    def position(self) -> Position:
        elapsed = max(0.0, min(self._clock(), self._until) - self._since)
        p, t, z = (
            min(hi, max(lo, o + v * elapsed * self.speed_per_s))
            for o, v, (lo, hi) in zip(self._origin, self._velocity, self.LIMITS, strict=True)
        )
        return (p, t, z)

    def moving(self) -> tuple[bool, bool]:
        """(pan/tilt, zoom): a velocity still applies and the axis is not held at the
        limit it is heading for."""
        if self._clock() >= self._until:
            return (False, False)
        axes = [
            v != 0.0 and not ((v > 0 and x >= hi) or (v < 0 and x <= lo))
            for x, v, (lo, hi) in zip(self.position(), self._velocity, self.LIMITS, strict=True)
        ]
        return (axes[0] or axes[1], axes[2])

    def move(self, velocity: Position, timeout_s: float) -> None:
        now = self._clock()
        self._origin = self.position()
        p, t, z = (min(1.0, max(-1.0, v)) for v in velocity)
        self._velocity = (p, t, z)
        self._since, self._until = now, now + max(0.0, timeout_s)

    def stop(self, pan_tilt: bool = True, zoom: bool = True) -> None:
        p, t, z = self._velocity
        left_s = max(0.0, self._until - self._clock())
        self.move((0.0 if pan_tilt else p, 0.0 if pan_tilt else t, 0.0 if zoom else z), left_s)

    def jump(self, position: Position) -> None:
        self._origin = position
        self._velocity = (0.0, 0.0, 0.0)
        self._since = self._until = self._clock()

    def set_preset(self, name: str, token: str | None = None) -> str:
        if token is None:
            token = f"preset_{self._next_token}"
            self._next_token += 1
        self.presets[token] = (name, self.position())
        return token


class SoapFault(Exception):
    """A SOAP 1.2 fault: ``code`` env:Sender (HTTP 400) or env:Receiver (HTTP 500)."""

    def __init__(self, code: str, subcodes: tuple[str, ...], reason: str) -> None:
        super().__init__(code, subcodes, reason)
        self.code, self.subcodes, self.reason = code, subcodes, reason

    def to_xml(self) -> Xml:
        nested = ""
        for sub in reversed(self.subcodes):
            nested = f"<env:Subcode><env:Value>{sub}</env:Value>{nested}</env:Subcode>"
        return fill(X.FAULT, code=self.code, subcodes=Xml(nested), reason=self.reason)


def _invalid(*subcodes: str, reason: str) -> SoapFault:
    return SoapFault("env:Sender", ("ter:InvalidArgVal", *subcodes), reason)


def _child(elem: ET.Element, *path: str) -> ET.Element | None:
    """The first descendant along ``path`` of local names (clients differ in the
    namespaces they put on request children)."""
    node: ET.Element | None = elem
    for name in path:
        if node is None:
            return None
        node = next((c for c in node if c.tag.rpartition("}")[2] == name), None)
    return node


def _child_text(elem: ET.Element, *path: str) -> str | None:
    node = _child(elem, *path)
    return None if node is None or node.text is None else node.text.strip()


@dataclass(frozen=True)
class _Request:
    service: str
    operation: str
    body: ET.Element  # the operation element
    header: ET.Element | None


# -- the device ------------------------------------------------------------------------


class OnvifSimulator:
    """One simulated ONVIF camera on ``host`` (127.0.0.1); ``port=0`` takes a free port.

    ``async with OnvifSimulator(...)`` inside a running loop, or ``start()``/``stop()``
    (or plain ``with``) to run it in a thread with its own loop for synchronous code.
    Faults and the PTZ state may be read and changed from any thread."""

    def __init__(
        self,
        stream_uris: Mapping[str, str],
        *,
        username: str = "admin",
        password: str = "admin",
        ptz: bool = True,
        clock_offset_s: float = 0.0,
        max_skew_s: float = 300.0,
        slow_s: float = 30.0,
        host: str = "127.0.0.1",
        port: int = 0,
        manufacturer: str = "VMS Simulation",
        model: str = "SimCam PTZ-1",
        firmware: str = "1.4.2",
        serial: str = "SIM-0001",
        hardware_id: str = "sim-hw-1",
    ) -> None:
        unknown = sorted(set(stream_uris) - set(RESOLUTIONS))
        if unknown or not stream_uris:
            raise ValueError(f"stream_uris takes 'main' and/or 'sub', not {unknown}")
        self.stream_uris = dict(stream_uris)
        self.username, self.password = username, password
        self.has_ptz = ptz
        self.clock_offset_s = clock_offset_s
        self.max_skew_s = max_skew_s
        self.slow_s = slow_s
        self.host, self.port = host, port
        self.identity = {
            "manufacturer": manufacturer,
            "model": model,
            "firmware": firmware,
            "serial": serial,
            "hardware_id": hardware_id,
        }
        self.fault_operations: Collection[str] | None = None  # None: every operation
        self.fault_reason = "Simulated device failure"
        self.operations: list[tuple[str, str]] = []
        self._fault = Fault.NONE
        self._ptz = PtzState()
        self._lock = threading.Lock()
        self._runner: web.AppRunner | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        ops: dict[str, tuple[Callable[[_Request], str], ...]] = {
            "device": (
                self.GetDeviceInformation, self.GetSystemDateAndTime, self.GetCapabilities,
                self.GetServices, self.GetScopes, self.GetHostname, self.GetNetworkInterfaces,
            ),
            "media": (
                self.GetProfiles, self.GetProfile, self.GetStreamUri, self.GetSnapshotUri,
                self.GetVideoSources,
            ),
            "ptz": (
                self.GetNodes, self.GetNode, self.GetConfigurations, self.GetConfiguration,
                self.GetStatus, self.ContinuousMove, self.Stop, self.GetPresets, self.SetPreset,
                self.GotoPreset, self.RemovePreset, self.GotoHomePosition, self.SetHomePosition,
            ),
        }  # fmt: skip
        self._ops = {s: {f.__name__: f for f in fs} for s, fs in ops.items()}

    # -- what tests look at and change ---------------------------------------------------

    @property
    def fault(self) -> Fault:
        return self._fault

    @fault.setter
    def fault(self, value: Fault | str) -> None:
        self._fault = Fault(value)

    @property
    def address(self) -> str:
        """``host:port``, what an operator types into the camera form."""
        return f"{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def device_xaddr(self) -> str:
        return f"{self.base_url}/onvif/device_service"

    @property
    def snapshot_url(self) -> str:
        return f"{self.base_url}/onvif/snapshot.jpg"

    def ptz_position(self) -> Position:
        with self._lock:
            return self._ptz.position()

    def ptz_moving(self) -> bool:
        with self._lock:
            return any(self._ptz.moving())

    def device_now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.clock_offset_s)

    # -- lifecycle ---------------------------------------------------------------------

    async def astart(self) -> None:
        if self._runner is not None:
            raise RuntimeError("ONVIF simulator already started")
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        for service in SERVICES:
            app.router.add_post(f"/onvif/{service}_service", functools.partial(self._soap, service))
        app.router.add_get("/onvif/snapshot.jpg", self._snapshot)
        self._stopping = asyncio.Event()
        # handler_cancellation: a client that gives up on a slow answer frees its handler
        runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(next(a for a in runner.addresses if isinstance(a, tuple))[1])
        logger.info("ONVIF simulator %s on %s", self.identity["serial"], self.base_url)

    async def astop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            if self._stopping is not None:
                self._stopping.set()
            await runner.cleanup()

    async def __aenter__(self) -> OnvifSimulator:
        await self.astart()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.astop()

    def start(self, timeout_s: float = 10.0) -> None:
        """Run the simulator in a thread with its own event loop."""
        if self._thread is not None:
            raise RuntimeError("ONVIF simulator already started")
        started = threading.Event()
        failure: list[BaseException] = []
        loop = self._loop = asyncio.new_event_loop()

        def serve() -> None:
            try:
                loop.run_until_complete(self.astart())
            except BaseException as err:  # handed to start()'s caller
                failure.append(err)
                return
            finally:
                started.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self.astop())

        def run() -> None:
            try:
                serve()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, daemon=True, name="onvif-sim")
        self._thread.start()
        if not started.wait(timeout_s) or failure:
            self.stop()
            cause = failure[0] if failure else None
            raise RuntimeError("ONVIF simulator did not start") from cause

    def stop(self) -> None:
        """Stop the thread started by ``start()``. Idempotent."""
        thread, loop = self._thread, self._loop
        self._thread = self._loop = None
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # closed already (failed start)
                loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(10)

    def __enter__(self) -> OnvifSimulator:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- HTTP ----------------------------------------------------------------------------

    async def _snapshot(self, request: web.Request) -> web.StreamResponse:
        return web.Response(body=snapshot_jpeg(), content_type="image/jpeg")

    async def _soap(self, service: str, request: web.Request) -> web.StreamResponse:
        try:
            req = self._parse(service, await request.read())
        except SoapFault as fault:
            return self._fault_response(fault)
        self.operations.append((service, req.operation))
        injected = self._fault
        if injected is not Fault.NONE and (
            self.fault_operations is None or req.operation in self.fault_operations
        ):
            if injected is Fault.SLOW and self._stopping is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.slow_s)
            elif injected is Fault.SOAP_FAULT:
                return self._fault_response(SoapFault("env:Receiver", (), self.fault_reason))
            elif injected is Fault.MALFORMED:
                body = f"<{SERVICES[service]}:{req.operation}Response><tt:Manufacturer>Sim"
                return self._xml_response(self._envelope(Xml(body))[:-40])
            elif injected is Fault.HTTP_ERROR:
                return web.Response(status=500, text=X.NGINX_500, content_type="text/html")
        try:
            if req.operation not in PRE_AUTH:
                self._authenticate(req.header)
            handler = self._ops[service].get(req.operation)
            if handler is None or (service == "ptz" and not self.has_ptz):
                reason = f"{req.operation} not supported"
                raise SoapFault("env:Receiver", ("ter:ActionNotSupported",), reason)
            with self._lock:
                body = handler(req)
        except SoapFault as fault:
            return self._fault_response(fault)
        return self._xml_response(self._envelope(Xml(body)))

    def _parse(self, service: str, payload: bytes) -> _Request:
        try:
            root = parse_xml(payload)
        except XmlRefused as err:
            raise SoapFault("env:Sender", ("ter:WellFormed",), "Not well-formed XML") from err
        if root.tag != f"{{{NS['env']}}}Envelope":
            raise SoapFault("env:VersionMismatch", (), "SOAP 1.2 envelope expected")
        body = root.find("env:Body", NS)
        operation = None if body is None else next(iter(body), None)
        if operation is None:
            raise _invalid(reason="Empty SOAP body")
        namespace, _, name = operation.tag[1:].partition("}")
        if namespace != NS[SERVICES[service]]:
            raise SoapFault("env:Receiver", ("ter:ActionNotSupported",), f"No {name} here")
        return _Request(service, name, operation, root.find("env:Header", NS))

    def _authenticate(self, header: ET.Element | None) -> None:
        """WS-Security UsernameToken: PasswordDigest = base64(sha1(nonce + created +
        password)) with a fresh ``Created``, or PasswordText."""
        denied = SoapFault("env:Sender", ("ter:NotAuthorized",), "Sender not Authorized")
        token = None if header is None else header.find("wsse:Security/wsse:UsernameToken", NS)
        if token is None:
            raise denied
        username = (token.findtext("wsse:Username", "", NS) or "").strip()
        password = token.find("wsse:Password", NS)
        if password is None or not hmac.compare_digest(username.encode(), self.username.encode()):
            raise denied
        given = (password.text or "").strip().encode()
        if password.get("Type", "").endswith("#PasswordText"):
            if not hmac.compare_digest(given, self.password.encode()):
                raise denied
            return
        created = (token.findtext("wsu:Created", "", NS) or "").strip()
        try:
            nonce = base64.b64decode(token.findtext("wsse:Nonce", "", NS) or "", validate=True)
            when = datetime.fromisoformat(created)
        except ValueError as err:
            raise denied from err
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
        if abs((when - self.device_now()).total_seconds()) > self.max_skew_s:
            raise denied
        digest = hashlib.sha1(nonce + created.encode() + self.password.encode()).digest()
        if not hmac.compare_digest(given, base64.b64encode(digest)):
            raise denied

    @staticmethod
    def _envelope(body: Xml) -> str:
        namespaces = {p: NS[p] for p in ("env", "tt", "tds", "trt", "tptz", "ter")}
        return fill(X.ENVELOPE, body=body, **namespaces)

    @staticmethod
    def _xml_response(text: str, status: int = 200) -> web.Response:
        return web.Response(
            status=status, body=text.encode(), content_type="application/soap+xml", charset="utf-8"
        )

    def _fault_response(self, fault: SoapFault) -> web.Response:
        status = 400 if fault.code in ("env:Sender", "env:VersionMismatch") else 500
        return self._xml_response(self._envelope(fault.to_xml()), status)

    # -- device service (handlers are named after their operation) ------------------------

    def _xaddr(self, service: str) -> str:
        return f"{self.base_url}/onvif/{service}_service"

    def GetDeviceInformation(self, req: _Request) -> str:
        return fill(X.DEVICE_INFORMATION, **self.identity)

    def GetSystemDateAndTime(self, req: _Request) -> str:
        now = Xml(X.DATE_TIME.replace("\n", "").format(t=self.device_now()))
        kind = "Manual" if self.clock_offset_s else "NTP"
        return fill(X.SYSTEM_DATE_AND_TIME, kind=kind, now=now)

    def GetCapabilities(self, req: _Request) -> str:
        wanted = {(c.text or "").strip() for c in req.body} or {"All"}
        if "PTZ" in wanted and not self.has_ptz:
            subcodes = ("ter:ActionNotSupported", "ter:NoSuchService")
            raise SoapFault("env:Receiver", subcodes, "No PTZ service")

        def part(category: str, template: str, service: str) -> Xml:
            keep = "All" in wanted or category in wanted
            return fill(template, xaddr=self._xaddr(service)) if keep else Xml("")

        ptz = part("PTZ", X.CAPABILITY_PTZ, "ptz") if self.has_ptz else Xml("")
        device = part("Device", X.CAPABILITY_DEVICE, "device")
        media = part("Media", X.CAPABILITY_MEDIA, "media")
        return fill(X.CAPABILITIES, device=device, media=media, ptz=ptz)

    def GetServices(self, req: _Request) -> str:
        services = "".join(
            fill(X.SERVICE, namespace=NS[prefix], xaddr=self._xaddr(service))
            for service, prefix in SERVICES.items()
            if service != "ptz" or self.has_ptz
        )
        return f"<tds:GetServicesResponse>{services}</tds:GetServicesResponse>"

    def GetScopes(self, req: _Request) -> str:
        base = "onvif://www.onvif.org"
        scopes = [
            ("Fixed", f"{base}/Profile/Streaming"),
            ("Fixed", f"{base}/type/video_encoder"),
            *([("Fixed", f"{base}/type/ptz")] if self.has_ptz else []),
            ("Fixed", f"{base}/hardware/{self.identity['model'].replace(' ', '_')}"),
            ("Configurable", f"{base}/name/{self.identity['serial']}"),
            ("Configurable", f"{base}/location/country/france"),
        ]
        items = "".join(fill(X.SCOPE, kind=kind, item=item) for kind, item in scopes)
        return f"<tds:GetScopesResponse>{items}</tds:GetScopesResponse>"

    def GetHostname(self, req: _Request) -> str:
        return fill(X.HOSTNAME, name=f"simcam-{self.identity['serial'].lower()}")

    def GetNetworkInterfaces(self, req: _Request) -> str:
        return fill(X.NETWORK_INTERFACES, address=self.host)

    # -- media service -------------------------------------------------------------------

    def _profile_name(self, req: _Request) -> str:
        token = _child_text(req.body, "ProfileToken")
        for name, known in PROFILE_TOKENS.items():
            if token == known and name in self.stream_uris:
                return name
        raise _invalid("ter:NoProfile", reason="No such profile")

    def _profile_xml(self, tag: str, name: str) -> Xml:
        width, height = RESOLUTIONS[name]
        ptz = self._ptz_configuration_xml("tt:PTZConfiguration") if self.has_ptz else Xml("")
        return fill(
            X.PROFILE, tag=tag, token=PROFILE_TOKENS[name], name=name, uses=len(self.stream_uris),
            width=width, height=height, kbps=2048 if name == "main" else 512, ptz=ptz,
        )  # fmt: skip

    def GetProfiles(self, req: _Request) -> str:
        profiles = "".join(self._profile_xml("trt:Profiles", name) for name in self.stream_uris)
        return f"<trt:GetProfilesResponse>{profiles}</trt:GetProfilesResponse>"

    def GetProfile(self, req: _Request) -> str:
        profile = self._profile_xml("trt:Profile", self._profile_name(req))
        return f"<trt:GetProfileResponse>{profile}</trt:GetProfileResponse>"

    def GetStreamUri(self, req: _Request) -> str:
        name = self._profile_name(req)
        protocol = _child_text(req.body, "StreamSetup", "Transport", "Protocol")
        if protocol not in (None, "RTSP", "TCP", "UDP"):
            raise _invalid("ter:InvalidStreamSetup", reason="RTSP only")
        return fill(X.MEDIA_URI, tag="trt:GetStreamUriResponse", uri=self.stream_uris[name])

    def GetSnapshotUri(self, req: _Request) -> str:
        self._profile_name(req)
        return fill(X.MEDIA_URI, tag="trt:GetSnapshotUriResponse", uri=self.snapshot_url)

    def GetVideoSources(self, req: _Request) -> str:
        return X.VIDEO_SOURCES.replace("\n", "")

    # -- PTZ service ---------------------------------------------------------------------

    def _ptz_configuration_xml(self, tag: str) -> Xml:
        pan_tilt = X.space("Range", "PanTiltSpaces/PositionGenericSpace", -1, True)
        zoom = X.space("Range", "ZoomSpaces/PositionGenericSpace", 0)
        return fill(
            X.PTZ_CONFIGURATION, tag=tag, uses=len(self.stream_uris), s=X.SPACES,
            timeout_s=f"{DEFAULT_PTZ_TIMEOUT_S:g}", pan_tilt=pan_tilt, zoom=zoom,
        )  # fmt: skip

    def _node_xml(self) -> Xml:
        return fill(X.NODE, spaces=X.NODE_SPACES, max_presets=MAX_PRESETS)

    def GetNodes(self, req: _Request) -> str:
        return f"<tptz:GetNodesResponse>{self._node_xml()}</tptz:GetNodesResponse>"

    def GetNode(self, req: _Request) -> str:
        if _child_text(req.body, "NodeToken") != "ptz_node_0":
            raise _invalid("ter:NoEntity", reason="No such PTZ node")
        return f"<tptz:GetNodeResponse>{self._node_xml()}</tptz:GetNodeResponse>"

    def GetConfigurations(self, req: _Request) -> str:
        config = self._ptz_configuration_xml("tptz:PTZConfiguration")
        return f"<tptz:GetConfigurationsResponse>{config}</tptz:GetConfigurationsResponse>"

    def GetConfiguration(self, req: _Request) -> str:
        if _child_text(req.body, "PTZConfigurationToken") != "ptz_config_0":
            raise _invalid("ter:NoConfig", reason="No such PTZ configuration")
        config = self._ptz_configuration_xml("tptz:PTZConfiguration")
        return f"<tptz:GetConfigurationResponse>{config}</tptz:GetConfigurationResponse>"

    def GetStatus(self, req: _Request) -> str:
        self._profile_name(req)
        pan_tilt, zoom = ("MOVING" if m else "IDLE" for m in self._ptz.moving())
        position = X.vector("tt:Position", self._ptz.position())
        utc = self.device_now().strftime("%Y-%m-%dT%H:%M:%SZ")
        return fill(X.STATUS, position=position, pan_tilt=pan_tilt, zoom=zoom, utc=utc)

    def ContinuousMove(self, req: _Request) -> str:
        self._profile_name(req)
        pan_tilt = _child(req.body, "Velocity", "PanTilt")
        zoom = _child(req.body, "Velocity", "Zoom")
        timeout = _child_text(req.body, "Timeout")
        try:
            velocity = (
                float(pan_tilt.get("x", "0")) if pan_tilt is not None else 0.0,
                float(pan_tilt.get("y", "0")) if pan_tilt is not None else 0.0,
                float(zoom.get("x", "0")) if zoom is not None else 0.0,
            )
            timeout_s = parse_duration_s(timeout) if timeout else DEFAULT_PTZ_TIMEOUT_S
        except ValueError as err:
            raise _invalid(reason=str(err)) from err
        if any(not math.isfinite(v) or abs(v) > 1.0 for v in velocity):
            raise _invalid("ter:InvalidVelocity", reason="Velocity out of range")
        self._ptz.move(velocity, timeout_s)
        return "<tptz:ContinuousMoveResponse/>"

    def Stop(self, req: _Request) -> str:
        self._profile_name(req)
        pan_tilt = _child_text(req.body, "PanTilt") in (None, "true", "1")
        zoom = _child_text(req.body, "Zoom") in (None, "true", "1")
        self._ptz.stop(pan_tilt, zoom)
        return "<tptz:StopResponse/>"

    def GetPresets(self, req: _Request) -> str:
        self._profile_name(req)
        presets = "".join(
            fill(X.PRESET, token=token, name=name, position=X.vector("tt:PTZPosition", pos))
            for token, (name, pos) in self._ptz.presets.items()
        )
        return f"<tptz:GetPresetsResponse>{presets}</tptz:GetPresetsResponse>"

    def SetPreset(self, req: _Request) -> str:
        self._profile_name(req)
        token = _child_text(req.body, "PresetToken") or None
        name = _child_text(req.body, "PresetName") or ""
        presets = self._ptz.presets
        if token is not None and token not in presets:
            raise _invalid("ter:NoToken", reason="No such preset")
        if name and any(n == name and t != token for t, (n, _) in presets.items()):
            raise _invalid("ter:PresetExist", reason="Preset name in use")
        if token is None and len(presets) >= MAX_PRESETS:
            raise SoapFault("env:Receiver", ("ter:Action", "ter:TooManyPresets"), "Too many")
        token = self._ptz.set_preset(name or f"Preset {len(presets) + 1}", token)
        return fill(X.SET_PRESET, token=token)

    def _preset_token(self, req: _Request) -> str:
        self._profile_name(req)
        token = _child_text(req.body, "PresetToken") or ""
        if token not in self._ptz.presets:
            raise _invalid("ter:NoToken", reason="No such preset")
        return token

    def GotoPreset(self, req: _Request) -> str:
        self._ptz.jump(self._ptz.presets[self._preset_token(req)][1])
        return "<tptz:GotoPresetResponse/>"

    def RemovePreset(self, req: _Request) -> str:
        del self._ptz.presets[self._preset_token(req)]
        return "<tptz:RemovePresetResponse/>"

    def GotoHomePosition(self, req: _Request) -> str:
        self._profile_name(req)
        self._ptz.jump(self._ptz.home)
        return "<tptz:GotoHomePositionResponse/>"

    def SetHomePosition(self, req: _Request) -> str:
        self._profile_name(req)
        self._ptz.home = self._ptz.position()
        return "<tptz:SetHomePositionResponse/>"


# -- command line -------------------------------------------------------------------------


async def _serve(rtsp_base: str, cameras: int, port: int, username: str, password: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with contextlib.AsyncExitStack() as stack:
        for i in range(cameras):
            uris = {s: f"{rtsp_base.rstrip('/')}/cam{i}/{s}" for s in ("main", "sub")}
            device = OnvifSimulator(
                uris, username=username, password=password, port=port + i if port else 0,
                serial=f"SIM-{i:04d}",
            )  # fmt: skip
            await stack.enter_async_context(device)
            print(f"cam{i}\t{device.device_xaddr}", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    """``python -m vms.sim.onvif``: one simulated ONVIF device per camera, port P+i."""
    p = argparse.ArgumentParser(prog="vms.sim.onvif", description="Caméras ONVIF simulées")
    p.add_argument("--rtsp-base", default="rtsp://127.0.0.1:8554", help="base des URL RTSP")
    p.add_argument("--cameras", type=int, default=4, help="nombre de caméras")
    p.add_argument("--port", type=int, default=8000, help="port de la première (0 : au hasard)")
    p.add_argument("--username", default="admin", help="identifiant ONVIF")
    p.add_argument("--password", default="admin", help="mot de passe ONVIF")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    asyncio.run(_serve(args.rtsp_base, args.cameras, args.port, args.username, args.password))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
