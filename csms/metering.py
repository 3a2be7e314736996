"""MeterValues: every sampled value becomes a numeric document in ``meter_values``.

Units with a kilo prefix are normalised (kWh -> Wh, kW -> W, ...), so energy
is always in Wh (OCPP_RULES 19). Values keep the charger's own timestamps,
however late they arrive (OCPP_RULES 18).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from csms.context import CallContext
from models.meter_values import ENERGY_REGISTER
from ocppj.timeutil import parse_datetime

# unit -> (normalised unit, factor)
_KILO = {"kWh": ("Wh", 1000.0), "kW": ("W", 1000.0), "kvarh": ("varh", 1000.0),
         "kvar": ("var", 1000.0), "kVA": ("VA", 1000.0)}  # fmt: skip
POWER = "Power.Active.Import"


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


class LastRegisters:
    """The latest energy register reading (Wh) of each open transaction, in memory.

    StopTransaction needs it to cross-check the energy; keeping it here saves
    waiting for the meter-value batch and querying it back. Bounded: the oldest
    entries go first (a miss falls back to the database).
    """

    def __init__(self, capacity: int = 100_000):
        self._values: dict[int, tuple[datetime, float]] = {}
        self._capacity = capacity

    def note(self, transaction: int, ts: datetime, wh: float) -> None:
        """Remember a reading unless a newer one is known."""
        known = self._values.get(transaction)
        if known is not None and known[0] > ts:
            return
        self._values[transaction] = (ts, wh)
        if len(self._values) > self._capacity:
            del self._values[next(iter(self._values))]

    def pop(self, transaction: int) -> float | None:
        """The latest reading of a transaction, forgotten (it is closing)."""
        known = self._values.pop(transaction, None)
        return None if known is None else known[1]

    def __len__(self) -> int:
        return len(self._values)


async def last_register(ctx: CallContext, transaction: int, docs: list[dict]) -> float | None:
    """The newest energy register of a closing transaction: ``docs`` (its transactionData),
    then memory, then the database (after a restart)."""
    services = ctx.services
    remembered = services.registers.pop(transaction)
    in_docs = latest(docs, ENERGY_REGISTER)
    if in_docs is not None:
        return in_docs[1]
    if remembered is not None:
        return remembered
    return await services.meter_values.last_energy_register(transaction)


def latest(docs: list[dict[str, Any]], measurand: str) -> tuple[datetime, float] | None:
    """The newest whole-meter value of ``measurand`` among ``docs``."""
    best = None
    for doc in docs:
        meta = doc["meta"]
        if meta["measurand"] == measurand and meta["phase"] is None and doc["value"] is not None:
            if best is None or doc["ts"] >= best[0]:
                best = (doc["ts"], doc["value"])
    return best


async def meter_values(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Queue every sampled value, keep the payload on the charger, publish the readings."""
    services = ctx.services
    connector = payload["connectorId"]
    transaction = payload.get("transactionId")
    docs = sample_documents(payload["meterValue"], ctx.charger_id, connector, transaction)
    services.meter_values.add(docs)
    energy = latest(docs, ENERGY_REGISTER)
    if transaction is not None and energy is not None:
        services.registers.note(transaction, *energy)
    services.chargers.touch(
        ctx.charger_id,
        {"last_meter_values": {**payload, "received": ctx.now}, "last_seen": ctx.now},
    )
    if transaction is not None:
        await _check_transaction(ctx, transaction)
    await services.meter_values.writer.backpressure()
    power = latest(docs, POWER)
    services.bus.publish(
        "meter",
        ctx.charger_id,
        connector=connector,
        transaction=transaction,
        energy_wh=energy[1] if energy else None,
        power_w=power[1] if power else None,
    )
    return {}


async def _check_transaction(ctx: CallContext, transaction: int) -> None:
    """Record an anomaly once per connection for values of a transaction we do not know."""
    seen = ctx.state.transactions_seen
    if transaction in seen:
        return
    doc = await ctx.services.transactions.get(transaction)
    known = doc is not None and doc.get("charger") == ctx.charger_id
    seen[transaction] = known
    if not known:
        await ctx.services.anomalies.record(
            ctx.charger_id, "meter_values_unknown_transaction", ctx.now, transaction=transaction
        )
