"""The ingest role: recover the spool, then run one recorder per configured stream and
the committer, until stopped. Composition happens in ``vms.app``; this module only
supervises."""

from __future__ import annotations

import logging
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
        self.pullers: list[OnDemandPuller] = []
        self.config = config
        self.spool_dir = spool_dir
        self.index = index
        self.committer = committer
        self.clock = clock
        self.recorders: list[StreamRecorder] = []

    def recover(self) -> int:
        """Commit what a previous process left in the spool, then close its runs."""
        segments = recover(self.spool_dir)
        for seg in segments:
            self.committer.commit_segment(seg)
        closed = self.index.close_dangling_runs(GapCause.CRASH)
        if segments or closed:
            logger.warning(
                "recovered %d spooled segment(s), closed %d run(s) left open by a crash",
                len(segments),
                closed,
            )
        return len(segments)

    def start(self) -> None:
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self.recover()
        self.committer.start()
        for target in self.targets:
            resume = self.index.last_run_end(target.camera_id, target.stream)
            feed = self.hub.feed(target.camera_id, target.stream) if self.hub else None
            rec = StreamRecorder(
                target, self.config, self.spool_dir, self.committer, self.clock, resume, feed
            )
            if target.keep_unmasked:  # privacy masks: the unmasked copy has its own runs
                unmasked = unmasked_stream(target.stream)
                rec.resume(unmasked, self.index.last_run_end(target.camera_id, unmasked))
            self.recorders.append(rec)
            rec.start()
        if self.hub is not None:
            for target in self.live_only:
                feed = self.hub.feed(target.camera_id, target.stream)
                self.pullers.append(
                    OnDemandPuller(feed, target.url, self.config, self.linger_s, target.masks)
                )
        logger.info(
            "ingest started: %d stream(s) recorded, %d live only",
            len(self.recorders),
            len(self.pullers),
        )

    def stop(self) -> None:
        for puller in self.pullers:
            puller.stop()
        for rec in self.recorders:
            rec.stop()
        for rec in self.recorders:
            rec.join(self.config.stall_timeout_s + 5)
        self.committer.stop(drain=True)
        logger.info("ingest stopped")
