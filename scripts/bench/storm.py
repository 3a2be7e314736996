"""``scripts/bench.py --storm N``: N chargers registering, then reconnecting after a crash.

1. A fresh CSMS (pinned like the other phases); N new chargers connect at once and
   each sends BootNotification and StatusNotification: the registration storm.
2. The server is killed with SIGKILL (its embedded database too: a host that lost
   power), then started again on the same port and data. Every charger reconnects
   as soon as its connection dropped, retrying every ``--storm-retry`` seconds
   while the port refuses, and boots again: the reconnect storm of known chargers.

Reported: seconds until all N were booted (from the first connect; for the
reconnect, from the moment the restarted server answered ``/healthz``), the
server's restart time, the attempts refused (an HTTP status instead of the
upgrade, a BootNotification not Accepted) and the attempts that failed
(connection refused or reset while the server was down or busy). For each storm
also the CPU seconds the server, its database and the load generator (this
process: N WebSocket clients) used in it, and per charger in milliseconds: where
the storm's time goes, on which core.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from typing import Any

from websockets.exceptions import InvalidHandshake, InvalidStatus

from bench.load import Charger
from bench.proc import cpu_seconds, pin_self, start_time, tree_cpu_seconds
from bench.stats import Stats

BOOT = {"chargePointVendor": "Bench", "chargePointModel": "B1"}
STATUS = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}


def add_args(parser: argparse.ArgumentParser) -> None:
    """The storm's options (``--storm N`` runs it instead of the throughput phases)."""
    parser.add_argument(
        "--storm",
        type=int,
        default=0,
        metavar="N",
        help="N chargers register, the server is SIGKILLed, they reconnect",
    )
    parser.add_argument("--storm-retry", type=float, default=0.5,
                        help="seconds between a charger's reconnect attempts (0.5)")  # fmt: skip


class Tally:
    """The attempts of one storm."""

    def __init__(self) -> None:
        self.refused = 0
        self.failed = 0
        self.examples: list[str] = []

    def note(self, kind: str, text: str) -> None:
        """Count a refused or failed attempt, keep a few examples."""
        setattr(self, kind, getattr(self, kind) + 1)
        if len(self.examples) < 5:
            self.examples.append(f"{kind}: {text}")


async def boot(charger: Charger, tally: Tally, retry: float, deadline: float) -> float | None:
    """Connect (retrying) and boot until Accepted; the loop time when booted, else None."""
    loop = asyncio.get_running_loop()
    while loop.time() < deadline:
        try:
            await charger.connect(charger.timeout)
        except InvalidStatus as exc:
            tally.note("refused", f"{charger.id}: HTTP {exc.response.status_code}")
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            tally.note("failed", f"{charger.id}: {type(exc).__name__} {exc}")
        else:
            reply = await charger.call("BootNotification", BOOT)
            if reply is not None and reply[2].get("status") == "Accepted":
                if await charger.call("StatusNotification", STATUS) is not None:
                    return loop.time()
            elif reply is not None:
                tally.note("refused", f"{charger.id}: boot {reply[2].get('status')}")
            await charger.close()
        await asyncio.sleep(retry)
    return None


async def storm(chargers: list[Charger], retry: float, limit: float) -> dict[str, Any]:
    """All ``chargers`` booting at once; seconds until the last one was booted."""
    loop = asyncio.get_running_loop()
    tally = Tally()
    began = loop.time()
    done = await asyncio.gather(*(boot(c, tally, retry, began + limit) for c in chargers))
    booted = [t for t in done if t is not None]
    return {
        "booted": len(booted),
        "all_booted_s": round(max(booted) - began, 2) if len(booted) == len(chargers) else None,
        "refused": tally.refused,
        "failed_attempts": tally.failed,
        "examples": tally.examples,
    }


def cpu_now(server: Any) -> dict[str, float]:
    """CPU seconds used so far by the server, its database (the children it had when it
    answered) and this process (the load generator)."""
    db = [pid for pid, started in server.children if start_time(pid) == started]
    return {
        "server": cpu_seconds(server.pid) or 0.0,
        "db": tree_cpu_seconds(db),
        "load": cpu_seconds(os.getpid()) or 0.0,
    }


def cpu_used(before: dict[str, float], after: dict[str, float], n: int) -> dict[str, Any]:
    """CPU seconds of each process between two ``cpu_now`` readings, and ms per charger."""
    used = {name: round(after[name] - before[name], 2) for name in after}
    per = {name: round(seconds * 1000 / n, 2) for name, seconds in used.items()}
    return {"cpu_s": used, "cpu_ms_per_charger": per}


async def dropped(chargers: list[Charger]) -> None:
    """Wait until every charger saw its connection close."""
    await asyncio.gather(*(c.ws.wait_closed() for c in chargers if c.ws is not None))


def kill(server: Any) -> None:
    """SIGKILL the server and its children (the embedded database), keeping its data."""
    os.kill(server.pid, signal.SIGKILL)
    server.process.wait()
    for pid, started in server.children:
        if started is not None and start_time(pid) == started:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    for pid, started in server.children:  # the data dir is free once they are gone
        while started is not None and start_time(pid) == started:
            time.sleep(0.05)


async def run_async(args: argparse.Namespace, server: Any, cpu: int | None) -> dict[str, Any]:
    """Register, kill, restart, reconnect; the storm's report."""
    pin_self(cpu)
    url = f"ws://127.0.0.1:{server.port}/"
    stats = Stats()
    chargers = [Charger(i, url, stats, args.call_timeout, 1, "idle") for i in range(args.storm)]
    limit = args.call_timeout + args.storm / 20 + 60
    before = cpu_now(server)
    registered = await storm(chargers, args.storm_retry, limit)
    registered |= cpu_used(before, cpu_now(server), args.storm)
    kill(server)
    await dropped(chargers)
    loop = asyncio.get_running_loop()
    restart_began = loop.time()
    # The chargers retry while the server starts again (refused connections count).
    reconnect = asyncio.ensure_future(storm(chargers, args.storm_retry, limit))
    await loop.run_in_executor(None, server.start)
    ready = loop.time()
    before = cpu_now(server)  # the restarted server's start-up is not the storm's
    reconnected = await reconnect
    reconnected |= cpu_used(before, cpu_now(server), args.storm)
    if reconnected["all_booted_s"] is not None:
        since_ready = reconnected["all_booted_s"] - (ready - restart_began)
        reconnected["all_booted_after_ready_s"] = round(max(0.0, since_ready), 2)
    await asyncio.gather(*(c.close() for c in chargers))
    return {
        "chargers": args.storm,
        "register": registered,
        "restart_s": round(ready - restart_began, 2),
        "reconnect": reconnected,
        "errors": sum(stats.errors.values()),
        "passed": registered["booted"] == reconnected["booted"] == args.storm,
    }


def main(args: argparse.Namespace, server_class: type, cpus: tuple[int | None, int | None]) -> int:
    """Run the storm with a server of ``server_class`` (``runner.ServerProcess``) pinned to
    ``cpus`` (server, load), print its report; 0 when every charger booted both times."""
    server = server_class("csms", args, cpus[0], cpus[1] if args.db_cpu == "load" else None)
    try:
        server.start()
        report = asyncio.run(run_async(args, server, cpus[1]))
    finally:
        server.stop(args.stop_timeout)
    print(json.dumps(report) if args.json else format_storm(report))
    return 0 if report["passed"] else 1


def format_storm(report: dict[str, Any]) -> str:
    """The storm report as lines of text."""
    reg, again = report["register"], report["reconnect"]
    return "\n".join([
        f"storm of {report['chargers']:,} chargers",
        f"new chargers registered: {reg['booted']:,} in {reg['all_booted_s']} s "
        f"(refused {reg['refused']}, failed attempts {reg['failed_attempts']})",
        f"after SIGKILL: server restarted in {report['restart_s']} s; all known chargers "
        f"booted again {again['all_booted_s']} s after the restart began, "
        f"{again.get('all_booted_after_ready_s')} s after it answered "
        f"(refused {again['refused']}, failed attempts {again['failed_attempts']})",
        "CPU per charger, registering: " + _cpu_line(reg),
        "CPU per charger, reconnecting after the restart: " + _cpu_line(again),
        "PASS" if report["passed"] else "FAIL: " + "; ".join(reg["examples"] + again["examples"]),
    ])  # fmt: skip


def _cpu_line(storm: dict[str, Any]) -> str:
    per, used = storm["cpu_ms_per_charger"], storm["cpu_s"]
    return ", ".join(f"{name} {per[name]} ms ({used[name]} s)" for name in per)


if __name__ == "__main__":
    sys.exit("run as: python scripts/bench.py --storm N")
