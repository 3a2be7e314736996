"""The load generator of ``scripts/bench.py``: N OCPP 1.6J chargers on one asyncio loop.

Each charger connects (subprotocol ``ocpp1.6``), sends BootNotification,
StatusNotification and StartTransaction (the ramp, not measured), then runs
the steady schedule:

* open loop (``--rate R`` > 0): charger ``i`` owns the slots
  ``t0 + i/R + k*N/R``, so together the chargers offer R CALL/s evenly. A
  CALL's latency runs from its *scheduled* slot to its reply. A charger has
  at most one CALL outstanding (OCPP-J 4.1.1); a slot that comes while the
  previous CALL is still out is sent as soon as the reply arrives and its
  latency includes the wait (counted as ``late``). Slots of the window still
  unsent when it ends are counted as ``unsent`` and recorded with the time
  they had waited so far (a lower bound).
* closed loop (``--rate 0``): every charger sends its next CALL as soon as
  the previous reply arrives: the maximum throughput; latency is send to reply.

The ``charging`` mix is ~94% MeterValues (4 sampled values: energy register,
power, current, voltage), ~5% Heartbeat and ~1% StopTransaction/StartTransaction
pairs (the Start follows its Stop on the charger's next slot). The ``idle``
mix is chargers that boot, report Available and then only send Heartbeats (no
transaction): many connections, light traffic. Only the
window ``[t0 + warmup, t0 + warmup + duration)`` is measured; every error
(CALLERROR, timeout, disconnect) counts, warm-up and ramp included.

Run by ``scripts/bench.py`` as ``python scripts/bench/load.py``; it prints one JSON
object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

if not __package__:  # run as a file: import bench.* from scripts/, not this folder's modules
    _HERE = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if not p or Path(p).resolve() != _HERE]
    sys.path.insert(0, str(_HERE.parent))

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from bench.proc import pin_self, raise_nofile_limit, rss_kib
from bench.stats import Stats, Window, sample_window, summarize

HEARTBEAT_SHARE = 0.05
STOP_SHARE = 0.005  # each Stop is followed by a Start: ~1% of CALLs are the pairs
ID_TAG = "BENCHTAG"


class LoadError(Exception):
    """The load could not be applied at all (one line for the operator)."""


class _ConnectFailed(Exception):
    """A charger's WebSocket could not be opened (the cause is the reason)."""


def timestamp(now: float | None = None) -> str:
    """RFC 3339 UTC timestamp with milliseconds and a ``Z``."""
    now = time.time() if now is None else now
    whole = int(now)
    millis = int((now - whole) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{millis:03d}Z"


class Charger:
    """One simulated charge point with its own connection and meter."""

    def __init__(
        self, index: int, url: str, stats: Stats, timeout: float, seed: int, mix: str = "charging"
    ):
        self.id = f"BENCH{index:05d}"
        self.url = url.rstrip("/") + "/" + self.id
        self.stats = stats
        self.timeout = timeout
        self.idle = mix == "idle"
        self.rng = random.Random(seed * 1_000_003 + index)
        self.energy = float(self.rng.randrange(0, 5_000_000))
        self.transaction: int | None = None
        self.start_next = False
        self.seq = 0
        self.ws: ClientConnection | None = None
        self.alive = False

    async def connect(self, open_timeout: float) -> None:
        """Open the WebSocket (raises OSError/InvalidHandshake/TimeoutError)."""
        self.ws = await connect(
            self.url,
            subprotocols=["ocpp1.6"],
            compression=None,
            proxy=None,
            ping_interval=None,
            open_timeout=open_timeout,
            close_timeout=2,
            user_agent_header=None,
        )
        self.alive = True

    async def close(self) -> None:
        """Close the WebSocket, ignoring errors."""
        if self.ws is not None:
            try:
                await self.ws.close()
            except (OSError, ConnectionClosed):
                pass

    async def call(self, action: str, payload: dict[str, Any]) -> list | None:
        """Send one CALL and wait for its reply; None (after counting the error) on failure."""
        assert self.ws is not None
        self.seq += 1
        unique_id = str(self.seq)
        frame = f'[2,"{unique_id}","{action}",' + orjson.dumps(payload).decode() + "]"
        try:
            async with asyncio.timeout(self.timeout):
                await self.ws.send(frame)
                while True:
                    reply = orjson.loads(await self.ws.recv())
                    if reply[0] == 2:  # a CALL from the server: acknowledge it, keep waiting
                        await self.ws.send(orjson.dumps([3, reply[1], {}]).decode())
                    elif reply[1] == unique_id:
                        break  # (a late reply to an earlier, timed-out CALL is skipped)
        except TimeoutError:
            self.stats.error("timeout", f"{self.id} {action}: no reply within {self.timeout} s")
            return None
        except ConnectionClosed as exc:
            self.alive = False
            self.stats.error("disconnect", f"{self.id} {action}: {exc}")
            return None
        if reply[0] != 3:
            self.stats.error("callerror", f"{self.id} {action}: {reply[2:4]}")
            return None
        return reply

    async def setup(self) -> None:
        """Boot, report Available and (charging mix) start a transaction: the unmeasured ramp."""
        await self.call(
            "BootNotification", {"chargePointVendor": "Bench", "chargePointModel": "B1"}
        )
        await self.call(
            "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
        )
        if not self.idle:
            await self.start_transaction()

    async def start_transaction(self) -> list | None:
        """StartTransaction; remember the transaction id."""
        reply = await self.call(
            "StartTransaction",
            {
                "connectorId": 1,
                "idTag": ID_TAG,
                "meterStart": int(self.energy),
                "timestamp": timestamp(),
            },
        )
        # (the ceiling server answers {} to everything: then no transaction)
        self.transaction = reply[2].get("transactionId") if reply is not None else None
        return reply

    def next_call(self) -> tuple[str, dict[str, Any]]:
        """The next CALL of the mix (a pending Start comes first)."""
        if self.idle:
            return "Heartbeat", {}
        if self.start_next:
            self.start_next = False
            return "StartTransaction", {}
        draw = self.rng.random()
        if draw < STOP_SHARE and self.transaction is not None:
            self.start_next = True
            payload = {
                "transactionId": self.transaction,
                "meterStop": int(self.energy),
                "timestamp": timestamp(),
            }
            self.transaction = None
            return "StopTransaction", payload
        if draw < STOP_SHARE + HEARTBEAT_SHARE:
            return "Heartbeat", {}
        return "MeterValues", self.meter_values()

    def meter_values(self) -> dict[str, Any]:
        """A MeterValues payload with energy, power, current and voltage."""
        rng = self.rng
        power = rng.uniform(6_500.0, 11_000.0)
        voltage = rng.uniform(226.0, 234.0)
        self.energy += power / 3600.0 * 30  # as if sampled every 30 s
        payload: dict[str, Any] = {
            "connectorId": 1,
            "meterValue": [
                {
                    "timestamp": timestamp(),
                    "sampledValue": [
                        {
                            "value": f"{self.energy:.1f}",
                            "context": "Sample.Periodic",
                            "measurand": "Energy.Active.Import.Register",
                            "unit": "Wh",
                        },
                        {"value": f"{power:.0f}", "measurand": "Power.Active.Import", "unit": "W"},
                        {
                            "value": f"{power / voltage:.2f}",
                            "measurand": "Current.Import",
                            "unit": "A",
                        },
                        {"value": f"{voltage:.1f}", "measurand": "Voltage", "unit": "V"},
                    ],
                }
            ],
        }
        if self.transaction is not None:
            payload["transactionId"] = self.transaction
        return payload

    async def send_next(self) -> tuple[str, bool]:
        """Send the next CALL of the mix and wait for it: (action, succeeded)."""
        action, payload = self.next_call()
        if action == "StartTransaction":
            return action, await self.start_transaction() is not None
        return action, await self.call(action, payload) is not None

    async def run_open(self, first_slot: float, period: float, window: Window) -> None:
        """Open loop: one CALL per slot, latency from the slot's scheduled time."""
        loop = asyncio.get_running_loop()
        stats = self.stats
        slot = first_slot
        while slot < window.end and self.alive:
            now = loop.time()
            if now >= window.end:
                break
            if slot > now:
                await asyncio.sleep(slot - now)
            elif window.start <= slot:
                stats.late += 1  # the previous CALL was still outstanding at this slot
            action, ok = await self.send_next()
            if ok:
                stats.record(action, slot, loop.time())
            slot += period
        if not self.alive:
            return
        now = loop.time()
        for _ in range(max(0, math.ceil((window.end - slot) / period))):
            if slot >= window.start:  # scheduled in the window, never sent: a lower bound
                stats.record_unsent(now - slot)
            slot += period

    async def run_closed(self, window: Window) -> None:
        """Closed loop: the next CALL as soon as the previous reply arrives."""
        loop = asyncio.get_running_loop()
        while self.alive:
            sent = loop.time()
            if sent >= window.end:
                break
            action, ok = await self.send_next()
            if ok:
                self.stats.record(action, sent, loop.time())


async def run(args: argparse.Namespace) -> dict:
    """Ramp up, run the steady schedule, return the summary (raise LoadError on failure)."""
    loop = asyncio.get_running_loop()
    stats = Stats()
    chargers = [
        Charger(args.first_index + i, args.url, stats, args.call_timeout, args.seed, args.mix)
        for i in range(args.chargers)
    ]
    server_pid = args.server_pid
    rss_before = rss_kib(server_pid) if server_pid else None
    gate = asyncio.Semaphore(args.concurrency)

    async def ramp(charger: Charger) -> None:
        async with gate:
            try:
                await charger.connect(args.call_timeout)
            except (OSError, InvalidHandshake, TimeoutError) as exc:
                raise _ConnectFailed(exc) from exc
            await charger.setup()

    ramp_start = loop.time()
    outcomes = await asyncio.gather(*(ramp(c) for c in chargers), return_exceptions=True)
    raised = [o for o in outcomes if isinstance(o, BaseException)]
    if raised:
        await asyncio.gather(*(c.close() for c in chargers))
    for outcome in raised:
        if not isinstance(outcome, _ConnectFailed):
            raise outcome  # a bug in the load generator, not a refused connection
    failed = [o.__cause__ for o in raised]
    if failed:
        first = failed[0]
        reason = f"{type(first).__name__}: {first}" if str(first) else type(first).__name__
        raise LoadError(
            f"{len(failed)} of {len(chargers)} chargers could not connect to {args.url}: {reason}"
        )
    ramp_s = loop.time() - ramp_start
    await asyncio.sleep(0.5)  # let the ramp's batched writes settle before reading memory
    rss_after = rss_kib(server_pid) if server_pid else None
    gc.collect()
    gc.freeze()

    t0 = loop.time() + 0.2
    window = Window(t0 + args.warmup, t0 + args.warmup + args.duration)
    stats.window = window
    sampler = asyncio.create_task(sample_window(window, server_pid))
    if args.rate > 0:
        period = args.chargers / args.rate
        runs = [c.run_open(t0 + i / args.rate, period, window) for i, c in enumerate(chargers)]
    else:
        runs = [c.run_closed(window) for c in chargers]
    await asyncio.gather(*runs)
    cpu = await sampler
    await asyncio.gather(*(c.close() for c in chargers))
    rss_per_conn = None
    if rss_before is not None and rss_after is not None:
        rss_per_conn = round((rss_after - rss_before) / args.chargers, 1)
    extra = {
        "window_end_monotonic": window.end,  # asyncio's clock is time.monotonic()
        "ramp_s": round(ramp_s, 2),
        "server_rss_kib_before": rss_before,
        "server_rss_kib_connected": rss_after,
        "rss_per_connection_kib": rss_per_conn,
    }
    return summarize(stats, args, cpu, extra)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (set by scripts/bench.py)."""
    parser = argparse.ArgumentParser(description="OCPP 1.6J load generator")
    parser.add_argument("--url", required=True, help="ws://host:port/ (charger id appended)")
    parser.add_argument("--chargers", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=2000.0, help="CALL/s, 0 = closed loop")
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--server-pid", type=int, default=None)
    parser.add_argument("--cpu", type=int, default=None, help="pin this process to a CPU")
    parser.add_argument("--call-timeout", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=100, help="parallel ramp-ups")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--mix", choices=("charging", "idle"), default="charging")
    parser.add_argument(
        "--first-index", type=int, default=0, help="number of the first charger (BENCH<n>)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point: print the summary as JSON on stdout."""
    args = parse_args(argv)
    pin_self(args.cpu)
    limit = raise_nofile_limit()
    if limit < args.chargers + 64:
        print(
            f"error: open-file limit {limit} is too low for {args.chargers} chargers",
            file=sys.stderr,
        )
        return 2
    try:
        result = asyncio.run(run(args))
    except LoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except (OSError, InvalidHandshake) as exc:
        print(f"error: load generator: {exc}", file=sys.stderr)
        return 3
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
