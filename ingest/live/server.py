"""The internal HTTP interface of the live relay, called by operator services only.

Every request carries the shared relay secret (``Authorization: Bearer``) and the
watcher the operator service vouches for (``X-Vms-Watcher``, JSON). Browsers never
call this server: they reach it through the operator service, which checks the
caller's permission on the camera first. The media itself (WebRTC) flows from this
worker to the browser directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import WSMsgType, web

from ingest.live.relay import LiveRelay, Watcher
from ingest.ptz import PtzGateway
from vms.aio import ServerThread, bound_port, stop_runner
from vms.errors import ErrorKind, VmsError

logger = logging.getLogger(__name__)

RELAY = web.AppKey("relay", LiveRelay)
SECRET = web.AppKey("secret", str)
PTZ = web.AppKey("ptz", PtzGateway)
INIT_TIMEOUT_S = 10.0

_STATUS = {
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.INVALID_ARGUMENT: 400,
    ErrorKind.FAILED_PRECONDITION: 409,
    ErrorKind.UNAVAILABLE: 503,
    ErrorKind.PERMISSION_DENIED: 403,
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    expected = f"Bearer {request.app[SECRET]}"
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return web.json_response({"erreur": {"code": "unauthenticated"}}, status=401)
    try:
        return await handler(request)
    except VmsError as err:
        status = _STATUS.get(err.kind, 500)
        body = {"erreur": {"code": err.kind.value, "message": err.message}}
        return web.json_response(body, status=status)


def _watcher(request: web.Request) -> Watcher:
    try:
        raw = json.loads(request.headers.get("X-Vms-Watcher", ""))
        return Watcher(
            actor=str(raw["actor"]),
            tenant=str(raw["tenant"]),
            source_ip=raw.get("source_ip"),
            via=str(raw.get("via", "console")),
            recipient=str(raw.get("recipient", "")),
        )
    except (ValueError, KeyError, TypeError) as err:
        raise VmsError(ErrorKind.INVALID_ARGUMENT, "En-tête X-Vms-Watcher invalide.") from err


async def _webrtc(request: web.Request) -> web.StreamResponse:
    relay = request.app[RELAY]
    offer = await request.text()
    session, answer = await relay.open_webrtc(
        request.match_info["camera"], request.match_info["stream"], offer, _watcher(request)
    )
    return web.json_response({"session": session.id, "answer": answer}, status=201)


async def _close(request: web.Request) -> web.StreamResponse:
    actor = request.query.get("actor")
    if not await request.app[RELAY].close(request.match_info["session"], actor):
        return web.json_response({"erreur": {"code": "not_found"}}, status=404)
    return web.Response(status=204)


async def _fmp4(request: web.Request) -> web.StreamResponse:
    """WebSocket: a JSON text message with the codec, then the init segment and the
    fragments as binary messages."""
    relay = request.app[RELAY]
    watcher = _watcher(request)
    camera, stream = request.match_info["camera"], request.match_info["stream"]
    session, broadcast, viewer = await relay.open_fmp4(camera, stream, watcher)
    ws = web.WebSocketResponse(heartbeat=20)
    reason = "fermeture"
    try:
        await ws.prepare(request)
        if not await broadcast.wait_init(INIT_TIMEOUT_S):
            reason = "flux_indisponible"
            await ws.close(code=1011, message=b"flux indisponible")
            return ws
        await ws.send_str(json.dumps({"codec": broadcast.codec, "session": session.id}))
        await ws.send_bytes(broadcast.init)
        reader = asyncio.ensure_future(ws.receive())
        while not ws.closed:
            chunk_task = asyncio.ensure_future(viewer.next())
            done, _ = await asyncio.wait({chunk_task, reader}, return_when=asyncio.FIRST_COMPLETED)
            if reader in done:
                chunk_task.cancel()
                msg = reader.result()
                if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                    break
                reader = asyncio.ensure_future(ws.receive())
                continue
            try:
                chunk = chunk_task.result()
            except EOFError:
                reason = "flux_interrompu"
                break
            await ws.send_bytes(chunk.data)
        reader.cancel()
    except (ConnectionError, asyncio.CancelledError):
        reason = "perte_connexion"
    finally:
        broadcast.leave(viewer)
        await relay.end(session, reason)
        with contextlib.suppress(ConnectionError):
            await ws.close()
    return ws


async def _status(request: web.Request) -> web.StreamResponse:
    return web.json_response(request.app[RELAY].status())


async def _json(request: web.Request) -> dict[str, object]:
    try:
        body = await request.json()
    except ValueError as err:
        raise VmsError(ErrorKind.INVALID_ARGUMENT, "Corps JSON invalide.") from err
    if not isinstance(body, dict):
        raise VmsError(ErrorKind.INVALID_ARGUMENT, "Un objet JSON est attendu.")
    return body


async def _ptz(request: web.Request) -> web.StreamResponse:
    body = await _json(request)
    result = await request.app[PTZ].execute(request.match_info["camera"], body)
    return web.json_response(result)


async def _probe(request: web.Request) -> web.StreamResponse:
    body = await _json(request)
    fields = [body.get(k, "") for k in ("address", "username", "password")]
    if not all(isinstance(f, str) for f in fields):
        raise VmsError(ErrorKind.INVALID_ARGUMENT, "Adresse et identifiants attendus.")
    address, username, password = (str(f) for f in fields)
    return web.json_response(await request.app[PTZ].probe(address, username, password))


async def _discover(request: web.Request) -> web.StreamResponse:
    return web.json_response({"devices": await request.app[PTZ].discover()})


def build_relay_app(
    relay: LiveRelay, secret: str, ptz: PtzGateway | None = None
) -> web.Application:
    app = web.Application(middlewares=[_guard], client_max_size=128 * 1024)
    app[RELAY] = relay
    app[SECRET] = secret
    app[PTZ] = ptz or PtzGateway({})
    app.router.add_post("/relay/v1/cameras/{camera}/ptz", _ptz)
    app.router.add_post("/relay/v1/onvif/probe", _probe)
    app.router.add_post("/relay/v1/onvif/discover", _discover)
    app.router.add_post("/relay/v1/streams/{camera}/{stream}/webrtc", _webrtc)
    app.router.add_get("/relay/v1/streams/{camera}/{stream}/fmp4", _fmp4)
    app.router.add_delete("/relay/v1/sessions/{session}", _close)
    app.router.add_get("/relay/v1/status", _status)
    return app


class RelayServer(ServerThread):
    """The relay's HTTP server in its own thread and event loop (beside the recorder
    threads of the ingest worker)."""

    thread_name = "live-relay"

    def __init__(
        self,
        make_relay: Callable[[], Awaitable[tuple[LiveRelay, Callable[[], Awaitable[None]]]]],
        secret: str,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: tuple[Path, Path] | None = None,
        ptz: PtzGateway | None = None,
        recheck_s: float = 5.0,
    ) -> None:
        super().__init__()
        if len(secret) < 16:
            raise ValueError("the relay secret must have at least 16 characters")
        self.make_relay = make_relay
        self.secret = secret
        self.host = host
        self.port = port
        self.tls = tls
        self.ptz = ptz or PtzGateway({})
        self.recheck_s = recheck_s
        self.relay: LiveRelay | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}:{self.port}"

    async def _recheck(self, relay: LiveRelay) -> None:
        while True:
            await asyncio.sleep(self.recheck_s)
            try:
                await relay.recheck()
            except Exception:  # a database hiccup must not end the loop
                logger.exception("live sessions recheck failed")

    async def serve(self) -> None:
        relay, closer = await self.make_relay()
        self.relay = relay
        try:
            runner = web.AppRunner(build_relay_app(relay, self.secret, self.ptz), access_log=None)
            await runner.setup()
            ctx = None
            if self.tls is not None:
                ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                ctx.load_cert_chain(self.tls[0], self.tls[1])
            site = web.TCPSite(runner, self.host, self.port, ssl_context=ctx)
            await site.start()
            self.port = bound_port(site, self.port)
            logger.info("live relay on %s", self.url)
            self.ready()
            rechecks = asyncio.create_task(self._recheck(relay))
            await self.stopped()
            rechecks.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await rechecks
            await relay.close_all()
            await self.ptz.close()
            await stop_runner(runner)
        finally:
            await closer()
