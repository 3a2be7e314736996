"""scripts/simulate.py: many simulators, a progress line, a clean Ctrl-C."""

from __future__ import annotations

import asyncio
import io
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import tornado.httpserver

from scripts import simulate
from simulator import SimulatorFleet
from tests.simulator.helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = str(ROOT / "scripts" / "simulate.py")
PROGRESS = re.compile(
    r"^simulators (\d+)/(\d+) running, (\d+) connected \| sessions (\d+) done, (\d+) active,"
    r" (\d+) rejected \| energy (\d+\.\d{3}) kWh \| errors (\d+)$"
)


async def read_until(stream, predicate, timeout):
    """Lines from ``stream`` until one satisfies ``predicate`` (all lines read are returned)."""
    lines = []
    async with asyncio.timeout(timeout):
        while True:
            raw = await stream.readline()
            if not raw:
                return lines
            lines.append(raw.decode().rstrip("\n"))
            if predicate(lines[-1]):
                return lines


async def seed_transaction_counter(services):
    """Create the transaction counter before simulators start sessions at the same moment.

    On the embedded database, concurrent first upserts of a counter can return no
    document (Counters.next then fails with InternalError); reported to the lead.
    """
    await services.counters.ensure_at_least("transactions", 0)


@pytest.mark.gen_test(timeout=60)
async def test_three_simulators_then_ctrl_c(http_server, http_port, services, db):
    await seed_transaction_counter(services)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, SCRIPT, "--url", f"ws://127.0.0.1:{http_port}/", "--count", "3",
        "--prefix", "CLI", "--interval", "0.2", "--duration", "0.6", "--kwh-max", "0.5",
        "--repeat", "--progress", "0.2",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:

        def three_done(line):
            match = PROGRESS.match(line)
            return bool(match) and int(match[4]) >= 3

        lines = await read_until(proc.stdout, three_done, 30)
        assert three_done(lines[-1]), lines
        proc.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(proc.communicate(), 20)
    finally:
        if proc.returncode is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()
    rest = out.decode().splitlines()
    assert "stopping..." in rest
    final = PROGRESS.match(rest[-1])
    assert final, rest
    running, total, connected, done, active, rejected, kwh, errors = final.groups()
    assert (running, total, connected, active, rejected, errors) == ("0", "3", "0", "0", "0", "0")
    assert int(done) >= 3

    await services.flush()
    chargers = (
        await db.chargers.find({}, {"boot.vendor": 1, "connected": 1}).sort("_id", 1).to_list()
    )
    assert [c["_id"] for c in chargers] == ["CLI1", "CLI2", "CLI3"]
    assert all(c["boot"]["vendor"] == "Simulator" for c in chargers)
    txs = await db.transactions.find({}).to_list()
    assert len(txs) == int(done)
    assert all(tx["open"] is False for tx in txs)
    assert {tx["charger"] for tx in txs} == {"CLI1", "CLI2", "CLI3"}
    assert all(tx["energy_wh"] == tx["meter_stop"] - tx["meter_start"] for tx in txs)
    assert {tx["stop_reason"] for tx in txs} <= {"EVDisconnected", "Local"}
    assert sum(tx["energy_wh"] for tx in txs) == round(float(kwh) * 1000)


@pytest.mark.gen_test(timeout=60)
async def test_without_repeat_it_ends_by_itself(http_server, http_port, services, db):
    await seed_transaction_counter(services)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, SCRIPT, "--url", f"ws://127.0.0.1:{http_port}/x/", "--count", "2",
        "--interval", "0.2", "--duration", "0.4", "--kwh-max", "0.25",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    last = out.decode().splitlines()[-1]
    assert last == (
        "simulators 0/2 running, 0 connected | sessions 2 done, 0 active, 0 rejected"
        " | energy 0.500 kWh | errors 0"
    )
    txs = await db.transactions.find({}).sort("charger", 1).to_list()
    assert [(tx["charger"], tx["energy_wh"]) for tx in txs] == [("SIM1", 250), ("SIM2", 250)]


@pytest.mark.gen_test(timeout=60)
async def test_errors_are_reported_and_exit_1():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, SCRIPT, "--url", f"ws://127.0.0.1:{port}/", "--count", "2",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 1
    lines = out.decode().splitlines()
    refused = f"connection refused by 127.0.0.1:{port} (is the Central System running?)"
    assert sorted(line for line in lines if ": error: " in line) == [
        f"SIM1: error: {refused}", f"SIM2: error: {refused}",
    ]  # fmt: skip
    assert lines[-1].endswith("| errors 2")


@pytest.mark.gen_test(timeout=90)
async def test_a_repeat_fleet_rides_out_a_server_restart(
    http_server, http_port, app, registry, services, db
):
    await seed_transaction_counter(services)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, SCRIPT, "--url", f"ws://127.0.0.1:{http_port}/", "--count", "2",
        "--prefix", "RS", "--interval", "0.2", "--duration", "30", "--kwh-max", "0.5",
        "--repeat", "--progress", "0.2",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    lines: list[str] = []

    async def collect():
        while raw := await proc.stdout.readline():
            lines.append(raw.decode().rstrip("\n"))

    def seen_after(mark, wanted):
        return any(line.startswith(wanted) for line in lines[mark:])

    async def transactions(total, still_open):
        counts = (await db.transactions.count_documents({}),
                  await db.transactions.count_documents({"open": True}))  # fmt: skip
        return counts == (total, still_open)

    collector = asyncio.create_task(collect())
    restarted = None
    try:
        assert await wait_for(lambda: transactions(2, 2), 30)

        async def both_metered():
            return sorted(await db.meter_values.distinct("meta.transaction")) == [1, 2]

        assert await wait_for(both_metered, 30)
        # The server goes down: it stops listening and closes its charger connections.
        http_server.stop()
        registry.close_all(1001, "server shutting down")
        assert await registry.wait_empty(5)
        mark = len(lines)
        assert await wait_for(lambda: seen_after(mark, "simulators 2/2 running, 0 connected"))
        restarted = tornado.httpserver.HTTPServer(app)
        restarted.listen(http_port, "127.0.0.1")
        # Both back: each stopped its interrupted transaction and started a new one.
        assert await wait_for(lambda: transactions(4, 2), 30)
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.wait(), 20)
        await asyncio.wait_for(collector, 5)
    finally:
        if proc.returncode is None:
            proc.kill()
        if restarted is not None:
            restarted.stop()
            await restarted.close_all_connections()
    err = (await proc.stderr.read()).decode()
    assert proc.returncode == 0, err
    assert "stopping..." in lines
    final = PROGRESS.match(lines[-1])
    assert final, lines
    assert final.group(1, 2, 3, 5, 6, 8) == ("0", "2", "0", "0", "0", "0")
    assert not [line for line in lines if ": error: " in line]

    txs = await db.transactions.find({}).sort("_id", 1).to_list()
    by_charger = {
        charger: [(tx["open"], tx["stop_reason"]) for tx in txs if tx["charger"] == charger]
        for charger in ("RS1", "RS2")
    }
    assert by_charger == {
        "RS1": [(False, "Other"), (False, "Local")], "RS2": [(False, "Other"), (False, "Local")],
    }  # fmt: skip
    assert all(tx["anomalies"] == [] for tx in txs)
    for charger in ("RS1", "RS2"):
        first, second = (tx for tx in txs if tx["charger"] == charger)
        assert second["meter_start"] == first["meter_stop"] > first["meter_start"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--count", "0"], "--count must be at least 1"),
        (["--count", "many"], "argument --count: invalid int value: 'many'"),
        (["--url", "http://127.0.0.1:8000/"],
         "URL 'http://127.0.0.1:8000/' must start with ws:// or wss://"),
        (["--interval", "0"], "interval must be greater than 0"),
        (["--kwh-min", "5", "--kwh-max", "1"], "need 0 <= kwh_min <= kwh_max"),
        (["--prefix", "a:"], "charger id 'a:1': at most 48 characters, no ':'"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)  # fmt: skip
def test_bad_arguments_one_line_and_exit_2(args, message):
    result = subprocess.run(
        [sys.executable, SCRIPT, *args], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == f"simulate.py: error: {message}\n"


class FakeTerminal(io.StringIO):
    """An output stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_progress_interval_one_second_on_a_terminal_ten_otherwise():
    assert simulate.progress_interval(None, tty=True) == 1.0
    assert simulate.progress_interval(None, tty=False) == 10.0
    assert simulate.progress_interval(0.25, tty=True) == 0.25
    assert simulate.progress_interval(3.0, tty=False) == 3.0
    assert simulate.build_parser().parse_args([]).progress is None


def test_progress_line_is_rewritten_in_place_on_a_terminal_only():
    fleet = SimulatorFleet.from_url("ws://127.0.0.1:9/", 2)
    line = (
        "simulators 0/2 running, 0 connected | sessions 0 done, 0 active, 0 rejected"
        " | energy 0.000 kWh | errors 0"
    )
    terminal, log = FakeTerminal(), io.StringIO()
    for out in (terminal, log):
        progress = simulate.Progress(out)
        progress.show(fleet)
        progress.show(fleet)
        progress.show(fleet, final=True)
    assert terminal.getvalue() == f"\r\x1b[K{line}\r\x1b[K{line}\r\x1b[K{line}\n"
    assert log.getvalue() == f"{line}\n{line}\n{line}\n"


@pytest.mark.gen_test(timeout=60)
async def test_not_a_terminal_a_short_run_prints_only_the_final_line(
    http_server, http_port, services, db
):
    # A 2 s session: at the old default (a line every second) a log got a line per second.
    parser = simulate.build_parser()
    args = parser.parse_args(
        ["--url", f"ws://127.0.0.1:{http_port}/", "--prefix", "LOG", "--interval", "0.5",
         "--duration", "2", "--kwh-max", "0.2"]
    )  # fmt: skip
    out = io.StringIO()
    code = await simulate.run(args, simulate.make_fleet(args, parser), out)
    assert code == 0
    assert out.getvalue() == (
        "simulators 0/1 running, 0 connected | sessions 1 done, 0 active, 0 rejected"
        " | energy 0.200 kWh | errors 0\n"
    )
    tx = await db.transactions.find_one({"charger": "LOG1"})
    assert (tx["open"], tx["energy_wh"]) == (False, 200)
