"""Process measurements for the benchmark, read straight from ``/proc`` (Linux, no psutil).

CPU time is ``utime + stime`` of ``/proc/<pid>/stat`` (the process and all its
threads, not its children); memory is ``VmRSS`` of ``/proc/<pid>/status``.
"""

from __future__ import annotations

import contextlib
import os
import resource
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    """The fields of ``/proc/<pid>/stat`` after the command name (field 3 first)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds used so far by ``pid`` itself; None when it is gone."""
    try:
        fields = _stat_fields(pid)
    except (OSError, ValueError):
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def start_time(pid: int) -> int | None:
    """The start time of ``pid`` in clock ticks since boot (tells a reused pid apart)."""
    try:
        return int(_stat_fields(pid)[19])
    except (OSError, ValueError, IndexError):
        return None


def rss_kib(pid: int) -> int | None:
    """Resident set size of ``pid`` in KiB (VmRSS); None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (``/proc/<pid>/task/*/children``, else a /proc scan)."""
    found: set[int] = set()
    tasks = Path(f"/proc/{pid}/task")
    try:
        for task in tasks.iterdir():
            with contextlib.suppress(OSError):
                found.update(int(c) for c in (task / "children").read_text().split())
        if found or (tasks / str(pid) / "children").exists():
            return sorted(found)
    except OSError:
        return []
    for entry in Path("/proc").iterdir():  # kernels without CONFIG_PROC_CHILDREN
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                if int(_stat_fields(int(entry.name))[1]) == pid:
                    found.add(int(entry.name))
    return sorted(found)


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, grandchildren, ...)."""
    result: list[int] = []
    todo = children(pid)
    while todo:
        child = todo.pop()
        result.append(child)
        todo.extend(children(child))
    return result


def tree_cpu_seconds(pids: list[int]) -> float:
    """Summed CPU seconds of ``pids`` (processes that are gone count as 0)."""
    return sum(cpu_seconds(pid) or 0.0 for pid in pids)


def raise_nofile_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def available_cpus() -> list[int]:
    """The CPUs this process may run on."""
    return sorted(os.sched_getaffinity(0))


def pin_self(cpu: int | None) -> None:
    """Pin this process to ``cpu`` (no-op for None)."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})


def core_ticks() -> dict[int, tuple[int, int]]:
    """Per CPU: (busy, total) clock ticks since boot from ``/proc/stat`` (steal counts busy)."""
    result = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *values = line.split()
        if name.startswith("cpu") and name != "cpu":
            ticks = [int(v) for v in values[:8]]  # user nice system idle iowait irq softirq steal
            idle = ticks[3] + ticks[4]
            result[int(name[3:])] = (sum(ticks) - idle, sum(ticks))
    return result


def move_threads(pid: int, cpu: int) -> None:
    """Pin every thread of a process (affinity is per thread; a running process's
    existing threads keep theirs when only the pid is moved)."""
    try:
        threads = [int(tid) for tid in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        threads = [pid]
    for tid in threads:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(tid, {cpu})
