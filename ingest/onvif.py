"""ONVIF client: probe a camera, drive its PTZ, discover devices (WS-Discovery).

Built on ``onvif-zeep-async`` (zeep over aiohttp). Every conversation with a device
runs under a hard deadline (``asyncio.timeout``): whatever the device does (stall,
garbage, HTML error pages), the caller gets an ``OnvifError`` with a French message
within ``timeout_s``, and every HTTP session is closed.

Library errors are translated here, once, into ``OnvifError`` (a ``VmsError``):
- a timeout -> unavailable, "La caméra ne répond pas (délai de 5 s dépassé)";
- a refused connection -> unavailable;
- a SOAP fault ter:NotAuthorized (or HTTP 401) -> failed precondition: the camera's
  credentials are wrong, the operator's own session is fine (so not 401);
- another SOAP fault -> unavailable with the device's reason (ter:NoToken /
  ter:NoProfile -> not found, ter:ActionNotSupported -> failed precondition);
- invalid XML -> unavailable, "Réponse ONVIF illisible (XML invalide)";
- an HTTP error status -> unavailable, "Erreur HTTP 500 de la caméra".
Messages name the camera address, never the password; the English detail goes to logs.

The camera's clock drift is what the library measures for WS-Security timestamps
(``adjust_time``): camera UTC minus local UTC, at one-second resolution.

The ``onvif`` package configures the root logger on import (``logging.basicConfig``);
``vms.logs.setup_logging`` replaces the root handlers, so the service's format wins.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import re
import socket
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import timedelta
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import zeep
import zeep.exceptions
from onvif import ONVIFCamera
from onvif.exceptions import ONVIFError

from vms.errors import ErrorKind, VmsError
from vms.messages import msg

logger = logging.getLogger(__name__)

NS_MEDIA = "http://www.onvif.org/ver10/media/wsdl"
NS_PTZ = "http://www.onvif.org/ver20/ptz/wsdl"
WSD_GROUP = ("239.255.255.250", 3702)
MAX_NAME_CHARS = 64
MAX_REASON_CHARS = 200
_T = TypeVar("_T")

# French messages, one place (move to vms.messages when the catalogue owner agrees)


class OnvifError(VmsError):
    """A failed ONVIF exchange; ``message`` is French, ``detail`` English (no secrets)."""


def _error(kind: ErrorKind, key: str, detail: str = "", **fields: object) -> OnvifError:
    return OnvifError(kind, msg(f"onvif.{key}", **fields), detail)


@dataclass(frozen=True)
class DeviceFacts:
    manufacturer: str
    model: str
    firmware: str
    serial: str
    hardware_id: str


@dataclass(frozen=True)
class MediaProfile:
    token: str
    name: str
    encoding: str | None  # "H264", "H265", "JPEG" ...; None: no video encoder
    width: int | None
    height: int | None
    stream_uri: str | None  # RTSP, without credentials
    snapshot_uri: str | None


@dataclass(frozen=True)
class PtzCaps:
    continuous: bool
    presets: bool
    home: bool
    zoom: bool


@dataclass(frozen=True)
class ProbeResult:
    address: str  # base URL of the device, "http://host:port"
    device: DeviceFacts
    profiles: list[MediaProfile]
    main: MediaProfile | None  # the largest H.264 profile with a stream URI
    sub: MediaProfile | None  # the smallest other one
    snapshot_uri: str | None
    ptz: PtzCaps | None  # None: no PTZ service
    clock_drift_s: float | None  # camera UTC - local UTC

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Preset:
    token: str
    name: str


@dataclass(frozen=True)
class PtzStatus:
    pan: float | None  # generic space: pan and tilt in [-1, 1], zoom in [0, 1]
    tilt: float | None
    zoom: float | None
    moving: bool


@dataclass(frozen=True)
class _Target:
    host: str  # what ONVIFCamera takes: a host, or "https://host" for TLS
    port: int
    base_url: str


def parse_address(address: str) -> _Target:
    """Where to reach a device: "host", "host:port", "[v6]:port" or "http(s)://host:port"
    (a path is ignored: the device service path is standard)."""
    text = address.strip()
    shown = "(masquée)" if "@" in text else text  # never echo embedded credentials
    if not text or any(c.isspace() for c in text) or "@" in text:
        raise _error(ErrorKind.INVALID_ARGUMENT, "address", address=shown)
    parts = urlsplit(text if "://" in text else f"http://{text}")
    try:
        port = parts.port
    except ValueError as err:
        raise _error(ErrorKind.INVALID_ARGUMENT, "address", str(err), address=shown) from err
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _error(ErrorKind.INVALID_ARGUMENT, "address", address=shown)
    port = port or (443 if parts.scheme == "https" else 80)
    host = parts.hostname
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    onvif_host = f"https://{netloc.rpartition(':')[0]}" if parts.scheme == "https" else host
    return _Target(onvif_host, port, f"{parts.scheme}://{netloc}")


def strip_credentials(uri: str | None) -> str | None:
    """The URI without any ``user:pass@`` a camera may have put in it."""
    if not uri:
        return None
    parts = urlsplit(uri.strip())
    if "@" not in parts.netloc:
        return uri.strip()
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _scrub(text: str, password: str) -> str:
    if len(password) >= 4:
        text = text.replace(password, "***")
    return text[:500]


def _subcodes(fault: zeep.exceptions.Fault) -> set[str]:
    return {getattr(q, "localname", str(q)) for q in fault.subcodes or ()}


def translate(err: BaseException, address: str, timeout_s: float, password: str) -> OnvifError:
    """The one translation point from library errors to ``OnvifError``."""
    detail = _scrub(f"{type(err).__name__}: {err}", password)
    if isinstance(err, OnvifError):
        return err
    if isinstance(err, TimeoutError):
        detail = _scrub(f"no complete answer within {timeout_s:g} s ({err})", password)
        return _error(
            ErrorKind.UNAVAILABLE, "timeout", detail, timeout_s=timeout_s, address=address
        )
    if isinstance(err, zeep.exceptions.Fault):
        subcodes = _subcodes(err)
        reason = " ".join(str(err.message or err.code or "").split())[:MAX_REASON_CHARS]
        reason = _scrub(reason, password) or "(sans motif)"
        if "NotAuthorized" in subcodes or (err.code or "").endswith("NotAuthorized"):
            return _error(ErrorKind.FAILED_PRECONDITION, "auth", detail, address=address)
        if subcodes & {"NoToken", "NoProfile", "NoEntity"}:
            return _error(ErrorKind.NOT_FOUND, "unknown_token", detail)
        if subcodes & {"ActionNotSupported", "NoSuchService"}:
            return _error(ErrorKind.FAILED_PRECONDITION, "not_supported", detail, address=address)
        if err.code is None and err.message == "Unknown fault occured":  # zeep: not SOAP
            return _error(ErrorKind.UNAVAILABLE, "unexpected", detail, address=address)
        return _error(ErrorKind.UNAVAILABLE, "soap", detail, reason=reason)
    if isinstance(err, zeep.exceptions.TransportError):
        status = err.status_code
        if status == 401:
            return _error(ErrorKind.FAILED_PRECONDITION, "auth", detail, address=address)
        if status and status >= 300:
            return _error(ErrorKind.UNAVAILABLE, "http", detail, status=status, address=address)
        return _error(ErrorKind.UNAVAILABLE, "xml", detail, address=address)
    if isinstance(err, zeep.exceptions.XMLSyntaxError | ET.ParseError):
        return _error(ErrorKind.UNAVAILABLE, "xml", detail, address=address)
    if isinstance(err, OSError):  # aiohttp's connection errors are OSErrors
        return _error(ErrorKind.UNAVAILABLE, "connect", detail, address=address)
    if isinstance(err, ONVIFError) and isinstance(err.__cause__, OSError | TimeoutError):
        return translate(err.__cause__, address, timeout_s, password)
    # aiohttp.ClientError (this tier does not import aiohttp), zeep parse surprises
    logger.warning("%s: unexpected ONVIF failure: %s", address, detail)
    return _error(ErrorKind.UNAVAILABLE, "unexpected", detail, address=address)


# The library's shared settings parse replies with ``recover=True`` (lenient): a truncated
# reply then yields a partial document and odd AttributeErrors deep in the library, and
# an HTML error page a "fault". Parse the raw XML strictly (schema leniency is a separate
# setting, on the WSDL documents, and stays); refuse DTDs in replies.
_STRICT_XML = zeep.Settings(strict=True, xml_huge_tree=False, forbid_dtd=True)
# how long close() waits for service creations a deadline interrupted (local work only)
_CREATE_WAIT_S = 10.0


class _Camera(ONVIFCamera):  # type: ignore[misc]  # untyped library
    """The library's camera with strict XML parsing and a leak-proof service creation.

    The library builds a service (and its HTTP session) before it registers it in
    ``services``, which ``close()`` walks: a deadline cancelling the creation in
    between would leave the session open. Creation therefore runs in its own task,
    which a cancelled caller does not cancel (it only reads local WSDL files), and
    ``close()`` waits for those tasks before closing what they registered."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._creating: set[asyncio.Task[Any]] = set()

    async def _create(self, *args: Any, **kwargs: Any) -> Any:
        service = await super().create_onvif_service(*args, **kwargs)
        for client in (service.zeep_client, service.zeep_client_authless):
            client.settings = _STRICT_XML
        return service

    async def create_onvif_service(self, *args: Any, **kwargs: Any) -> Any:
        task = asyncio.ensure_future(self._create(*args, **kwargs))
        self._creating.add(task)
        task.add_done_callback(self._settled)
        return await asyncio.shield(task)

    def _settled(self, task: asyncio.Task[Any]) -> None:
        self._creating.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved here: a caller that gave up never awaits it

    async def close(self) -> None:
        if self._creating:
            _, pending = await asyncio.wait(self._creating, timeout=_CREATE_WAIT_S)
            for task in pending:
                logger.warning("ONVIF service creation still running at close: %s", task)
        await super().close()


class _Session:
    """One ``ONVIFCamera`` under a deadline: ``run()`` awaits a call and translates
    its errors; ``close()`` closes every HTTP session the library opened."""

    def __init__(self, address: str, username: str, password: str, timeout_s: float) -> None:
        if not (timeout_s > 0 and math.isfinite(timeout_s)):
            raise ValueError(f"timeout_s must be positive, not {timeout_s}")
        self.target = parse_address(address)
        self.address = self.target.base_url
        self.timeout_s = timeout_s
        self._password = password
        self._username = username
        self.camera: Any = None

    async def run(self, call: Callable[[], Awaitable[_T]]) -> _T:
        try:
            async with asyncio.timeout(self.timeout_s):
                return await call()
        except Exception as err:
            raise translate(err, self.address, self.timeout_s, self._password) from err

    async def open(self) -> None:
        self.camera = _Camera(
            self.target.host,
            self.target.port,
            self._username,
            self._password,
            no_cache=True,  # the WSDLs are local files; no sqlite cache to write
            adjust_time=True,  # sign WS-Security timestamps with the camera's clock
        )
        await self.camera.update_xaddrs()

    async def close(self) -> None:
        camera, self.camera = self.camera, None
        if camera is not None:
            try:
                await camera.close()
            except Exception as err:  # closing must not mask the real outcome
                logger.warning("%s: closing ONVIF sessions failed: %s", self.address, err)

    @property
    def clock_drift_s(self) -> float | None:
        # the camera tells whole seconds, truncated: add half a second to centre the error
        diff = getattr(self.camera, "dt_diff", None)
        return float(round(diff.total_seconds() + 0.5)) if isinstance(diff, timedelta) else None

    def has_service(self, namespace: str) -> bool:
        return bool(self.camera is not None and self.camera.xaddrs.get(namespace))


def _stream_setup(token: str) -> dict[str, Any]:
    return {
        "StreamSetup": {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}},
        "ProfileToken": token,
    }


async def _optional(call: Awaitable[_T], what: str, address: str) -> _T | None:
    """A call a device may refuse (SOAP fault): None then, logged once."""
    try:
        return await call
    except zeep.exceptions.Fault as err:
        logger.info("%s: %s refused: %s", address, what, err.message)
        return None


def _media_profile(raw: Any, stream_uri: Any, snapshot_uri: Any) -> MediaProfile:
    encoder = getattr(raw, "VideoEncoderConfiguration", None)
    resolution = getattr(encoder, "Resolution", None)
    width = getattr(resolution, "Width", None)
    height = getattr(resolution, "Height", None)
    return MediaProfile(
        token=str(raw.token),
        name=str(getattr(raw, "Name", "") or raw.token),
        encoding=None if encoder is None else str(encoder.Encoding),
        width=None if width is None else int(width),
        height=None if height is None else int(height),
        stream_uri=strip_credentials(getattr(stream_uri, "Uri", None)),
        snapshot_uri=strip_credentials(getattr(snapshot_uri, "Uri", None)),
    )


def _ptz_caps(nodes: list[Any], node_token: str | None) -> PtzCaps | None:
    node = next((n for n in nodes if n.token == node_token), nodes[0] if nodes else None)
    if node is None:
        return None
    spaces = node.SupportedPTZSpaces
    zoom = bool(spaces.ContinuousZoomVelocitySpace or spaces.AbsoluteZoomPositionSpace)
    return PtzCaps(
        continuous=bool(spaces.ContinuousPanTiltVelocitySpace),
        presets=(node.MaximumNumberOfPresets or 0) > 0,
        home=bool(node.HomeSupported),
        zoom=zoom,
    )


def _pick_main_sub(profiles: list[MediaProfile]) -> tuple[MediaProfile | None, MediaProfile | None]:
    h264 = [p for p in profiles if p.encoding == "H264" and p.stream_uri]
    if not h264:
        return None, None
    by_area = sorted(h264, key=lambda p: (p.width or 0) * (p.height or 0))
    main = by_area[-1]
    sub = by_area[0] if len(by_area) > 1 else None
    return main, sub


async def probe(
    address: str, username: str, password: str, *, timeout_s: float = 5.0
) -> ProbeResult:
    """What a camera is and how to read it: device facts, media profiles with their
    RTSP and snapshot URIs, PTZ capabilities and clock drift. Raises ``OnvifError``."""
    session = _Session(address, username, password, timeout_s)
    try:
        async with asyncio.timeout(timeout_s):
            await session.open()
            result = await _probe(session)
    except Exception as err:
        raise translate(err, session.address, timeout_s, password) from err
    finally:
        await session.close()
    logger.info(
        "%s: ONVIF probe: %s %s, %d profiles, ptz=%s, drift %s s",
        session.address, result.device.manufacturer, result.device.model,
        len(result.profiles), result.ptz is not None, result.clock_drift_s,
    )  # fmt: skip
    return result


async def _probe(session: _Session) -> ProbeResult:
    camera, address = session.camera, session.address
    devicemgmt = await camera.create_devicemgmt_service()
    info = await devicemgmt.GetDeviceInformation()
    device = DeviceFacts(
        manufacturer=str(info.Manufacturer or ""),
        model=str(info.Model or ""),
        firmware=str(info.FirmwareVersion or ""),
        serial=str(info.SerialNumber or ""),
        hardware_id=str(info.HardwareId or ""),
    )
    profiles: list[MediaProfile] = []
    raw_profiles: list[Any] = []
    if session.has_service(NS_MEDIA):
        media = await camera.create_media_service()
        raw_profiles = list(await media.GetProfiles() or [])
        for raw in raw_profiles:
            token = str(raw.token)
            stream = await _optional(
                media.GetStreamUri(_stream_setup(token)), "GetStreamUri", address
            )
            snapshot = await _optional(
                media.GetSnapshotUri({"ProfileToken": token}), "GetSnapshotUri", address
            )
            profiles.append(_media_profile(raw, stream, snapshot))
    main, sub = _pick_main_sub(profiles)
    ptz = None
    if session.has_service(NS_PTZ):
        ptz_service = await camera.create_ptz_service()
        nodes = await _optional(ptz_service.GetNodes(), "GetNodes", address)
        configured = next((p for p in raw_profiles if getattr(p, "PTZConfiguration", None)), None)
        node_token = configured.PTZConfiguration.NodeToken if configured is not None else None
        ptz = _ptz_caps(list(nodes or []), node_token)
    snapshot_uri = next(
        (p.snapshot_uri for p in (main, *profiles) if p is not None and p.snapshot_uri), None
    )
    return ProbeResult(
        address=address,
        device=device,
        profiles=profiles,
        main=main,
        sub=sub,
        snapshot_uri=snapshot_uri,
        ptz=ptz,
        clock_drift_s=session.clock_drift_s,
    )


def _printable(text: object) -> bool:
    return (
        isinstance(text, str)
        and 1 <= len(text) <= MAX_NAME_CHARS
        and text.isprintable()
        and bool(text.strip())
    )


def _check_name(name: str) -> str:
    if not _printable(name):
        raise _error(ErrorKind.INVALID_ARGUMENT, "name_invalid", max=MAX_NAME_CHARS)
    return name


def _check_token(token: str) -> str:
    if not _printable(token):
        raise _error(ErrorKind.INVALID_ARGUMENT, "token_invalid")
    return token


def _speed(value: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as err:
        raise _error(ErrorKind.INVALID_ARGUMENT, "speed_invalid") from err
    if not math.isfinite(v):
        raise _error(ErrorKind.INVALID_ARGUMENT, "speed_invalid")
    return min(1.0, max(-1.0, v))


class PtzClient:
    """PTZ commands for one camera profile, as an async context manager::

        async with PtzClient("10.0.0.5", "admin", secret) as ptz:
            await ptz.move(0.5, 0.0, 0.0, timeout_s=2.0)

    ``profile_token=None`` takes the first media profile with a PTZ configuration.
    Each command has its own deadline (``timeout_s``) and raises ``OnvifError``."""

    def __init__(
        self,
        address: str,
        username: str,
        password: str,
        profile_token: str | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        self._session = _Session(address, username, password, timeout_s)
        self.address = self._session.address
        self.profile_token = profile_token
        self._ptz: Any = None

    async def __aenter__(self) -> PtzClient:
        try:
            await self._session.run(self._open)
        except BaseException:
            await self._session.close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._ptz = None
        await self._session.close()

    async def _open(self) -> None:
        await self._session.open()
        if not self._session.has_service(NS_PTZ):
            raise _error(ErrorKind.FAILED_PRECONDITION, "no_ptz", address=self.address)
        camera = self._session.camera
        if self.profile_token is None:
            media = await camera.create_media_service()
            profiles = await media.GetProfiles() or []
            ptz_profile = next((p for p in profiles if getattr(p, "PTZConfiguration", None)), None)
            if ptz_profile is None:
                raise _error(ErrorKind.FAILED_PRECONDITION, "no_ptz_profile", address=self.address)
            self.profile_token = str(ptz_profile.token)
        self._ptz = await camera.create_ptz_service()

    async def _call(self, operation: str, **params: Any) -> Any:
        if self._ptz is None:
            raise RuntimeError("PtzClient used outside its 'async with' block")
        method = getattr(self._ptz, operation)
        request = {"ProfileToken": self.profile_token, **params}
        return await self._session.run(lambda: method(request))

    async def move(
        self, pan: float, tilt: float, zoom: float = 0.0, timeout_s: float | None = None
    ) -> None:
        """ContinuousMove at the given velocities (clamped to [-1, 1]). ``timeout_s``
        makes the camera stop by itself should the stop command be lost."""
        velocity: dict[str, Any] = {"PanTilt": {"x": _speed(pan), "y": _speed(tilt)}}
        if (z := _speed(zoom)) != 0.0:
            velocity["Zoom"] = {"x": z}
        params: dict[str, Any] = {"Velocity": velocity}
        if timeout_s is not None:
            if not (timeout_s > 0 and math.isfinite(timeout_s)):
                raise _error(ErrorKind.INVALID_ARGUMENT, "move_timeout_invalid")
            params["Timeout"] = timedelta(seconds=timeout_s)
        await self._call("ContinuousMove", **params)

    async def stop(self) -> None:
        await self._call("Stop", PanTilt=True, Zoom=True)

    async def status(self) -> PtzStatus:
        raw = await self._call("GetStatus")
        position = getattr(raw, "Position", None)
        pan_tilt = getattr(position, "PanTilt", None)
        zoom = getattr(position, "Zoom", None)
        moves = getattr(raw, "MoveStatus", None)
        moving = any(
            str(getattr(moves, axis, "") or "").upper() == "MOVING" for axis in ("PanTilt", "Zoom")
        )
        return PtzStatus(
            pan=None if pan_tilt is None else float(pan_tilt.x),
            tilt=None if pan_tilt is None else float(pan_tilt.y),
            zoom=None if zoom is None else float(zoom.x),
            moving=moving,
        )

    async def presets(self) -> list[Preset]:
        raw = await self._call("GetPresets")
        return [Preset(str(p.token), str(p.Name or "")) for p in raw or [] if p.token]

    async def set_preset(self, name: str) -> str:
        """Store the current position under ``name``; returns the preset token."""
        token = await self._call("SetPreset", PresetName=_check_name(name))
        token = getattr(token, "PresetToken", token)
        if not token:
            raise _error(ErrorKind.UNAVAILABLE, "unexpected", address=self.address)
        return str(token)

    async def goto_preset(self, token: str) -> None:
        await self._call("GotoPreset", PresetToken=_check_token(token))

    async def remove_preset(self, token: str) -> None:
        await self._call("RemovePreset", PresetToken=_check_token(token))

    async def home(self) -> None:
        await self._call("GotoHomePosition")

    async def set_home(self) -> None:
        await self._call("SetHomePosition")


# -- WS-Discovery ------------------------------------------------------------------------

_WSD = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "d": "http://schemas.xmlsoap.org/ws/2005/04/discovery",
}
_WSA_2005 = "http://www.w3.org/2005/08/addressing"
_PROBE = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<s:Envelope xmlns:s="{s}" xmlns:a="{a}" xmlns:d="{d}" '
    'xmlns:dn="http://www.onvif.org/ver10/network/wsdl"><s:Header>'
    '<a:Action s:mustUnderstand="1">{d}/Probe</a:Action>'
    "<a:MessageID>{message_id}</a:MessageID>"
    "<a:ReplyTo><a:Address>{a}/role/anonymous</a:Address></a:ReplyTo>"
    '<a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>'
    "</s:Header><s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types>"
    "</d:Probe></s:Body></s:Envelope>"
)
_DTD = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)


def parse_probe_matches(payload: bytes, message_id: str) -> list[str]:
    """The XAddrs of a ProbeMatches answering ``message_id``; [] for anything else.
    A DTD is refused before parsing (no entity can be declared, none expands)."""
    if _DTD.search(payload):
        return []
    try:
        root = ET.fromstring(payload)
    except ET.ParseError:
        return []
    relates = [
        (root.findtext(f"s:Header/{{{ns}}}RelatesTo", "", _WSD) or "").strip()
        for ns in (_WSD["a"], _WSA_2005)
    ]
    if message_id not in relates:
        return []
    xaddrs: list[str] = []
    for match in root.iterfind("s:Body/d:ProbeMatches/d:ProbeMatch", _WSD):
        for url in (match.findtext("d:XAddrs", "", _WSD) or "").split():
            if urlsplit(url).scheme in ("http", "https") and url not in xaddrs:
                xaddrs.append(url)
    return xaddrs


class _Collector(asyncio.DatagramProtocol):
    def __init__(self, message_id: str) -> None:
        self.message_id = message_id
        self.xaddrs: list[str] = []

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        for url in parse_probe_matches(data, self.message_id):
            if url not in self.xaddrs:
                self.xaddrs.append(url)

    def error_received(self, exc: Exception) -> None:
        logger.debug("WS-Discovery socket error: %s", exc)


async def discover(
    interface_address: str,
    timeout_s: float = 3.0,
    *,
    target: tuple[str, int] = WSD_GROUP,
) -> list[str]:
    """Device service URLs (XAddrs) of the ONVIF devices answering a WS-Discovery
    Probe sent from ``interface_address`` (IPv4) to ``target`` (the multicast group by
    default; a unicast address for tests), collected for ``timeout_s``."""
    try:
        interface = ipaddress.IPv4Address(interface_address)
    except ValueError as err:
        raise _error(
            ErrorKind.INVALID_ARGUMENT, "interface", str(err), address=interface_address
        ) from err
    message_id = f"urn:uuid:{uuid.uuid4()}"
    probe_bytes = _PROBE.format(message_id=message_id, **_WSD).encode()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((str(interface), 0))
        if ipaddress.IPv4Address(target[0]).is_multicast:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, interface.packed)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        sock.setblocking(False)
    except OSError as err:
        sock.close()
        raise _error(
            ErrorKind.INVALID_ARGUMENT, "interface", str(err), address=interface_address
        ) from err
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: _Collector(message_id), sock=sock
    )
    try:
        # UDP may drop a datagram: probe twice (WS-Discovery repeats too)
        transport.sendto(probe_bytes, target)
        await asyncio.sleep(min(0.2, timeout_s / 4))
        transport.sendto(probe_bytes, target)
        await asyncio.sleep(max(0.0, timeout_s - min(0.2, timeout_s / 4)))
    finally:
        transport.close()
    logger.info("WS-Discovery from %s: %d device(s)", interface, len(protocol.xaddrs))
    return list(protocol.xaddrs)
