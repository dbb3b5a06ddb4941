"""Report figures, computed without IO from rows the queries return (EVD-12, CONF-02,
CONF-03, ALR-03/05, LAW-04), and the CSV encoding shared by every report (``;``,
UTF-8 with a byte-order mark, spreadsheet-safe cells, French headers).

Definitions:

- a *recording* (« enregistrement ») is a continuous sequence of segments of one stream
  of one camera: the next segment starts less than ``JOIN_S`` seconds after the end of
  the previous one. In practice one run of the ingest worker; the definition also holds
  for segments already destroyed (the destruction register keeps their times but not
  their run). Its duration is the sum of its segments' durations within the period;
- the *availability* of a camera is the share of the period covered by segments of its
  best-covered stream;
- *time to acknowledge* is ``acknowledged_at - raised_at``; *lateness* (ALR-03) is
  ``acknowledged_at - ack_due_at`` when positive, or ``now - ack_due_at`` for an alert
  never acknowledged past its deadline;
- the *false-alarm rate* is alerts closed as ``fausse_alerte`` over alerts closed;
- per camera (ALR-05), an alert is *handled* once closed, *late* when acknowledged
  after its deadline or still unacknowledged past it, a *real incident* when closed as
  ``incident_reel``; an incident's *resolution time* is ``closed_at - raised_at``.

The anonymised view for committees (ALR-05, ``committee_rows``) replaces operator
logins with pseudonyms stable within one report, drops every free text and rounds
times down to the minute.
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from vms.domain.spreadsheet import spreadsheet_safe

JOIN_S = 2.0
LOCAL_TZ = ZoneInfo("Europe/Paris")
BOM = "\ufeff"


# -- periods ----------------------------------------------------------------------------


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """``YYYY-MM`` to its first instant and the next month's, in local civil time."""
    try:
        year, mon = (int(p) for p in month.split("-"))
        first = datetime(year, mon, 1, tzinfo=LOCAL_TZ)
    except ValueError as err:
        raise ValueError(f"Mois invalide : « {month} » (attendu AAAA-MM).") from err
    nxt = datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=LOCAL_TZ)
    return first, nxt


def previous_month(now: datetime) -> str:
    """The month before ``now``'s local month, ``YYYY-MM``."""
    local = now.astimezone(LOCAL_TZ).date().replace(day=1) - timedelta(days=1)
    return f"{local.year:04d}-{local.month:02d}"


def quarter_of(at: datetime) -> str:
    local = at.astimezone(LOCAL_TZ)
    return f"{local.year}-T{(local.month - 1) // 3 + 1}"


def local_day(at: datetime) -> date:
    return at.astimezone(LOCAL_TZ).date()


# -- recordings (EVD-12) ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Segment:
    tenant: str
    camera: str
    stream: str
    start: datetime
    end: datetime
    bytes: int | None
    """None for a segment already destroyed (the register keeps no size)."""


@dataclass(frozen=True, slots=True)
class RecordingSummary:
    tenant: str
    recordings: int
    total_s: float
    total_bytes: int
    measured_recordings: int
    """Recordings whose every segment is still stored, so whose size is known."""
    cameras: int
    segments_destroyed: int

    @property
    def average_s(self) -> float:
        return self.total_s / self.recordings if self.recordings else 0.0

    @property
    def average_bytes(self) -> float:
        return self.total_bytes / self.measured_recordings if self.measured_recordings else 0.0


def recordings(segments: Iterable[Segment]) -> list[RecordingSummary]:
    """Per tenant, sorted by tenant; see the module's definition of a recording."""
    by_stream: dict[tuple[str, str, str], list[Segment]] = defaultdict(list)
    for s in segments:
        by_stream[(s.tenant, s.camera, s.stream)].append(s)
    acc: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    cameras: dict[str, set[str]] = defaultdict(set)
    for (tenant, camera, _), segs in by_stream.items():
        segs.sort(key=lambda s: s.start)
        a = acc[tenant]
        cameras[tenant].add(camera)
        end: datetime | None = None
        run_bytes: int | None = 0
        for s in segs:
            if end is None or (s.start - end).total_seconds() > JOIN_S:
                if end is not None:
                    _close(a, run_bytes)
                a["recordings"] += 1
                run_bytes = 0
            a["total_s"] += (s.end - s.start).total_seconds()
            if s.bytes is None:
                a["destroyed"] += 1
                run_bytes = None
            elif run_bytes is not None:
                run_bytes += s.bytes
            end = s.end if end is None else max(end, s.end)
        _close(a, run_bytes)
    return [
        RecordingSummary(
            tenant=t,
            recordings=int(a["recordings"]),
            total_s=a["total_s"],
            total_bytes=int(a["bytes"]),
            measured_recordings=int(a["measured"]),
            cameras=len(cameras[t]),
            segments_destroyed=int(a["destroyed"]),
        )
        for t, a in sorted(acc.items())
    ]


def _close(a: dict[str, float], run_bytes: int | None) -> None:
    if run_bytes is not None:
        a["measured"] += 1
        a["bytes"] += run_bytes


RECORDING_HEADER = (
    "commune", "debut_periode", "fin_periode", "nombre_enregistrements",
    "duree_moyenne_s", "duree_totale_s", "taille_totale_octets", "taille_moyenne_octets",
    "cameras_distinctes", "segments_detruits_sans_taille",
)  # fmt: skip


def recording_rows(
    summaries: Sequence[RecordingSummary], since: datetime, until: datetime
) -> list[list[object]]:
    return [
        [
            s.tenant,
            since.isoformat(),
            until.isoformat(),
            s.recordings,
            round(s.average_s, 1),
            round(s.total_s, 1),
            s.total_bytes,
            round(s.average_bytes),
            s.cameras,
            s.segments_destroyed,
        ]
        for s in summaries
    ]


# -- availability -----------------------------------------------------------------------


def availability(
    covered: Iterable[tuple[str, str, str, datetime, datetime]],
    cameras: Iterable[tuple[str, str]],
    since: datetime,
    until: datetime,
) -> list[list[object]]:
    """Rows (commune, camera, share 0..1) from (tenant, camera, stream, start, end)
    segments clipped to the period; cameras without any segment have 0."""
    period = (until - since).total_seconds()
    per_stream: dict[tuple[str, str], list[tuple[datetime, datetime]]] = defaultdict(list)
    for _, camera, stream, start, end in covered:
        per_stream[(camera, stream)].append((max(start, since), min(end, until)))
    best: dict[str, float] = defaultdict(float)
    for (camera, _), spans in per_stream.items():
        best[camera] = max(best[camera], _union_s(spans))
    return [
        [tenant, camera, round(min(best[camera] / period, 1.0), 4) if period > 0 else 0.0]
        for tenant, camera in sorted(cameras)
    ]


def _union_s(spans: list[tuple[datetime, datetime]]) -> float:
    total = 0.0
    end: datetime | None = None
    for s, e in sorted(spans):
        if e <= s:
            continue
        if end is None or s > end:
            total += (e - s).total_seconds()
            end = e
        elif e > end:
            total += (e - end).total_seconds()
            end = e
    return total


# -- alerts (ALR-03, ALR-05) and tickets (CONF-03) --------------------------------------


@dataclass(frozen=True, slots=True)
class AlertFact:
    tenant: str
    kind: str
    raised_at: datetime
    ack_due_at: datetime
    acknowledged_at: datetime | None
    closed_at: datetime | None
    qualification: str | None
    escalated: bool
    """Handed to the forces (``forces_calls`` not empty)."""
    camera: str | None = None
    alert_id: int = 0
    source: str = ""
    priority: int = 0
    acknowledged_by: str | None = None
    closed_by: str | None = None
    forces_calls: int = 0
    """Number of calls to the forces (their references are not kept here)."""


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..1); None for no value."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _r(value: float | None) -> object:
    return "" if value is None else round(value, 1)


ALERT_HEADER = (
    "commune", "type", "alertes", "prises_en_compte", "delai_prise_en_compte_median_s",
    "delai_prise_en_compte_p90_s", "escaladees", "cloturees", "fausses_alertes",
    "taux_fausses_alertes", "en_retard", "retard_cumule_s",
)  # fmt: skip


def alert_rows(alerts: Iterable[AlertFact], now: datetime) -> list[list[object]]:
    groups: dict[tuple[str, str], list[AlertFact]] = defaultdict(list)
    for a in alerts:
        groups[(a.tenant, a.kind)].append(a)
    rows: list[list[object]] = []
    for (tenant, kind), group in sorted(groups.items()):
        acks = [
            (a.acknowledged_at - a.raised_at).total_seconds()
            for a in group
            if a.acknowledged_at is not None
        ]
        late = [x for x in (lateness_s(a, now) for a in group) if x > 0]
        closed = [a for a in group if a.closed_at is not None]
        false = sum(1 for a in closed if a.qualification == "fausse_alerte")
        rows.append([
            tenant, kind, len(group), len(acks), _r(percentile(acks, 0.5)),
            _r(percentile(acks, 0.9)), sum(1 for a in group if a.escalated), len(closed),
            false, round(false / len(closed), 4) if closed else "", len(late), round(sum(late), 1),
        ])  # fmt: skip
    return rows


def lateness_s(alert: AlertFact, now: datetime) -> float:
    """ALR-03: seconds past the acknowledgement deadline (0 when on time)."""
    done = alert.acknowledged_at or now
    return max(0.0, (done - alert.ack_due_at).total_seconds())


ALERT_CAMERA_HEADER = (
    "commune", "camera", "alertes", "traitees", "en_retard", "incidents_reels",
    "delai_resolution_incident_median_s", "delai_resolution_incident_p90_s",
)  # fmt: skip


def alert_camera_rows(alerts: Iterable[AlertFact], now: datetime) -> list[list[object]]:
    """ALR-05 per device: alerts raised, handled (closed), late, real incidents and
    their resolution times; alerts without camera in one row per commune (camera "")."""
    groups: dict[tuple[str, str], list[AlertFact]] = defaultdict(list)
    for a in alerts:
        groups[(a.tenant, a.camera or "")].append(a)
    rows: list[list[object]] = []
    for (tenant, camera), group in sorted(groups.items()):
        incidents = [a for a in group if a.qualification == "incident_reel" and a.closed_at]
        times = [(a.closed_at - a.raised_at).total_seconds() for a in incidents if a.closed_at]
        rows.append([
            tenant, camera, len(group), sum(1 for a in group if a.closed_at is not None),
            sum(1 for a in group if lateness_s(a, now) > 0), len(incidents),
            _r(percentile(times, 0.5)), _r(percentile(times, 0.9)),
        ])  # fmt: skip
    return rows


# -- anonymised view for committees (ALR-05) --------------------------------------------

SYSTEM_ACTORS = frozenset({"systeme"})
"""Actors that are no person (automatic closures): shown as « Système »."""


class Pseudonyms:
    """Operator logins to « Opérateur 1 », « Opérateur 2 »… in order of first
    appearance; the same login gets the same pseudonym within one instance (one
    report). The mapping never leaves the process."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}

    def __call__(self, login: str | None) -> str:
        if not login:
            return ""
        if login in SYSTEM_ACTORS:
            return "Système"
        if login not in self._names:
            self._names[login] = f"Opérateur {len(self._names) + 1}"
        return self._names[login]


def minute(at: datetime | None) -> str:
    """An instant rounded down to the minute, in local time, ISO 8601 (or "")."""
    if at is None:
        return ""
    return at.astimezone(LOCAL_TZ).replace(second=0, microsecond=0).isoformat()


COMMITTEE_HEADER = (
    "commune", "numero", "camera", "type", "source", "priorite", "levee_a", "echeance_a",
    "prise_en_compte_a", "prise_en_compte_par", "cloturee_a", "cloturee_par",
    "qualification", "appels_forces", "hors_delai",
)  # fmt: skip


def committee_rows(alerts: Iterable[AlertFact], now: datetime) -> list[list[object]]:
    """One row per alert, in order of raising, with no login (pseudonyms), no free
    text (title, report, detail, the forces' references are not even read), times to
    the minute. ``numero`` is the rank in the report, not the alert's id."""
    names = Pseudonyms()
    rows: list[list[object]] = []
    ordered = sorted(alerts, key=lambda a: (a.raised_at, a.tenant, a.alert_id))
    for n, a in enumerate(ordered, 1):
        rows.append([
            a.tenant, n, a.camera or "", a.kind, a.source, a.priority or "", minute(a.raised_at),
            minute(a.ack_due_at), minute(a.acknowledged_at), names(a.acknowledged_by),
            minute(a.closed_at), names(a.closed_by), a.qualification or "", a.forces_calls,
            "oui" if lateness_s(a, now) > 0 else "non",
        ])  # fmt: skip
    return rows


@dataclass(frozen=True, slots=True)
class TicketFact:
    tenant: str
    opened_at: datetime
    resolved_at: datetime | None


TICKET_HEADER = (
    "commune", "trimestre", "tickets_ouverts", "tickets_resolus",
    "delai_resolution_moyen_s", "delai_resolution_median_s", "delai_resolution_p90_s",
)  # fmt: skip


def ticket_rows(tickets: Iterable[TicketFact]) -> list[list[object]]:
    """CONF-03: per commune and quarter of opening."""
    groups: dict[tuple[str, str], list[TicketFact]] = defaultdict(list)
    for t in tickets:
        groups[(t.tenant, quarter_of(t.opened_at))].append(t)
    rows: list[list[object]] = []
    for (tenant, quarter), group in sorted(groups.items()):
        times = [
            (t.resolved_at - t.opened_at).total_seconds()
            for t in group
            if t.resolved_at is not None
        ]
        mean = sum(times) / len(times) if times else None
        rows.append([tenant, quarter, len(group), len(times), _r(mean),
                     _r(percentile(times, 0.5)), _r(percentile(times, 0.9))])  # fmt: skip
    return rows


# -- usage (CONF-02) --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Viewing:
    tenant: str
    actor: str
    camera: str
    kind: str
    """« direct », « relecture » or « extrait »."""
    at: datetime
    duration_s: float


USAGE_DETAIL_HEADER = ("commune", "utilisateur", "camera", "type", "debut", "duree_s")
USAGE_HEADER = (
    "commune", "periode", "type", "sessions", "utilisateurs_distincts", "cameras_distinctes",
    "duree_totale_s",
)  # fmt: skip


def usage_detail_rows(viewings: Iterable[Viewing]) -> list[list[object]]:
    return [
        [v.tenant, v.actor, v.camera, v.kind, v.at.isoformat(), round(v.duration_s, 1)]
        for v in sorted(viewings, key=lambda v: (v.tenant, v.at, v.actor))
    ]


def usage_rows(viewings: Iterable[Viewing], step: str) -> list[list[object]]:
    """Aggregates per commune, local day (``jour``) or month (``mois``), and kind."""
    groups: dict[tuple[str, str, str], list[Viewing]] = defaultdict(list)
    for v in viewings:
        day = local_day(v.at)
        period = day.isoformat() if step == "jour" else f"{day.year:04d}-{day.month:02d}"
        groups[(v.tenant, period, v.kind)].append(v)
    return [
        [
            tenant,
            period,
            kind,
            len(g),
            len({v.actor for v in g}),
            len({v.camera for v in g}),
            round(sum(v.duration_s for v in g), 1),
        ]
        for (tenant, period, kind), g in sorted(groups.items())
    ]


# -- CSV --------------------------------------------------------------------------------


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}" if abs(value) < 1e15 else f"{value:.0f}"
    if isinstance(value, datetime):
        return value.isoformat()
    return spreadsheet_safe(str(value))


def to_csv(header: Sequence[str], rows: Iterable[Sequence[object]], bom: bool = True) -> str:
    """``;``-separated, CRLF, a byte-order mark first so that spreadsheets read UTF-8."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(_cell(v) for v in row)
    return (BOM if bom else "") + out.getvalue()
