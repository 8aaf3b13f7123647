"""How busy the machine was while a benchmark ran (shared by the bench scripts): on a 2-core
machine one busy neighbour halves the 2-thread figures, so every row says how much CPU time
other processes took while it was timed."""
from __future__ import annotations

import datetime as _dt
import os
import platform
import time
from typing import Any, Dict, Optional, Tuple

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


def status_kb(field: str) -> Optional[int]:
    """A ``/proc/self/status`` field in KiB (``VmRSS``, ``VmHWM``, ...), or None without /proc."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def busy_percent(seconds: float = 1.0) -> Optional[float]:
    """Share of the CPUs used by other processes over ``seconds``, measured while idle."""
    c0 = cpu_counters()
    time.sleep(seconds)
    return others_busy_percent(c0, cpu_counters())


def machine_info(**versions: Any) -> Dict[str, object]:
    """The CPU, core count, Python, the libraries in ``versions`` (name=version), the date and
    the load when the run started: the header of every benchmark's JSON."""
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info: Dict[str, object] = {"cpu": cpu, "nproc": os.cpu_count(), "python": platform.python_version(), **versions,
                               "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                               # other processes compete for the cores: a load well above 0 means noisy figures
                               "loadavg_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
                               "busy_before_start_pct": busy_percent()}
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if var in os.environ:
            info[var] = os.environ[var]
    return info
