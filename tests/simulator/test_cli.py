"""scripts/simulate.py: many simulators, a progress line, a clean Ctrl-C."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

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
