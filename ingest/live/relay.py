"""The live relay of an ingest worker: opens viewer sessions on its feeds (WebRTC or
fMP4), keeps them in a table, and writes each session's start, end and duration to the
audit log (LAW-04). Permissions are decided by the operator service before it forwards
a request here; the relay trusts only requests signed with the shared relay secret."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from ingest.live.fmp4 import Fmp4Broadcast, Viewer
from ingest.live.hub import LiveFeed, LiveHub
from ingest.live.webrtc import WebRtcPeer
from vms.domain.clock import Clock
from vms.errors import not_found, precondition, unavailable

logger = logging.getLogger(__name__)


class Audit(Protocol):
    async def append(
        self,
        actor: str,
        action: str,
        *,
        tenant: str | None = None,
        target: str | None = None,
        detail: dict[str, object] | None = None,
        source_ip: str | None = None,
    ) -> object: ...


@dataclass(frozen=True, slots=True)
class Watcher:
    """Who watches, as the operator service vouches for it."""

    actor: str  # audit actor of the user, or "partage:<id>" / "public:<id>"
    tenant: str  # commune owning the camera
    source_ip: str | None = None
    via: str = "console"  # console | partage | public
    recipient: str = ""  # named recipient of a share link

    @property
    def link(self) -> int | None:
        """The live link watched through (``via`` partage or public), else None."""
        kind, _, number = self.actor.partition(":")
        return int(number) if kind == self.via != "console" and number.isdigit() else None


@dataclass(slots=True)
class LiveSession:
    id: str
    camera_id: str
    stream: str
    watcher: Watcher
    transport: str  # webrtc | fmp4
    started_at: datetime
    started_mono: float = field(default_factory=time.monotonic)
    peer: WebRtcPeer | None = None
    viewer: Viewer | None = None
    ended: bool = False


Refusal = Callable[[str, str, int | None], Awaitable[str | None]]
"""(camera, via, link) -> why live video must be refused now, or None: the EVD-15
switches, and the link's validity (revoked, expired)."""


async def _allow_all(_camera: str, _via: str, _link: int | None) -> str | None:
    return None


class LiveRelay:
    def __init__(
        self,
        hub: LiveHub,
        audit: Audit,
        clock: Clock,
        max_sessions: int = 500,
        refusal: Refusal = _allow_all,
    ) -> None:
        self.hub = hub
        self.refusal = refusal
        self.audit = audit
        self.clock = clock
        self.max_sessions = max_sessions
        self.sessions: dict[str, LiveSession] = {}
        self._broadcasts: dict[tuple[str, str], Fmp4Broadcast] = {}

    async def _feed(self, camera_id: str, stream: str, watcher: Watcher) -> LiveFeed:
        reason = await self.refusal(camera_id, watcher.via, watcher.link)
        if reason is not None:
            raise precondition(reason)
        feed = self.hub.find(camera_id, stream)
        if feed is None:
            raise not_found("Ce flux n'est pas relayé par ce serveur d'acquisition.")
        if len(self.sessions) >= self.max_sessions:
            raise unavailable("Trop de sessions de direct ouvertes sur ce serveur.")
        return feed

    async def _start(
        self, camera_id: str, stream: str, watcher: Watcher, transport: str
    ) -> LiveSession:
        session = LiveSession(
            secrets.token_urlsafe(16), camera_id, stream, watcher, transport, self.clock.now()
        )
        self.sessions[session.id] = session
        await self.audit.append(
            watcher.actor,
            "live.start",
            tenant=watcher.tenant,
            target=f"camera:{camera_id}",
            detail=self._detail(session),
            source_ip=watcher.source_ip,
        )
        return session

    @staticmethod
    def _detail(session: LiveSession) -> dict[str, object]:
        detail: dict[str, object] = {
            "session": session.id,
            "flux": session.stream,
            "transport": session.transport,
            "via": session.watcher.via,
        }
        if session.watcher.recipient:
            detail["destinataire"] = session.watcher.recipient
        return detail

    async def end(self, session: LiveSession, reason: str) -> None:
        if session.ended:
            return
        session.ended = True
        self.sessions.pop(session.id, None)
        seconds = round(time.monotonic() - session.started_mono, 1)
        detail = self._detail(session) | {"duree_s": seconds, "fin": reason}
        await self.audit.append(
            session.watcher.actor,
            "live.end",
            tenant=session.watcher.tenant,
            target=f"camera:{session.camera_id}",
            detail=detail,
            source_ip=session.watcher.source_ip,
        )
        logger.info(
            "live session %s on %s/%s ended after %.1f s (%s)",
            session.id[:6],
            session.camera_id,
            session.stream,
            seconds,
            reason,
        )

    # -- WebRTC ----------------------------------------------------------------------

    async def open_webrtc(
        self, camera_id: str, stream: str, offer_sdp: str, watcher: Watcher
    ) -> tuple[LiveSession, str]:
        feed = await self._feed(camera_id, stream, watcher)
        holder: dict[str, LiveSession] = {}

        async def ended(_peer: WebRtcPeer, reason: str) -> None:
            if "s" in holder:
                await self.end(holder["s"], reason)

        peer = WebRtcPeer(feed.subscribe(), ended)
        answer = await peer.answer(offer_sdp)  # closes the peer itself on a bad offer
        session = await self._start(camera_id, stream, watcher, "webrtc")
        session.peer = peer
        holder["s"] = session
        return session, answer

    async def close(self, session_id: str, actor: str | None = None) -> bool:
        """End a session (WHEP DELETE). ``actor``: only its owner may end it."""
        session = self.sessions.get(session_id)
        if session is None or (actor is not None and session.watcher.actor != actor):
            return False
        if session.peer is not None:
            await session.peer.close("fin_demandee")  # ends the session via its callback
        await self.end(session, "fin_demandee")
        return True

    # -- fMP4 ------------------------------------------------------------------------

    async def open_fmp4(
        self, camera_id: str, stream: str, watcher: Watcher
    ) -> tuple[LiveSession, Fmp4Broadcast, Viewer]:
        feed = await self._feed(camera_id, stream, watcher)
        key = (camera_id, stream)
        broadcast = self._broadcasts.get(key)
        if broadcast is None:
            broadcast = self._broadcasts[key] = Fmp4Broadcast(feed)
        viewer = broadcast.join()
        session = await self._start(camera_id, stream, watcher, "fmp4")
        session.viewer = viewer
        return session, broadcast, viewer

    async def recheck(self) -> int:
        """End the open sessions that would be refused now (a switch turned off, a link
        revoked or expired): revocation takes effect on the sessions under way, not only
        on the next ones. Returns how many were ended."""
        verdicts: dict[tuple[str, str, int | None], str | None] = {}
        ended = 0
        for session in list(self.sessions.values()):
            w = session.watcher
            key = (session.camera_id, w.via, w.link)
            if key not in verdicts:
                verdicts[key] = await self.refusal(*key)
            if verdicts[key] is None or session.ended:
                continue
            logger.info("live session %s withdrawn: %s", session.id[:6], verdicts[key])
            await self.end(session, "retrait")
            if session.peer is not None:
                await session.peer.close("retrait")
            if session.viewer is not None:
                session.viewer.closed = True
                session.viewer.ready.set()
            ended += 1
        return ended

    async def close_all(self) -> None:
        for session in list(self.sessions.values()):
            if session.peer is not None:
                await session.peer.close("arret_serveur")
            await self.end(session, "arret_serveur")

    def status(self) -> dict[str, object]:
        return {
            "feeds": [
                {
                    "camera": f.camera_id,
                    "stream": f.stream,
                    "codec": f.codec,
                    "viewers": f.viewers,
                    "frames_in": f.frames_in,
                }
                for f in self.hub.feeds()
            ],
            "sessions": len(self.sessions),
        }
