"""Playback: the timeline of a camera (recorded runs, gaps with their cause, legal
holds), playback sessions of up to four cameras over a time range, each opened with a
motive and audited with its duration (LAW-04), the recorded segments served as they
are stored (fMP4, no transcoding; decrypted on the fly), and thumbnails.

A session belongs to its user; every segment request checks the session, the range
and the caller's playback right on the camera again.
"""

from __future__ import annotations

import asyncio
import io
import secrets
from datetime import datetime, timedelta
from typing import Any

import av
from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from vms.config import UNMASKED_SUFFIX
from vms.db import evidence
from vms.db.scope import scoped
from vms.domain.access import Action, visible_tenants
from vms.domain.model import SegmentRecord
from vms.errors import invalid, not_found, precondition, unavailable
from vms.web.api.live import STREAM, camera_for
from vms.web.auth import Caller, caller_of, client_ip, services
from vms.web.http import body_of, ok, query_time
from vms.web.routes import Param, Route

MAX_CAMERAS = 4
MAX_SESSION_RANGE = timedelta(hours=24)
MAX_TIMELINE_RANGE = timedelta(days=31)
SESSION_LIFETIME = timedelta(hours=8)


def _range(request: web.Request, limit: timedelta) -> tuple[datetime, datetime]:
    start, end = query_time(request, "from"), query_time(request, "to")
    if start is None or end is None:
        raise invalid("Paramètres « from » et « to » requis (dates ISO 8601).")
    if end <= start:
        raise invalid("Plage horaire invalide : la fin doit suivre le début.")
    if end - start > limit:
        raise invalid(f"Plage horaire trop longue : {limit.days or limit.seconds // 3600} "
                      f"{'jours' if limit.days else 'heures'} au plus.")  # fmt: skip
    return start, end


async def timeline(request: web.Request) -> web.StreamResponse:
    """Runs, gaps and holds of a camera over up to 31 days (the timeline zooms)."""
    caller = caller_of(request)
    row = await camera_for(request, caller, Action.PLAYBACK)
    start, end = _range(request, MAX_TIMELINE_RANGE)
    stream = request.query.get("stream", "main")
    if not STREAM.fullmatch(stream):
        raise invalid("Flux inconnu.")
    async with scoped(services(request).pool, {str(row["tenant"])}) as conn:
        data = await evidence.timeline(conn, str(row["id"]), stream, start, end)
    return ok({"camera": row["id"], "stream": stream, "from": start, "to": end, **data})


class PlaybackBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cameras: list[str] = Field(
        min_length=1, max_length=MAX_CAMERAS, description="Caméras (4 au plus)."
    )
    start: AwareDatetime = Field(alias="from", description="Début (ISO 8601 avec fuseau).")
    end: AwareDatetime = Field(alias="to", description="Fin (ISO 8601 avec fuseau).")
    motive: str = Field(
        min_length=3, max_length=500, description="Motif de la relecture (obligatoire)."
    )
    stream: str = Field("main", pattern=STREAM.pattern, description="Flux relu.")
    unmasked: bool = Field(
        False, description="Lever les masques de confidentialité (droit dédié, LAW-09)."
    )


def _segment_json(session: str, camera: str, s: SegmentRecord) -> dict[str, Any]:
    return {
        "id": s.id,
        "start": s.start_at,
        "end": s.end_at,
        "duration_s": round(s.duration_90k / 90_000, 3),
        "frames": s.frames,
        "codec": s.codec,
        "width": s.width,
        "height": s.height,
        "url": f"/api/v1/playback/{session}/cameras/{camera}/segments/{s.id}",
    }


async def open_playback(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    body = await body_of(request, PlaybackBody)
    if body.end <= body.start:
        raise invalid("Plage horaire invalide : la fin doit suivre le début.")
    if body.end - body.start > MAX_SESSION_RANGE:
        raise invalid("Plage de relecture trop longue : 24 heures au plus par session.")
    if len(set(body.cameras)) != len(body.cameras):
        raise invalid("Caméra répétée dans la demande.")
    if body.stream.endswith(UNMASKED_SUFFIX):  # only through "unmasked", with its right
        raise invalid("Flux inconnu : demandez la levée des masques (« unmasked »).")
    rows = [await camera_for(request, caller, Action.PLAYBACK, c) for c in body.cameras]
    if body.unmasked:  # lifting privacy masks is a right of its own (LAW-09)
        rows = [await camera_for(request, caller, Action.LIFT_MASKS, c) for c in body.cameras]
    stream = body.stream + (UNMASKED_SUFFIX if body.unmasked else "")
    svc = services(request)
    now = svc.clock.now()
    session = secrets.token_urlsafe(24)
    tenants = {str(r["tenant"]) for r in rows}
    cameras = []
    async with scoped(svc.pool, tenants) as conn:
        for r in rows:
            segs = await evidence.segments(conn, str(r["id"]), stream, body.start, body.end)
            tl = await evidence.timeline(conn, str(r["id"]), stream, body.start, body.end)
            cameras.append(
                {
                    "id": r["id"],
                    "name": r["name"],
                    "stream": stream,
                    "segments": [_segment_json(session, str(r["id"]), s) for s in segs],
                    "gaps": tl["gaps"],
                    "holds": tl["holds"],
                }
            )
        if body.unmasked and not any(c["segments"] for c in cameras):
            raise precondition("Aucun enregistrement non masqué n'est conservé pour cette plage.")
        await evidence.add_playback(
            conn, id=session, user_id=caller.user.id, actor=caller.actor,
            tenant=str(rows[0]["tenant"]), cameras=body.cameras, stream=stream,
            start=body.start, end=body.end, motive=body.motive.strip(),
            unmasked=body.unmasked, source_ip=client_ip(request), now=now,
            expires=now + SESSION_LIFETIME,
        )  # fmt: skip
    for r in rows:
        detail: dict[str, object] = {
            "session": session[:12], "debut": body.start.isoformat(), "fin": body.end.isoformat(),
            "motif": body.motive.strip(), "flux": stream,
        }  # fmt: skip
        await svc.audit.append(
            caller.actor, "masks.lift" if body.unmasked else "playback.start",
            tenant=str(r["tenant"]), target=f"camera:{r['id']}", detail=detail,
            source_ip=client_ip(request),
        )  # fmt: skip
    return ok(
        {"session": session, "expires_at": now + SESSION_LIFETIME, "from": body.start,
         "to": body.end, "cameras": cameras},
        status=201,
    )  # fmt: skip


async def _session_of(request: web.Request, caller: Caller) -> dict[str, Any]:
    svc = services(request)
    async with scoped(svc.pool, {caller.user.home_tenant_id, *_all_tenants(caller, svc)}) as conn:
        row = await evidence.playback(conn, request.match_info["session_id"][:64])
    if row is None or row["user_id"] != caller.user.id:
        raise not_found("Session de relecture introuvable.")
    if row["ended_at"] is not None or row["expires_at"] <= svc.clock.now():
        raise precondition("Session de relecture terminée : ouvrez-en une nouvelle.")
    return row


def _all_tenants(caller: Caller, svc: Any) -> frozenset[str]:
    actions = {Action.PLAYBACK, Action.LIFT_MASKS}
    return visible_tenants(caller.principal, actions, svc.clock.now().date())


async def segment_bytes(request: web.Request) -> web.StreamResponse:
    """One recorded segment of a session's camera, as stored (fMP4), decrypted."""
    caller = caller_of(request)
    session = await _session_of(request, caller)
    camera_id = request.match_info["camera_id"]
    if camera_id not in session["cameras"]:
        raise not_found("Caméra absente de cette session de relecture.")
    action = Action.LIFT_MASKS if session["unmasked"] else Action.PLAYBACK
    row = await camera_for(request, caller, action, camera_id)  # rights may have changed
    try:
        segment_id = int(request.match_info["segment_id"])
    except ValueError as err:
        raise not_found("Segment introuvable.") from err
    svc = services(request)
    async with scoped(svc.pool, {str(row["tenant"])}) as conn:
        seg = await evidence.segment(conn, segment_id, camera_id)
    if (
        seg is None
        or seg.stream != session["stream"]
        or seg.end_at <= session["start"]
        or seg.start_at >= session["end"]
    ):
        raise not_found("Segment hors de la plage de cette session.")
    if svc.reader is None:
        raise unavailable("Les enregistrements ne sont pas lisibles depuis ce serveur.")
    data = await asyncio.to_thread(svc.reader.read, seg)
    return web.Response(
        body=data,
        content_type="video/mp4",
        headers={"Cache-Control": "private, no-store", "X-Segment-Start": seg.start_at.isoformat()},
    )


async def close_playback(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    svc = services(request)
    async with scoped(svc.pool, {caller.user.home_tenant_id, *_all_tenants(caller, svc)}) as conn:
        row = await evidence.playback(conn, request.match_info["session_id"][:64])
        if row is None or row["user_id"] != caller.user.id:
            raise not_found("Session de relecture introuvable.")
        now = svc.clock.now()
        if not await evidence.end_playback(conn, str(row["id"]), now):
            return web.Response(status=204)
    seconds = round((now - row["created_at"]).total_seconds(), 1)
    for camera in row["cameras"]:
        await svc.audit.append(
            caller.actor, "playback.end", tenant=str(row["tenant"]), target=f"camera:{camera}",
            detail={"session": str(row["id"])[:12], "duree_s": seconds, "motif": row["motive"]},
            source_ip=client_ip(request),
        )  # fmt: skip
    return web.Response(status=204)


def _thumbnail(data: bytes, width: int = 320) -> bytes:
    """A JPEG of the first picture of a segment (decoded, scaled down)."""
    with av.open(io.BytesIO(data), "r") as src:
        for frame in src.decode(video=0):
            height = max(2, round(frame.height * width / max(1, frame.width)) // 2 * 2)
            image = frame.reformat(width=width, height=height, format="yuvj420p")
            out = io.BytesIO()
            with av.open(out, "w", format="mjpeg") as dst:
                stream = dst.add_stream("mjpeg")
                stream.width, stream.height, stream.pix_fmt = width, height, "yuvj420p"
                for packet in stream.encode(image):
                    dst.mux(packet)
                for packet in stream.encode(None):
                    dst.mux(packet)
            return out.getvalue()
    raise unavailable("Segment sans image décodable.")


async def thumbnail(request: web.Request) -> web.StreamResponse:
    """The picture recorded at ``at`` (start of the segment that holds it); audited."""
    caller = caller_of(request)
    row = await camera_for(request, caller, Action.PLAYBACK)
    at = query_time(request, "at")
    if at is None:
        raise invalid("Paramètre « at » requis (date ISO 8601).")
    svc = services(request)
    async with scoped(svc.pool, {str(row["tenant"])}) as conn:
        segs = await evidence.segments(conn, str(row["id"]), "main", at, at + timedelta(seconds=1))
    if not segs:
        raise not_found("Aucun enregistrement à cette heure.")
    if svc.reader is None:
        raise unavailable("Les enregistrements ne sont pas lisibles depuis ce serveur.")
    data = await asyncio.to_thread(svc.reader.read, segs[0])
    jpeg = await asyncio.to_thread(_thumbnail, data)
    await svc.audit.append(
        caller.actor, "playback.thumbnail", tenant=str(row["tenant"]),
        target=f"camera:{row['id']}", detail={"instant": segs[0].start_at.isoformat()},
        source_ip=client_ip(request),
    )  # fmt: skip
    return web.Response(
        body=jpeg, content_type="image/jpeg", headers={"Cache-Control": "private, no-store"}
    )


_RANGE = (
    Param("from", {"type": "string", "format": "date-time"}, "Début (ISO 8601)", True),
    Param("to", {"type": "string", "format": "date-time"}, "Fin (ISO 8601)", True),
)
_SESSION = "/api/v1/playback/{session_id}"
ROUTES = [
    Route(
        "GET", "/api/v1/cameras/{camera_id}/timeline", timeline,
        "Frise d'une caméra : enregistrements, interruptions et leur cause, conservations",
        "relecture",
        query=(*_RANGE, Param("stream", {"type": "string"}, "Flux (main par défaut)")),
    ),
    Route(
        "POST", "/api/v1/playback", open_playback,
        "Ouvrir une relecture (4 caméras au plus, motif obligatoire ; journalisée)",
        "relecture", body=PlaybackBody, responses={201: "Session et segments à lire"},
    ),
    Route(
        "GET", _SESSION + "/cameras/{camera_id}/segments/{segment_id}", segment_bytes,
        "Segment enregistré (fMP4, tel que stocké)", "relecture",
        response_media="video/mp4",
    ),
    Route("DELETE", _SESSION, close_playback, "Fermer une relecture (durée journalisée)",
          "relecture", responses={204: "Session fermée"}),
    Route(
        "GET", "/api/v1/cameras/{camera_id}/thumbnail", thumbnail,
        "Vignette de l'image enregistrée à un instant (journalisée)", "relecture",
        query=(Param("at", {"type": "string", "format": "date-time"}, "Instant", True),),
        response_media="image/jpeg",
    ),
]  # fmt: skip
