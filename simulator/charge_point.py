"""A simulated OCPP 1.6 charge point: connect, boot, charge, answer the Central System.

One run is one or more WebSocket connections (a Reset from the Central
System reconnects and boots again). On each connection the charge point
boots, reports its connectors, sends Heartbeats at the interval the server
gave, and charges: Preparing, Authorize (when an rfid is configured),
StartTransaction, Charging with periodic MeterValues, StopTransaction,
Finishing, Available (``simulator.session``). Without ``repeat`` one session
per connector ends the run; with it sessions follow each other until
``stop()``. The Central System's operations are answered by
``simulator.operations``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable
from typing import Any

from ocppj import errors, frames
from ocppj.timeutil import utcnow
from ocppj.validation import SchemaStore
from simulator import session as charging
from simulator import state as st
from simulator.config import SimulatorConfig
from simulator.connection import Answer, Disconnected, OcppConnection
from simulator.connectors import Connectors, Session
from simulator.keys import HEARTBEAT_INTERVAL, ConfigurationStore
from simulator.operations import OPERATIONS
from simulator.state import SessionInfo, SimulatorError, SimulatorState

log = logging.getLogger("simulator")

CLOSE_WAIT = 3.0


async def _first(*waits: Awaitable[Any], timeout: float | None = None) -> None:
    """Wait until the first of ``waits`` finishes (or the timeout); cancel the others."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


class ChargePointSimulator:
    """One simulated charge point.

    ``await sim._run_session()`` runs it to the end (raising SimulatorError
    when it cannot go on); ``sim.start()`` / ``await sim.stop()`` run it as a
    task. ``sim.state`` is readable at any time.
    """

    def __init__(self, config: SimulatorConfig, schemas: SchemaStore | None = None):
        self.config = config
        self.schemas = schemas or SchemaStore()
        self.keys = ConfigurationStore(config)
        self.state = SimulatorState(config.charger_id, config.url)
        # Seconds between MeterValues; ChangeConfiguration MeterValueSampleInterval changes it.
        self.sample_interval = config.interval
        self.rng = random.Random(config.seed)
        self._registers = {c: config.meter_start_wh for c in range(1, config.connectors + 1)}
        self.connectors = Connectors(config.connectors, self._registers)
        self._task: asyncio.Task | None = None
        self._stopping = False
        self._halted = asyncio.Event()
        self._halt_reason: str | None = None
        self._reset_requested: str | None = None
        self._heartbeat_changed = asyncio.Event()

    def __repr__(self) -> str:
        return f"<ChargePointSimulator {self.config.charger_id} {self.state.status}>"

    # -- running it ---------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True between the start of a run and its end."""
        return self.state.running

    @property
    def halted(self) -> bool:
        """True once stop() or a Reset asked the sessions to end."""
        return self._halted.is_set()

    def start(self) -> asyncio.Task:
        """Run in a task (the running one when already started); errors end up in the state."""
        if self._task is not None and not self._task.done():
            return self._task
        self._begin()
        self._task = asyncio.get_running_loop().create_task(
            self._supervise(), name=f"simulator {self.config.charger_id}"
        )
        return self._task

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop: end sessions with StopTransaction, disconnect, wait for the task.

        The task is cancelled when it has not finished after ``timeout`` seconds.
        """
        self._stopping = True
        self._halt("Local")
        task = self._task
        if task is None or task.done():
            return
        if self.state.running:
            self.state.status = st.STOPPING
        done, _ = await asyncio.wait({task}, timeout=timeout)
        if not done:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def wait(self) -> None:
        """Wait until the task started by start() has finished."""
        if self._task is not None:
            await asyncio.wait({self._task})

    async def _run_session(self) -> None:
        """Run to the end: one session per connector, or until stop() with ``repeat``.

        Raise SimulatorError (also kept in ``state.last_error``) when the
        simulator cannot go on: unknown host, refused connection, the server
        closing the connection, a CALLERROR or no reply to one of our CALLs.
        """
        self._begin()
        await self._run()

    run = _run_session

    async def _supervise(self) -> None:
        with contextlib.suppress(SimulatorError):
            await self._run()

    def _begin(self) -> None:
        if self.state.running:
            raise RuntimeError(f"simulator {self.config.charger_id} is already running")
        self._stopping = False
        self._reset_halt()
        self._heartbeat_changed = asyncio.Event()
        # Availability and meters survive a Reset; a new run starts with fresh connectors.
        self.connectors = Connectors(self.config.connectors, self._registers)
        state = self.state
        state.running, state.status, state.last_error = True, st.CONNECTING, None
        state.started_at, state.stopped_at = utcnow(), None

    def _reset_halt(self) -> None:
        self._halted = asyncio.Event()
        self._halt_reason = None
        self._reset_requested = None

    async def _run(self) -> None:
        try:
            while await self._connection_cycle():
                if self._stopping:
                    break
                self._reset_halt()
        except SimulatorError as exc:
            self._end(st.ERROR, str(exc))
            raise
        except asyncio.CancelledError:
            self._end(st.STOPPED)
            raise
        except Exception as exc:
            log.exception("%s: simulator failed", self.config.charger_id)
            self._end(st.ERROR, f"internal error: {exc!r}")
            raise SimulatorError(f"internal error: {exc!r}") from exc
        else:
            self._end(st.STOPPED if self._stopping else st.FINISHED)

    def _end(self, status: str, error: str | None = None) -> None:
        state = self.state
        state.running = state.connected = False
        state.status = status
        if error is not None:
            state.last_error = error
            log.warning("%s: %s", self.config.charger_id, error)
        state.stopped_at = utcnow()

    def _halt(self, reason: str) -> None:
        """Ask every session to end with ``reason`` and the program to wind down."""
        if self._halt_reason is None:
            self._halt_reason = reason
        for session in self.connectors.sessions.values():
            session.request_stop(reason)
        self._halted.set()

    async def request_reset(self, kind: str) -> None:
        """Reset (Hard or Soft): stop the sessions, then reconnect and boot again."""
        if self._stopping:
            return
        self._reset_requested = kind
        self._halt(f"{kind}Reset")

    # -- one connection -----------------------------------------------------------

    async def _connection_cycle(self) -> bool:
        """Connect and run the program; True when a Reset asks to reconnect."""
        self.state.status = st.CONNECTING
        conn = await self._open()
        if conn is None:
            return False
        self.state.connected = True
        self.state.connections += 1
        receiver = asyncio.create_task(conn.receive())
        program = asyncio.create_task(self._program(conn))
        try:
            await asyncio.wait({receiver, program}, return_when=asyncio.FIRST_COMPLETED)
            if program.done():
                program.result()
            elif not self._stopping:
                raise Disconnected(conn.describe_close())
            return self._reset_requested is not None and not self._stopping
        finally:
            program.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await program
            await conn.close(1000, "reset" if self._reset_requested else "")
            await asyncio.wait({receiver}, timeout=CLOSE_WAIT)
            receiver.cancel()
            for session in list(self.connectors.sessions.values()):
                charging.finish(self, session)  # a session whose task never ran
            self.state.connected = False

    async def _open(self) -> OcppConnection | None:
        """Connect; None when stop() came first (a pending attempt is abandoned)."""
        opening = asyncio.ensure_future(
            OcppConnection.open(self.config, self.schemas, self._answer)
        )
        halted = asyncio.ensure_future(self._halted.wait())
        try:
            await asyncio.wait({opening, halted}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            halted.cancel()
        if opening.done():
            return opening.result()
        opening.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            conn = await opening
            await conn.close()
        return None

    async def _answer(self, conn: OcppConnection, call: frames.Call) -> Answer:
        """Answer a CALL of the Central System (NotSupported when we do not handle it)."""
        operation = OPERATIONS.get(call.action)
        if operation is None:
            raise errors.OcppError(
                errors.NOT_SUPPORTED, f"{call.action} is not supported by this charge point"
            )
        return operation(self, conn, call.payload)

    async def _program(self, conn: OcppConnection) -> None:
        self.state.status = st.BOOTING
        if not await self._boot(conn):
            return
        self.state.status = st.READY
        for connector in range(self.config.connectors + 1):
            await self.send_status(conn, connector, self.connectors.idle_status(connector))
        conn.spawn(self._heartbeats(conn))
        if self.config.auto_start:
            loops = [
                asyncio.create_task(self._connector_loop(conn, c))
                for c in range(1, self.config.connectors + 1)
            ]
            try:
                await asyncio.gather(*loops)
            finally:
                for loop in loops:
                    loop.cancel()
        else:
            await self._halted.wait()
        # Sessions the Central System started remotely run to their end too.
        while self.connectors.sessions:
            await next(iter(self.connectors.sessions.values())).done.wait()

    def boot_payload(self) -> dict[str, Any]:
        """The BootNotification.req this charge point sends."""
        config = self.config
        return {
            "chargePointVendor": config.vendor[:20],
            "chargePointModel": config.model[:20],
            "chargePointSerialNumber": (config.serial_number or config.charger_id)[:25],
            "firmwareVersion": config.firmware_version[:50],
        }

    async def _boot(self, conn: OcppConnection) -> bool:
        """BootNotification until Accepted; False when halted while waiting to retry."""
        status = None
        for attempt in range(1, self.config.boot_attempts + 1):
            conf = await conn.call("BootNotification", self.boot_payload())
            status = self.booted(conf)
            if status == "Accepted":
                return True
            if attempt < self.config.boot_attempts:
                await self.pause(max(1, conf["interval"]))
                if self.halted:
                    return False
        raise SimulatorError(
            f"BootNotification was answered {status} {self.config.boot_attempts} times"
        )

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
        self._heartbeat_changed.set()
        self._heartbeat_changed = asyncio.Event()

    async def _heartbeats(self, conn: OcppConnection) -> None:
        while True:
            changed = self._heartbeat_changed
            seconds = self.keys.get_int(HEARTBEAT_INTERVAL)
            if seconds <= 0:
                await changed.wait()
                continue
            await _first(changed.wait(), timeout=seconds)
            if changed.is_set():
                continue
            try:
                await self.heartbeat(conn)
            except Disconnected:
                return
            except SimulatorError as exc:
                log.warning("%s: heartbeat failed: %s", self.config.charger_id, exc)

    async def heartbeat(self, conn: OcppConnection) -> None:
        """Send one Heartbeat."""
        await conn.call("Heartbeat", {})
        self.state.heartbeats_sent += 1

    async def send_status(self, conn: OcppConnection, connector: int, status: str) -> None:
        """Send a StatusNotification for one connector (0: the charge point)."""
        payload = self.connectors.status_payload(connector, status, utcnow())
        await conn.call("StatusNotification", payload)

    async def pause(self, seconds: float | None, *events: asyncio.Event) -> None:
        """Sleep, waking early when halted or when one of ``events`` is set."""
        await _first(self._halted.wait(), *(e.wait() for e in events), timeout=seconds)

    # -- sessions -----------------------------------------------------------------

    async def _connector_loop(self, conn: OcppConnection, connector: int) -> None:
        config = self.config
        id_tag = config.rfid or config.default_id_tag
        while not self.halted:
            busy = self.connectors.sessions.get(connector)
            if busy is not None or not self.connectors.is_operative(connector):
                waits = [self._halted.wait(), self.connectors.wait_changed()]
                if busy is not None:
                    waits.append(busy.done.wait())
                await _first(*waits)
                continue
            session = self.new_session(connector, id_tag, authorize=config.rfid is not None)
            outcome = await charging.charge(self, conn, session)
            if outcome == st.REJECTED or not config.repeat:
                return
            if config.pre_charge_delay:
                await self.pause(config.pre_charge_delay)

    def new_session(
        self, connector: int, id_tag: str, authorize: bool, remote: bool = False
    ) -> Session:
        """Reserve ``connector`` for a new session (the caller then runs charge())."""
        config = self.config
        target_wh = round(self.rng.uniform(config.kwh_min, config.kwh_max) * 1000)
        info = SessionInfo(connector=connector, id_tag=id_tag, remote=remote, target_wh=target_wh)
        session = Session(info, authorize)
        self.connectors.reserve(session)
        self.state.sessions[connector] = info
        return session
