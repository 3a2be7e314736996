"""StartTransaction and StopTransaction (OCPP_RULES 15-19).

Both are stored before they are answered. Business problems (unknown
transaction, meter going backwards, a connector that already had an open
session) never turn into a CALLERROR: the charger would retry and then drop
the data (C 3.7.1). They are recorded as anomalies instead.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from csms import billing
from csms.authorization import authorize_request, id_tag_info
from csms.context import CallContext
from csms.metering import last_register, sample_documents, screen
from csms.registers import out_of_window, plausible_max_wh, plausible_seconds
from csms.registry import Outcome
from csms.remote_params import ParameterError
from csms.request import Request
from csms.reservation import use_reservation
from models.rfid import tag_key
from ocppj.timeutil import parse_datetime

# A last register reading may trail the stop value by rounding; beyond this it is an anomaly.
REGISTER_TOLERANCE_WH = 1.0


async def start_transaction(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Open a transaction with the next id; a resent start of an open session returns
    the same id (rule 17), a start matching a closed one is a new session."""
    services = ctx.services
    connector = payload["connectorId"]
    id_tag = payload["idTag"]
    key = tag_key(id_tag)
    start_ts = parse_datetime(payload["timestamp"])
    meter_start = payload["meterStart"]
    repo = services.transactions
    existing = await repo.find_start(ctx.charger_id, connector, key, start_ts, meter_start)
    if existing is not None:
        return _start_reply(existing)
    info = await id_tag_info(ctx, id_tag, starting=True)
    charger = await services.chargers.get(ctx.charger_id) or {}
    previous = await repo.open_on_connector(ctx.charger_id, connector)
    if previous is not None:
        await _supersede(ctx, previous)
    anomalies = []
    skew = services.settings.max_clock_skew_s
    if out_of_window(start_ts, ctx.now, skew) is not None:
        anomalies.append({"kind": "start_in_future", "ts": ctx.now})
    doc = {
        "kind": "session",
        "charger": ctx.charger_id,
        "connector": connector,
        "id_tag": id_tag,
        "id_tag_key": key,
        "id_tag_info": info,
        # Only sessions on chargers that check tags count toward ConcurrentTx.
        "tag_checked": bool(charger.get("require_rfid")),
        "reservation_id": payload.get("reservationId"),
        "start_ts": start_ts,
        "meter_start": meter_start,
        "open": True,
        "stop_ts": None,
        "meter_stop": None,
        "stop_reason": None,
        "energy_wh": None,
        "anomalies": anomalies,
        "tariff": await billing.session_tariff(services, charger, key),
        "created": ctx.now,
        "updated": ctx.now,
    }
    stored = await repo.insert_started(doc)
    ctx.state.transactions_seen[stored["_id"]] = stored["start_ts"]
    billing.note_started(ctx, stored)
    if stored is doc:
        for anomaly in anomalies:
            await services.anomalies.record(
                ctx.charger_id, anomaly["kind"], ctx.now, transaction=doc["_id"]
            )
    if doc["reservation_id"] is not None and stored is doc:
        await use_reservation(ctx, doc["reservation_id"], stored["_id"])
    services.bus.publish(
        "transaction_started",
        ctx.charger_id,
        transaction=stored["_id"],
        connector=connector,
        id_tag=id_tag,
        status=stored["id_tag_info"]["status"],
    )
    services.load_event(ctx.charger_id, "start", connector=connector)
    return _start_reply(stored)


def _start_reply(doc: dict[str, Any]) -> dict[str, Any]:
    return {"transactionId": doc["_id"], "idTagInfo": doc["id_tag_info"]}


def _plausible_limit(ctx: CallContext, tx: dict[str, Any], end: datetime) -> float:
    """The most energy ``tx`` can have delivered by ``end`` (a charger time; times
    beyond the server's clock plus the allowed skew count as the server's)."""
    settings = ctx.services.settings
    seconds = plausible_seconds(
        tx["start_ts"], tx.get("created", ctx.now), end, ctx.now, settings.max_clock_skew_s
    )
    return plausible_max_wh(settings.max_connector_power_w, seconds)


async def _supersede(ctx: CallContext, previous: dict[str, Any]) -> None:
    """A new start on a connector that still has an open session: close the old one
    (``close_with_estimate``)."""
    await close_with_estimate(ctx, previous, SUPERSEDED)


# Why a session was closed without its StopTransaction (close_with_estimate's ``cause``),
# and the anomaly its late real stop records.
SUPERSEDED = "superseded_by_new_start"
LATE_STOP_ANOMALY = {SUPERSEDED: "late_stop_after_supersede"}


async def close_with_estimate(
    ctx: CallContext, tx: dict[str, Any], cause: str, **extra: Any
) -> dict[str, Any] | None:
    """Close an open session whose StopTransaction we do not have: the one way to do it
    (a new start on its connector, the connector reported Available, an operator).

    Its stop was lost; the energy is estimated from its last register reading
    of this charger when there is one, and the record says so (anomaly ``cause``).
    An estimate beyond what the connector could deliver since the start is not used.
    A real stop arriving later replaces the estimate (``stop_transaction``). Returns
    the stored fields, or None when the session was no longer open.
    """
    services = ctx.services
    register = await last_register(ctx, tx["_id"], [])
    energy = None
    anomalies = []
    if register is not None:
        energy = max(0.0, register - tx["meter_start"])
        limit = _plausible_limit(ctx, tx, ctx.now)
        if energy > limit:
            anomalies.append({"kind": "implausible_register", "ts": ctx.now,
                              "register_wh": register, "plausible_max_wh": limit})  # fmt: skip
            energy = None
    anomalies.insert(0, {"kind": cause, "ts": ctx.now, "estimated_energy": energy, **extra})
    fields = {"stop_reason": "Other", "energy_wh": energy, "last_register_wh": register,
              "estimated": True, "closed_by": cause, "closed_ts": ctx.now,
              "updated": ctx.now}  # fmt: skip
    if cause == SUPERSEDED:
        fields["superseded"] = True
    # The cost of what was estimated, part of the same write as the close.
    fields["cost"] = await billing.stop_cost(services, tx, fields)
    if not await services.transactions.close(tx["_id"], fields, anomalies=anomalies):
        return None
    for anomaly in anomalies:
        await services.anomalies.record(
            ctx.charger_id, anomaly["kind"], ctx.now, transaction=tx["_id"]
        )
    return fields


async def stop_transaction(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Close the transaction, store its transactionData, compute the energy (rule 19).

    A stop for a session a new start superseded replaces the estimate, once."""
    services = ctx.services
    repo = services.transactions
    tx_id = payload["transactionId"]
    stop_ts = parse_datetime(payload["timestamp"])
    reply: dict[str, Any] = {}
    if "idTag" in payload:
        reply["idTagInfo"] = await id_tag_info(ctx, payload["idTag"])
    tx = await repo.get(tx_id)
    if tx is None or tx.get("charger") != ctx.charger_id or tx.get("kind") != "session":
        # Another charger's transaction is left as it is: the stop is the sender's own record.
        foreign = tx is not None and tx.get("charger") != ctx.charger_id
        await _record_orphan_stop(ctx, payload, stop_ts, foreign)
        return reply
    late = not tx["open"]
    estimated = tx.get("superseded") or tx.get("estimated")
    if late and not (estimated and tx.get("stop_ts") is None):
        return reply  # a resent stop changes nothing (rule 17)
    samples = sample_documents(
        payload.get("transactionData", []), ctx.charger_id, tx["connector"], tx_id
    )
    await screen(ctx, samples, tx["start_ts"], "StopTransaction")
    # transactionData is stored before the stop is acknowledged, like the stop itself.
    await services.meter_values.insert_now(samples)
    register = await last_register(ctx, tx_id, samples)
    fields, anomalies = _stop_fields(ctx, tx, payload, stop_ts, register)
    # The cost is part of the stop's own write (durable before the stop is acknowledged).
    fields["cost"] = await billing.stop_cost(services, tx, fields)
    if late:
        cause = tx.get("closed_by") or SUPERSEDED
        kind = LATE_STOP_ANOMALY.get(cause, f"late_stop_after_{cause}")
        anomalies.insert(0, {"kind": kind, "ts": ctx.now, "estimated_energy": tx.get("energy_wh"),
                             "replaced_estimate": True})  # fmt: skip
        if not await repo.replace_estimate(tx_id, fields, anomalies):
            return reply  # a concurrent resend got there first
    else:
        await repo.close(tx_id, fields, anomalies=anomalies)
        services.metrics.energy.inc(fields["energy_wh"])
    for anomaly in anomalies:
        await services.anomalies.record(ctx.charger_id, anomaly["kind"], ctx.now, transaction=tx_id)
    services.bus.publish(
        "transaction_stopped", ctx.charger_id, transaction=tx_id, connector=tx["connector"],
        energy_wh=fields["energy_wh"],
    )  # fmt: skip
    services.load_event(ctx.charger_id, "stop", connector=tx["connector"])
    return reply


def _stop_fields(
    ctx: CallContext,
    tx: dict[str, Any],
    payload: dict[str, Any],
    stop_ts: datetime,
    register: float | None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The stop's fields and anomalies: energy is meterStop - meterStart, never below 0
    and never above what the connector could deliver; the charger's claim is kept."""
    meter_stop = payload["meterStop"]
    claimed = meter_stop - tx["meter_start"]
    energy: float = claimed
    anomalies = []
    if energy < 0:
        anomalies.append({"kind": "meter_backwards", "ts": ctx.now, "difference_wh": energy})
        energy = 0
    if register is not None and register > meter_stop + REGISTER_TOLERANCE_WH:
        anomalies.append({"kind": "register_above_meter_stop", "ts": ctx.now,
                          "register_wh": register})  # fmt: skip
    if stop_ts < tx["start_ts"]:
        anomalies.append({"kind": "stop_before_start", "ts": ctx.now})
    if out_of_window(stop_ts, ctx.now, ctx.services.settings.max_clock_skew_s) is not None:
        anomalies.append({"kind": "stop_in_future", "ts": ctx.now})
    limit = _plausible_limit(ctx, tx, stop_ts)
    if energy > limit:
        # More than the connector could deliver in the session's time: capped, flagged,
        # the charger's figure kept for the operator to decide.
        anomalies.append({"kind": "implausible_energy", "ts": ctx.now, "claimed_wh": energy,
                          "plausible_max_wh": limit})  # fmt: skip
        energy = limit
    fields = {
        "stop_ts": stop_ts,
        "meter_stop": meter_stop,
        "energy_claimed_wh": claimed,
        "stop_reason": payload.get("reason", "Local"),
        "stop_id_tag": payload.get("idTag"),
        "energy_wh": energy,
        "last_register_wh": register,
        "updated": ctx.now,
    }
    return fields, anomalies


async def _record_orphan_stop(
    ctx: CallContext, payload: dict[str, Any], stop_ts: datetime, foreign: bool
) -> None:
    """A stop for a transaction we never saw, or another charger's (``foreign``): keep it
    as a record of its own, once."""
    services = ctx.services
    charger_tx_id = payload["transactionId"]
    if await services.transactions.find_orphan_stop(ctx.charger_id, charger_tx_id, stop_ts):
        return
    kind = "foreign_transaction" if foreign else "unknown_transaction"
    record = await services.transactions.insert_record(
        {
            "kind": "orphan_stop",
            "charger": ctx.charger_id,
            "charger_tx_id": charger_tx_id,
            "connector": None,
            "id_tag": payload.get("idTag"),
            "start_ts": None,
            "meter_start": None,
            "open": False,
            "stop_ts": stop_ts,
            "meter_stop": payload["meterStop"],
            "stop_reason": payload.get("reason", "Local"),
            "energy_wh": None,
            "anomalies": [{"kind": kind, "ts": ctx.now}],
            "created": ctx.now,
            "updated": ctx.now,
        }
    )
    await services.meter_values.insert_now(
        sample_documents(payload.get("transactionData", []), ctx.charger_id, None, record["_id"])
    )
    await services.anomalies.record(
        ctx.charger_id, "foreign_transaction" if foreign else "stop_unknown_transaction",
        ctx.now, charger_tx_id=charger_tx_id, record=record["_id"], message="StopTransaction",
    )  # fmt: skip


# --- remote start / stop ---------------------------------------------------


async def check_remote_start(req: Request) -> None:
    """A TxProfile only, without a transaction id; the tag must pass authorization."""
    profile = req.payload.get("chargingProfile")
    if profile is not None:
        if profile.get("chargingProfilePurpose") != "TxProfile":
            raise ParameterError("charging_profile", "chargingProfilePurpose must be TxProfile")
        if "transactionId" in profile:
            raise ParameterError("charging_profile", "must not carry a transactionId")
    await authorize_request(req, "id_tag", starting=True)


async def after_remote_start(req: Request, outcome: Outcome) -> None:
    """An accepted start with a profile installs that TxProfile."""
    profile = req.payload.get("chargingProfile")
    if outcome.ok and profile is not None:
        connector = req.payload.get("connectorId", 0)
        await req.services.charging_profiles.install(
            req.charger_id, connector, profile, req.now, outcome.command_id
        )


async def target_transaction(req: Request) -> None:
    """Fill RemoteStop's transactionId: the given one, the connector's, or the only open one."""
    tx_id = req.values.get("transaction_id")
    connector = req.values.get("connector_id")
    transactions = req.services.transactions
    if tx_id is not None:
        tx = await transactions.get(tx_id)
        if tx is not None:  # an id we never issued is the charger's business
            if tx.get("charger") != req.charger_id:
                raise ParameterError(
                    "transaction_id", f"transaction {tx_id} is not on {req.charger_id}"
                )
            if not tx.get("open"):
                raise ParameterError("transaction_id", f"transaction {tx_id} is already stopped")
            if connector is not None and tx.get("connector") != connector:
                raise ParameterError("connector_id", f"transaction {tx_id} is not on {connector}")
        return
    if connector is not None:
        tx = await transactions.open_on_connector(req.charger_id, connector)
        if tx is None:
            raise ParameterError("connector_id", f"no open transaction on connector {connector}")
    else:
        found = await transactions.open_for_charger(req.charger_id, limit=2)
        if not found:
            raise ParameterError("connector_id", "the charger has no open transaction")
        if len(found) > 1:
            raise ParameterError("connector_id", "several transactions are open: choose one")
        tx = found[0]
    req.payload["transactionId"] = tx["_id"]
