"""How busy the machine was while a benchmark ran (shared by the bench scripts): on a 2-core
machine one busy neighbour halves the 2-thread figures, so every row says how much CPU time
other processes took while it was timed."""
from __future__ import annotations

import os
from typing import Optional, Tuple

Counters = Tuple[float, float, float]


def cpu_counters() -> Optional[Counters]:
    """(busy seconds of all CPUs, idle seconds of all CPUs, this process's CPU seconds), or
    None where /proc/stat is unavailable."""
    try:
        with open("/proc/stat") as fh:
            f = [int(v) for v in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    idle = f[3] + f[4]
    own = os.times()
    return (sum(f[:8]) - idle) / hz, idle / hz, own.user + own.system


def others_busy_percent(start: Optional[Counters], end: Optional[Counters]) -> Optional[float]:
    """Share of all CPU time between two cpu_counters() readings used by other processes."""
    if start is None or end is None:
        return None
    busy = end[0] - start[0]
    total = busy + end[1] - start[1]
    own = end[2] - start[2]
    return round(100.0 * max(busy - own, 0.0) / total, 1) if total > 0 else None
