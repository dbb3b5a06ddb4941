"""WebRTC output of the live relay: H.264 passed through from the camera to the
browser (aiortc packetises the access units; nothing is decoded or re-encoded).

Chromium drops frames unless H.264 is negotiated, so the sending transceiver and its
codec preferences exist before the browser's offer is applied. ICE uses host
candidates only (``iceServers=[]``): the operator network is closed, and a STUN
server on the Internet would be both useless and a leak.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from fractions import Fraction

import av
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpCodecCapability,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError

from ingest.live.hub import CLOCK_RATE, Subscriber
from vms.errors import invalid

logger = logging.getLogger(__name__)

TIME_BASE = Fraction(1, CLOCK_RATE)
MAX_SDP = 64 * 1024


class RelayTrack(MediaStreamTrack):
    """A video track that yields the feed's access units as packets."""

    kind = "video"

    def __init__(self, subscriber: Subscriber) -> None:
        super().__init__()
        self.subscriber = subscriber
        self.relay_delay_s = 0.0  # time the last frame spent in this worker

    async def recv(self) -> av.Packet:  # type: ignore[type-arg]
        try:
            frame = await self.subscriber.get()
        except EOFError:
            self.stop()
            raise MediaStreamError from None
        packet = av.Packet(frame.data)
        packet.pts = frame.pts
        packet.dts = frame.pts
        packet.time_base = TIME_BASE
        self.relay_delay_s = time.monotonic() - frame.received
        return packet

    def stop(self) -> None:
        super().stop()
        self.subscriber.close()


def _h264_preferences() -> list[RTCRtpCodecCapability]:
    codecs = RTCRtpSender.getCapabilities("video").codecs
    h264 = [c for c in codecs if c.mimeType.lower() == "video/h264"]
    # packetization-mode=1 first: the mode every browser decodes with FU-A fragments
    h264.sort(key=lambda c: "packetization-mode=1" not in str(c.parameters))
    rtx = [c for c in codecs if c.mimeType.lower() == "video/rtx"]
    return [*h264, *rtx]


class WebRtcPeer:
    """One browser watching one feed."""

    def __init__(
        self,
        subscriber: Subscriber,
        on_end: Callable[[WebRtcPeer, str], Awaitable[None]],
    ) -> None:
        self.track = RelayTrack(subscriber)
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self._on_end = on_end
        self._ended = False
        self.connected_at: float | None = None

        @self.pc.on("connectionstatechange")
        async def _state() -> None:
            state = self.pc.connectionState
            if state == "connected" and self.connected_at is None:
                self.connected_at = time.monotonic()
            elif state in ("failed", "closed"):
                await self.close("fermeture" if state == "closed" else "perte_connexion")

    async def answer(self, offer_sdp: str) -> str:
        """Apply the browser's offer, return the answer (ICE gathered, no trickle)."""
        if len(offer_sdp) > MAX_SDP or "m=video" not in offer_sdp:
            raise invalid("Offre SDP invalide : une offre WebRTC vidéo est attendue.")
        transceiver = self.pc.addTransceiver(self.track, direction="sendonly")
        transceiver.setCodecPreferences(_h264_preferences())
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
            answer = await self.pc.createAnswer()
            await self.pc.setLocalDescription(answer)
        except (ValueError, AttributeError, IndexError, KeyError) as err:
            await self.close("offre_invalide")
            raise invalid(
                "Offre SDP illisible ou sans vidéo H.264.", detail=f"{type(err).__name__}: {err}"
            ) from err
        if "H264" not in self.pc.localDescription.sdp:
            await self.close("codec")
            raise invalid("Le navigateur ne propose pas H.264 : direct WebRTC impossible.")
        return str(self.pc.localDescription.sdp)

    async def close(self, reason: str) -> None:
        if self._ended:
            return
        self._ended = True
        self.track.stop()
        await self.pc.close()
        await self._on_end(self, reason)

    async def stats(self) -> dict[str, float]:
        """What the relay knows of the session (delay inside the worker, cuts)."""
        await asyncio.sleep(0)
        sub = self.track.subscriber
        return {
            "relay_delay_ms": round(self.track.relay_delay_s * 1000, 1),
            "cuts": sub.cuts,
            "frames": sub.frames,
        }
