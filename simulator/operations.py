"""How the simulated charge point answers the Central System's operations.

One table from action name to a function ``(charge point, connection, payload)
-> Answer``, built once at import. The functions never wait on the network:
whatever must be sent because of an operation (the status after
ChangeAvailability, the message TriggerMessage asks for, a remotely started
session) is follow-up work, started after the reply has left.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

from ocppj.timeutil import utcnow
from simulator import charging
from simulator.certificates import ChargerCertificates
from simulator.connection import Answer, OcppConnection
from simulator.context import ChargePointContext
from simulator.keys import AUTHORIZE_REMOTE_TX_REQUESTS, HEARTBEAT_INTERVAL
from simulator.keys import METER_VALUE_SAMPLE_INTERVAL as SAMPLE_INTERVAL
from simulator.meter import idle_reading, meter_values_payload

Operation = Callable[[ChargePointContext, OcppConnection, dict[str, Any]], Answer]

ACCEPTED = {"status": "Accepted"}
REJECTED = {"status": "Rejected"}


def reset(cp: ChargePointContext, conn: OcppConnection, payload: dict[str, Any]) -> Answer:
    """Reset: accept, stop the sessions, reconnect and boot again."""
    kind = payload["type"]
    if cp.halted:
        return Answer(REJECTED)
    return Answer(ACCEPTED, lambda: cp.request_reset(kind))


def remote_start(cp: ChargePointContext, conn: OcppConnection, payload: dict[str, Any]) -> Answer:
    """RemoteStartTransaction: start a session on the given (or first free) connector."""
    connectors = cp.connectors
    connector = payload.get("connectorId")
    if cp.halted:
        return Answer(REJECTED)
    if connector is None:
        connector = connectors.free_connector()
        if connector is None:
            return Answer(REJECTED)
    elif (
        not connectors.valid(connector)
        or connector in connectors.sessions
        or not connectors.is_operative(connector)
    ):
        return Answer(REJECTED)
    authorize = cp.keys.get_bool(AUTHORIZE_REMOTE_TX_REQUESTS)
    session = cp.new_session(connector, payload["idTag"], authorize=authorize, remote=True)
    return Answer(ACCEPTED, lambda: charging.run_remote(cp, conn, session))


def remote_stop(cp: ChargePointContext, conn: OcppConnection, payload: dict[str, Any]) -> Answer:
    """RemoteStopTransaction: stop the session with that transaction id (reason Remote)."""
    session = cp.connectors.by_transaction(payload["transactionId"])
    if session is None:
        return Answer(REJECTED)
    session.request_stop("Remote")
    return Answer(ACCEPTED)


def unlock_connector(
    cp: ChargePointContext, conn: OcppConnection, payload: dict[str, Any]
) -> Answer:
    """UnlockConnector: a session on it stops (reason UnlockCommand); the cable is released."""
    connector = payload["connectorId"]
    if not cp.connectors.valid(connector):
        return Answer({"status": "NotSupported"})
    session = cp.connectors.sessions.get(connector)
    if session is not None:
        session.request_stop("UnlockCommand")
    return Answer({"status": "Unlocked"})


def change_availability(
    cp: ChargePointContext, conn: OcppConnection, payload: dict[str, Any]
) -> Answer:
    """ChangeAvailability: Accepted (status sent at once) or Scheduled (after the session)."""
    status, changed = cp.connectors.change_availability(
        payload["connectorId"], payload["type"] == "Operative"
    )

    async def report() -> None:
        """Send the new status of every connector that changed now."""
        for connector in changed:
            await cp.send_status(conn, connector, cp.connectors.idle_status(connector))

    return Answer({"status": status}, report if changed else None)


def get_configuration(
    cp: ChargePointContext, conn: OcppConnection, payload: dict[str, Any]
) -> Answer:
    """GetConfiguration: the requested keys (all when none are named), unknown ones listed."""
    return Answer(cp.keys.report(payload.get("key")))


def change_configuration(
    cp: ChargePointContext, conn: OcppConnection, payload: dict[str, Any]
) -> Answer:
    """ChangeConfiguration: set a key; the heartbeat and sample intervals apply at once."""
    key, value = payload["key"], payload["value"]
    status = cp.keys.change(key, value)
    if status == "Accepted":
        if key == HEARTBEAT_INTERVAL:
            cp.heartbeat_interval_changed()
        elif key == SAMPLE_INTERVAL:
            cp.sample_interval = cp.keys.get_int(SAMPLE_INTERVAL)
    return Answer({"status": status})


def data_transfer(cp: ChargePointContext, conn: OcppConnection, payload: dict[str, Any]) -> Answer:
    """DataTransfer: our own vendor id is Accepted (data echoed), others UnknownVendorId."""
    if payload["vendorId"] != cp.config.vendor:
        return Answer({"status": "UnknownVendorId"})
    reply: dict[str, Any] = {"status": "Accepted"}
    if "data" in payload:
        reply["data"] = payload["data"]
    return Answer(reply)


def trigger_message(
    cp: ChargePointContext, conn: OcppConnection, payload: dict[str, Any]
) -> Answer:
    """TriggerMessage: accept and send the requested message after the reply."""
    connector = payload.get("connectorId")
    if connector is not None and not cp.connectors.valid(connector, allow_zero=True):
        return Answer(REJECTED)
    requested = payload["requestedMessage"]
    return Answer(ACCEPTED, lambda: send_triggered(cp, conn, requested, connector))


async def send_triggered(
    cp: ChargePointContext, conn: OcppConnection, requested: str, connector: int | None
) -> None:
    """Send the message a TriggerMessage asked for."""
    connectors = cp.connectors
    outlets = range(1, connectors.count + 1)
    if requested == "BootNotification":
        cp.booted(await conn.call("BootNotification", cp.boot_payload()))
    elif requested == "Heartbeat":
        await cp.heartbeat(conn)
    elif requested == "StatusNotification":
        targets = range(connectors.count + 1) if connector is None else [connector]
        for target in targets:
            await cp.send_status(conn, target, connectors.status[target])
    elif requested == "MeterValues":
        for target in outlets if not connector else [connector]:
            session = connectors.sessions.get(target)
            now = asyncio.get_running_loop().time()
            reading = session.reading(now) if session is not None else None
            transaction = session.info.transaction_id if session is not None else None
            if reading is None:
                reading = idle_reading(connectors.registers[target], cp.config.voltage)
            payload = meter_values_payload(target, reading, utcnow(), transaction, "Trigger")
            await conn.call("MeterValues", payload)
    elif requested == "DiagnosticsStatusNotification":
        await conn.call("DiagnosticsStatusNotification", {"status": "Idle"})
    elif requested == "FirmwareStatusNotification":
        await conn.call("FirmwareStatusNotification", {"status": "Idle"})


def extended_trigger_message(
    cp: ChargePointContext, conn: OcppConnection, payload: dict[str, Any]
) -> Answer:
    """ExtendedTriggerMessage: SignChargePointCertificate sends a new CSR (Rejected
    without a certificate_dir); the other messages as TriggerMessage sends them."""
    requested = payload["requestedMessage"]
    if requested == "SignChargePointCertificate":
        if not cp.config.certificate_dir:
            return Answer(REJECTED)
        return Answer(ACCEPTED, lambda: send_sign_certificate(cp, conn))
    if requested == "LogStatusNotification":
        return Answer(ACCEPTED, lambda: conn.call("LogStatusNotification", {"status": "Idle"}))
    return trigger_message(cp, conn, payload)


async def send_sign_certificate(cp: ChargePointContext, conn: OcppConnection) -> None:
    """SignCertificate with a CSR for a new key (kept until its certificate arrives)."""
    files = ChargerCertificates(cp.config.certificate_dir, cp.config.charger_id)
    await conn.call("SignCertificate", {"csr": files.new_csr()})


def certificate_signed(
    cp: ChargePointContext, conn: OcppConnection, payload: dict[str, Any]
) -> Answer:
    """CertificateSigned: keep the chain when it is for our pending key (Accepted; used
    from the next connection on), else Rejected."""
    if not cp.config.certificate_dir:
        return Answer(REJECTED)
    files = ChargerCertificates(cp.config.certificate_dir, cp.config.charger_id)
    return Answer(ACCEPTED if files.store(payload["certificateChain"]) else REJECTED)


def set_charging_profile(
    cp: ChargePointContext, conn: OcppConnection, payload: dict[str, Any]
) -> Answer:
    """SetChargingProfile: install it (a TxProfile needs the connector's transaction) and
    make the running sessions obey it at once."""
    connector = payload["connectorId"]
    if not cp.connectors.valid(connector, allow_zero=True):
        return Answer(REJECTED)
    session = cp.connectors.sessions.get(connector)
    transaction = session.info.transaction_id if session is not None else None
    if not cp.profiles.set(connector, payload["csChargingProfiles"], transaction):
        return Answer(REJECTED)
    _limits_changed(cp)
    return Answer(ACCEPTED)


def clear_charging_profile(
    cp: ChargePointContext, conn: OcppConnection, payload: dict[str, Any]
) -> Answer:
    """ClearChargingProfile: Accepted when something matched, else Unknown."""
    if not cp.profiles.clear(payload):
        return Answer({"status": "Unknown"})
    _limits_changed(cp)
    return Answer(ACCEPTED)


def _limits_changed(cp: ChargePointContext) -> None:
    for session in cp.connectors.sessions.values():
        session.limit_changed.set()


OPERATIONS: MappingProxyType[str, Operation] = MappingProxyType(
    {
        "CertificateSigned": certificate_signed,
        "ChangeAvailability": change_availability,
        "ClearChargingProfile": clear_charging_profile,
        "ChangeConfiguration": change_configuration,
        "DataTransfer": data_transfer,
        "ExtendedTriggerMessage": extended_trigger_message,
        "GetConfiguration": get_configuration,
        "RemoteStartTransaction": remote_start,
        "RemoteStopTransaction": remote_stop,
        "Reset": reset,
        "SetChargingProfile": set_charging_profile,
        "TriggerMessage": trigger_message,
        "UnlockConnector": unlock_connector,
    }
)
