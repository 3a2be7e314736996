"""scripts/bench.py --instances N: the load spread over instances sharing one database,
and actions relayed from the last instance to a charger on the first."""

from __future__ import annotations

import json

from tests.scripts.bench.helpers import assert_latencies_ordered, run_script


def test_two_instances_share_the_load_and_relay_actions():
    done = run_script("scripts/bench.py", "--instances", "2", "--chargers", "6", "--rate", "6",
                      "--duration", "1", "--warmup", "0", "--json", timeout=240)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["config"]["instances"] == 2
    assert report["passed"] is True and report["errors"] == 0
    assert len(report["per_instance_calls_per_s"]) == 2
    assert report["sustained_calls_per_s"] == sum(report["per_instance_calls_per_s"])
    for latency in report["latency_ms_per_instance"]:
        assert_latencies_ordered(latency)
    actions = report["action_round_trip"]
    assert (actions["actions"], actions["failed"], actions["relayed"]) == (50, 0, True)
    assert 0 < actions["p50_ms"] <= actions["p90_ms"] <= actions["max_ms"]
