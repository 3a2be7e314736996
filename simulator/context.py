"""What the sessions and the operations share of one simulated charge point.

``ChargePointContext`` is the charge point as they see it: its configuration
and configuration keys, its connectors and their meters, the state it shows,
its random source, the transactions a lost connection left unsent, the halt
signal (stop() or a Reset asks every session to end), and the messages any
part of it sends (StatusNotification, Heartbeat, BootNotification).
``simulator.charging`` and ``simulator.operations`` work on it;
``simulator.charge_point`` owns one and runs the connections around it.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from ocppj.timeutil import utcnow
from simulator.config import SimulatorConfig
from simulator.connection import OcppConnection
from simulator.connectors import Connectors, Session
from simulator.keys import HEARTBEAT_INTERVAL, ConfigurationStore
from simulator.profiles import ProfileStore
from simulator.state import SessionInfo, SimulatorState


async def wait_first(*waits: Awaitable[Any], timeout: float | None = None) -> None:
    """Wait until the first of ``waits`` finishes (or the timeout); cancel the others."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


@dataclass(slots=True)
class UnsentTransaction:
    """The messages of an interrupted transaction still owed to the Central System."""

    # StartTransaction.req to send again: its reply never came (a resent start gets
    # the same transactionId, OCPP_RULES 17); None when the transaction id is known.
    start: dict[str, Any] | None
    # StopTransaction.req; its transactionId comes from the start's reply when unknown.
    stop: dict[str, Any]


class ChargePointContext:
    """One charge point's configuration, keys, connectors, state and halt signal."""

    def __init__(self, config: SimulatorConfig):
        self.config = config
        self.keys = ConfigurationStore(config)
        self.profiles = ProfileStore()  # charging profiles; they survive resets
        self.state = SimulatorState(config.charger_id, config.url)
        # Seconds between MeterValues; ChangeConfiguration MeterValueSampleInterval changes it.
        self.sample_interval = config.interval
        self.rng = random.Random(config.seed)
        # connector -> Energy.Active.Import.Register in Wh; survives Resets and runs.
        self.registers = {c: config.meter_start_wh for c in range(1, config.connectors + 1)}
        self.connectors = Connectors(config.connectors, self.registers)
        # Transactions a lost connection left open, sent after the next boot (kept like
        # the meters, across runs).
        self.unsent: deque[UnsentTransaction] = deque()
        self.stopping = False  # stop() was called: no Reset, no reconnection
        self.reset_requested: str | None = None  # Hard or Soft, until the reconnection
        self.heartbeat_changed = asyncio.Event()
        self._halted = asyncio.Event()

    def new_run(self) -> None:
        """Start a run afresh: new connectors (availability too), no halt, no stop asked."""
        self.stopping = False
        self.reset_halt()
        self.heartbeat_changed = asyncio.Event()
        self.connectors = Connectors(self.config.connectors, self.registers)

    # -- halting ------------------------------------------------------------------

    @property
    def halted(self) -> bool:
        """True once stop() or a Reset asked the sessions to end."""
        return self._halted.is_set()

    def halt(self, reason: str) -> None:
        """Ask every session to end with ``reason`` and the program to wind down."""
        for session in self.connectors.sessions.values():
            session.request_stop(reason)
        self._halted.set()

    def reset_halt(self) -> None:
        """Clear the halt (and a Reset asked for): the next connection runs normally."""
        self._halted = asyncio.Event()
        self.reset_requested = None

    async def request_reset(self, kind: str) -> None:
        """Reset (Hard or Soft): stop the sessions, then reconnect and boot again."""
        if self.stopping:
            return
        self.reset_requested = kind
        self.halt(f"{kind}Reset")

    async def pause(self, seconds: float | None, *events: asyncio.Event) -> None:
        """Sleep, waking early when halted or when one of ``events`` is set."""
        await wait_first(self._halted.wait(), *(e.wait() for e in events), timeout=seconds)

    async def wait_halted(self) -> None:
        """Wait until stop() or a Reset asks the sessions to end."""
        await self._halted.wait()

    # -- messages -----------------------------------------------------------------

    def boot_payload(self) -> dict[str, Any]:
        """The BootNotification.req this charge point sends."""
        config = self.config
        return {
            "chargePointVendor": config.vendor[:20],
            "chargePointModel": config.model[:20],
            "chargePointSerialNumber": (config.serial_number or config.charger_id)[:25],
            "firmwareVersion": config.firmware_version[:50],
        }

    def booted(self, conf: dict[str, Any]) -> str:
        """Take in a BootNotification.conf: status, and the heartbeat interval when Accepted."""
        status = conf["status"]
        self.state.boot_status = status
        if status == "Accepted":
            interval = conf["interval"]
            self.state.heartbeat_interval = interval
            if interval > 0:
                self.keys.set_internal(HEARTBEAT_INTERVAL, str(interval))
                self.heartbeat_interval_changed()
        return status

    def heartbeat_interval_changed(self) -> None:
        """Reschedule the next Heartbeat (the HeartbeatInterval key changed)."""
        self.heartbeat_changed.set()
        self.heartbeat_changed = asyncio.Event()

    async def heartbeat(self, conn: OcppConnection) -> None:
        """Send one Heartbeat."""
        await conn.call("Heartbeat", {})
        self.state.heartbeats_sent += 1

    async def send_status(self, conn: OcppConnection, connector: int, status: str) -> None:
        """Send a StatusNotification for one connector (0: the charge point)."""
        payload = self.connectors.status_payload(connector, status, utcnow())
        await conn.call("StatusNotification", payload)

    # -- sessions -----------------------------------------------------------------

    def new_session(
        self, connector: int, id_tag: str, authorize: bool, remote: bool = False
    ) -> Session:
        """Reserve ``connector`` for a new session (the caller then runs session.charge())."""
        config = self.config
        target_wh = round(self.rng.uniform(config.kwh_min, config.kwh_max) * 1000)
        info = SessionInfo(connector=connector, id_tag=id_tag, remote=remote, target_wh=target_wh)
        session = Session(info, authorize)
        self.connectors.reserve(session)
        self.state.sessions[connector] = info
        return session
