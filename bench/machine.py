"""What the benchmarks say about the machine they ran on (shared by bench/run and
bench/carve.py)."""

from __future__ import annotations

import os


def cpu_times() -> tuple[int, int, int]:
    """/proc/stat's aggregate: (busy, steal, total) jiffies — a shared machine's steal
    time says how much of the wall figures another tenant took."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle, steal = v[3] + v[4], v[7] if len(v) > 7 else 0
    return sum(v) - idle - steal, steal, sum(v)


def load_average() -> str:
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def load_line(load: str, t0, t1) -> str:
    """The load average before a run, steal and busy time during it (busy includes the
    benchmark's own tools)."""
    total = (t1[2] - t0[2]) or 1
    return (f"load average {load} before the run; during it {100 * (t1[1] - t0[1]) / total:.0f}% "
            f"steal, {100 * (t1[0] - t0[0]) / total:.0f}% busy (of {os.cpu_count()} CPUs)")
