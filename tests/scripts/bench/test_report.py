"""scripts/bench/report.py: the plain-text table of a report built here."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.usefixtures("bench_path")

PHASE = {
    "offered_rate": 100.0, "calls_per_s": 99.5, "errors": 0,
    "latency_ms": {"p50": 1.5, "p90": 3.0, "p99": 7.25, "max": 12.0}, "late": 2, "unsent": 1,
    "server_cpu_ms_per_1k": 650.0, "db_cpu_ms_per_1k": None, "server_cpu_pct": 6.5,
    "db_cpu_pct": None, "rss_per_connection_kib": 53.0, "flush_lag_ms": {"a": 3, "b": 9.5},
    "drain_s": 0.3, "stop_s": 2.1, "stop_killed": False, "loadgen_cpu_pct": 3.7,
    "other_load_pct": {"server_core": 2.1, "load_core": None}, "ramp_s": 0.6,
    "by_action": {
        "Heartbeat": {"count": 8, "p50_ms": 2.0, "p99_ms": 2.99, "max_ms": 3.0},
        "StopTransaction": {"count": 1, "p50_ms": None, "p99_ms": None, "max_ms": None},
    },
}  # fmt: skip
REPORT = {
    "config": {"chargers": 50, "mix": "charging", "duration_s": 2.0, "warmup_s": 0.5,
               "server_cpu": 0, "loadgen_cpu": 1, "cpus": 2, "db_cpu": "load",
               "database": "embedded"},
    "phases": {"csms_open_loop": PHASE}, "ceiling_ratio": None, "passed": True, "errors": 0,
}  # fmt: skip


def test_the_table_lists_completed_calls_and_p99_by_action():
    from bench.report import format_table

    lines = format_table(REPORT).splitlines()
    assert lines[1:4] == [
        "                            csms open loop",
        "offered CALL/s                       100.0",
        "sustained CALL/s                      99.5",
    ]
    assert "late / unsent slots                  2 / 1" in lines
    assert "flush lag ms (largest)                 9.5" in lines
    assert lines[-2:] == [
        "by action, p99 ms (CALLs completed), csms open loop: Heartbeat 2.99 (8), "
        "StopTransaction n/a (1)",
        "PASS: no errors",
    ]
