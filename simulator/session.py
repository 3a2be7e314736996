"""One charging session of the simulated charge point, from Preparing to Available.

Preparing, Authorize (when the session asks for it), the pre-charge delay,
StartTransaction, Charging with a MeterValues every sample interval until the
session's energy target is reached (or it is told to stop), StopTransaction,
Finishing, then Available (Unavailable when an Inoperative was scheduled).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from ocppj.timeutil import format_datetime, utcnow
from simulator import state as st
from simulator.connection import Disconnected, OcppConnection
from simulator.connectors import Session
from simulator.meter import MeterModel, Reading, meter_values_payload
from simulator.state import SimulatorError

if TYPE_CHECKING:
    from simulator.charge_point import ChargePointSimulator

log = logging.getLogger("simulator")

# A sample this close to the end of a session counts as the last one.
END_TOLERANCE = 0.01


async def run_remote(sim: ChargePointSimulator, conn: OcppConnection, session: Session) -> None:
    """Run a session the Central System started; its failure is noted, not fatal."""
    try:
        await charge(sim, conn, session)
    except Disconnected:
        pass
    except SimulatorError as exc:
        sim.state.last_error = f"remote session on connector {session.info.connector}: {exc}"
        log.warning("%s: %s", sim.config.charger_id, sim.state.last_error)


async def charge(sim: ChargePointSimulator, conn: OcppConnection, session: Session) -> str:
    """Run one reserved session to its end; return its outcome."""
    connector = session.info.connector
    try:
        outcome = await _steps(sim, conn, session)
    finally:
        finish(sim, session)
    if not sim.halted:
        await sim.send_status(conn, connector, sim.connectors.idle_status(connector))
    return outcome


async def _steps(sim: ChargePointSimulator, conn: OcppConnection, session: Session) -> str:
    info = session.info
    connector = info.connector
    await sim.send_status(conn, connector, "Preparing")
    if session.authorize:
        conf = await conn.call("Authorize", {"idTag": info.id_tag})
        info.id_tag_status = conf["idTagInfo"]["status"]
        if info.id_tag_status != "Accepted":
            log.info("%s: idTag %s %s", sim.config.charger_id, info.id_tag, info.id_tag_status)
            info.outcome = st.REJECTED
            return st.REJECTED
    if sim.config.pre_charge_delay:
        await sim.pause(sim.config.pre_charge_delay, session.wake)
    if session.stop_reason is not None:
        info.stop_reason = session.stop_reason
        return st.INTERRUPTED
    return await _transaction(sim, conn, session)


async def _transaction(sim: ChargePointSimulator, conn: OcppConnection, session: Session) -> str:
    config, info = sim.config, session.info
    connector = info.connector
    loop = asyncio.get_running_loop()
    register = sim.connectors.registers[connector]
    model = MeterModel(
        meter_start_wh=register,
        target_wh=info.target_wh,
        duration=config.duration,
        voltage_v=config.voltage,
        battery_wh=config.battery_kwh * 1000,
        start_soc=round(sim.rng.uniform(10, 50), 1),
    )
    now = utcnow()
    conf = await conn.call(
        "StartTransaction",
        {"connectorId": connector, "idTag": info.id_tag, "meterStart": register,
         "timestamp": format_datetime(now)},
    )  # fmt: skip
    session.model, session.started_at = model, loop.time()
    info.transaction_id = conf["transactionId"]
    info.id_tag_status = conf["idTagInfo"]["status"]
    info.started, info.meter_start_wh = now, register
    if info.id_tag_status != "Accepted":
        # StopTransactionOnInvalidId: the Central System refused the tag after all.
        session.request_stop("DeAuthorized")
        await _stop_transaction(sim, conn, session, model.reading(0))
        info.outcome = st.REJECTED
        return st.REJECTED
    await sim.send_status(conn, connector, "Charging")
    while True:
        elapsed = loop.time() - session.started_at
        remaining = max(0.0, config.duration - elapsed)
        interval = sim.sample_interval
        await sim.pause(min(interval, remaining) if interval > 0 else remaining, session.wake)
        elapsed = loop.time() - session.started_at
        finished = elapsed >= config.duration - END_TOLERANCE
        reading = model.reading(config.duration if finished else elapsed)
        info.energy_wh = reading.energy_wh
        if session.stop_reason is not None:
            break
        if interval > 0 or finished:
            await _send_meter_values(sim, conn, session, reading)
        if finished:
            break
    await _stop_transaction(sim, conn, session, reading)
    info.outcome = st.COMPLETED
    if not sim.halted:
        await sim.send_status(conn, connector, "Finishing")
    return st.COMPLETED


async def _send_meter_values(
    sim: ChargePointSimulator, conn: OcppConnection, session: Session, reading: Reading
) -> None:
    info = session.info
    payload = meter_values_payload(info.connector, reading, utcnow(), info.transaction_id)
    await conn.call("MeterValues", payload)
    info.meter_values_sent += 1


async def _stop_transaction(
    sim: ChargePointSimulator, conn: OcppConnection, session: Session, reading: Reading
) -> None:
    info = session.info
    reason = session.stop_reason or "EVDisconnected"
    sim.connectors.registers[info.connector] = reading.register_wh
    now = utcnow()
    await conn.call(
        "StopTransaction",
        {"transactionId": info.transaction_id, "idTag": info.id_tag,
         "meterStop": reading.register_wh, "timestamp": format_datetime(now),
         "reason": reason},
    )  # fmt: skip
    info.energy_wh = reading.energy_wh
    info.meter_stop_wh, info.stopped, info.stop_reason = reading.register_wh, now, reason
    log.info(
        "%s: transaction %s stopped (%s), %d Wh",
        sim.config.charger_id, info.transaction_id, reason, info.energy_wh,
    )  # fmt: skip


def finish(sim: ChargePointSimulator, session: Session) -> None:
    """Book a session that ended (however it ended) and free its connector."""
    info = session.info
    state = sim.state
    if info.outcome == st.ACTIVE:
        info.outcome = st.INTERRUPTED
        info.stop_reason = info.stop_reason or session.stop_reason
    if info.outcome == st.COMPLETED:
        state.sessions_completed += 1
    elif info.outcome == st.REJECTED:
        state.sessions_rejected += 1
    else:
        state.sessions_interrupted += 1
    if info.transaction_id is not None:
        state.energy_delivered_wh += info.energy_wh
    if state.sessions.get(info.connector) is info:
        del state.sessions[info.connector]
    state.last_session = info
    sim.connectors.release(session)
