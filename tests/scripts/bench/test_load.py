"""scripts/bench/load.py: the load generator against the ceiling server, and its mix."""

from __future__ import annotations

import json

from ocppj.validation import SchemaStore
from tests.scripts.bench.helpers import assert_latencies_ordered, free_port, run_script


def test_closed_loop_against_the_ceiling_server(ceiling_port):
    done = run_script(
        "scripts/bench/load.py", "--url", f"ws://127.0.0.1:{ceiling_port}/", "--chargers", "50",
        "--rate", "0", "--duration", "1", "--warmup", "0.2",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["mode"] == "closed" and result["offered_rate"] is None
    assert result["errors"] == 0
    assert result["calls_per_s"] > 0
    assert_latencies_ordered(result["latency_ms"])
    assert result["server_cpu_ms_per_1k"] is None  # no --server-pid given
    assert sum(v["count"] for v in result["by_action"].values()) == result["completed"]


def test_refused_connections_are_one_clear_line(tmp_path):
    done = run_script(
        "scripts/bench/load.py", "--url", f"ws://127.0.0.1:{free_port()}/", "--chargers", "3",
        "--duration", "1", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 3
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: 3 of 3 chargers could not connect to ws://127.0.0.1:")


def test_the_mix_is_valid_ocpp(bench_path):
    """Every CALL the load generator builds passes the server's own schemas."""
    from bench import load

    schemas = SchemaStore()
    charger = load.Charger(7, "ws://127.0.0.1:1/", load.Stats(), 1.0, seed=3)
    charger.transaction = 1
    actions = set()
    for _ in range(3000):
        action, payload = charger.next_call()
        if action == "StartTransaction":
            payload = {"connectorId": 1, "idTag": "T", "meterStart": int(charger.energy),
                       "timestamp": load.timestamp()}  # fmt: skip
            charger.transaction = 2
        schemas.validate(action, payload)
        actions.add(action)
    assert actions == {"MeterValues", "Heartbeat", "StopTransaction", "StartTransaction"}
    sampled = charger.meter_values()["meterValue"][0]["sampledValue"]
    assert [s["measurand"] for s in sampled] == [
        "Energy.Active.Import.Register", "Power.Active.Import", "Current.Import", "Voltage",
    ]  # fmt: skip
