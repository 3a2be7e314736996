"""The cost of sessions: which tariff a session is billed with, what it used, its price.

When a session starts, the tariff in force is copied onto the transaction
(``tariff: {id, version, terms, source, timezone}``): the tag's tariff (a fleet
contract) wins, else its parent tag's, else the charger's own, else its site's, else
the parent site's, and so on. The time zone of the periods is the charger's
``timezone``, else the nearest site's, else UTC. While it runs, the transaction
records its idle intervals as the charger reports them (``idle``: closed ``{from,
to}`` intervals, ``idle_since``: an open one), with the frames' own times. A connector
is idle from a StatusNotification SuspendedEV, SuspendedEVSE or Finishing, or a meter
value of power below ``IDLE_POWER_W``, until a later status or power says otherwise.
The price is computed by ``csms.tariffs.price`` from the stored transaction and its
energy readings, the same way for the running cost and for the ``cost`` stored with
the stop.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from csms.context import CallContext
from csms.tariffs import (
    Usage,
    describe,
    describe_periods,
    describe_rates,
    describe_session_terms,
    money_text,
    price,
)

if TYPE_CHECKING:
    from csms.services import Services

IDLE_STATUSES = frozenset({"SuspendedEV", "SuspendedEVSE", "Finishing"})
IDLE_POWER_W = 1.0
MAX_READINGS = 5000


async def session_tariff(
    services: Services, charger: dict[str, Any], id_tag_key: str
) -> dict[str, Any] | None:
    """The copy of the tariff a session starting now is billed with, or None (no tariff
    applies: the session is not priced)."""
    tag = await services.rfid.get(id_tag_key) if id_tag_key else None
    candidates = [("tag", (tag or {}).get("tariff"))]
    parent_id = (tag or {}).get("parent_id_tag")
    if not candidates[0][1] and parent_id:
        # A fleet's contract may sit on the group (parent) tag its cards share.
        parent = await services.rfid.get(parent_id)
        candidates.append(("parent_tag", (parent or {}).get("tariff")))
    candidates.append(("charger", charger.get("tariff")))
    chain = await services.sites.chain(charger.get("site"))
    candidates += [(f"site:{site['_id']}", site.get("tariff")) for site in chain]
    timezone = charger.get("timezone") or next(
        (site["timezone"] for site in chain if site.get("timezone")), "UTC"
    )
    for source, tariff_id in candidates:
        if not isinstance(tariff_id, str):
            continue
        doc = await services.tariffs.current(tariff_id)
        if doc is not None:
            return {
                "id": doc["tariff"],
                "version": doc["version"],
                "terms": doc["terms"],
                "source": source,
                "timezone": timezone,
            }
    return None


def idle_intervals(tx: dict[str, Any], end: datetime) -> list[tuple[datetime, datetime]]:
    """The idle intervals of a transaction, an open one running until ``end``."""
    intervals = [(span["from"], span["to"]) for span in tx.get("idle") or []]
    if tx.get("idle_since") is not None:
        intervals.append((tx["idle_since"], end))
    return intervals


async def readings(services: Services, tx: dict[str, Any]) -> list[tuple[datetime, Decimal]]:
    """The session's energy curve: (time, Wh since the start) of its usable whole-meter
    register readings (only needed when the rates change during the day)."""
    await services.meter_values.flush()  # readings still in the batch buffer count too
    start = Decimal(str(tx.get("meter_start") or 0))
    series = await services.meter_values.series(
        tx["_id"], "energy_wh", charger=tx.get("charger"), limit=MAX_READINGS
    )
    return [(ts, Decimal(str(wh)) - start) for ts, wh in series]


async def cost_of(
    services: Services, tx: dict[str, Any], end: datetime, energy_wh: float | None
) -> dict[str, Any] | None:
    """The cost document of ``tx`` up to ``end`` with ``energy_wh`` delivered: the
    amounts as decimal strings with the tariff id and version; None without a tariff
    or an energy figure."""
    tariff = tx.get("tariff")
    if not tariff or energy_wh is None or tx.get("start_ts") is None:
        return None
    terms = tariff["terms"]
    curve: list[tuple[datetime, Decimal]] = []
    if terms.get("periods") and any("energy_per_kwh" in p for p in terms["periods"]):
        curve = await readings(services, tx)
    usage = Usage(
        start=tx["start_ts"],
        end=end,
        energy_wh=Decimal(str(energy_wh)),
        readings=tuple(curve),
        idle=tuple(idle_intervals(tx, end)),
        timezone=tariff.get("timezone") or "UTC",
    )
    cost = price(terms, usage).as_document()
    return {**cost, "tariff": tariff["id"], "version": tariff["version"]}


async def stop_cost(
    services: Services, tx: dict[str, Any], fields: dict[str, Any]
) -> dict[str, Any] | None:
    """The cost stored with a stop (``fields``: the stop's fields); the session's
    transactionData readings are stored before this is called."""
    end = fields.get("stop_ts") or fields.get("updated")
    if end is None or tx.get("start_ts") is None:
        return None
    return await cost_of(services, tx, max(end, tx["start_ts"]), fields.get("energy_wh"))


async def running_cost(
    services: Services, tx: dict[str, Any], now: datetime
) -> dict[str, Any] | None:
    """The cost so far of an open session: its energy by the newest register reading."""
    if not tx.get("tariff") or tx.get("start_ts") is None:
        return None
    energy = await energy_so_far(services, tx)
    return await cost_of(services, tx, max(now, tx["start_ts"]), energy)


async def energy_so_far(services: Services, tx: dict[str, Any]) -> float:
    """Wh an open session has delivered by its newest energy register reading (0 before
    the first one)."""
    register = services.registers.last(tx["charger"], tx["_id"])
    wh = register[1] if register is not None else None
    if wh is None:
        wh = await services.meter_values.last_energy_register(tx["charger"], tx["_id"])
    return max(0.0, (wh if wh is not None else tx["meter_start"]) - tx["meter_start"])


async def note_status(
    ctx: CallContext, connector: int, status: str, previous: str | None, ts: datetime
) -> None:
    """A StatusNotification: the open session on ``connector`` becomes idle or stops
    being idle. Only a status that enters or leaves the idle ones is looked at."""
    idle = status in IDLE_STATUSES
    if not idle and previous not in IDLE_STATUSES:
        return
    tx = await ctx.services.transactions.open_on_connector(ctx.charger_id, connector)
    if tx is not None:
        await _set_idle(ctx, tx, idle, ts)


def note_started(ctx: CallContext, tx: dict[str, Any]) -> None:
    """A session this connection started (or resent): its idle state is in its document
    (``idle_since``), so the meter values after it need not read it back (``note_power``)."""
    if tx.get("open"):
        ctx.state.idle.setdefault(tx["_id"], tx.get("idle_since") is not None)


async def note_power(ctx: CallContext, transaction: int, power_w: float, ts: datetime) -> None:
    """A meter value of the sender's own session: no power is idle, power is not."""
    idle = power_w < IDLE_POWER_W
    if ctx.state.idle.get(transaction) == idle:
        return
    tx = await ctx.services.transactions.get(transaction)
    if tx is not None and tx.get("open"):
        await _set_idle(ctx, tx, idle, ts)


async def _set_idle(ctx: CallContext, tx: dict[str, Any], idle: bool, ts: datetime) -> None:
    since = tx.get("idle_since")
    repo = ctx.services.transactions
    if idle and since is None:
        await repo.idle_start(tx["_id"], max(ts, tx["start_ts"]))
    elif not idle and since is not None:
        await repo.idle_end(tx["_id"], since, max(ts, since))
    ctx.state.idle[tx["_id"]] = idle


async def price_view(
    services: Services, charger: dict[str, Any], now: datetime
) -> dict[str, Any] | None:
    """What a driver is told before plugging in: the charger's price now in words (a
    tag's own tariff may differ), the time-of-use periods and their time zone."""
    tariff = await session_tariff(services, charger, "")
    if tariff is None:
        return None
    terms = tariff["terms"]
    return {
        "tariff": tariff["id"],
        "version": tariff["version"],
        "currency": terms["currency"],
        "in_words": describe(terms, now, tariff["timezone"]),
        "base_in_words": describe_rates(terms),
        # The fee, the bounds and VAT hold in every period (said once, not per period).
        "session_terms": describe_session_terms(terms),
        "periods": describe_periods(terms),
        "timezone": tariff["timezone"],
    }


def cost_text(cost: dict[str, Any] | None) -> str:
    """A stored or running cost as ``5.32 EUR`` (empty without one)."""
    if not cost:
        return ""
    return f"{money_text(cost['total'], cost['currency'])} {cost['currency']}"
