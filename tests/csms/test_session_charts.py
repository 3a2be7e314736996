"""Chart series and figures of sessions (csms.session_charts), over the real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from csms.session_charts import (
    chart_series,
    duration_text,
    latest_power_w,
    session_detail,
    with_live_figures,
)
from models.commands import new_command

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
MS0 = int(T0.timestamp() * 1000)


def reading(seconds, measurand, value, phase=None, unit="W", charger="CP1", tx=7, **extra):
    """One sampled-value row as ``MeterValueRepo`` takes and gives them."""
    meta = {"charger": charger, "connector": 1, "transaction": tx, "measurand": measurand,
            "phase": phase, "unit": unit, "context": "Sample.Periodic",
            "location": "Outlet"}  # fmt: skip
    return {"ts": T0 + timedelta(seconds=seconds), "meta": meta, "value": value, **extra}


def test_one_chart_per_measurand_one_series_per_phase_in_the_shown_unit():
    rows = [
        reading(20, "Power.Active.Import", 7400.0),
        reading(10, "Power.Active.Import", 3700.0),
        reading(10, "Energy.Active.Import.Register", 1500.0, unit="Wh"),
        reading(20, "Energy.Active.Import.Register", 1520.5, unit="Wh"),
        reading(10, "Current.Import", 16.0, "L2", "A"),
        reading(10, "Current.Import", 15.5, "L1", "A"),
        reading(10, "Voltage", 230.1, "L1-N", "V"),
        reading(10, "SoC", 41.0, unit="Percent"),
        reading(10, "Temperature", 30.0, unit="Celsius"),  # not charted
        reading(30, "Power.Active.Import", None, raw="signed"),  # not a number
        reading(40, "Power.Active.Import", 9e9, excluded="future"),  # out of its window
    ]
    charts = chart_series(rows, energy_offset_wh=1000.0)
    assert [chart["key"] for chart in charts] == ["power", "energy", "current", "voltage", "soc"]
    power, energy, current, voltage, soc = charts
    assert power == {
        "key": "power", "label": "Power", "unit": "kW", "decimals": 1, "points": 2,
        "series": [{"name": "total", "points": [[MS0 + 10_000, 3.7], [MS0 + 20_000, 7.4]]}],
    }  # fmt: skip
    assert energy["series"] == [
        {"name": "total", "points": [[MS0 + 10_000, 0.5], [MS0 + 20_000, 0.5205]]}
    ]
    assert [s["name"] for s in current["series"]] == ["L1", "L2"]
    assert current["series"][0]["points"] == [[MS0 + 10_000, 15.5]]
    assert voltage["series"] == [{"name": "L1-N", "points": [[MS0 + 10_000, 230.1]]}]
    assert (soc["unit"], soc["points"]) == ("%", 1)
    assert chart_series([]) == []


def test_power_now_is_the_newest_whole_meter_value_else_the_phases_summed():
    rows = [
        reading(20, "Power.Active.Import", 1000.0, "L1"),
        reading(20, "Power.Active.Import", 1100.0, "L2"),
        reading(10, "Power.Active.Import", 9000.0),
    ]
    assert latest_power_w(rows) == 2100.0
    assert latest_power_w([*rows, reading(20, "Power.Active.Import", 2150.0)]) == 2150.0
    assert latest_power_w([reading(5, "Voltage", 230.0, unit="V")]) is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, ""), (0, "0 s"), (45.9, "45 s"), (750, "12 min 30 s"), (3900, "1 h 05 min")],
)
def test_duration_text(seconds, text):
    assert duration_text(seconds) == text


async def open_session(services, tx_id=7, charger="CP1"):
    doc = {"_id": tx_id, "kind": "session", "charger": charger, "connector": 1,
           "id_tag": "TAG1", "start_ts": T0, "meter_start": 1000, "open": True,
           "anomalies": [{"kind": "start_in_future", "ts": T0}]}  # fmt: skip
    await services.db.transactions.insert_one(doc)
    return await services.transactions.get(tx_id)


@pytest.mark.gen_test
async def test_detail_of_an_open_session(services):
    tx = await open_session(services)
    services.meter_values.add([
        reading(60, "Energy.Active.Import.Register", 1600.0, unit="Wh"),
        reading(60, "Power.Active.Import", 11000.0),
        reading(60, "Power.Active.Import", 99.0, charger="OTHER"),  # another charger's tx 7
    ])  # fmt: skip
    sent = [("Reset", T0 - timedelta(minutes=1)), ("GetConfiguration", T0 + timedelta(seconds=30))]
    for n, (action, ts) in enumerate(sent):
        await services.commands.insert(new_command(f"c{n}", "CP1", action, {}, ts))
    now = T0 + timedelta(minutes=5)
    detail = await session_detail(services, tx, now)
    assert detail["figures"] == {"energy_wh": 600.0, "duration_s": 300.0, "power_w": 11000.0}
    assert [chart["key"] for chart in detail["charts"]] == ["power", "energy"]
    assert detail["charts"][0]["series"][0]["points"] == [[MS0 + 60_000, 11.0]]
    assert detail["charts"][1]["series"][0]["points"] == [[MS0 + 60_000, 0.6]]
    assert (detail["readings"], detail["truncated"]) == (2, False)
    assert [command["_id"] for command in detail["commands"]] == ["c1"]
    assert detail["anomalies"] == [{"kind": "start_in_future", "ts": T0}]
    assert detail["cost"] is None and detail["cost_text"] == ""

    # The list reads the charger's last MeterValues instead (one query for a page).
    [listed] = await with_live_figures(services, [tx], now)
    assert listed["live"] == {"energy_wh": None, "duration_s": 300.0, "power_w": None}
    await services.chargers.create("CP1", {}, T0)
    last = {"connectorId": 1, "transactionId": 7, "meterValue": [{
        "timestamp": "2026-03-01T08:01:00Z", "sampledValue": [
            {"value": "1.65", "unit": "kWh"},
            {"value": "3.6", "measurand": "Power.Active.Import", "unit": "kW", "phase": "L1"},
            {"value": "3.5", "measurand": "Power.Active.Import", "unit": "kW", "phase": "L2"},
        ]}]}  # fmt: skip
    await services.chargers.update("CP1", {"last_meter_values": last})
    [listed] = await with_live_figures(services, [tx], now)
    assert listed["live"] == {"energy_wh": 650.0, "duration_s": 300.0, "power_w": 7100.0}
    services.registers.note("CP1", 7, T0 + timedelta(minutes=2), 1700.0)  # memory wins
    [listed] = await with_live_figures(services, [tx], now)
    assert listed["live"]["energy_wh"] == 700.0
    await services.chargers.update("CP1", {"last_meter_values": {**last, "transactionId": 8}})
    [listed] = await with_live_figures(services, [tx], now)
    assert listed["live"] == {"energy_wh": 700.0, "duration_s": 300.0, "power_w": None}
    closed = {**tx, "open": False, "stop_ts": T0 + timedelta(minutes=2), "energy_wh": 550.0}
    [listed] = await with_live_figures(services, [closed], now)
    assert listed["live"] is None
    detail = await session_detail(services, closed, now)
    assert detail["figures"] == {"energy_wh": 550.0, "duration_s": 120.0, "power_w": None}
    assert [command["_id"] for command in detail["commands"]] == ["c1"]
