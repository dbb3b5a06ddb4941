"""CPU and memory of processes, read from /proc (Linux)."""

from __future__ import annotations

import os
from dataclasses import dataclass

_TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Usage:
    cpu_s: float
    rss_bytes: int


def usage(pid: int) -> Usage:
    """CPU seconds (user+system, all threads) and resident memory of one process."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / _TICK
    rss = 0
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
    return Usage(cpu, rss)


def total(pids: list[int]) -> Usage:
    parts = []
    for pid in pids:
        try:
            parts.append(usage(pid))
        except FileNotFoundError:
            continue
    return Usage(sum(p.cpu_s for p in parts), sum(p.rss_bytes for p in parts))


def pids_matching(fragment: str) -> list[int]:
    """Processes whose command line contains ``fragment``."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if fragment in cmd:
            out.append(int(name))
    return out


def machine() -> Usage:
    """CPU seconds the whole machine spent busy (all cores, everything but idle and
    I/O wait) since boot, from /proc/stat; compare two readings against the processes
    one measures to see what else ran meanwhile. ``rss_bytes`` is 0."""
    with open("/proc/stat", encoding="ascii") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return Usage((sum(fields[:8]) - idle) / _TICK, 0)


def threads(pid: int) -> dict[str, float]:
    """CPU seconds of each thread of a process, by "name/tid"."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat", encoding="ascii") as f:
                head, rest = f.read().rsplit(")", 1)
        except FileNotFoundError:
            continue
        fields = rest.split()
        out[f"{head.split('(', 1)[1]}/{tid}"] = (int(fields[11]) + int(fields[12])) / _TICK
    return out
