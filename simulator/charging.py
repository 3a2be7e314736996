"""One charging session of the simulated charge point, from Preparing to Available.

Preparing, Authorize (when the session asks for it), the pre-charge delay,
StartTransaction, Charging with a MeterValues every sample interval until the
session's energy target is reached (or it is told to stop), StopTransaction,
Finishing, then Available (Unavailable when an Inoperative was scheduled).

A session cut short by a lost connection leaves an ``UnsentTransaction``
when its transaction is still open on the Central System: sent (again) after
the next boot, so no transaction stays open there.
"""

from __future__ import annotations

import asyncio
import logging
import math

from ocppj.timeutil import format_datetime, parse_datetime, utcnow
from simulator import state as st
from simulator.connection import Disconnected, OcppConnection
from simulator.connectors import Session
from simulator.context import ChargePointContext, UnsentTransaction
from simulator.meter import MeterModel, Reading, meter_values_payload
from simulator.state import SimulatorError

log = logging.getLogger("simulator")

# A sample this close to the end of a session counts as the last one.
END_TOLERANCE = 0.01

# The StopTransaction reason of a transaction that the lost connection ended. OCPP 1.6
# (3.7 "Transaction-related messages", 4.10 StopTransaction) has a charger keep such
# messages while it is offline and deliver them when the connection is back, with their
# own timestamps. The simulated session cannot go on without its connection, so it ends
# at the drop and its StopTransaction waits for the reconnection. The reason is "Other":
# "PowerLoss" means a complete loss of power, and this charger never lost power, only
# its link; none of the other reasons (EVDisconnected, Local, Remote, ...) happened.
OFFLINE_STOP_REASON = "Other"


async def run_remote(cp: ChargePointContext, conn: OcppConnection, session: Session) -> None:
    """Run a session the Central System started; its failure is noted, not fatal."""
    try:
        await charge(cp, conn, session)
    except Disconnected:
        pass
    except SimulatorError as exc:
        cp.state.last_error = f"remote session on connector {session.info.connector}: {exc}"
        log.warning("%s: %s", cp.config.charger_id, cp.state.last_error)


async def charge(cp: ChargePointContext, conn: OcppConnection, session: Session) -> str:
    """Run one reserved session to its end; return its outcome."""
    connector = session.info.connector
    try:
        outcome = await _steps(cp, conn, session)
    finally:
        finish(cp, session)
    if not cp.halted:
        await cp.send_status(conn, connector, cp.connectors.idle_status(connector))
    return outcome


async def _steps(cp: ChargePointContext, conn: OcppConnection, session: Session) -> str:
    info = session.info
    connector = info.connector
    await cp.send_status(conn, connector, "Preparing")
    if session.authorize:
        conf = await conn.call("Authorize", {"idTag": info.id_tag})
        info.id_tag_status = conf["idTagInfo"]["status"]
        if info.id_tag_status != "Accepted":
            log.info("%s: idTag %s %s", cp.config.charger_id, info.id_tag, info.id_tag_status)
            info.outcome = st.REJECTED
            return st.REJECTED
    if cp.config.pre_charge_delay:
        await cp.pause(cp.config.pre_charge_delay, session.wake)
    if session.stop_reason is not None:
        info.stop_reason = session.stop_reason
        return st.INTERRUPTED
    return await _transaction(cp, conn, session)


async def _transaction(cp: ChargePointContext, conn: OcppConnection, session: Session) -> str:
    config, info = cp.config, session.info
    connector = info.connector
    loop = asyncio.get_running_loop()
    register = cp.connectors.registers[connector]
    model = MeterModel(
        meter_start_wh=register,
        target_wh=info.target_wh,
        duration=config.duration,
        voltage_v=config.voltage,
        battery_wh=config.battery_kwh * 1000,
        start_soc=round(cp.rng.uniform(10, 50), 1),
        phases=config.phases,
    )
    now = utcnow()
    session.pending_start = {
        "connectorId": connector, "idTag": info.id_tag, "meterStart": register,
        "timestamp": format_datetime(now),
    }  # fmt: skip
    conf = await conn.call("StartTransaction", session.pending_start)
    session.pending_start = None
    session.model, session.started_at = model, loop.time()
    info.transaction_id = conf["transactionId"]
    info.id_tag_status = conf["idTagInfo"]["status"]
    info.started, info.meter_start_wh = now, register
    if info.id_tag_status != "Accepted":
        # StopTransactionOnInvalidId: the Central System refused the tag after all.
        session.request_stop("DeAuthorized")
        await _stop_transaction(cp, conn, session, model.reading(0))
        info.outcome = st.REJECTED
        return st.REJECTED
    await cp.send_status(conn, connector, "Charging")
    apply_limit(cp, session, 0.0)
    next_sample = session.started_at + cp.sample_interval
    while True:
        now = loop.time()
        remaining = model.remaining_s(now - session.started_at)
        interval = cp.sample_interval
        wait = min(max(0.0, next_sample - now), remaining) if interval > 0 else remaining
        await cp.pause(None if math.isinf(wait) else wait, session.wake, session.limit_changed)
        session.limit_changed.clear()
        now = loop.time()
        elapsed = now - session.started_at
        apply_limit(cp, session, elapsed)  # a new profile, or the next period of one
        finished = model.remaining_s(elapsed) <= END_TOLERANCE
        reading = model.final_reading() if finished else model.reading(elapsed)
        info.energy_wh = reading.energy_wh
        if session.stop_reason is not None:
            break
        due = interval > 0 and now >= next_sample - END_TOLERANCE
        while interval > 0 and next_sample <= now + END_TOLERANCE:
            next_sample += interval
        if due or finished:
            await _send_meter_values(cp, conn, session, reading)
        if finished:
            break
    await _stop_transaction(cp, conn, session, reading)
    info.outcome = st.COMPLETED
    if not cp.halted:
        await cp.send_status(conn, connector, "Finishing")
    return st.COMPLETED


def apply_limit(cp: ChargePointContext, session: Session, elapsed: float) -> None:
    """Cap the session's power by the charging profiles in effect now."""
    info, config = session.info, cp.config
    if session.model is None:
        return
    limit = cp.profiles.limit_w(
        info.connector, info.transaction_id, info.started, utcnow(), config.voltage, config.phases
    )
    session.model.set_limit(elapsed, limit)


async def _send_meter_values(
    cp: ChargePointContext, conn: OcppConnection, session: Session, reading: Reading
) -> None:
    info = session.info
    payload = meter_values_payload(info.connector, reading, utcnow(), info.transaction_id)
    await conn.call("MeterValues", payload)
    info.meter_values_sent += 1


async def _stop_transaction(
    cp: ChargePointContext, conn: OcppConnection, session: Session, reading: Reading
) -> None:
    info = session.info
    reason = session.stop_reason or "EVDisconnected"
    cp.connectors.registers[info.connector] = reading.register_wh
    now = utcnow()
    session.pending_stop = {
        "transactionId": info.transaction_id, "idTag": info.id_tag,
        "meterStop": reading.register_wh, "timestamp": format_datetime(now), "reason": reason,
    }  # fmt: skip
    await conn.call("StopTransaction", session.pending_stop)
    session.pending_stop = None
    info.energy_wh = reading.energy_wh
    info.meter_stop_wh, info.stopped, info.stop_reason = reading.register_wh, now, reason
    log.info(
        "%s: transaction %s stopped (%s), %d Wh",
        cp.config.charger_id, info.transaction_id, reason, info.energy_wh,
    )  # fmt: skip


def finish(cp: ChargePointContext, session: Session) -> None:
    """Book a session that ended (however it ended) and free its connector."""
    info = session.info
    state = cp.state
    if info.outcome == st.ACTIVE:
        info.outcome = st.INTERRUPTED
        info.stop_reason = info.stop_reason or session.stop_reason
        unsent = _unsent(cp, session)
        if unsent is not None:
            cp.unsent.append(unsent)
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
    cp.profiles.end_transaction(info.connector)
    state.last_session = info
    cp.connectors.release(session)


def _unsent(cp: ChargePointContext, session: Session) -> UnsentTransaction | None:
    """What an interrupted session still owes the Central System, or None (no transaction
    began, or its stop was answered)."""
    info = session.info
    start = session.pending_start  # sent, unanswered: the same message again
    stop = session.pending_stop  # likewise
    if stop is None:
        if start is None and (info.transaction_id is None or info.stopped is not None):
            return None
        reading = session.reading(asyncio.get_running_loop().time())
        if reading is not None:  # the energy delivered up to the drop is the session's
            cp.connectors.registers[info.connector] = reading.register_wh
            info.energy_wh = reading.energy_wh
        stop = {
            "transactionId": info.transaction_id, "idTag": info.id_tag,
            "meterStop": cp.connectors.registers[info.connector],
            "timestamp": format_datetime(utcnow()),
            "reason": session.stop_reason or OFFLINE_STOP_REASON,
        }  # fmt: skip
    info.meter_stop_wh, info.stop_reason = stop["meterStop"], stop["reason"]
    info.stopped = parse_datetime(stop["timestamp"])
    return UnsentTransaction(start, stop)


async def send_unsent(cp: ChargePointContext, conn: OcppConnection) -> None:
    """Deliver the transactions the lost connection left open, oldest first (right after
    an Accepted boot: before it no other CALL may be sent). One stays queued until its
    StopTransaction is answered, so a connection lost again resumes where it was."""
    while cp.unsent:
        unsent = cp.unsent[0]
        if unsent.start is not None:
            conf = await conn.call("StartTransaction", unsent.start)
            unsent.stop["transactionId"] = conf["transactionId"]
            unsent.start = None
        await conn.call("StopTransaction", unsent.stop)
        cp.unsent.popleft()
        log.info(
            "%s: transaction %s stopped after the reconnection (%s)",
            cp.config.charger_id, unsent.stop["transactionId"], unsent.stop["reason"],
        )  # fmt: skip
