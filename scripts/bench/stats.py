"""Measurements of the load generator: latency samples, counters, CPU snapshots, summary."""

from __future__ import annotations

import argparse
import asyncio
import math
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from bench.proc import core_ticks, cpu_seconds, descendants

MAX_ERROR_EXAMPLES = 5


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (0 for an empty one)."""
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(slots=True)
class Window:
    """The measured steady window, in event-loop time."""

    start: float
    end: float


@dataclass
class Stats:
    """Everything the chargers record.

    Two rules, one per question. Throughput: a CALL is *completed* when its reply
    arrived in the window (``completed_by_action``; ``completed`` is their sum).
    Latency: of every CALL scheduled (or sent) in the window, whenever its reply
    came, plus the waits of the window's slots never sent (``unsent_waits``).
    """

    window: Window | None = None
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    completed_by_action: Counter = field(default_factory=Counter)
    unsent_waits: list[float] = field(default_factory=list)
    late: int = 0
    errors: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    @property
    def completed(self) -> int:
        """CALLs whose reply arrived in the window."""
        return sum(self.completed_by_action.values())

    @property
    def unsent(self) -> int:
        """Slots of the window that were never sent."""
        return len(self.unsent_waits)

    def error(self, kind: str, text: str) -> None:
        """Count an error; keep the first few descriptions."""
        self.errors[kind] += 1
        if len(self.examples) < MAX_ERROR_EXAMPLES:
            self.examples.append(f"{kind}: {text}")

    def record(self, action: str, since: float, done: float) -> None:
        """A CALLRESULT arrived at ``done`` for a CALL scheduled (or sent) at ``since``."""
        window = self.window
        if window is None:
            return
        if window.start <= done <= window.end:
            self.completed_by_action[action] += 1
        if window.start <= since < window.end:
            self.latencies[action].append(done - since)

    def record_unsent(self, waited: float) -> None:
        """A slot of the window never sent; it had waited ``waited`` s (a lower bound)."""
        self.unsent_waits.append(waited)


def _snapshot(server_pid: int | None, db_pids: list[int]) -> dict[str, Any]:
    return {
        "t": time.monotonic(),
        "server": cpu_seconds(server_pid) if server_pid else None,
        "db": sum(cpu_seconds(p) or 0.0 for p in db_pids) if db_pids else None,
        "self": time.process_time(),
        "cores": core_ticks(),
    }


async def sample_window(window: Window, server_pid: int | None) -> tuple[dict, dict]:
    """CPU snapshots (server, its db children, this process, every core) at the window's ends."""
    loop = asyncio.get_running_loop()
    await asyncio.sleep(max(0.0, window.start - loop.time()))
    db_pids = descendants(server_pid) if server_pid else []
    first = _snapshot(server_pid, db_pids)
    await asyncio.sleep(max(0.0, window.end - loop.time()))
    return first, _snapshot(server_pid, db_pids)


def _per_1k(cpu_delta: float | None, completed: int) -> float | None:
    if cpu_delta is None or completed == 0:
        return None
    return round(cpu_delta * 1e6 / completed, 2)


def _pct(cpu_delta: float | None, elapsed: float) -> float | None:
    return None if cpu_delta is None else round(100.0 * cpu_delta / elapsed, 1)


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1e3, 2)


def summarize(stats: Stats, args: argparse.Namespace, cpu: tuple[dict, dict], extra: dict) -> dict:
    """The JSON-ready result of one load run.

    ``by_action`` splits ``completed`` by action: its counts add up to it. Its
    latencies are those of ``latency_ms`` (CALLs scheduled in the window), split
    by action; None for an action none of whose CALLs was scheduled in it.
    """
    all_latencies = sorted(
        [x for values in stats.latencies.values() for x in values] + stats.unsent_waits
    )
    first, last = cpu
    elapsed = last["t"] - first["t"]
    deltas = {
        key: None if first[key] is None or last[key] is None else last[key] - first[key]
        for key in ("server", "db", "self")
    }
    by_action = {}
    for action in sorted(stats.completed_by_action.keys() | stats.latencies.keys()):
        ordered = sorted(stats.latencies.get(action, ()))
        by_action[action] = {
            "count": stats.completed_by_action[action],
            "p50_ms": _ms(percentile(ordered, 0.5) if ordered else None),
            "p99_ms": _ms(percentile(ordered, 0.99) if ordered else None),
            "max_ms": _ms(ordered[-1] if ordered else None),
        }
    cores = {}
    for cpu, (busy, total) in last["cores"].items():
        busy0, total0 = first["cores"].get(cpu, (busy, total))
        cores[str(cpu)] = round(100.0 * (busy - busy0) / max(1, total - total0), 1)
    return {
        "mode": "open" if args.rate > 0 else "closed",
        "chargers": args.chargers,
        "offered_rate": args.rate if args.rate > 0 else None,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "completed": stats.completed,
        "calls_per_s": round(stats.completed / args.duration, 1),
        "errors": sum(stats.errors.values()),
        "errors_by_kind": {
            k: stats.errors.get(k, 0) for k in ("callerror", "timeout", "disconnect")
        },
        "error_examples": stats.examples,
        "latency_ms": {
            name: round(percentile(all_latencies, q) * 1e3, 2)
            for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))
        },
        "by_action": by_action,
        "late": stats.late,
        "unsent": stats.unsent,
        "server_cpu_ms_per_1k": _per_1k(deltas["server"], stats.completed),
        "db_cpu_ms_per_1k": _per_1k(deltas["db"], stats.completed),
        "server_cpu_pct": _pct(deltas["server"], elapsed),
        "db_cpu_pct": _pct(deltas["db"], elapsed),
        "loadgen_cpu_pct": _pct(deltas["self"], elapsed),
        "core_busy_pct": cores,
        **extra,
    }
