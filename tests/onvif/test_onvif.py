"""The ONVIF client (ingest.onvif) against the ONVIF device simulator (vms.sim.onvif),
over real HTTP and UDP on 127.0.0.1: no mocks, the real onvif-zeep-async underneath.

Every test runs its coroutine through ``run()``, which fails on anything the event
loop reports (unclosed sessions, unretrieved task errors) and collects garbage so an
unclosed socket surfaces as a ResourceWarning here (warnings are errors)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gc
import hashlib
import io
import os
import socket
import threading
import time
import urllib.request
import uuid
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import aiohttp
import av
import pytest

from ingest.onvif import (
    WSD_GROUP,
    OnvifError,
    PtzCaps,
    PtzClient,
    discover,
    parse_probe_matches,
    probe,
    strip_credentials,
)
from vms.errors import ErrorKind
from vms.sim.onvif import OnvifSimulator, PtzState, fill, parse_duration_s, parse_xml

T = TypeVar("T")
USER, PASSWORD = "admin", "Sécurité-2024"
URIS = {"main": "rtsp://127.0.0.1:8554/cam0/main", "sub": "rtsp://127.0.0.1:8554/cam0/sub"}


def run(coro: Coroutine[Any, Any, T]) -> T:
    reported: list[str] = []

    async def main() -> T:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _loop, ctx: reported.append(str(ctx.get("message"))))
        return await coro

    result = asyncio.run(main())
    gc.collect()
    assert reported == []
    return result


def sim(**kwargs: Any) -> OnvifSimulator:
    kwargs.setdefault("username", USER)
    kwargs.setdefault("password", PASSWORD)
    return OnvifSimulator(kwargs.pop("uris", URIS), **kwargs)


def decode_jpeg(data: bytes) -> tuple[int, int]:
    with av.open(io.BytesIO(data), mode="r", format="mjpeg") as container:
        frame = next(container.decode(video=0))
        return frame.width, frame.height


# -- probe --------------------------------------------------------------------------


def test_probe_reports_device_profiles_snapshot_ptz_and_drift() -> None:
    async def main() -> tuple[Any, bytes, OnvifSimulator]:
        async with sim(clock_offset_s=42.0, serial="SIM-0042") as device:
            result = await probe(device.address, USER, PASSWORD)
            assert result.snapshot_uri is not None
            async with aiohttp.ClientSession() as http, http.get(result.snapshot_uri) as resp:
                assert resp.status == 200 and resp.content_type == "image/jpeg"
                jpeg = await resp.read()
            return result, jpeg, device

    result, jpeg, device = run(main())
    assert result.address == device.base_url
    facts = result.device
    assert (facts.manufacturer, facts.model, facts.firmware) == (
        "VMS Simulation",
        "SimCam PTZ-1",
        "1.4.2",
    )
    assert (facts.serial, facts.hardware_id) == ("SIM-0042", "sim-hw-1")
    assert [(p.name, p.encoding, p.width, p.height, p.stream_uri) for p in result.profiles] == [
        ("main", "H264", 1280, 720, URIS["main"]),
        ("sub", "H264", 640, 360, URIS["sub"]),
    ]
    assert result.main is not None and result.main.stream_uri == URIS["main"]
    assert result.sub is not None and result.sub.stream_uri == URIS["sub"]
    assert result.snapshot_uri == device.snapshot_url
    assert decode_jpeg(jpeg) == (64, 36)
    assert result.ptz == PtzCaps(continuous=True, presets=True, home=True, zoom=True)
    assert result.clock_drift_s is not None and abs(result.clock_drift_s - 42.0) <= 2.0
    as_json = result.to_json()
    assert as_json["main"]["stream_uri"] == URIS["main"]
    assert as_json["ptz"] == {"continuous": True, "presets": True, "home": True, "zoom": True}
    assert ("device", "GetDeviceInformation") in device.operations
    assert ("media", "GetStreamUri") in device.operations


def test_fixed_camera_has_no_ptz() -> None:
    async def main() -> tuple[Any, OnvifSimulator]:
        async with sim(ptz=False) as device:
            return await probe(f"http://{device.address}", USER, PASSWORD), device

    result, device = run(main())
    assert result.ptz is None
    assert result.main is not None and result.sub is not None
    assert not any(service == "ptz" for service, _ in device.operations)


def test_camera_clock_far_off_still_authenticates_and_drift_is_measured() -> None:
    async def main() -> Any:
        async with sim(clock_offset_s=-3600.0, max_skew_s=60.0) as device:
            return await probe(device.address, USER, PASSWORD)

    result = run(main())
    assert result.clock_drift_s is not None and abs(result.clock_drift_s + 3600.0) <= 2.0


def test_credentials_in_stream_uris_are_stripped() -> None:
    uris = {"main": "rtsp://admin:hunter2@127.0.0.1:8554/cam3/main"}

    async def main() -> Any:
        async with sim(uris=uris) as device:
            return await probe(device.address, USER, PASSWORD)

    result = run(main())
    assert [p.stream_uri for p in result.profiles] == ["rtsp://127.0.0.1:8554/cam3/main"]
    assert result.main is not None and result.sub is None
    assert "hunter2" not in str(result.to_json())
    assert strip_credentials("rtsp://u:p@[::1]:554/x?y=1") == "rtsp://[::1]:554/x?y=1"


def test_wrong_password_is_refused_in_french_without_leaking_it() -> None:
    async def main() -> OnvifError:
        async with sim() as device:
            with pytest.raises(OnvifError) as caught:
                await probe(device.address, USER, "mauvais-mot-de-passe")
            return caught.value

    err = run(main())
    assert err.kind is ErrorKind.FAILED_PRECONDITION
    assert err.message.startswith("Identifiants ONVIF refusés par la caméra")
    assert "mauvais-mot-de-passe" not in f"{err.message} {err.detail}"


@pytest.mark.parametrize(
    ("fault", "kind", "message"),
    [
        ("slow", ErrorKind.UNAVAILABLE, "La caméra ne répond pas (délai de 1 s dépassé)"),
        ("soap_fault", ErrorKind.UNAVAILABLE, "La caméra a renvoyé une erreur SOAP : Disque"),
        ("malformed", ErrorKind.UNAVAILABLE, "Réponse ONVIF illisible (XML invalide)"),
        ("http_error", ErrorKind.UNAVAILABLE, "Erreur HTTP 500 de la caméra"),
    ],
    ids=["slow", "soap_fault", "malformed", "http_error"],
)
def test_device_faults_give_a_clear_error_quickly(
    fault: str, kind: ErrorKind, message: str
) -> None:
    async def main() -> tuple[OnvifError, float]:
        async with sim() as device:
            device.fault = fault
            device.fault_reason = "Disque plein"
            started = time.monotonic()
            with pytest.raises(OnvifError) as caught:
                await probe(device.address, USER, PASSWORD, timeout_s=1.0)
            return caught.value, time.monotonic() - started

    err, elapsed_s = run(main())
    assert (err.kind, err.message[: len(message)]) == (kind, message)
    assert elapsed_s < 2.0


@pytest.mark.parametrize("operation", ["GetDeviceInformation", "GetProfiles", "GetNodes"])
def test_a_fault_on_one_operation_fails_the_probe(operation: str) -> None:
    async def main() -> tuple[OnvifError | None, list[tuple[str, str]]]:
        async with sim() as device:
            device.fault = "malformed"
            device.fault_operations = {operation}
            try:
                await probe(device.address, USER, PASSWORD, timeout_s=2.0)
            except OnvifError as err:
                return err, device.operations
            return None, device.operations

    err, operations = run(main())
    assert err is not None and err.message.startswith("Réponse ONVIF illisible")
    assert operations[-1][1] == operation


def test_unreachable_camera_and_bad_addresses() -> None:
    async def main() -> OnvifError:
        async with sim() as device:
            port = device.port
        with pytest.raises(OnvifError) as caught:
            await probe(f"127.0.0.1:{port}", USER, PASSWORD, timeout_s=2.0)
        return caught.value

    err = run(main())
    assert err.kind is ErrorKind.UNAVAILABLE
    assert err.message.startswith("Connexion impossible à la caméra")
    for address in ("", "ftp://cam", "cam:99999", "admin:secret@cam"):
        with pytest.raises(OnvifError) as caught:
            run(probe(address, USER, PASSWORD))
        assert caught.value.kind is ErrorKind.INVALID_ARGUMENT
        assert "secret" not in caught.value.message


# -- PTZ ------------------------------------------------------------------------------


def test_ptz_move_status_stop_presets_and_home() -> None:
    async def main() -> None:
        async with sim() as device, PtzClient(device.address, USER, PASSWORD) as ptz:
            assert ptz.profile_token == "profile_main"
            await ptz.move(1.0, -0.5, 2.0, timeout_s=5.0)  # zoom clamped to 1
            await asyncio.sleep(0.3)
            moving = await ptz.status()
            assert moving.moving
            assert moving.pan is not None and moving.pan > 0.05
            assert moving.tilt is not None and moving.tilt < -0.02
            assert moving.zoom is not None and moving.zoom > 0.05
            await ptz.stop()
            stopped = await ptz.status()
            assert not stopped.moving
            await asyncio.sleep(0.1)
            assert (await ptz.status()).pan == stopped.pan

            token = await ptz.set_preset("Entrée nord")
            assert [(p.token, p.name) for p in await ptz.presets()] == [(token, "Entrée nord")]
            await ptz.home()
            assert (await ptz.status()).pan == 0.0
            await ptz.goto_preset(token)
            back = await ptz.status()
            assert (back.pan, back.tilt, back.zoom) == (stopped.pan, stopped.tilt, stopped.zoom)
            assert back.pan == pytest.approx(device.ptz_position()[0], abs=1e-5)
            assert not device.ptz_moving()

            await ptz.move(-1.0, 0.0, 0.0)
            await asyncio.sleep(0.1)
            await ptz.stop()
            await ptz.set_home()
            elsewhere = await ptz.status()
            await ptz.goto_preset(token)
            await ptz.home()
            assert (await ptz.status()).pan == elsewhere.pan

            await ptz.remove_preset(token)
            assert await ptz.presets() == []
            with pytest.raises(OnvifError) as caught:
                await ptz.goto_preset(token)
            assert caught.value.kind is ErrorKind.NOT_FOUND

    run(main())


def test_ptz_move_timeout_stops_the_camera_by_itself() -> None:
    async def main() -> None:
        async with sim() as device, PtzClient(device.address, USER, PASSWORD) as ptz:
            await ptz.move(0.0, 1.0, 0.0, timeout_s=0.2)
            await asyncio.sleep(0.4)
            status = await ptz.status()
            assert not status.moving and status.tilt is not None and 0.05 < status.tilt < 0.15

    run(main())


def test_ptz_validates_names_and_speeds_in_french() -> None:
    async def main() -> None:
        async with sim() as device, PtzClient(device.address, USER, PASSWORD) as ptz:
            for name in ("", "x" * 65, "ligne\nsuivante", "   "):
                with pytest.raises(OnvifError) as caught:
                    await ptz.set_preset(name)
                assert caught.value.kind is ErrorKind.INVALID_ARGUMENT
                assert caught.value.message.startswith("Nom invalide")
            with pytest.raises(OnvifError, match="Vitesse PTZ invalide"):
                await ptz.move(float("nan"), 0.0, 0.0)
            assert not any(op == "SetPreset" for _, op in device.operations)

    run(main())


def test_ptz_on_a_fixed_camera_and_ptz_faults() -> None:
    async def main() -> None:
        async with sim(ptz=False) as fixed:
            with pytest.raises(OnvifError) as caught:
                async with PtzClient(fixed.address, USER, PASSWORD):
                    pass
            assert caught.value.kind is ErrorKind.FAILED_PRECONDITION
            assert "PTZ" in caught.value.message
        async with sim() as device, PtzClient(device.address, USER, PASSWORD, timeout_s=1.0) as ptz:
            device.fault = "slow"
            device.fault_operations = {"ContinuousMove"}
            started = time.monotonic()
            with pytest.raises(OnvifError, match="ne répond pas"):
                await ptz.move(0.5, 0.0, 0.0)
            assert time.monotonic() - started < 2.0
            device.fault = "soap_fault"
            device.fault_operations = None
            with pytest.raises(OnvifError, match="erreur SOAP : Simulated device failure"):
                await ptz.stop()
        async with sim() as device:
            with pytest.raises(OnvifError, match="Identifiants"):
                async with PtzClient(device.address, USER, "faux"):
                    pass

    run(main())


# -- WS-Discovery -------------------------------------------------------------------

WSD = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "d": "http://schemas.xmlsoap.org/ws/2005/04/discovery",
}
_PROBE_MATCHES = """<?xml version="1.0" encoding="UTF-8"?>
<s:Envelope xmlns:s="{s}" xmlns:a="{a}" xmlns:d="{d}"
 xmlns:dn="http://www.onvif.org/ver10/network/wsdl"><s:Header>
<a:Action>{d}/ProbeMatches</a:Action><a:MessageID>urn:uuid:{message_id}</a:MessageID>
<a:RelatesTo>{relates_to}</a:RelatesTo><a:To>{a}/role/anonymous</a:To></s:Header>
<s:Body><d:ProbeMatches><d:ProbeMatch><a:EndpointReference><a:Address>{endpoint}</a:Address>
</a:EndpointReference><d:Types>dn:NetworkVideoTransmitter</d:Types>
<d:Scopes>onvif://www.onvif.org/Profile/Streaming</d:Scopes><d:XAddrs>{xaddrs}</d:XAddrs>
<d:MetadataVersion>1</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches></s:Body></s:Envelope>"""


XADDRS = ["http://127.0.0.1:8081/onvif/device_service", "http://10.0.0.9/onvif/device_service"]


def probe_matches(relates_to: str, xaddrs: list[str]) -> bytes:
    return fill(
        _PROBE_MATCHES, message_id=uuid.uuid4(), relates_to=relates_to,
        endpoint=f"urn:uuid:{uuid.uuid4()}", xaddrs=" ".join(xaddrs), **WSD,
    ).encode()  # fmt: skip


@dataclass
class Responder:
    port: int
    probes: list[bytes] = field(default_factory=list)


@contextlib.contextmanager
def wsd_responder(multicast: bool = False) -> Iterator[Responder]:
    """A WS-Discovery responder on 127.0.0.1: unicast on a free port, or joined to the
    multicast group (port 3702). To each Probe it answers noise, a ProbeMatches for some
    other probe, then the right ProbeMatches."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        if multicast:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("", WSD_GROUP[1]))
            group = socket.inet_aton(WSD_GROUP[0]) + socket.inet_aton("127.0.0.1")
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, group)
        else:
            sock.bind(("127.0.0.1", 0))
    except OSError as err:
        sock.close()
        pytest.skip(f"cannot join the WS-Discovery multicast group on loopback: {err}")
    sock.settimeout(0.05)
    responder = Responder(sock.getsockname()[1])
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                payload, peer = sock.recvfrom(65536)
            except TimeoutError:
                continue
            responder.probes.append(payload)
            message_id = parse_xml(payload).findtext("s:Header/a:MessageID", "", WSD) or ""
            for reply in (
                b"<garbage",
                probe_matches("urn:uuid:someone-else", ["http://10.9.9.9/onvif/device_service"]),
                probe_matches(message_id, XADDRS),
            ):
                sock.sendto(reply, peer)

    thread = threading.Thread(target=serve, daemon=True, name="wsd-responder")
    thread.start()
    try:
        yield responder
    finally:
        stop.set()
        thread.join(5)
        sock.close()


def test_discovery_finds_the_responders_device() -> None:
    with wsd_responder() as responder:
        found = run(discover("127.0.0.1", 0.5, target=("127.0.0.1", responder.port)))
    assert found == XADDRS
    assert b"dn:NetworkVideoTransmitter" in responder.probes[0]


def test_discovery_over_multicast_on_loopback() -> None:
    with wsd_responder(multicast=True) as responder:
        found = run(discover("127.0.0.1", 0.5))
    if not responder.probes:
        pytest.skip("multicast on loopback is not delivered here")
    assert set(XADDRS) <= set(found)  # real devices on the network may answer too


def test_discovery_parsing_refuses_foreign_and_hostile_datagrams() -> None:
    reply = probe_matches("urn:uuid:1", [*XADDRS, "ftp://10.0.0.1/x", XADDRS[0]])
    assert parse_probe_matches(reply, "urn:uuid:1") == XADDRS
    assert parse_probe_matches(reply, "urn:uuid:2") == []
    assert parse_probe_matches(b"<not-xml", "urn:uuid:1") == []
    bomb = b'<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'
    assert parse_probe_matches(bomb, "urn:uuid:1") == []
    with pytest.raises(OnvifError) as caught:
        run(discover("pas-une-adresse", 0.1))
    assert caught.value.kind is ErrorKind.INVALID_ARGUMENT


# -- the simulator itself ---------------------------------------------------------------


def test_threaded_simulator_serves_synchronous_callers() -> None:
    with sim(ptz=False) as device:
        with urllib.request.urlopen(device.snapshot_url, timeout=5) as resp:
            assert decode_jpeg(resp.read()) == (64, 36)
        result = run(probe(device.address, USER, PASSWORD))
        assert result.device.serial == "SIM-0001"
        device.fault = "slow"
        with pytest.raises(OnvifError):
            run(probe(device.address, USER, PASSWORD, timeout_s=0.5))
    # stopping did not wait for the slow answer (slow_s = 30 s)


def _digest_header(password: str, created: datetime) -> str:
    nonce = os.urandom(16)
    stamp = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = base64.b64encode(hashlib.sha1(nonce + stamp.encode() + password.encode()).digest())
    wss = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss"
    return (
        f'<s:Header><Security xmlns="{wss}-wssecurity-secext-1.0.xsd"><UsernameToken>'
        f"<Username>{USER}</Username>"
        f'<Password Type="{wss}-username-token-profile-1.0#PasswordDigest">{digest.decode()}'
        f"</Password><Nonce>{base64.b64encode(nonce).decode()}</Nonce>"
        f'<Created xmlns="{wss}-wssecurity-utility-1.0.xsd">{stamp}</Created>'
        "</UsernameToken></Security></s:Header>"
    )


def test_simulator_checks_digests_freshness_dtds_and_operations() -> None:
    envelope = (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:tds="http://www.onvif.org/ver10/device/wsdl">{header}<s:Body>'
        "<tds:{op}/></s:Body></s:Envelope>"
    )

    async def main() -> None:
        async with sim(clock_offset_s=600.0) as device, aiohttp.ClientSession() as http:

            async def post(op: str, header: str = "", prefix: str = "") -> tuple[int, str]:
                body = prefix + envelope.format(header=header, op=op)
                async with http.post(device.device_xaddr, data=body) as resp:
                    return resp.status, await resp.text()

            now = device.device_now()
            status, text = await post("GetHostname")
            assert status == 400 and "ter:NotAuthorized" in text
            status, text = await post("GetSystemDateAndTime")
            assert status == 200 and "UTCDateTime" in text
            status, text = await post("GetHostname", _digest_header(PASSWORD, now))
            assert status == 200 and "simcam-sim-0001" in text
            stale = now - timedelta(seconds=device.max_skew_s + 60)
            status, _ = await post("GetHostname", _digest_header(PASSWORD, stale))
            assert status == 400
            status, _ = await post("GetHostname", _digest_header("autre", now))
            assert status == 400
            status, text = await post("GetHostname", prefix='<!DOCTYPE x [<!ENTITY e "e">]>')
            assert status == 400 and "ter:WellFormed" in text
            status, text = await post("GetWsdlUrl")
            assert status == 500 and "ter:ActionNotSupported" in text
            assert [op for _, op in device.operations][-3:] == ["GetHostname"] * 2 + ["GetWsdlUrl"]

    run(main())


def test_ptz_state_integrates_velocity_and_clamps() -> None:
    now = [100.0]
    state = PtzState(clock=lambda: now[0], speed_per_s=0.5)
    state.move((1.0, -1.0, -1.0), timeout_s=10.0)
    now[0] += 1.0
    assert state.position() == (0.5, -0.5, 0.0)  # zoom held at its lower limit
    assert state.moving() == (True, False)
    now[0] += 5.0
    assert state.position() == (1.0, -1.0, 0.0)
    assert state.moving() == (False, False)  # both axes at their limits
    state.move((-1.0, 0.0, 1.0), timeout_s=1.0)
    now[0] += 3.0
    assert state.position() == (0.5, -1.0, 0.5)  # the timeout stopped it after 1 s
    token = state.set_preset("a")
    state.jump(state.home)
    assert state.position() == (0.0, 0.0, 0.0)
    assert state.presets[token] == ("a", (0.5, -1.0, 0.5))
    assert parse_duration_s("PT1.5S") == 1.5
    assert parse_duration_s("P1DT1H1M1S") == 90061.0
