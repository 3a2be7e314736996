"""scripts/bench.py and its parts, run small: the report's shape and a clean run, no timings."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from ocppj.validation import SchemaStore

ROOT = Path(__file__).resolve().parent.parent.parent
SCRIPTS = ROOT / "scripts"

PHASE_FIELDS = {
    "mode", "chargers", "offered_rate", "duration_s", "warmup_s", "completed", "calls_per_s",
    "errors", "errors_by_kind", "error_examples", "latency_ms", "by_action", "late", "unsent",
    "server_cpu_ms_per_1k", "db_cpu_ms_per_1k", "server_cpu_pct", "db_cpu_pct",
    "loadgen_cpu_pct", "ramp_s", "server_rss_kib_before", "server_rss_kib_connected",
    "rss_per_connection_kib", "flush_lag_ms", "drain_s", "phase_s", "core_busy_pct",
    "other_load_pct", "window_end_monotonic", "stop_s", "stop_killed",
}  # fmt: skip
REPORT_FIELDS = {
    "config", "sustained_calls_per_s", "errors", "latency_ms", "server_cpu_ms_per_1k",
    "db_cpu_ms_per_1k", "rss_per_connection_kib", "flush_lag_ms", "max_calls_per_s",
    "ceiling_calls_per_s", "ceiling_ratio", "passed", "phases",
}  # fmt: skip


def run_script(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run a script of scripts/ with this Python."""
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_latencies_ordered(latency: dict) -> None:
    assert set(latency) == {"p50", "p90", "p99", "max"}
    assert 0 < latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["max"]


def test_small_open_loop_run_reports_every_field():
    done = run_script(
        "scripts/bench.py", "--chargers", "200", "--rate", "300", "--duration", "3",
        "--warmup", "1", "--no-ceiling", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report) == REPORT_FIELDS
    assert list(report["phases"]) == ["csms_open_loop"]
    phase = report["phases"]["csms_open_loop"]
    assert PHASE_FIELDS <= set(phase)
    assert report["errors"] == phase["errors"] == 0
    assert phase["errors_by_kind"] == {"callerror": 0, "timeout": 0, "disconnect": 0}
    assert report["passed"] is True
    assert report["sustained_calls_per_s"] == phase["calls_per_s"] > 0
    assert_latencies_ordered(report["latency_ms"])
    assert phase["mode"] == "open" and phase["offered_rate"] == 300
    assert {"MeterValues", "Heartbeat"} <= set(phase["by_action"])
    assert phase["server_cpu_ms_per_1k"] > 0
    assert phase["db_cpu_ms_per_1k"] is not None  # the embedded db child was found
    assert phase["server_rss_kib_connected"] > 0
    assert report["flush_lag_ms"] >= 0  # published by /healthz
    assert phase["stop_killed"] is False
    assert report["config"]["chargers"] == 200 and report["config"]["mix"] == "charging"
    assert report["ceiling_ratio"] is None and report["max_calls_per_s"] is None


@pytest.fixture
def ceiling_port():
    """scripts/bench_ceiling.py on a free port, stopped by its pid."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(SCRIPTS / "bench_ceiling.py"), "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "the ceiling server did not start"
                time.sleep(0.1)
        yield port
    finally:
        server.terminate()
        server.wait(10)


def test_idle_mix_sends_only_heartbeats_after_boot():
    done = run_script(
        "scripts/bench.py", "--chargers", "100", "--rate", "100", "--duration", "2",
        "--warmup", "0.5", "--mix", "idle", "--no-ceiling", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["config"]["mix"] == "idle"
    phase = report["phases"]["csms_open_loop"]
    assert list(phase["by_action"]) == ["Heartbeat"]
    assert phase["by_action"]["Heartbeat"]["count"] == phase["completed"] > 0
    assert report["errors"] == 0


def test_closed_loop_against_the_ceiling_server(ceiling_port):
    done = run_script(
        "scripts/bench_load.py", "--url", f"ws://127.0.0.1:{ceiling_port}/", "--chargers", "50",
        "--rate", "0", "--duration", "1", "--warmup", "0.2",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["mode"] == "closed" and result["offered_rate"] is None
    assert result["errors"] == 0
    assert result["calls_per_s"] > 0
    assert_latencies_ordered(result["latency_ms"])
    assert result["server_cpu_ms_per_1k"] is None  # no --server-pid given


def test_refused_connections_are_one_clear_line():
    done = run_script(
        "scripts/bench_load.py", "--url", f"ws://127.0.0.1:{free_port()}/", "--chargers", "3",
        "--duration", "1",
    )  # fmt: skip
    assert done.returncode == 3
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: 3 of 3 chargers could not connect to ws://127.0.0.1:")


def test_the_mix_is_valid_ocpp(monkeypatch):
    """Every CALL the load generator builds passes the server's own schemas."""
    monkeypatch.syspath_prepend(str(SCRIPTS))
    import bench_load

    schemas = SchemaStore()
    charger = bench_load.Charger(7, "ws://127.0.0.1:1/", bench_load.Stats(), 1.0, seed=3)
    charger.transaction = 1
    actions = set()
    for _ in range(3000):
        action, payload = charger.next_call()
        if action == "StartTransaction":
            payload = {"connectorId": 1, "idTag": "T", "meterStart": int(charger.energy),
                       "timestamp": bench_load.timestamp()}  # fmt: skip
            charger.transaction = 2
        schemas.validate(action, payload)
        actions.add(action)
    assert actions == {"MeterValues", "Heartbeat", "StopTransaction", "StartTransaction"}
    sampled = charger.meter_values()["meterValue"][0]["sampledValue"]
    assert [s["measurand"] for s in sampled] == [
        "Energy.Active.Import.Register", "Power.Active.Import", "Current.Import", "Voltage",
    ]  # fmt: skip


def test_percentile_is_nearest_rank(monkeypatch):
    monkeypatch.syspath_prepend(str(SCRIPTS))
    from bench_stats import percentile

    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 1.0) == 100.0
    assert percentile([], 0.5) == 0.0
