"""The ingest role: recover the spool, then run one recorder per configured stream and
the committer, until stopped. Composition happens in ``vms.app``; this module only
supervises."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from ingest.committer import Committer
from ingest.live.hub import LiveHub
from ingest.live.puller import OnDemandPuller
from ingest.masks import unmasked_stream
from ingest.recorder import StreamRecorder, StreamTarget
from ingest.spool import recover
from vms.config import IngestConfig
from vms.domain.clock import Clock
from vms.domain.model import GapCause
from vms.domain.ports import SegmentIndex

logger = logging.getLogger(__name__)
FLUSH_TIMEOUT_S = 15.0


class IngestService:
    def __init__(
        self,
        targets: list[StreamTarget],
        config: IngestConfig,
        spool_dir: Path,
        index: SegmentIndex,
        committer: Committer,
        clock: Clock,
        hub: LiveHub | None = None,
        live_only: list[StreamTarget] | None = None,
        linger_s: float = 10.0,
    ) -> None:
        """``hub``: feeds for live viewers (None: no live relay); ``live_only``:
        streams watched live but not recorded, pulled only while someone watches."""
        self.targets = targets
        self.hub = hub
        self.live_only = live_only or []
        self.linger_s = linger_s
        self.config = config
        self.spool_dir = spool_dir
        self.index = index
        self.committer = committer
        self.clock = clock
        self._running: dict[str, tuple[list[StreamRecorder], list[OnDemandPuller]]] = {}
        """camera -> its recorders and live-only pullers, while this service runs it."""
        self._lock = threading.Lock()

    def recover(self, close_runs: bool = True) -> int:
        """Commit what a previous process left in the spool, then close its runs
        (``close_runs``; with several workers each closes the runs of a camera when it
        takes it: ``start_camera``)."""
        segments = recover(self.spool_dir)
        for seg in segments:
            self.committer.commit_segment(seg)
            if not close_runs:  # its run may have been closed by the worker that took over
                self.index.extend_closed_run(seg.meta.run_id, seg.end_at)
        closed = self.index.close_dangling_runs(GapCause.CRASH) if close_runs else 0
        if segments or closed:
            logger.warning(
                "recovered %d spooled segment(s), closed %d run(s) left open by a crash",
                len(segments),
                closed,
            )
        return len(segments)

    def cameras(self) -> list[str]:
        """The cameras this service can record or relay, in configuration order."""
        return list(dict.fromkeys(t.camera_id for t in [*self.targets, *self.live_only]))

    def start(self, all_cameras: bool = True) -> None:
        """Recover the spool, start the committer and (``all_cameras``) every camera.
        With several workers (``vms.cluster``) the coordinator starts and stops the
        cameras of this worker's share instead."""
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self.recover(close_runs=all_cameras)
        self.committer.start()
        if all_cameras:
            for camera_id in self.cameras():
                self.start_camera(camera_id)
        with self._lock:
            recorded = sum(len(r) for r, _ in self._running.values())
            live_only = sum(len(p) for _, p in self._running.values())
        logger.info("ingest started: %d stream(s) recorded, %d live only", recorded, live_only)

    def start_camera(self, camera_id: str, takeover: bool = False) -> None:
        """Record (and relay) one camera's streams. ``takeover``: another worker may
        have recorded it until now; runs it left open are closed as ``failover``."""
        with self._lock:
            if camera_id in self._running:
                return
            self._running[camera_id] = ([], [])
        recorders, pullers = self._running[camera_id]
        if takeover:
            self.index.close_dangling_runs(GapCause.FAILOVER, camera_id)
        for target in self.targets:
            if target.camera_id != camera_id:
                continue
            resume = self.index.last_run_end(target.camera_id, target.stream)
            feed = self.hub.feed(target.camera_id, target.stream) if self.hub else None
            rec = StreamRecorder(
                target, self.config, self.spool_dir, self.committer, self.clock, resume, feed
            )
            if target.keep_unmasked:  # privacy masks: the unmasked copy has its own runs
                unmasked = unmasked_stream(target.stream)
                rec.resume(unmasked, self.index.last_run_end(target.camera_id, unmasked))
            recorders.append(rec)
            rec.start()
        if self.hub is not None:
            for target in self.live_only:
                if target.camera_id != camera_id:
                    continue
                feed = self.hub.feed(target.camera_id, target.stream)
                puller = OnDemandPuller(feed, target.url, self.config, self.linger_s, target.masks)
                pullers.append(puller)

    def stop_camera(self, camera_id: str, cause: GapCause = GapCause.SHUTDOWN) -> None:
        """Stop recording one camera; returns once its last segment is handed to the
        committer (its run closed with ``cause``)."""
        with self._lock:
            recorders, pullers = self._running.pop(camera_id, ([], []))
        self._halt(recorders, pullers, cause)
        if recorders and not self.committer.flush(FLUSH_TIMEOUT_S):
            logger.warning("%s: last segment not yet committed when handed over", camera_id)

    def running(self) -> list[str]:
        with self._lock:
            return list(self._running)

    def stop(self) -> None:
        with self._lock:
            running = list(self._running.values())
            self._running.clear()
        self._halt([r for rs, _ in running for r in rs], [p for _, ps in running for p in ps])
        self.committer.stop(drain=True)
        logger.info("ingest stopped")

    def _halt(
        self,
        recorders: list[StreamRecorder],
        pullers: list[OnDemandPuller],
        cause: GapCause = GapCause.SHUTDOWN,
    ) -> None:
        """Stop pullers and recorders (all at once, then wait for each)."""
        for puller in pullers:
            puller.stop()
        for rec in recorders:
            rec.stop(cause)
        for rec in recorders:
            rec.join(self.config.stall_timeout_s + 5)
