"""scripts/bench.py, run small: the report's shape and a clean run, no timings."""

from __future__ import annotations

import json

import pytest

from tests.scripts.bench.helpers import assert_latencies_ordered, run_script

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
    "ceiling_calls_per_s", "ceiling_ratio", "reference_calls_per_s", "reference_ratio",
    "passed", "phases",
}  # fmt: skip


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
    assert sum(v["count"] for v in phase["by_action"].values()) == phase["completed"]
    assert phase["server_cpu_ms_per_1k"] > 0
    assert phase["db_cpu_ms_per_1k"] is not None  # the embedded db child was found
    assert phase["server_rss_kib_connected"] > 0
    assert report["flush_lag_ms"] >= 0  # published by /healthz
    assert phase["stop_killed"] is False
    assert report["config"]["chargers"] == 200 and report["config"]["mix"] == "charging"
    assert report["ceiling_ratio"] is None and report["max_calls_per_s"] is None
    assert report["reference_ratio"] is None


def test_closed_loop_against_the_ceiling_and_the_ocpp_library_cs():
    """The same load against the CSMS, the bare Tornado ceiling and a CS on the ``ocpp``
    library: ours as a ratio of each."""
    done = run_script(
        "scripts/bench.py", "--chargers", "30", "--rate", "0", "--duration", "1.5",
        "--warmup", "0.3", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert list(report["phases"]) == [
        "csms_closed_loop", "ceiling_closed_loop", "reference_closed_loop",
    ]  # fmt: skip
    reference = report["phases"]["reference_closed_loop"]
    assert reference["errors"] == 0 and reference["calls_per_s"] > 0
    assert {"MeterValues", "Heartbeat"} <= set(reference["by_action"])
    assert report["reference_calls_per_s"] == reference["calls_per_s"]
    closed = report["max_calls_per_s"]
    assert report["reference_ratio"] == round(closed / reference["calls_per_s"], 4)
    assert report["ceiling_ratio"] == round(closed / report["ceiling_calls_per_s"], 4)


def test_storm_registers_then_reconnects_every_charger_after_a_sigkill():
    done = run_script("scripts/bench.py", "--storm", "20", "--json", timeout=240)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["chargers"], report["passed"], report["errors"]) == (20, True, 0)
    for name in ("register", "reconnect"):
        assert report[name]["booted"] == 20 and report[name]["refused"] == 0
        assert report[name]["all_booted_s"] > 0
        # The server and its database worked in each storm (the load generator's 20
        # clients may stay under one clock tick); per charger = seconds / 20.
        cpu, per = report[name]["cpu_s"], report[name]["cpu_ms_per_charger"]
        assert set(cpu) == set(per) == {"server", "db", "load"}
        assert cpu["server"] > 0 and cpu["db"] > 0 and cpu["load"] >= 0
        assert all(per[p] == round(cpu[p] * 1000 / 20, 2) for p in cpu)
    assert report["restart_s"] > 0
    assert (
        0 <= report["reconnect"]["all_booted_after_ready_s"] <= report["reconnect"]["all_booted_s"]
    )


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


@pytest.mark.parametrize(
    ("script", "usage"),
    [
        ("scripts/bench.py", "usage: bench.py [-h]"),
        ("scripts/bench/load.py", "usage: load.py [-h]"),
        ("scripts/bench/ceiling.py", "usage: ceiling.py [-h]"),
        ("scripts/bench/reference.py", "usage: reference.py [-h]"),
    ],
)
def test_the_benchmark_scripts_run_from_any_directory(tmp_path, script, usage):
    """Their imports resolve from the script's own path, not the working directory."""
    done = run_script(script, "--help", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith(usage)


def test_pages_run_reports_the_page_figures():
    """``--pages`` small: the shape of the report and that every page answered (no timings)."""
    done = run_script(
        "scripts/bench.py", "--pages", "--pages-chargers", "150", "--chargers", "20",
        "--rate", "40", "--pages-rate", "20", "--duration", "6", "--warmup", "0",
        "--pages-repeat", "1",
        "--pages-stream", "1", "--json",
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr  # 1: a target missed on a busy machine
    report = json.loads(done.stdout)
    assert set(report) == {"config", "pages", "passed"}
    pages = report["pages"]
    assert set(pages["passed"]) == {
        "dashboard_ms", "dashboard_kb", "list_ms", "search_ms", "stream_kb_per_s",
    }  # fmt: skip
    assert report["passed"] == all(pages["passed"].values())
    assert (pages["chargers_in_db"], pages["connected"]) == (150, 20)
    assert pages["pages_load"]["errors"] == pages["stream_load"]["errors"] == 0
    assert (pages["pages_load"]["offered_rate"], pages["stream_load"]["offered_rate"]) == (20, 40)
    for name in ("dashboard", "list", "search", "markers"):
        assert pages[name]["median_ms"] > 0 and pages[name]["bytes"] > 0
    assert pages["stream"]["snapshot_bytes"] > 0 and pages["stream"]["bytes_per_s"] >= 0


def test_db_ops_times_each_operation_single_and_batched():
    done = run_script("scripts/bench.py", "--db-ops", "100", "--json", timeout=240)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["database"] == "embedded"
    names = [row["operation"] for row in report["rows"]]
    assert names == [
        "charger insert_one", "charger update_one upsert (new)", "charger find_one",
        "charger find $in 100",
        "charger update_one $set", "charger bulk_write 100 UpdateOne",
        "measurement insert_one", "measurement insert_many 100",
        "message exchange insert_one", "message exchange insert_many 100",
    ]  # fmt: skip
    for row in report["rows"]:
        assert row["documents"] == 100
        assert row["wall_ms_per_doc"] > 0 and row["db_cpu_ms_per_doc"] >= 0, row


def test_db_ops_refuses_too_few_documents():
    done = run_script("scripts/bench.py", "--db-ops", "10", timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == "error: --db-ops must be at least 100"
