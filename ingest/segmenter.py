"""Pure segmenter: packets in, decisions out. No IO, no clock, no media library.

The driver (``ingest.recorder``) demuxes packets, asks the segmenter what to do with
each, and carries the decision out: open a new segment, write, make the written
fragments durable (fsync), close the segment, record a gap.

Rules (see docs/design/recording.md):
- A segment starts on a keyframe. Packets before the first keyframe of a run are
  dropped (they cannot be decoded) and counted.
- A segment is cut at the first keyframe at or after ``target_ticks`` of media time.
- ``sync`` is asked for at least every ``fragment_ticks`` of media time, so a crash
  loses at most that much of what was received.
- A decode timestamp that goes backwards or jumps forward by more than
  ``gap_ticks`` ends the run: the segment is closed and a gap is reported.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

from vms.domain.model import GapCause

logger = logging.getLogger(__name__)


class State(enum.Enum):
    WAIT_KEYFRAME = "wait_keyframe"
    RECORDING = "recording"


class Action(enum.Enum):
    DROP = "drop"
    """Discard the packet (no keyframe yet in this run)."""
    START = "start"
    """Open a new segment (and a new run if ``new_run``) and write the packet to it."""
    CUT = "cut"
    """Close the current segment, open the next one, write the packet to it."""
    WRITE = "write"
    """Write the packet to the current segment."""


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    sync: bool = False
    """After writing, make everything written so far durable."""
    new_run: bool = False
    """START opens a new run (first keyframe after a connect or a discontinuity)."""
    closed: SegmentSummary | None = None
    """The segment that this decision closes (CUT, or START after a discontinuity)."""
    discontinuity: GapCause | None = None
    """Set when this packet revealed a timestamp discontinuity."""


@dataclass(frozen=True, slots=True)
class SegmentSummary:
    start_dts: int
    end_dts: int
    """Decode time just past the last frame (last dts + its estimated duration)."""
    frames: int
    bytes: int

    @property
    def duration_ticks(self) -> int:
        return self.end_dts - self.start_dts


_DROP = Decision(Action.DROP)
_START_RUN = Decision(Action.START, new_run=True)
_WRITE = Decision(Action.WRITE)
_WRITE_SYNC = Decision(Action.WRITE, sync=True)


class Segmenter:
    def __init__(
        self,
        ticks_per_second: int,
        target_s: float = 4.0,
        fragment_s: float = 1.0,
        gap_s: float = 1.0,
    ) -> None:
        if ticks_per_second <= 0:
            raise ValueError("ticks_per_second must be positive")
        self.ticks_per_second = ticks_per_second
        self.target_ticks = round(target_s * ticks_per_second)
        self.fragment_ticks = round(fragment_s * ticks_per_second)
        self.gap_ticks = round(gap_s * ticks_per_second)
        self.state = State.WAIT_KEYFRAME
        self.dropped = 0
        self._run_start_dts = 0
        self._seg_start_dts = 0
        self._seg_frames = 0
        self._seg_bytes = 0
        self._last_dts = 0
        self._last_interval = 0
        self._last_sync_dts = 0

    # -- state -------------------------------------------------------------------------

    def _set_state(self, state: State) -> None:
        if state is not self.state:
            logger.debug("- %s -> %s", self.state.value, state.value)
            self.state = state

    @property
    def frame_ticks(self) -> int:
        """Estimated duration of one frame (last decode interval)."""
        return self._last_interval

    @property
    def run_start_dts(self) -> int:
        return self._run_start_dts

    def _summary(self) -> SegmentSummary:
        return SegmentSummary(
            start_dts=self._seg_start_dts,
            end_dts=self._last_dts + self._last_interval,
            frames=self._seg_frames,
            bytes=self._seg_bytes,
        )

    def _open(self, dts: int, size: int) -> None:
        self._seg_start_dts = dts
        self._seg_frames = 1
        self._seg_bytes = size
        self._last_sync_dts = dts
        self._last_dts = dts

    # -- driving -----------------------------------------------------------------------

    def push(self, dts: int, keyframe: bool, size: int) -> Decision:
        """Decide what to do with a packet: decode timestamp in stream ticks, keyframe
        flag, size in bytes. Called for every packet: no allocation on the common path."""
        if self.state is State.WAIT_KEYFRAME:
            if not keyframe:
                self.dropped += 1
                return _DROP
            self._run_start_dts = dts
            self._last_interval = 0
            self._open(dts, size)
            self._set_state(State.RECORDING)
            return _START_RUN

        delta = dts - self._last_dts
        if delta <= 0 or delta > self.gap_ticks:
            # Discontinuity: end the run here.
            closed = self._summary()
            cause = GapCause.TIMESTAMP_JUMP
            self._set_state(State.WAIT_KEYFRAME)
            if not keyframe:
                self.dropped += 1
                return Decision(Action.DROP, closed=closed, discontinuity=cause)
            self._run_start_dts = dts
            self._last_interval = 0
            self._open(dts, size)
            self._set_state(State.RECORDING)
            return Decision(Action.START, new_run=True, closed=closed, discontinuity=cause)

        self._last_interval = delta
        # half a frame of slack: arrival-stamped timestamps jitter around the target
        if keyframe and dts - self._seg_start_dts >= self.target_ticks - delta // 2:
            closed = self._summary()
            self._open(dts, size)
            return Decision(Action.CUT, closed=closed)

        self._seg_frames += 1
        self._seg_bytes += size
        self._last_dts = dts
        if dts - self._last_sync_dts >= self.fragment_ticks:
            self._last_sync_dts = dts
            return _WRITE_SYNC
        return _WRITE

    def end(self) -> SegmentSummary | None:
        """The connection ended: close the open segment, if any, and wait for a keyframe."""
        if self.state is State.WAIT_KEYFRAME:
            return None
        closed = self._summary()
        self._set_state(State.WAIT_KEYFRAME)
        return closed
