"""Raw-WebSocket charge points that behave like real ones across a Central System crash.

A ``QueueingCharger`` keeps its connection up (reconnecting and booting again
whenever it drops), runs charging sessions on its connectors, and delivers
StartTransaction and StopTransaction through a queue: a message that was not
acknowledged is resent, unchanged, after the reconnection (OCPP 1.6 C 3.7 and
4.8). It records every transactionId it was given and the meter values it
counted itself, so a test can compare them with what the Central System stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

CALL_TIMEOUT = 10.0


def timestamp(now: float | None = None) -> str:
    """RFC 3339 UTC with milliseconds (what MongoDB keeps, so a resend matches exactly)."""
    now = time.time() if now is None else now
    whole = int(now)
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
        + f".{int((now - whole) * 1000):03d}Z"
    )


class Disconnected(Exception):
    """The connection was lost before the reply came."""


@dataclass
class Session:
    """One charging session as the charger saw it."""

    charger: str
    connector: int
    id_tag: str
    meter_start: int
    start_ts: str
    meter_stop: int | None = None
    stop_ts: str | None = None
    # every transactionId the Central System answered the (re)sent StartTransaction with
    start_ids: list[int] = field(default_factory=list)
    start_sends: int = 0
    stop_sends: int = 0
    stop_sent: bool = False  # a StopTransaction frame was handed to a socket
    stop_acked: bool = False

    @property
    def transaction_id(self) -> int | None:
        """The transaction id the charger uses (the first one it was given)."""
        return self.start_ids[0] if self.start_ids else None

    @property
    def energy_wh(self) -> int | None:
        """meterStop - meterStart as the charger counted it."""
        return None if self.meter_stop is None else self.meter_stop - self.meter_start


@dataclass
class Counters:
    """What happened on the wire, over all chargers."""

    connects: int = 0
    connect_failures: int = 0
    boots: int = 0
    resends: int = 0
    callerrors: list[str] = field(default_factory=list)
    timeouts: int = 0
    meter_values: int = 0


class QueueingCharger:
    """A charge point with ``connectors`` connectors and an offline message queue."""

    def __init__(
        self,
        charger_id: str,
        base_url: str,
        gate: asyncio.Event,
        counters: Counters,
        rng: random.Random,
        connectors: int = 2,
        duplicate_share: float = 0.2,
    ):
        self.id = charger_id
        self.url = base_url.rstrip("/") + "/" + charger_id
        self.gate = gate  # set while the Central System may be reached
        self.counters = counters
        self.rng = rng
        self.connectors = connectors
        self.duplicate_share = duplicate_share
        self.registers = {c: rng.randrange(0, 1_000_000) for c in range(1, connectors + 1)}
        self.sessions: list[Session] = []
        self.connected = asyncio.Event()
        self._ws: ClientConnection | None = None
        self._pending: dict[str, asyncio.Future] = {}
        self._lock = asyncio.Lock()  # one outstanding CALL per connection (OCPP-J 4.1.1)
        self._ids = itertools.count(1)
        self._stopping = False
        # Called right after a StartTransaction/StopTransaction frame went out (fault aiming).
        self.on_sent: Callable[[], None] | None = None

    # -- the connection ---------------------------------------------------------

    async def keep_connected(self, deadline: float) -> None:
        """Connect, boot, serve the connection; reconnect whenever it drops (until stop)."""
        loop = asyncio.get_running_loop()
        while not self._stopping and loop.time() < deadline:
            await self.gate.wait()
            try:
                ws = await connect(
                    self.url, subprotocols=["ocpp1.6"], ping_interval=None, open_timeout=5,
                    close_timeout=1, compression=None, proxy=None, user_agent_header=None,
                )  # fmt: skip
            except (OSError, InvalidHandshake, TimeoutError) as exc:
                self.counters.connect_failures += 1
                if isinstance(exc, InvalidStatus) and exc.response.status_code < 500:
                    raise
                await asyncio.sleep(0.1 + self.rng.random() * 0.3)
                continue
            self.counters.connects += 1
            self._ws = ws
            receiver = asyncio.create_task(self._receive(ws))
            try:
                reply = await self._call_on(ws, "BootNotification", self._boot_payload())
                if reply[0] != 3 or reply[2].get("status") != "Accepted":
                    raise AssertionError(f"{self.id}: boot answered {reply}")
                self.counters.boots += 1
                self.connected.set()
                await receiver
            except Disconnected:
                pass
            finally:
                self.connected.clear()
                self._ws = None
                receiver.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await receiver
                self._fail_pending()
                with contextlib.suppress(Exception):
                    await ws.close()

    def _boot_payload(self) -> dict[str, Any]:
        return {
            "chargePointVendor": "Chaos",
            "chargePointModel": "Q1",
            "chargePointSerialNumber": self.id,
        }

    async def _receive(self, ws: ClientConnection) -> None:
        try:
            async for message in ws:
                frame = orjson.loads(message)
                if frame[0] == 2:  # a CALL from the Central System: accept it
                    await ws.send(orjson.dumps([3, frame[1], {}]).decode())
                    continue
                future = self._pending.pop(frame[1], None)
                if future is not None and not future.done():
                    future.set_result(frame)
        except ConnectionClosed:
            pass

    def _fail_pending(self) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(Disconnected())
        self._pending.clear()

    async def _call_on(
        self, ws: ClientConnection, action: str, payload: dict, before_send=None
    ) -> list:
        """Send one CALL on ``ws`` and wait for its reply (raise Disconnected)."""
        unique_id = f"{self.id}-{next(self._ids)}"
        future = asyncio.get_running_loop().create_future()
        self._pending[unique_id] = future
        async with self._lock:
            if before_send is not None:
                before_send()
            try:
                await ws.send(orjson.dumps([2, unique_id, action, payload]).decode())
                if before_send is not None and self.on_sent is not None:
                    self.on_sent()
                return await asyncio.wait_for(future, CALL_TIMEOUT)
            except ConnectionClosed:
                raise Disconnected() from None
            except TimeoutError:
                self.counters.timeouts += 1
                raise Disconnected() from None
            finally:
                self._pending.pop(unique_id, None)

    async def deliver(self, action: str, payload: dict, before_send=None) -> list:
        """Send a queued message until it is acknowledged, resending it after reconnections."""
        attempt = 0
        while True:
            await self.connected.wait()
            ws = self._ws
            if ws is None:
                await asyncio.sleep(0.05)
                continue
            attempt += 1
            if attempt > 1:
                self.counters.resends += 1
            try:
                reply = await self._call_on(ws, action, payload, before_send)
            except Disconnected:
                await asyncio.sleep(0.05)
                continue
            if reply[0] != 3:
                self.counters.callerrors.append(f"{self.id} {action}: {reply}")
                raise AssertionError(f"{self.id}: {action} answered {reply}")
            return reply

    async def best_effort(self, action: str, payload: dict) -> None:
        """Send a message that is not queued (MeterValues): dropped when offline."""
        ws = self._ws
        if ws is None or not self.connected.is_set():
            return
        with contextlib.suppress(Disconnected):
            reply = await self._call_on(ws, action, payload)
            if reply[0] != 3:
                self.counters.callerrors.append(f"{self.id} {action}: {reply}")
            else:
                self.counters.meter_values += 1

    # -- charging -------------------------------------------------------------------

    async def charge(self, connector: int, finish: asyncio.Event, duration: tuple[float, float]):
        """Run sessions on one connector until ``finish`` is set; the last one completes."""
        while not finish.is_set():
            await asyncio.sleep(self.rng.uniform(0.05, 0.4))
            await self.session(connector, self.rng.uniform(*duration))

    async def session(self, connector: int, seconds: float) -> Session:
        """One session: StartTransaction, meter values while charging, StopTransaction."""
        loop = asyncio.get_running_loop()
        session = Session(
            self.id, connector, f"TAG-{self.id}-{connector}"[:20], self.registers[connector],
            timestamp(),
        )  # fmt: skip
        self.sessions.append(session)
        start = {"connectorId": connector, "idTag": session.id_tag,
                 "meterStart": session.meter_start, "timestamp": session.start_ts}  # fmt: skip

        def sending_start() -> None:
            session.start_sends += 1

        reply = await self.deliver("StartTransaction", start, sending_start)
        session.start_ids.append(reply[2]["transactionId"])
        if reply[2]["idTagInfo"]["status"] != "Accepted":
            raise AssertionError(f"{self.id}: start refused {reply}")
        if self.rng.random() < self.duplicate_share:
            # As if the charger lost the reply after all: the same message again must
            # yield the same transactionId and create nothing (OCPP_RULES 17).
            reply = await self.deliver("StartTransaction", start, sending_start)
            session.start_ids.append(reply[2]["transactionId"])
        end = loop.time() + seconds
        while loop.time() < end:  # charging goes on whether the Central System is up or not
            await asyncio.sleep(min(0.25, max(0.0, end - loop.time())))
            self.registers[connector] += self.rng.randrange(1, 250)
            await self.best_effort("MeterValues", self._meter_values(connector, session))
        session.meter_stop = self.registers[connector]
        session.stop_ts = timestamp()
        stop = {"transactionId": session.transaction_id, "idTag": session.id_tag,
                "meterStop": session.meter_stop, "timestamp": session.stop_ts,
                "reason": "EVDisconnected"}  # fmt: skip

        def sending_stop() -> None:
            session.stop_sends += 1
            session.stop_sent = True

        await self.deliver("StopTransaction", stop, sending_stop)
        session.stop_acked = True
        if self.rng.random() < self.duplicate_share:
            await self.deliver("StopTransaction", stop, sending_stop)  # must change nothing
        return session

    def _meter_values(self, connector: int, session: Session) -> dict[str, Any]:
        return {
            "connectorId": connector,
            "transactionId": session.transaction_id,
            "meterValue": [
                {
                    "timestamp": timestamp(),
                    "sampledValue": [
                        {
                            "value": str(self.registers[connector]),
                            "unit": "Wh",
                            "measurand": "Energy.Active.Import.Register",
                        }
                    ],
                }
            ],
        }

    async def close(self) -> None:
        """Stop reconnecting and close the connection."""
        self._stopping = True
        self.gate.set()
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()
