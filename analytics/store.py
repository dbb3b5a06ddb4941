"""What the analytics worker reads from and writes to PostgreSQL and the stores
(synchronous: camera threads call it).

Reads the enabled camera configurations (``camera_analytics``). Writes, per camera:
events (one row per alert, in its day's partition) with a JPEG snapshot on every
storage replica and a protection of the video around it (``event_protections``),
a NOTIFY on ``vms_events``; line-crossing counts per 15-minute bucket
(``line_counts``, deltas added); the latest tracked objects (``analytics_live``, at
most once per second). See docs/design/analytics-service.md.

Order for an event: the snapshot object first, on every replica, then one
transaction (event row, protection, NOTIFY). A crash in between leaves an object
no row names, which ``vms check`` reports as an orphan, as for segments.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from psycopg_pool import ConnectionPool

from analytics.rules.config import CameraAnalyticsConfig, parse_camera_analytics
from analytics.rules.counting import Counter
from analytics.rules.model import Detection, Event
from vms.db.migrate import DailyPartitions, partitioning_mode
from vms.domain.ports import BlobStore
from vms.errors import VmsError

log = logging.getLogger(__name__)

Image = npt.NDArray[np.uint8]

EVENTS_CHANNEL = "vms_events"
CONFIG_CHANNEL = "vms_analytics_config"
LIVE_INTERVAL_S = 1.0
COUNTS_INTERVAL_S = 10.0
NOT_ALERTS = frozenset({"comptage"})
"""Rule kinds that are statistics, not alerts: counted in ``line_counts`` only (no
event row, no snapshot of the person, no protected video)."""


UNPROTECTED = frozenset({"technique"})
"""Event kinds whose video is not protected: technical faults (the picture of a
covered lens is no evidence of anything)."""


def snapshot_key(camera_id: str, at: datetime, event_id: int) -> str:
    """``events/<camera>/<YYYY>/<MM>/<DD>/<event id>.jpg`` (UTC date)."""
    return f"events/{camera_id}/{at.astimezone(UTC):%Y/%m/%d}/{event_id}.jpg"


@dataclass(frozen=True, slots=True)
class StoreSettings:
    jpeg_quality: int = 80
    protect_before_s: float = 30.0
    protect_after_s: float = 30.0


class AnalyticsStore:
    """The worker's database and object-store adapter, shared by the cameras of a host."""

    def __init__(
        self,
        pool: ConnectionPool,
        stores: Sequence[BlobStore],
        settings: StoreSettings | None = None,
    ) -> None:
        self.pool = pool
        self.stores = list(stores)
        self.settings = settings or StoreSettings()
        with pool.connection() as conn:
            self._partitions = DailyPartitions(partitioning_mode(conn))

    # -- configuration -------------------------------------------------------------

    def configs(self, camera_ids: Iterable[str] | None = None) -> dict[str, CameraAnalyticsConfig]:
        """The enabled, valid configurations (of ``camera_ids`` if given). A stored
        configuration that no longer validates is logged and left out."""
        wanted = None if camera_ids is None else list(camera_ids)
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT camera_id, config FROM camera_analytics "
                "WHERE %(ids)s::text[] IS NULL OR camera_id = ANY (%(ids)s) ORDER BY camera_id",
                {"ids": wanted},
            ).fetchall()
        out: dict[str, CameraAnalyticsConfig] = {}
        for camera_id, data in rows:
            try:  # as the API validated it (JSON: dates and times are ISO strings)
                config = parse_camera_analytics({**data, "camera_id": camera_id}, from_json=True)
            except VmsError as err:
                log.warning("%s: stored analytics configuration refused: %s", camera_id, err)
                continue
            if config.enabled:
                out[camera_id] = config
        return out

    def seed_config(self, config: CameraAnalyticsConfig, by: str = "config") -> bool:
        """Store ``config`` unless the camera has one; whether it was stored."""
        with self.pool.connection() as conn:
            cur = conn.execute(
                "INSERT INTO camera_analytics (camera_id, config, updated_by) "
                "VALUES (%s, %s, %s) ON CONFLICT (camera_id) DO NOTHING",
                (config.camera_id, json.dumps(config.model_dump(mode="json")), by),
            )
            stored = cur.rowcount == 1
            if stored:
                conn.execute("SELECT pg_notify(%s, %s)", (CONFIG_CHANNEL, config.camera_id))
        return stored

    # -- events --------------------------------------------------------------------

    def _snapshot(self, key: str, jpeg: bytes) -> bool:
        """Put the snapshot on every replica; whether at least one has it."""
        stored = 0
        for store in self.stores:
            try:
                store.put(key, jpeg)
                stored += 1
            except VmsError as err:
                log.warning("snapshot %s not written on %s: %s", key, store.name, err)
        return stored > 0

    def write_events(self, events: Sequence[Event], image: Image | None) -> list[int]:
        """Store the alerts of one analysed frame (``image``: its BGR picture, or None
        for no snapshot); returns the new event ids. Statistics (``NOT_ALERTS``) are
        skipped: their counters are stored by ``write_counts``."""
        alerts = [e for e in events if e.rule_kind not in NOT_ALERTS]
        if not alerts:
            return []
        jpeg = b""
        if image is not None:
            ok, buf = cv2.imencode(
                ".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.settings.jpeg_quality]
            )
            jpeg = buf.tobytes() if ok else b""
        before = timedelta(seconds=self.settings.protect_before_s)
        after = timedelta(seconds=self.settings.protect_after_s)
        ids: list[int] = []
        with self.pool.connection() as conn:
            for e in alerts:
                row = conn.execute(
                    "SELECT nextval(pg_get_serial_sequence('events', 'id'))"
                ).fetchone()
                assert row is not None
                event_id = int(row[0])
                key = snapshot_key(e.camera_id, e.at, event_id)
                stored = bool(jpeg) and self._snapshot(key, jpeg)
                self._partitions.ensure(conn, e.at)
                conn.execute(
                    "INSERT INTO events (id, camera_id, at, rule_id, kind, cls, track_id, "
                    "confidence, boxes, label, detail, model, snapshot_key) VALUES (%s, %s, "
                    "%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (event_id, e.camera_id, e.at, e.rule_id, e.rule_kind, e.cls, e.track_id,
                     min(1.0, max(0.0, e.confidence)), json.dumps([list(b) for b in e.boxes]),
                     e.label, json.dumps(dict(e.detail), default=str), e.model,
                     key if stored else None),
                )  # fmt: skip
                if e.rule_kind not in UNPROTECTED:
                    conn.execute(
                        "INSERT INTO event_protections (event_id, event_at, camera_id, "
                        "start_at, end_at) VALUES (%s, %s, %s, %s, %s)",
                        (event_id, e.at, e.camera_id, e.at - before, e.at + after),
                    )
                payload = {
                    "id": event_id,
                    "camera_id": e.camera_id,
                    "at": e.at.astimezone(UTC).isoformat(),
                    "kind": e.rule_kind,
                }
                conn.execute("SELECT pg_notify(%s, %s)", (EVENTS_CHANNEL, json.dumps(payload)))
                ids.append(event_id)
        return ids

    # -- counts --------------------------------------------------------------------

    def write_counts(
        self,
        camera_id: str,
        counters: Mapping[str, Counter],
        written: dict[tuple[str, datetime, str, str], int],
        now: datetime,
    ) -> int:
        """Add to ``line_counts`` what each 15-minute bucket counted since the last
        call; ``written`` (kept by the caller, one per camera) remembers what was added
        for buckets still counting. Complete buckets are then dropped from the counters.
        Returns the rows touched."""
        rows: list[tuple[str, str, str, str, datetime, int]] = []
        for rule_id, counter in counters.items():
            for bucket in counter.buckets("15min"):
                for (direction, cls), count in bucket.counts.items():
                    mark = (rule_id, bucket.start, direction, cls)
                    delta = count - written.get(mark, 0)
                    if delta > 0:
                        rows.append((camera_id, rule_id, cls, direction, bucket.start, delta))
                        written[mark] = count
        if rows:
            with self.pool.connection() as conn, conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO line_counts (camera_id, rule_id, cls, direction, bucket_start, "
                    "count) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (camera_id, rule_id, "
                    "bucket_start, cls, direction) DO UPDATE SET "
                    "count = line_counts.count + EXCLUDED.count",
                    rows,
                )
        for counter in counters.values():
            counter.drop_before(now)
        for mark in [m for m in written if m[1] + timedelta(minutes=15) <= now]:
            del written[mark]
        return len(rows)

    # -- live ----------------------------------------------------------------------

    def write_live(
        self,
        camera_id: str,
        at: datetime,
        model: str,
        detections: Sequence[Detection],
        stats: Mapping[str, Any],
    ) -> None:
        objects = [
            {"box": list(d.box), "cls": d.cls, "track_id": d.track_id,
             "confidence": round(d.confidence, 3)}
            for d in detections
        ]  # fmt: skip
        with self.pool.connection() as conn:
            conn.execute(
                "INSERT INTO analytics_live (camera_id, at, model, detections, stats) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (camera_id) DO UPDATE SET "
                "at = EXCLUDED.at, model = EXCLUDED.model, detections = EXCLUDED.detections, "
                "stats = EXCLUDED.stats",
                (camera_id, at, model, json.dumps(objects), json.dumps(dict(stats))),
            )

    def clear_live(self, camera_id: str) -> None:
        with self.pool.connection() as conn:
            conn.execute("DELETE FROM analytics_live WHERE camera_id = %s", (camera_id,))


class CameraRecorder:
    """One camera's output (``analytics.worker.CameraOutput``): events at once, live
    objects at most once per ``LIVE_INTERVAL_S``, counts every ``COUNTS_INTERVAL_S``
    (and when the camera stops). Called from the camera's thread only."""

    def __init__(self, store: AnalyticsStore, camera_id: str, detector_id: str = "") -> None:
        self.store = store
        self.camera_id = camera_id
        self.detector_id = detector_id
        self._written: dict[tuple[str, datetime, str, str], int] = {}
        self._live_due = 0.0
        self._counts_due = 0.0

    def events(self, events: Sequence[Event], image: Image | None) -> None:
        self.store.write_events(events, image)

    def analysed(
        self,
        at: datetime,
        mono: float,
        model: str,
        detections: Sequence[Detection],
        counters: Mapping[str, Counter],
        stats: Mapping[str, Any],
    ) -> None:
        if mono >= self._live_due:
            self._live_due = mono + LIVE_INTERVAL_S
            self.store.write_live(
                self.camera_id, at, model, detections, {**stats, "detector": self.detector_id}
            )
        if mono >= self._counts_due:
            self._counts_due = mono + COUNTS_INTERVAL_S
            self.store.write_counts(self.camera_id, counters, self._written, at)

    def closed(self, counters: Mapping[str, Counter], at: datetime) -> None:
        """The camera stopped: store the last counts, remove its live objects."""
        self.store.write_counts(self.camera_id, counters, self._written, at)
        self.store.clear_live(self.camera_id)
