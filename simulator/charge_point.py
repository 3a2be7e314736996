"""A simulated OCPP 1.6 charge point: connect, boot, charge, answer the Central System.

One run is one or more WebSocket connections (a Reset from the Central
System reconnects and boots again). On each connection the charge point
boots, reports its connectors, sends Heartbeats at the interval the server
gave, and charges: Preparing, Authorize (when an rfid is configured),
StartTransaction, Charging with periodic MeterValues, StopTransaction,
Finishing, Available (``simulator.charging``). Without ``repeat`` one session
per connector ends the run, and so does a connection that is refused or lost
(with an error); with it sessions follow each other until ``stop()``, and a
lost connection is opened again (after the delays of ``connection.Backoff``):
the charge point boots again, first sends the StopTransaction of every
transaction the drop left open, and goes on. The Central System's operations
are answered by ``simulator.operations``. What these parts share of the
charge point is its ``simulator.context.ChargePointContext``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ocppj import errors, frames
from ocppj.timeutil import utcnow
from ocppj.validation import SchemaStore
from simulator import charging
from simulator import state as st
from simulator.config import SimulatorConfig
from simulator.connection import Answer, Backoff, Disconnected, OcppConnection, Offline
from simulator.context import ChargePointContext, wait_first
from simulator.keys import HEARTBEAT_INTERVAL
from simulator.operations import OPERATIONS
from simulator.state import SimulatorError, SimulatorState

log = logging.getLogger("simulator")

CLOSE_WAIT = 3.0


class ChargePointSimulator:
    """One simulated charge point.

    ``await sim.run_session()`` runs it to the end (raising SimulatorError
    when it cannot go on); ``sim.start()`` / ``await sim.stop()`` run it as a
    task. ``sim.state`` is readable at any time.
    """

    def __init__(self, config: SimulatorConfig, schemas: SchemaStore | None = None):
        self.config = config
        self.schemas = schemas or SchemaStore()
        self.context = ChargePointContext(config)
        self._backoff = Backoff(config.reconnect_min, config.reconnect_max, self.context.rng)
        self._outage = False  # last_error tells why the connection is down
        self._task: asyncio.Task | None = None

    def __repr__(self) -> str:
        return f"<ChargePointSimulator {self.config.charger_id} {self.state.status}>"

    @property
    def state(self) -> SimulatorState:
        """What the simulator is doing (only the simulator writes it)."""
        return self.context.state

    @property
    def sample_interval(self) -> float:
        """Seconds between MeterValues now (ChangeConfiguration may have changed it)."""
        return self.context.sample_interval

    # -- running it ---------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True between the start of a run and its end."""
        return self.state.running

    @property
    def halted(self) -> bool:
        """True once stop() or a Reset asked the sessions to end."""
        return self.context.halted

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
        self.context.stopping = True
        self.context.halt("Local")
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

    async def run_session(self) -> None:
        """Run to the end: one session per connector, or until stop() with ``repeat``.

        Raise SimulatorError (also kept in ``state.last_error``) when the
        simulator cannot go on: unknown host, refused connection, the server
        closing the connection, a CALLERROR or no reply to one of our CALLs.
        With ``repeat`` a refused or lost connection is retried instead.
        """
        self._begin()
        await self._run()

    # The original product's README runs ``asyncio.run(sim._run_session())``.
    _run_session = run_session

    async def request_reset(self, kind: str) -> None:
        """Reset (Hard or Soft): stop the sessions, then reconnect and boot again."""
        await self.context.request_reset(kind)

    async def _supervise(self) -> None:
        with contextlib.suppress(SimulatorError):
            await self._run()

    def _begin(self) -> None:
        if self.state.running:
            raise RuntimeError(f"simulator {self.config.charger_id} is already running")
        # Availability starts afresh; meters and unsent transactions carry over.
        self.context.new_run()
        self._backoff.reset()
        self._outage = False
        state = self.state
        state.running, state.status, state.last_error = True, st.CONNECTING, None
        state.started_at, state.stopped_at = utcnow(), None

    async def _run(self) -> None:
        cp = self.context
        try:
            while not cp.stopping:
                try:
                    again = await self._connection_cycle()
                except Offline as exc:
                    if not self.config.repeat or cp.stopping:
                        raise
                    await self._wait_to_reconnect(exc)
                    continue
                if not again or cp.stopping:
                    break
                cp.reset_halt()
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
            self._end(st.STOPPED if cp.stopping else st.FINISHED)

    def _end(self, status: str, error: str | None = None) -> None:
        state = self.state
        state.running = state.connected = False
        state.status = status
        if error is not None:
            state.last_error = error
            log.warning("%s: %s", self.config.charger_id, error)
        state.stopped_at = utcnow()

    async def _wait_to_reconnect(self, problem: Offline) -> None:
        """Repeat mode, connection lost or refused: wait (stop() cuts it short), then the
        run goes on with a new connection. A Reset asked for before is done by that."""
        delay = self._backoff.next()
        self.context.reset_halt()
        self.state.status = st.CONNECTING
        self.state.last_error = str(problem)
        self._outage = True
        log.warning("%s: %s; reconnecting in %.1f s", self.config.charger_id, problem, delay)
        await self.context.pause(delay)

    # -- one connection -----------------------------------------------------------

    async def _connection_cycle(self) -> bool:
        """Connect and run the program; True when a Reset asks to reconnect."""
        cp = self.context
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
            elif not cp.stopping:
                raise Disconnected(conn.describe_close())
            return cp.reset_requested is not None and not cp.stopping
        finally:
            program.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await program
            await conn.close(1000, "reset" if cp.reset_requested else "")
            await asyncio.wait({receiver}, timeout=CLOSE_WAIT)
            receiver.cancel()
            for session in list(cp.connectors.sessions.values()):
                charging.finish(cp, session)  # a session whose task never ran
            self.state.connected = False

    async def _open(self) -> OcppConnection | None:
        """Connect; None when stop() came first (a pending attempt is abandoned)."""
        opening = asyncio.ensure_future(
            OcppConnection.open(self.config, self.schemas, self._answer)
        )
        halted = asyncio.ensure_future(self.context.wait_halted())
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
        return operation(self.context, conn, call.payload)

    async def _program(self, conn: OcppConnection) -> None:
        cp = self.context
        self.state.status = st.BOOTING
        if not await self._boot(conn):
            return
        await charging.send_unsent(cp, conn)
        for connector in range(self.config.connectors + 1):
            await cp.send_status(conn, connector, cp.connectors.idle_status(connector))
        # Ready once booted and announced: a remote start answered now sends its
        # Preparing after every connector's first status, never between them.
        self.state.status = st.READY
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
            await cp.wait_halted()
        # Sessions the Central System started remotely run to their end too.
        while cp.connectors.sessions:
            await next(iter(cp.connectors.sessions.values())).done.wait()

    async def _boot(self, conn: OcppConnection) -> bool:
        """BootNotification until Accepted; False when halted while waiting to retry."""
        cp = self.context
        status = None
        for attempt in range(1, self.config.boot_attempts + 1):
            conf = await conn.call("BootNotification", cp.boot_payload())
            status = cp.booted(conf)
            if status == "Accepted":
                self._backoff.reset()
                if self._outage:  # the connection is back
                    self._outage = False
                    self.state.last_error = None
                return True
            if attempt < self.config.boot_attempts:
                await cp.pause(max(1, conf["interval"]))
                if cp.halted:
                    return False
        raise SimulatorError(
            f"BootNotification was answered {status} {self.config.boot_attempts} times"
        )

    async def _heartbeats(self, conn: OcppConnection) -> None:
        cp = self.context
        while True:
            changed = cp.heartbeat_changed
            seconds = cp.keys.get_int(HEARTBEAT_INTERVAL)
            if seconds <= 0:
                await changed.wait()
                continue
            await wait_first(changed.wait(), timeout=seconds)
            if changed.is_set():
                continue
            try:
                await cp.heartbeat(conn)
            except Disconnected:
                return
            except SimulatorError as exc:
                log.warning("%s: heartbeat failed: %s", self.config.charger_id, exc)

    # -- sessions -----------------------------------------------------------------

    async def _connector_loop(self, conn: OcppConnection, connector: int) -> None:
        cp = self.context
        config = self.config
        id_tag = config.rfid or config.default_id_tag
        while not cp.halted:
            busy = cp.connectors.sessions.get(connector)
            if busy is not None or not cp.connectors.is_operative(connector):
                waits = [cp.wait_halted(), cp.connectors.wait_changed()]
                if busy is not None:
                    waits.append(busy.done.wait())
                await wait_first(*waits)
                continue
            session = cp.new_session(connector, id_tag, authorize=config.rfid is not None)
            outcome = await charging.charge(cp, conn, session)
            if outcome == st.REJECTED or not config.repeat:
                return
            if config.pre_charge_delay:
                await cp.pause(config.pre_charge_delay)
