"""A reconnect storm: 1,000 chargers connected, the server restarted, all reconnect at once.

server.py runs as a child process. ``STORM_CHARGERS`` raw-WebSocket chargers
connect and boot (ramped), then the server is restarted, first with SIGTERM
(a clean shutdown that must close 1,000 sockets in bounded time), then with
SIGKILL. After each restart every charger reconnects at the same moment, as
chargers in the field do, and sends BootNotification: all must be back and
Accepted within 60 s of the server being ready, none refused. Transport
errors (a connection reset while the backlog is full) are retried like a real
charger would and counted; an HTTP refusal or a boot that is not Accepted fails.

Marked ``storm`` (``-m "not storm"`` skips it); ``STORM_CHARGERS`` sets the count.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import dataclass, field

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from tests.chaos.harness import TOLERATE_DATABASE_HANGS, ServerProcess, raise_nofile_limit

CHARGERS = int(os.environ.get("STORM_CHARGERS", "1000"))
BOOT_DEADLINE = 60.0  # seconds from "listening" until every charger is Accepted again
RAMP_CONCURRENCY = 100

BOOT = orjson.dumps(
    [2, "boot", "BootNotification", {"chargePointVendor": "Storm", "chargePointModel": "S1"}]
).decode()

pytestmark = pytest.mark.storm


@dataclass
class Tally:
    """Outcomes of one storm."""

    booted: int = 0
    refused: list[str] = field(default_factory=list)  # HTTP refusals, non-Accepted boots
    transport_retries: int = 0
    boot_times: list[float] = field(default_factory=list)


class StormCharger:
    """One charger: connect, boot, wait for the connection to drop."""

    def __init__(self, index: int, base_url: str):
        self.id = f"STORM{index:05d}"
        self.url = base_url + self.id
        self.ws: ClientConnection | None = None

    async def connect_and_boot(self, tally: Tally, t0: float, deadline: float) -> None:
        """Connect (retrying transport errors until ``deadline``) and boot; tally the outcome."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                self.ws = await connect(
                    self.url, subprotocols=["ocpp1.6"], ping_interval=None, compression=None,
                    open_timeout=max(1.0, deadline - loop.time()), close_timeout=1, proxy=None,
                    user_agent_header=None, max_queue=4,
                )  # fmt: skip
                await self.ws.send(BOOT)
                while True:
                    reply = orjson.loads(
                        await asyncio.wait_for(self.ws.recv(), max(1.0, deadline - loop.time()))
                    )
                    if reply[0] == 2:  # the server's own CALL: accept it
                        await self.ws.send(orjson.dumps([3, reply[1], {}]).decode())
                    elif reply[1] == "boot":
                        break
                break
            except InvalidStatus as exc:
                tally.refused.append(f"{self.id}: HTTP {exc.response.status_code}")
                return
            except (OSError, InvalidHandshake, ConnectionClosed, TimeoutError) as exc:
                await self.close()
                if loop.time() >= deadline:
                    tally.refused.append(f"{self.id}: gave up: {exc!r}")
                    return
                tally.transport_retries += 1
                await asyncio.sleep(0.2)
        if reply[0] == 3 and reply[2].get("status") == "Accepted":
            tally.booted += 1
            tally.boot_times.append(loop.time() - t0)
        else:
            tally.refused.append(f"{self.id}: boot answered {reply}")

    async def wait_dropped(self) -> None:
        """Until the server closes (or loses) the connection."""
        if self.ws is not None:
            await self.ws.wait_closed()

    async def close(self) -> None:
        """Close the connection, ignoring errors."""
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()
            self.ws = None


async def storm(server: ServerProcess, chargers: list[StormCharger], how: str) -> dict:
    """Restart the server (``how``: SIGTERM or SIGKILL); every charger reconnects at once."""
    loop = asyncio.get_running_loop()
    began = time.monotonic()
    if how == "SIGTERM":
        code = await asyncio.to_thread(server.terminate, 60.0)
        assert code == 0, f"clean shutdown with {len(chargers)} chargers exited {code}"
    else:
        await asyncio.to_thread(server.kill)
    down_s = time.monotonic() - began
    dropped = asyncio.gather(*(c.wait_dropped() for c in chargers))
    await asyncio.wait_for(dropped, 30)  # every charger noticed
    for charger in chargers:
        charger.ws = None
    start_s = await asyncio.to_thread(server.start)
    tally = Tally()
    t0 = loop.time()
    deadline = t0 + BOOT_DEADLINE
    await asyncio.gather(*(c.connect_and_boot(tally, t0, deadline) for c in chargers))
    all_booted_s = loop.time() - t0
    tally.boot_times.sort()
    result = {
        "how": how,
        "shutdown_s": round(down_s, 2),
        "restart_s": round(start_s, 2),
        "booted": tally.booted,
        "refused": tally.refused,
        "transport_retries": tally.transport_retries,
        "database_hangs": server.database_hangs,
        "all_booted_s": round(all_booted_s, 2),
        "median_boot_s": round(tally.boot_times[len(tally.boot_times) // 2], 2)
        if tally.boot_times
        else None,
    }
    print(f"\nreconnect storm {result | {'refused': len(tally.refused)}}")
    return result


async def run(server: ServerProcess) -> list[dict]:
    """Connect and boot every charger (ramped), then two storms."""
    loop = asyncio.get_running_loop()
    chargers = [StormCharger(i, server.url) for i in range(CHARGERS)]
    gate = asyncio.Semaphore(RAMP_CONCURRENCY)
    tally = Tally()
    t0 = loop.time()

    async def ramp(charger: StormCharger) -> None:
        async with gate:
            await charger.connect_and_boot(tally, t0, t0 + 120)

    try:
        await asyncio.gather(*(ramp(c) for c in chargers))
        print(f"\n{tally.booted} chargers connected and booted in {loop.time() - t0:.1f} s")
        assert tally.refused == [] and tally.booted == CHARGERS, tally.refused[:10]
        return [await storm(server, chargers, how) for how in ("SIGTERM", "SIGKILL")]
    finally:
        await asyncio.gather(*(c.close() for c in chargers))


def test_reconnect_storm_all_chargers_boot_again_within_60_s(tmp_path):
    limit = raise_nofile_limit(4 * CHARGERS + 256)  # the server inherits it
    if limit < 2 * CHARGERS + 128:
        pytest.skip(f"open-file limit {limit} is too low for {CHARGERS} chargers")
    # Every charger comes from 127.0.0.1 and is new at first: the per-IP caps and the
    # registration rate (which would answer most of the ramp 429) are off here.
    unlimited = ("--max-connections-per-ip", "0", "--max-open-sockets-per-ip", "0",
                 "--registration-rate-per-ip", "0", "--registration-rate", "0")  # fmt: skip
    server = ServerProcess(tmp_path / "data", None, "--heartbeat-interval", "3600", *unlimited)
    server.start()
    try:
        results = asyncio.run(run(server))
    except BaseException:
        print(server.log_tail())
        raise
    finally:
        server.stop()
    for result in results:
        assert result["refused"] == [], result["refused"][:10]
        assert result["booted"] == CHARGERS, result
        assert result["all_booted_s"] <= BOOT_DEADLINE, result
        assert TOLERATE_DATABASE_HANGS or result["database_hangs"] == 0, result
