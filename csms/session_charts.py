"""What the session pages show: chart series from meter-value rows, and the figures of
a session (energy so far, duration, power now, cost, its commands and anomalies).

Rows are those of ``MeterValueRepo.search`` (one per sampled value: ``ts``, ``meta``
with measurand, phase and unit, numeric ``value``). A chart is one measurand with one
series per phase (``total`` for a whole-meter value); points are ``[epoch ms, value]``
in the chart's unit, oldest first. A reading that is not a number, or excluded from
energy (out of its time window), is left out of the charts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from csms import billing
from csms.metering import latest, sample_documents
from ocppj.measurands import CURRENT, ENERGY_REGISTER, POWER, SOC, VOLTAGE

if TYPE_CHECKING:
    from csms.services import Services

# The newest readings a session page charts (a session sampling four measurands on three
# phases every 10 s makes ~4,000 an hour; the embedded database reads ~1,700 a second).
MAX_READINGS = 3000
MAX_COMMANDS = 100
TOTAL = "total"
REGISTER_LABEL = "Energy register"


@dataclass(frozen=True, slots=True)
class ChartSpec:
    """One chart: the measurand it draws, its title, unit and the factor from the
    stored unit (W, Wh, A, V, %) to the unit shown."""

    key: str
    measurand: str
    label: str
    unit: str
    scale: float = 1.0
    decimals: int = 1


CHARTS = (
    ChartSpec("power", POWER, "Power", "kW", 0.001, 1),
    ChartSpec("energy", ENERGY_REGISTER, "Energy delivered", "kWh", 0.001, 2),
    ChartSpec("current", CURRENT, "Current", "A"),
    ChartSpec("voltage", VOLTAGE, "Voltage", "V"),
    ChartSpec("soc", SOC, "State of charge", "%", 1.0, 0),
)


def _ms(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


def chart_series(rows: list[dict[str, Any]], energy_offset_wh: float | None = None) -> list[dict]:
    """The charts of ``rows`` that have points, in ``CHARTS`` order: ``{key, label,
    unit, decimals, points (total count), series: [{name, points: [[ms, value]]}]}``.
    Energy is shown as delivered since ``energy_offset_wh`` (a session's meter start),
    or as the register itself without one (readings of several sessions)."""
    by_key: dict[str, dict[str, list[list[float]]]] = {}
    specs = {spec.measurand: spec for spec in CHARTS}
    for row in rows:
        meta = row.get("meta") or {}
        spec = specs.get(meta.get("measurand"))
        value = row.get("value")
        if spec is None or value is None or "excluded" in row or row.get("ts") is None:
            continue
        if spec.key == "energy" and energy_offset_wh is not None:
            value -= energy_offset_wh
        series = by_key.setdefault(spec.key, {}).setdefault(meta.get("phase") or TOTAL, [])
        series.append([_ms(row["ts"]), round(value * spec.scale, 6)])
    charts = []
    for spec in CHARTS:
        named = by_key.get(spec.key)
        if not named:
            continue
        series = []
        for name in sorted(named, key=lambda n: (n != TOTAL, n)):
            points = sorted(named[name])
            series.append({"name": name, "points": points})
        label = spec.label
        if spec.key == "energy" and energy_offset_wh is None:
            label = REGISTER_LABEL
        charts.append({
            "key": spec.key, "label": label, "unit": spec.unit,
            "decimals": spec.decimals, "points": sum(len(s["points"]) for s in series),
            "series": series,
        })  # fmt: skip
    return charts


def latest_power_w(rows: list[dict[str, Any]]) -> float | None:
    """The newest whole-meter power (W) among ``rows`` (newest first), else the sum of
    the phases of the newest per-phase reading; None without one."""
    usable = [
        row for row in rows
        if (row.get("meta") or {}).get("measurand") == POWER
        and row.get("value") is not None and "excluded" not in row
    ]  # fmt: skip
    if not usable:
        return None
    newest = max(row["ts"] for row in usable)
    at_newest = [row for row in usable if row["ts"] == newest]
    whole = [row for row in at_newest if row["meta"].get("phase") is None]
    if whole:
        return float(whole[0]["value"])
    return float(sum(row["value"] for row in at_newest))


def register_wh(rows: list[dict[str, Any]]) -> float | None:
    """The newest usable whole-meter energy register (Wh) among ``rows``, or None."""
    newest = latest(rows, ENERGY_REGISTER)
    return None if newest is None else newest[1]


async def session_readings(services: Services, tx: dict[str, Any]) -> list[dict[str, Any]]:
    """The newest ``MAX_READINGS`` sampled values of a session (its own charger's),
    newest first; the batch buffer is flushed first so the latest count."""
    await services.meter_values.flush()
    rows, _ = await services.meter_values.search(
        charger=tx.get("charger"), transaction=tx["_id"], limit=MAX_READINGS
    )
    return rows


def figures(
    services: Services, tx: dict[str, Any], rows: list[dict[str, Any]], now: datetime,
    *, all_rows: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """Energy so far (Wh), duration (s) and power now (W) of a session. An open one's
    come from ``rows`` (its newest readings) and the registers remembered in memory
    (without a register: energy 0 when ``rows`` are all its readings, else unknown,
    None); a closed one's from its stored energy and stop."""
    start = tx.get("start_ts")
    if tx.get("open"):
        remembered = services.registers.last(tx["charger"], tx["_id"])
        wh = remembered[1] if remembered is not None else register_wh(rows)
        meter_start = tx.get("meter_start") or 0
        energy: float | None = None
        if wh is not None or all_rows:
            energy = max(0.0, (meter_start if wh is None else wh) - meter_start)
        power, end = latest_power_w(rows), now
    else:
        energy, power, end = tx.get("energy_wh"), None, tx.get("stop_ts")
    duration = None
    if start is not None and end is not None:
        duration = max(0.0, (end - start).total_seconds())
    return {"energy_wh": energy, "duration_s": duration, "power_w": power}


def last_readings(charger: dict[str, Any] | None, tx: dict[str, Any]) -> list[dict[str, Any]]:
    """The sampled values of the charger's last MeterValues (kept on its document) when
    they were about ``tx``; else none."""
    payload = (charger or {}).get("last_meter_values") or {}
    if payload.get("transactionId") != tx["_id"] or not payload.get("meterValue"):
        return []
    try:
        return sample_documents(
            payload["meterValue"], tx["charger"], payload.get("connectorId"), tx["_id"]
        )
    except (KeyError, TypeError, ValueError):  # stored before validation got stricter
        return []


async def with_live_figures(
    services: Services, sessions: list[dict[str, Any]], now: datetime
) -> list[dict[str, Any]]:
    """``sessions`` (a page of them) each with ``live``: ``figures`` for the open ones
    (from the last MeterValues their chargers sent: one query for the page), None for
    the others."""
    open_ids = [tx["charger"] for tx in sessions if tx.get("open") and tx.get("charger")]
    chargers = {}
    if open_ids:
        chargers = await services.chargers.get_many(open_ids, ("last_meter_values",))
    listed = []
    for tx in sessions:
        live = None
        if tx.get("open") and tx.get("charger"):
            rows = last_readings(chargers.get(tx["charger"]), tx)
            live = figures(services, tx, rows, now, all_rows=False)
        listed.append({**tx, "live": live})
    return listed


async def session_detail(services: Services, tx: dict[str, Any], now: datetime) -> dict:
    """Everything a session page shows besides the transaction itself: ``figures``,
    ``cost`` (stored, or running while open), ``charts``, ``readings`` (how many were
    charted, ``truncated`` when there were more), ``commands`` sent to its charger while
    it ran, and its ``anomalies``. The readings are read once."""
    rows = await session_readings(services, tx)
    shown = figures(services, tx, rows, now)
    cost = tx.get("cost")
    if tx.get("open") and tx.get("start_ts") is not None:
        end = max(now, tx["start_ts"])
        cost = await billing.cost_of(services, tx, end, shown["energy_wh"])
    start = tx.get("start_ts")
    commands: list[dict[str, Any]] = []
    if start is not None and tx.get("charger"):
        end = now if tx.get("open") else (tx.get("stop_ts") or now)
        commands = await services.commands.during(tx["charger"], start, end, MAX_COMMANDS)
    return {
        "figures": shown,
        "cost": cost,
        "cost_text": billing.cost_text(cost),
        "charts": chart_series(rows, float(tx.get("meter_start") or 0)),
        "readings": len(rows),
        "truncated": len(rows) >= MAX_READINGS,
        "commands": commands,
        "anomalies": list(tx.get("anomalies") or []),
    }


def duration_text(seconds: float | None) -> str:
    """``1 h 05 min``, ``12 min 30 s`` or ``45 s``; empty when unknown."""
    if seconds is None:
        return ""
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"
