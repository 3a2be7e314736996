"""scripts/bench/stats.py: what is counted in the window, fed calls directly (no real timing)."""

from __future__ import annotations

import argparse
import asyncio

import pytest

pytestmark = pytest.mark.usefixtures("bench_path")

ARGS = argparse.Namespace(rate=100.0, chargers=10, duration=2.0, warmup=1.0)
IDLE_CPU = {"t": 0.0, "server": None, "db": None, "self": 0.0, "cores": {}}


def summary_of(stats) -> dict:
    """summarize() with fixed CPU snapshots."""
    from bench.stats import summarize

    return summarize(stats, ARGS, (IDLE_CPU, IDLE_CPU | {"t": 2.0}), {})


def test_by_action_counts_exactly_the_calls_completed_counts():
    from bench.stats import Stats, Window

    stats = Stats(window=Window(10.0, 12.0))
    stats.record("BootNotification", 9.0, 9.5)  # before the window: not counted at all
    stats.record("MeterValues", 9.8, 10.1)  # sent in the warm-up, completed in the window
    stats.record("Heartbeat", 10.0, 10.2)  # sent and completed in the window
    stats.record("Heartbeat", 11.0, 12.0)  # completed at the window's end: still in it
    stats.record("Heartbeat", 11.5, 12.4)  # sent in the window, completed after it
    stats.record("StopTransaction", 11.9, 12.5)  # likewise: a latency, not a completion
    summary = summary_of(stats)
    assert summary["completed"] == 3
    assert summary["calls_per_s"] == 1.5
    assert {a: v["count"] for a, v in summary["by_action"].items()} == {
        "Heartbeat": 2, "MeterValues": 1, "StopTransaction": 0,
    }  # fmt: skip
    assert sum(v["count"] for v in summary["by_action"].values()) == summary["completed"]
    # Latency is of the CALLs sent in the window, whenever they completed (as latency_ms).
    assert summary["by_action"]["Heartbeat"] == {
        "count": 2, "p50_ms": 900.0, "p99_ms": 1000.0, "max_ms": 1000.0,
    }  # fmt: skip
    assert summary["by_action"]["StopTransaction"] == {
        "count": 0, "p50_ms": 600.0, "p99_ms": 600.0, "max_ms": 600.0,
    }  # fmt: skip
    assert summary["by_action"]["MeterValues"] == {
        "count": 1, "p50_ms": None, "p99_ms": None, "max_ms": None,
    }  # fmt: skip
    assert summary["latency_ms"] == {"p50": 600.0, "p90": 1000.0, "p99": 1000.0, "max": 1000.0}


def test_nothing_is_counted_before_the_window_is_set():
    from bench.stats import Stats

    stats = Stats()
    stats.record("BootNotification", 1.0, 1.1)  # the ramp
    summary = summary_of(stats)
    assert (summary["completed"], summary["by_action"]) == (0, {})


def test_unsent_slots_count_as_latency_but_not_as_an_action():
    """A charger whose window is already over sends nothing: its slots of the window are
    unsent, their waits go into latency_ms, and by_action (completed CALLs) stays empty."""
    from bench.load import Charger
    from bench.stats import Stats, Window

    async def scenario() -> Stats:
        now = asyncio.get_running_loop().time()
        stats = Stats(window=Window(now - 2.0, now - 1.0))
        charger = Charger(0, "ws://127.0.0.1:1/", stats, 1.0, seed=1, mix="idle")
        charger.alive = True  # as if connected; the window being over, it never sends
        await charger.run_open(now - 2.0, 0.5, stats.window)
        return stats

    stats = asyncio.run(scenario())
    summary = summary_of(stats)
    assert (summary["unsent"], summary["completed"], summary["by_action"]) == (2, 0, {})
    assert summary["latency_ms"]["max"] >= 2000.0  # waited at least since its slot


def test_percentile_is_nearest_rank():
    from bench.stats import percentile

    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 1.0) == 100.0
    assert percentile([], 0.5) == 0.0
