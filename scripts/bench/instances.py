"""``scripts/bench.py --instances N``: N instances on one database, and relayed actions.

The embedded database runs alone (as ``scripts/database.py`` runs it: a one-node
replica set, retryable writes off); N servers share it (``--mongodb-uri``,
``--instance-id i<n>``), none pinned (N servers on two cores). First, on the idle
servers, one charger connects to the first instance and ``ACTIONS`` soft resets are
asked of the last instance's API one after the other: with N > 1 each is relayed
through ``commands`` and change streams (``csms.command_relay``), with N = 1 it is a
local call; the round trip (HTTP request to response, the charger answering at once)
is reported. Then one load generator per instance drives its share of the chargers
and of the rate at the same time; their CALL/s add up.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from _common import ROOT  # noqa: F401  (puts the project on sys.path)
from websockets.asyncio.client import connect

from bench.runner import HERE, HOST, REPO, BenchError, ServerProcess, http_json, parse_args
from bench.runner import main as phases_main
from bench.stats import percentile
from models.embedded import EmbeddedDatabase, EmbeddedDatabaseError

ACTIONS = 50
PASSWORD = "bench-admin-pw"
AUTH = "Basic " + base64.b64encode(f"admin:{PASSWORD}".encode()).decode()


def _load_command(args: argparse.Namespace, server: ServerProcess, n: int, share: int) -> list:
    cmd = [sys.executable, str(HERE / "load.py"), "--url", f"ws://{HOST}:{server.port}/"]
    cmd += ["--chargers", str(share), "--rate", str(args.rate / args.instances)]
    cmd += ["--mix", args.mix, "--duration", str(args.duration), "--warmup", str(args.warmup)]
    cmd += ["--server-pid", str(server.pid), "--call-timeout", str(args.call_timeout)]
    return [*cmd, "--first-index", str(n * share)]


def run_loads(args: argparse.Namespace, servers: list[ServerProcess]) -> list[dict[str, Any]]:
    """One load generator per instance at the same time; their summaries."""
    share = max(1, args.chargers // len(servers))
    running = [
        subprocess.Popen(
            _load_command(args, server, n, share),
            cwd=REPO,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for n, server in enumerate(servers)
    ]
    limit = args.warmup + args.duration + 4 * args.call_timeout + args.chargers / 10 + 60
    results = []
    for process in running:
        try:
            out, err = process.communicate(timeout=limit)
        except subprocess.TimeoutExpired as exc:
            process.kill()
            raise BenchError(f"a load generator did not finish within {limit:.0f} s") from exc
        if process.returncode != 0:
            raise BenchError((err.strip().splitlines() or ["load generator failed"])[-1])
        results.append(json.loads(out))
    return results


def _api(port: int, path: str, body: dict | None = None) -> tuple[int, dict]:
    """One API request (never through a proxy): (status, JSON body)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://{HOST}:{port}{path}", data=data, method="POST" if data else "GET",
        headers={"Authorization": AUTH, "Content-Type": "application/json"},
    )  # fmt: skip
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


async def _connected(server: ServerProcess, charger: str) -> bool:
    _, body = await asyncio.to_thread(_api, server.port, f"/ocpp/chargers/{charger}/")
    return bool(body.get("connected"))


async def action_round_trips(holder: ServerProcess, caller: ServerProcess) -> dict[str, Any]:
    """Soft resets asked of ``caller`` for a charger on ``holder``: round trips in ms."""
    charger = "BENCHACTION"
    async with connect(f"ws://{HOST}:{holder.port}/{charger}", subprotocols=["ocpp1.6"],
                       proxy=None) as ws:  # fmt: skip

        async def answer() -> None:
            async for text in ws:
                frame = json.loads(text)
                if frame[0] == 2:
                    await ws.send(json.dumps([3, frame[1], {"status": "Accepted"}]))

        boot = {"chargePointVendor": "V", "chargePointModel": "M"}
        await ws.send(json.dumps([2, "b", "BootNotification", boot]))
        await ws.recv()
        answering = asyncio.create_task(answer())
        deadline = time.monotonic() + 20
        while not await _connected(caller, charger):  # the caller's stream has seen it
            if time.monotonic() > deadline:
                raise BenchError("the action charger never showed connected on the caller")
            await asyncio.sleep(0.1)
        took, failed = [], 0
        path = f"/ocpp/chargers/{charger}/action/"
        for _ in range(ACTIONS):
            began = time.perf_counter()
            status, body = await asyncio.to_thread(
                _api, caller.port, path, {"action": "reset", "type": "Soft"}
            )
            took.append(time.perf_counter() - began)
            failed += status != 200 or body.get("status") != "accepted"
        answering.cancel()
    took.sort()
    return {
        "actions": ACTIONS, "failed": failed, "relayed": holder is not caller,
        **{name: round(percentile(took, q) * 1e3, 1)
           for name, q in (("p50_ms", 0.5), ("p90_ms", 0.9), ("max_ms", 1.0))},
    }  # fmt: skip


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The whole ``--instances`` run: database, servers, loads, actions; the report."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-db-"))
    database = EmbeddedDatabase(tmp, write_uri_file=False, replica_set=True)
    servers: list[ServerProcess] = []
    try:
        try:
            uri = database.start()
        except EmbeddedDatabaseError as exc:
            raise BenchError(str(exc)) from None
        for n in range(args.instances):
            own = argparse.Namespace(**vars(args))
            own.mongodb_uri = uri
            own.server_arg = [*args.server_arg, "--instance-id", f"i{n}",
                              "--admin-password", PASSWORD]  # fmt: skip
            server = ServerProcess("csms", own, None)
            servers.append(server)
            server.start()  # one after the other: the first creates the admin user
        actions = asyncio.run(action_round_trips(servers[0], servers[-1]))  # before the load
        loads = run_loads(args, servers)
        lag = [http_json(f"http://{HOST}:{s.port}/healthz").get("flush_lag_ms") for s in servers]
    finally:
        for server in servers:
            server.stop(args.stop_timeout)
        database.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    errors = sum(load["errors"] for load in loads) + actions["failed"]
    return {
        "config": {
            "instances": args.instances,
            "chargers": args.chargers,
            "rate": args.rate,
            "mix": args.mix,
            "duration_s": args.duration,
        },
        "sustained_calls_per_s": round(sum(load["calls_per_s"] for load in loads), 1),
        "per_instance_calls_per_s": [load["calls_per_s"] for load in loads],
        "latency_ms_per_instance": [load["latency_ms"] for load in loads],
        "action_round_trip": actions,
        "flush_lag_ms": lag,
        "errors": errors,
        "passed": errors == 0,
    }


def format_report(report: dict[str, Any]) -> str:
    """A few lines for the terminal."""
    config, actions = report["config"], report["action_round_trip"]
    lines = [
        f"{config['instances']} instance(s), {config['chargers']} chargers, "
        f"{config['rate']:g} CALL/s asked, {config['mix']}",
        f"sustained CALL/s: {report['sustained_calls_per_s']:g} "
        f"(per instance {report['per_instance_calls_per_s']})",
    ]
    for n, latency in enumerate(report["latency_ms_per_instance"]):
        lines.append(f"  i{n} latency ms p50/p90/p99/max: {latency['p50']} / {latency['p90']}"
                     f" / {latency['p99']} / {latency['max']}")  # fmt: skip
    how = "relayed from the last instance" if actions["relayed"] else "local"
    lines.append(f"action round trip ({how}, {actions['actions']}): p50 {actions['p50_ms']} ms,"
                 f" p90 {actions['p90_ms']} ms, max {actions['max_ms']} ms,"
                 f" failed {actions['failed']}")  # fmt: skip
    lines.append(f"errors: {report['errors']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``scripts/bench.py``: ``--instances N`` runs this, else the phases."""
    args = parse_args(argv)
    if args.instances < 1:
        return phases_main(argv)
    try:
        report = run(args)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report) if args.json else format_report(report))
    return 0 if report["passed"] else 1
