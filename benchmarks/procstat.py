"""What the benchmarks read from /proc: a process's CPU time and the machine's load average (Linux)."""

from __future__ import annotations

import os
from pathlib import Path

HERTZ = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid: int, children: bool = False) -> int:
    """User + system CPU clock ticks of a process (all its threads), and of its waited-for children if asked."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15 if children else 13])


def cpu_seconds(pid: int, children: bool = False) -> float:
    """cpu_ticks in seconds: what a process cost, whatever else shares the machine."""
    return cpu_ticks(pid, children) / HERTZ


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages as /proc/loadavg writes them."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])
