"""The ingest role: recover the spool, then run one recorder per configured stream and
the committer, until stopped. Composition happens in ``vms.app``; this module only
supervises."""

from __future__ import annotations

import logging
from pathlib import Path

from ingest.committer import Committer
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
    ) -> None:
        self.targets = targets
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
            rec = StreamRecorder(
                target, self.config, self.spool_dir, self.committer, self.clock, resume
            )
            self.recorders.append(rec)
            rec.start()
        logger.info("ingest started: %d stream(s)", len(self.recorders))

    def stop(self) -> None:
        for rec in self.recorders:
            rec.stop()
        for rec in self.recorders:
            rec.join(self.config.stall_timeout_s + 5)
        self.committer.stop(drain=True)
        logger.info("ingest stopped")
