"""MeterValues: every reading (``meterValue``) becomes one measurement in ``meter_values``
holding all its sampled values (``models.meter_values``).

Units with a kilo prefix are normalised (kWh -> Wh, kW -> W, ...), so energy
is always in Wh (OCPP_RULES 19). Values keep the charger's own timestamps,
however late they arrive (OCPP_RULES 18).

A reading is stored but never used for energy (its ``excluded`` field says why, an
anomaly records it) when its value is not a finite number once scaled (``"1e306"``
kWh), or its time is out of the plausible window: beyond the server's clock plus
``max_clock_skew_s``, or before the start of its transaction. A reading resent with
the same key (``models.meter_values.reading_key``) is stored once.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from csms import billing
from csms.context import CallContext
from csms.registers import NON_FINITE, out_of_window, plausible_max_wh
from ocppj.measurands import ENERGY_REGISTER, POWER
from ocppj.timeutil import parse_datetime

# unit -> (normalised unit, factor)
_KILO = {"kWh": ("Wh", 1000.0), "kW": ("W", 1000.0), "kvarh": ("varh", 1000.0),
         "kvar": ("var", 1000.0), "kVA": ("VA", 1000.0)}  # fmt: skip


def sample_documents(
    meter_value: list[dict[str, Any]],
    charger: str,
    connector: int | None,
    transaction: int | None,
) -> list[dict[str, Any]]:
    """One document per sampledValue of a MeterValues or transactionData list.

    Defaults are the spec's: measurand Energy.Active.Import.Register, unit Wh,
    context Sample.Periodic, location Outlet. A value that is not a number
    (SignedData) is kept as ``raw`` with ``value`` None.
    """
    docs = []
    for reading in meter_value:
        ts = parse_datetime(reading["timestamp"])
        for sampled in reading["sampledValue"]:
            measurand = sampled.get("measurand", ENERGY_REGISTER)
            unit = sampled.get("unit", "Wh")
            value, raw = _number(sampled["value"])
            if unit in _KILO:
                unit, factor = _KILO[unit]
                value = None if value is None else value * factor
            non_finite = value is not None and not math.isfinite(value)  # kWh -> Wh overflowed
            doc = {
                "ts": ts,
                "meta": {
                    "charger": charger,
                    "connector": connector,
                    "transaction": transaction,
                    "measurand": measurand,
                    "phase": sampled.get("phase"),
                    "unit": unit,
                    "context": sampled.get("context", "Sample.Periodic"),
                    "location": sampled.get("location", "Outlet"),
                },
                "value": value,
            }
            if raw is not None:
                doc["raw"] = raw
                doc["format"] = sampled.get("format", "Raw")
            if non_finite or (raw is not None and _is_float(raw)):
                # A number that is no finite one ("inf", "nan", "1e306" kWh): its text only.
                doc.update(value=None, raw=sampled["value"], excluded=NON_FINITE)
                doc.pop("format", None)
            docs.append(doc)
    return docs


def _number(text: str) -> tuple[float | None, str | None]:
    try:
        value = float(text)
    except ValueError:
        return None, text
    if not math.isfinite(value):
        return None, text
    return value, None


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


async def screen(
    ctx: CallContext, docs: list[dict[str, Any]], start: datetime | None, message: str
) -> None:
    """Mark readings dated out of the plausible window as ``excluded`` (``start``: the
    start of their transaction, if any), and record one anomaly per reason and message
    for those and for non-finite values."""
    skew = ctx.services.settings.max_clock_skew_s
    found: dict[str, list[dict[str, Any]]] = {}
    for doc in docs:
        reason = doc.get("excluded") or out_of_window(doc["ts"], ctx.now, skew, start)
        if reason is not None:
            doc["excluded"] = reason
            found.setdefault(reason, []).append(doc)
    for reason, excluded in found.items():
        meta = excluded[0]["meta"]
        await ctx.services.anomalies.record(
            ctx.charger_id, f"reading_{reason}", ctx.now, transaction=meta["transaction"],
            connector=meta["connector"], message=message, count=len(excluded),
            reading_ts=excluded[0]["ts"],
        )  # fmt: skip


async def last_register(ctx: CallContext, transaction: int, docs: list[dict]) -> float | None:
    """The newest energy register of a closing transaction of the sender: ``docs`` (its
    transactionData), then memory, then the database (after a restart). Only readings
    the sender stored against its own transaction count."""
    services = ctx.services
    remembered = services.registers.pop(ctx.charger_id, transaction)
    in_docs = latest(docs, ENERGY_REGISTER)
    if in_docs is not None:
        return in_docs[1]
    if remembered is not None:
        return remembered[1]
    return await services.meter_values.last_energy_register(ctx.charger_id, transaction)


def latest(docs: list[dict[str, Any]], measurand: str) -> tuple[datetime, float] | None:
    """The newest usable whole-meter value of ``measurand`` among ``docs``."""
    best = None
    for doc in docs:
        meta = doc["meta"]
        if (
            meta["measurand"] == measurand
            and meta["phase"] is None
            and doc["value"] is not None
            and "excluded" not in doc
        ):
            if best is None or doc["ts"] >= best[0]:
                best = (doc["ts"], doc["value"])
    return best


async def meter_values(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Queue every sampled value, keep the payload on the charger, publish the readings.

    A transactionId the sender does not own (another charger's, or none we know)
    is not used: the values are stored against the sender with transaction null
    and the claimed id kept as ``charger_tx_id`` (an anomaly says why).
    """
    services = ctx.services
    connector = payload["connectorId"]
    claimed = payload.get("transactionId")
    transaction = claimed
    start = None
    if claimed is not None:
        start = await _owned_start(ctx, claimed)
        if start is None:
            transaction = None
    docs = sample_documents(payload["meterValue"], ctx.charger_id, connector, transaction)
    if transaction is None and claimed is not None:
        for doc in docs:
            doc["charger_tx_id"] = claimed
    docs = await services.meter_values.add_new(docs)  # a resent reading is stored once
    await screen(ctx, docs, start, "MeterValues")
    readings = services.meter_values.add(docs)
    energy = latest(docs, ENERGY_REGISTER)
    if transaction is not None and energy is not None:
        await _note_register(ctx, transaction, *energy)
    services.chargers.touch(
        ctx.charger_id,
        {"last_meter_values": {**payload, "received": ctx.now}, "last_seen": ctx.now},
    )
    await services.meter_values.backpressure()
    services.load_event(ctx.charger_id, "meter", connector=connector, readings=readings)
    power = latest(docs, POWER)
    if transaction is not None and power is not None:
        await billing.note_power(ctx, transaction, power[1], power[0])
    services.bus.publish(
        "meter",
        ctx.charger_id,
        connector=connector,
        transaction=transaction,
        energy_wh=energy[1] if energy else None,
        power_w=power[1] if power else None,
    )
    return {}


async def _note_register(ctx: CallContext, transaction: int, ts: datetime, wh: float) -> None:
    """Remember the reading; flag it when it rose faster than the connector can deliver."""
    registers = ctx.services.registers
    previous = registers.last(ctx.charger_id, transaction)
    if previous is not None and ts > previous[0]:
        limit = plausible_max_wh(
            ctx.services.settings.max_connector_power_w, (ts - previous[0]).total_seconds()
        )
        if wh - previous[1] > limit:
            await ctx.services.anomalies.record(
                ctx.charger_id, "register_jump", ctx.now, transaction=transaction,
                from_wh=previous[1], to_wh=wh,
            )  # fmt: skip
    registers.note(ctx.charger_id, transaction, ts, wh)


async def _owned_start(ctx: CallContext, transaction: int) -> datetime | None:
    """The start time of ``transaction`` when it is a session of the sender, else None;
    once per connection and id, an anomaly records a foreign or unknown one."""
    seen = ctx.state.transactions_seen
    if transaction in seen:
        return seen[transaction]
    doc = await ctx.services.transactions.get(transaction)
    owned = doc is not None and (doc.get("charger"), doc.get("kind")) == (ctx.charger_id, "session")
    seen[transaction] = start = doc["start_ts"] if owned else None
    if not owned:
        kind = "meter_values_unknown_transaction" if doc is None else "foreign_transaction"
        await ctx.services.anomalies.record(
            ctx.charger_id, kind, ctx.now, charger_tx_id=transaction, message="MeterValues"
        )
    return start
