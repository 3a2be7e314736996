"""The benchmark run by ``scripts/bench.py``: phases, servers, the combined report.

    python scripts/bench.py [--chargers 1000] [--rate 2000] [--duration 20] [--warmup 3]
                            [--mix charging|idle]
                            [--server-cpu 0] [--mongodb-uri URI] [--no-ceiling] [--json]

For each phase a fresh server is started (``server.py`` with a temporary data
dir and the embedded database, unless ``--mongodb-uri``), pinned to one core
with ``taskset``; the load generator (``scripts/bench/load.py``, one asyncio
process) runs pinned to another core. The embedded database child is moved to
the load generator's core by default (``--db-cpu load``), as a production
MongoDB runs elsewhere; ``--db-cpu server`` keeps it on the server's core.
Phases:

1. CSMS, open loop at ``--rate`` CALL/s: latency from the scheduled send time.
2. CSMS, closed loop (``--rate 0`` alone runs only this): maximum throughput.
3. The bare Tornado server of ``scripts/bench/ceiling.py``, closed loop: the
   ceiling; the CSMS closed-loop throughput is reported as a ratio of it.

Besides throughput and latency, each phase reports the server's (and its
embedded db's) CPU per 1,000 CALLs and RSS per connection from ``/proc``,
how long the server stayed busy after the load (a write backlog; ~1 s is the
disconnect work), the share of each benchmark core taken by other processes
(a shared machine disturbs the figures; a warning says so), and the flush
lag of batched writes when the server publishes it (``flush_lag_ms``).

The run passes when no phase had an error (CALLERROR, timeout, disconnect).
Exit status: 0 pass, 1 errors during the load, 2 the bench could not run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench import storm
from bench.proc import (
    available_cpus,
    cpu_seconds,
    descendants,
    move_threads,
    raise_nofile_limit,
    start_time,
    tree_cpu_seconds,
)
from bench.reference import reference_ratio
from bench.report import DRAIN_LIMIT_S, format_table, warnings

HERE = Path(__file__).resolve().parent  # scripts/bench
REPO = HERE.parent.parent
HOST = "127.0.0.1"
IDLE_PCT = 10.0  # the server side counts as idle below this share of one core


class BenchError(Exception):
    """The benchmark could not run (one line for the operator)."""


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def http_json(url: str, timeout: float = 1.0) -> dict[str, Any]:
    """GET ``url`` (never through a proxy) and decode its JSON body."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=timeout) as response:
        return json.loads(response.read())


def flush_lag_ms(port: int) -> Any:
    """The server's flush lag of batched writes, or None when it does not expose it.

    Hook: the CSMS may add ``"flush_lag_ms"`` to its ``GET /healthz`` answer
    (a number, or an object such as ``{"meter_values": {"last": .., "max": ..}}``);
    it is reported as it is. ``models/batch.py`` already tracks ``last_lag``
    and ``max_lag`` per writer; nothing publishes them yet.
    """
    try:
        return http_json(f"http://{HOST}:{port}/healthz").get("flush_lag_ms")
    except (OSError, ValueError):
        return None


def plan_cpus(server_cpu: int) -> tuple[int | None, int | None]:
    """(server cpu, load generator cpu); None means not pinned."""
    cpus = available_cpus()
    if server_cpu < 0:
        return None, None
    if server_cpu not in cpus:
        raise BenchError(f"--server-cpu {server_cpu}: this process may only use CPUs {cpus}")
    others = [cpu for cpu in cpus if cpu != server_cpu]
    return server_cpu, (others[0] if others else None)


class ServerProcess:
    """One server (the CSMS or the ceiling) in a temporary directory, stopped by its pid."""

    def __init__(
        self, kind: str, args: argparse.Namespace, cpu: int | None, db_cpu: int | None = None
    ):
        self.kind = kind
        self.args = args
        self.cpu = cpu
        self.db_cpu = db_cpu
        self.port = free_port()
        self.tmp = Path(tempfile.mkdtemp(prefix=f"bench-{kind}-"))
        self.process: subprocess.Popen | None = None
        self.children: list[tuple[int, int | None]] = []

    def command(self) -> list[str]:
        """The command line, with the taskset prefix when pinned."""
        if self.kind in ("ceiling", "reference"):  # bare Tornado; the ocpp library's CS
            cmd = [sys.executable, str(HERE / f"{self.kind}.py")]
            cmd += ["--host", HOST, "--port", str(self.port)]
        else:
            cmd = [sys.executable, str(REPO / "server.py"), "--host", HOST]
            cmd += ["--port", str(self.port), "--data-dir", str(self.tmp / "data")]
            if self.args.mongodb_uri:
                cmd += ["--mongodb-uri", self.args.mongodb_uri]
            # Capacity, not abuse, is measured: no per-connection frame or sampled-value
            # rate, and a whole fleet from one IP may register and connect at once; the
            # connection cap leaves room for retries whose given-up handshake still holds
            # its slot (a storm of 10,000 against the default cap of 10,000 got 503s).
            fleet = max(self.args.chargers, getattr(self.args, "storm", None) or 0)
            cmd += ["--max-connections", str(max(10_000, 2 * fleet))]
            cmd += ["--max-open-sockets", str(max(12_000, 2 * fleet + 2_000))]
            cmd += ["--message-rate", "0", "--sample-rate", "0", "--registration-rate", "0",
                    "--registration-rate-per-ip", "0", "--max-connections-per-ip", "0",
                    "--max-open-sockets-per-ip", "0", *self.args.server_arg]  # fmt: skip
        if self.cpu is not None and shutil.which("taskset"):
            cmd = ["taskset", "-c", str(self.cpu), *cmd]
        return cmd

    def start(self) -> None:
        """Start the server and wait for ``/healthz`` (raise BenchError)."""
        out = open(self.tmp / "server.out", "wb")
        with out:
            self.process = subprocess.Popen(
                self.command(), cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
        if self.cpu is not None and not shutil.which("taskset"):
            os.sched_setaffinity(self.process.pid, {self.cpu})
        deadline = time.monotonic() + self.args.start_timeout
        url = f"http://{HOST}:{self.port}/healthz"
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                raise BenchError(f"{self.kind} server exited with code {code}: {self.last_line()}")
            with contextlib.suppress(OSError, ValueError):
                if http_json(url).get("status") == "ok":
                    self.children = [(pid, start_time(pid)) for pid in descendants(self.pid)]
                    if self.db_cpu is not None:
                        for pid, _ in self.children:
                            move_threads(pid, self.db_cpu)
                    return
            time.sleep(0.1)
        raise BenchError(
            f"{self.kind} server did not answer {url} within {self.args.start_timeout:g} s: "
            f"{self.last_line()}"
        )

    @property
    def pid(self) -> int:
        """The server's process id."""
        assert self.process is not None
        return self.process.pid

    def last_line(self) -> str:
        """The last line the server printed (for error messages)."""
        try:
            lines = (self.tmp / "server.out").read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no output"
        return lines[-1][:300] if lines else "no output"

    def stop(self, timeout: float = 15.0) -> tuple[float | None, bool]:
        """SIGTERM, SIGKILL after ``timeout``; then any child it left behind; remove the dir.

        Returns (seconds from SIGTERM to exit, whether SIGKILL was needed).
        """
        took, killed = None, False
        try:
            if self.process is not None and self.process.poll() is None:
                began = time.monotonic()
                os.kill(self.process.pid, signal.SIGTERM)
                try:
                    self.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    os.kill(self.process.pid, signal.SIGKILL)
                    self.process.wait()
                    killed = True
                took = round(time.monotonic() - began, 2)
            for pid, started in self.children:  # e.g. the embedded db after a SIGKILL
                if started is not None and start_time(pid) == started:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
        finally:
            if self.args.keep_data:
                print(f"kept {self.kind} data in {self.tmp}", file=sys.stderr)
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)
        return took, killed


def load_command(args: argparse.Namespace, server: ServerProcess, rate: float, cpu: int | None):
    """The load generator's command line against ``server``."""
    cmd = [sys.executable, str(HERE / "load.py"), "--url", f"ws://{HOST}:{server.port}/"]
    cmd += ["--chargers", str(args.chargers), "--rate", str(rate), "--mix", args.mix]
    cmd += ["--duration", str(args.duration), "--warmup", str(args.warmup)]
    cmd += ["--server-pid", str(server.pid), "--call-timeout", str(args.call_timeout)]
    if cpu is not None:
        cmd += ["--cpu", str(cpu)]
    return cmd


def run_load(args: argparse.Namespace, server: ServerProcess, rate: float, cpu: int | None):
    """Run the load generator against ``server``; its JSON summary (raise BenchError)."""
    cmd = load_command(args, server, rate, cpu)
    limit = args.warmup + args.duration + 4 * args.call_timeout + args.chargers / 10 + 60
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=limit, cwd=REPO)
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"the load generator did not finish within {limit:.0f} s") from exc
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or [f"exit code {done.returncode}"]
        raise BenchError(lines[-1].removeprefix("error: "))
    if done.stderr.strip():
        sys.stderr.write(done.stderr)
    return json.loads(done.stdout)


def wait_idle(pids: list[int], since: float, step: float = 0.25) -> float:
    """Wait until ``pids`` use less than IDLE_PCT of a core; seconds from ``since`` until then.

    After the load stops, a server still busy is working off its backlog
    (buffered writes): this is how long it lagged behind the load.
    """
    last = tree_cpu_seconds(pids)
    while time.monotonic() - since < DRAIN_LIMIT_S:
        began = time.monotonic()
        time.sleep(step)
        now = tree_cpu_seconds(pids)
        busy = 100.0 * (now - last) / (time.monotonic() - began) > IDLE_PCT
        last = now
        if not busy:
            return round(max(0.0, began - since), 2)
    return DRAIN_LIMIT_S


def other_load(result: dict, cpus: tuple[int | None, int | None]) -> dict[str, float | None]:
    """Busy share of each benchmark core not spent in our processes (others, kernel, steal)."""
    busy = result["core_busy_pct"]
    server_cpu, load_cpu = cpus
    db_core = "load_core" if result.get("db_on_load_core") else "server_core"
    ours = {
        "server_core": result["server_cpu_pct"] or 0.0,
        "load_core": result["loadgen_cpu_pct"] or 0.0,
    }
    ours[db_core] += result["db_cpu_pct"] or 0.0
    found: dict[str, float | None] = {}
    for name, cpu in (("server_core", server_cpu), ("load_core", load_cpu)):
        found[name] = None if cpu is None else round(max(0.0, busy[str(cpu)] - ours[name]), 1)
    return found


def run_phase(args, kind: str, rate: float, cpus: tuple[int | None, int | None]) -> dict:
    """Start a fresh server, load it, wait until it is idle, read its flush lag, stop it."""
    db_cpu = cpus[1] if args.db_cpu == "load" and kind == "csms" else None
    server = ServerProcess(kind, args, cpus[0], db_cpu)
    try:
        server.start()
        result = run_load(args, server, rate, cpus[1])
        result["db_on_load_core"] = db_cpu is not None
        result["other_load_pct"] = other_load(result, cpus)
        alive = [server.pid] + [pid for pid, _ in server.children if cpu_seconds(pid) is not None]
        result["drain_s"] = wait_idle(alive, result["window_end_monotonic"])
        result["flush_lag_ms"] = flush_lag_ms(server.port) if kind == "csms" else None
        if server.process is not None and server.process.poll() is not None:
            raise BenchError(f"{kind} server died during the run: {server.last_line()}")
    finally:
        stopped = server.stop(args.stop_timeout)
    result["stop_s"], result["stop_killed"] = stopped
    return result


class BackgroundLoad:
    """The load generator running while the pages are measured (``--pages``)."""

    def __init__(self, cmd: list[str]):
        self.process = subprocess.Popen(
            cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def wait(self) -> dict[str, Any]:
        """Its JSON summary once it has finished (raise BenchError)."""
        out, err = self.process.communicate()
        if self.process.returncode != 0:
            lines = err.strip().splitlines() or [f"exit code {self.process.returncode}"]
            raise BenchError("load generator: " + lines[-1].removeprefix("error: "))
        return json.loads(out)


def run_pages(args: argparse.Namespace) -> dict:
    """The ``--pages`` phase: the operator's pages at fleet size under load."""
    from bench.pages import measure, seed  # imported here: it loads the server's models

    cpus = plan_cpus(args.server_cpu)
    server = ServerProcess("csms", args, cpus[0], cpus[1] if args.db_cpu == "load" else None)
    try:
        seed(server.tmp / "data", args)
        server.start()
        figures = measure(
            server.port, args,
            lambda rate: BackgroundLoad(load_command(args, server, rate, cpus[1])),
        )  # fmt: skip
    except (OSError, RuntimeError, ValueError) as exc:
        raise BenchError(f"pages: {exc}") from exc
    finally:
        server.stop(args.stop_timeout)
    return {"config": {"chargers_in_db": figures["chargers_in_db"], "connected": args.chargers,
                       "rate": args.rate, "duration_s": args.duration},
            "pages": figures, "passed": all(figures["passed"].values())}  # fmt: skip


def run(args: argparse.Namespace) -> dict:
    """Every phase, then the combined report."""
    if args.pages:
        return run_pages(args)
    cpus = plan_cpus(args.server_cpu)
    plan: list[tuple[str, str, float]] = []
    if args.rate > 0:
        plan.append(("csms_open_loop", "csms", args.rate))
    if args.rate == 0 or not args.no_ceiling:
        plan.append(("csms_closed_loop", "csms", 0.0))
    if not args.no_ceiling:
        plan += [
            ("ceiling_closed_loop", "ceiling", 0.0),
            ("reference_closed_loop", "reference", 0.0),
        ]
    phases = {}
    for name, kind, rate in plan:
        if not args.json:
            print(f"{name}: running", file=sys.stderr, flush=True)
        began = time.monotonic()
        phases[name] = run_phase(args, kind, rate, cpus)
        phases[name]["phase_s"] = round(time.monotonic() - began, 1)
        if not args.json:
            print(f"{name}: done in {phases[name]['phase_s']:g} s", file=sys.stderr, flush=True)
    main = phases["csms_open_loop" if args.rate > 0 else "csms_closed_loop"]
    closed = phases["csms_closed_loop"] if "csms_closed_loop" in phases else None
    ceiling = phases.get("ceiling_closed_loop")
    ratio = None
    if closed and ceiling and ceiling["calls_per_s"] > 0:
        ratio = round(closed["calls_per_s"] / ceiling["calls_per_s"], 4)
    errors = sum(phase["errors"] for phase in phases.values())
    return {
        "config": {
            "chargers": args.chargers,
            "mix": args.mix,
            "rate": args.rate,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "server_cpu": cpus[0],
            "loadgen_cpu": cpus[1],
            "cpus": len(available_cpus()),
            "database": "external" if args.mongodb_uri else "embedded",
            "db_cpu": None if args.mongodb_uri else args.db_cpu,
        },
        "sustained_calls_per_s": main["calls_per_s"],
        "errors": errors,
        "latency_ms": main["latency_ms"],
        "server_cpu_ms_per_1k": main["server_cpu_ms_per_1k"],
        "db_cpu_ms_per_1k": main["db_cpu_ms_per_1k"],
        "rss_per_connection_kib": main["rss_per_connection_kib"],
        "flush_lag_ms": main["flush_lag_ms"],
        "max_calls_per_s": closed["calls_per_s"] if closed else None,
        "ceiling_calls_per_s": ceiling["calls_per_s"] if ceiling else None,
        "ceiling_ratio": ratio,
        **reference_ratio(closed, phases.get("reference_closed_loop")),
        "passed": errors == 0,
        "phases": phases,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description="benchmark the OCPP 1.6J Central System")
    parser.add_argument("--chargers", type=int, default=1000, help="connections (1000)")
    parser.add_argument("--rate", type=float, default=2000.0, help="CALL/s; 0 = closed loop")
    parser.add_argument("--duration", type=float, default=20.0, help="steady seconds (20)")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds (3)")
    parser.add_argument(
        "--mix", choices=("charging", "idle"), default="charging",
        help="charging: mostly MeterValues (default); idle: Heartbeats only, no transaction",
    )  # fmt: skip
    parser.add_argument("--server-cpu", type=int, default=0, help="pin the server; -1: no pin")
    parser.add_argument("--mongodb-uri", default=None, help="external database (else embedded)")
    parser.add_argument(
        "--db-cpu", choices=("load", "server"), default="load",
        help="core of the embedded database: the load generator's (default) or the server's",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--no-ceiling", action="store_true", help="skip the ceiling phases")
    parser.add_argument("--call-timeout", type=float, default=30.0, help="seconds per CALL")
    parser.add_argument("--start-timeout", type=float, default=60.0, help="server start (s)")
    parser.add_argument("--stop-timeout", type=float, default=15.0, help="SIGTERM to SIGKILL (s)")
    parser.add_argument("--keep-data", action="store_true", help="keep the servers' temp dirs")
    parser.add_argument(
        "--pages",
        action="store_true",
        help="measure the dashboard, list, search, map and live stream instead",
    )
    parser.add_argument(
        "--pages-chargers",
        type=int,
        default=10_000,
        help="chargers in the database for --pages (10000)",
    )
    parser.add_argument(
        "--pages-rate", type=float, default=100.0, help="CALL/s while --pages times the pages (100)"
    )
    parser.add_argument("--pages-repeat", type=int, default=10, help="requests per page (10)")
    parser.add_argument("--pages-stream", type=float, default=10.0,
                        help="seconds the live stream is read (10)")  # fmt: skip
    parser.add_argument(
        "--server-arg", action="append", default=[], metavar="ARG",
        help="extra server.py argument, repeatable (e.g. --server-arg=--log-level=WARNING)",
    )  # fmt: skip
    storm.add_args(parser)
    parser.add_argument(
        "--db-ops", type=int, default=0, metavar="N",
        help="time N of each database operation the server sends, single and batched (db_ops.py)",
    )  # fmt: skip
    parser.add_argument(
        "--instances", type=int, default=0, help="N instances on one database (instances.py)"
    )
    args = parser.parse_args(argv)
    if args.chargers < 1 or args.rate < 0 or args.duration <= 0 or args.warmup < 0:
        parser.error("--chargers must be >= 1, --rate >= 0, --duration > 0, --warmup >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0 pass, 1 errors under load, 2 could not run."""
    args = parse_args(argv)
    raise_nofile_limit()  # inherited by the servers and the load generator
    try:
        if args.storm:
            return storm.main(args, ServerProcess, plan_cpus(args.server_cpu))
        if args.db_ops:
            from bench import db_ops  # imported here: it loads the server's models

            return db_ops.main(args)
        report = run(args)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 2
    if args.pages:
        print(json.dumps(report) if args.json else json.dumps(report, indent=2))
        return 0 if report["passed"] else 1
    for line in warnings(report):
        print(f"warning: {line}", file=sys.stderr)
    print(json.dumps(report) if args.json else format_table(report))
    return 0 if report["passed"] else 1
