"""A full charging session driven by the independent ``ocpp`` library."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest
from ocpp.v16 import call

from tests.charge_points import ocpp_charge_point
from tests.meter_rows import stored_rows


async def wait_for(predicate, timeout=5.0):
    """Poll an async predicate until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await predicate()
        if result or asyncio.get_running_loop().time() > deadline:
            return result
        await asyncio.sleep(0.02)


@pytest.mark.gen_test(timeout=30)
async def test_full_session_is_stored(ws_url, services, db):
    async with ocpp_charge_point(ws_url("/site/a/CP1/"), "CP1") as cp:
        boot = await cp.call(
            call.BootNotification(
                charge_point_model="Model X", charge_point_vendor="Acme", firmware_version="1.2"
            )
        )
        assert boot.status == "Accepted"
        assert boot.interval == 120
        hb = await cp.call(call.Heartbeat())
        assert hb.current_time.endswith("Z")
        await cp.call(
            call.StatusNotification(connector_id=1, error_code="NoError", status="Preparing")
        )
        auth = await cp.call(call.Authorize(id_tag="anytag"))
        assert auth.id_tag_info == {"status": "Accepted"}
        start = await cp.call(
            call.StartTransaction(
                connector_id=1, id_tag="anytag", meter_start=1000,
                timestamp="2026-11-24T10:00:00Z",
            )
        )  # fmt: skip
        assert start.transaction_id == 1
        assert start.id_tag_info == {"status": "Accepted"}
        await cp.call(
            call.StatusNotification(connector_id=1, error_code="NoError", status="Charging")
        )
        await cp.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=1,
                meter_value=[
                    {
                        "timestamp": "2026-11-24T10:05:00Z",
                        "sampledValue": [
                            {"value": "1.75", "unit": "kWh", "context": "Sample.Periodic"},
                            {"value": "7.2", "measurand": "Power.Active.Import", "unit": "kW"},
                        ],
                    }
                ],
            )
        )
        stop = await cp.call(
            call.StopTransaction(
                meter_stop=2500, timestamp="2026-11-24T10:10:00Z", transaction_id=1,
                reason="EVDisconnected", id_tag="anytag",
            )
        )  # fmt: skip
        assert stop.id_tag_info == {"status": "Accepted"}

    await services.flush()
    charger = await db.chargers.find_one({"_id": "CP1"})
    assert charger["last_path"] == "/site/a/CP1/"
    assert charger["boot"]["vendor"] == "Acme"
    assert charger["boot"]["model"] == "Model X"
    assert charger["boot"]["firmware"] == "1.2"
    assert charger["last_heartbeat"] is not None
    assert charger["connectors"]["1"]["status"] == "Charging"
    assert charger["last_meter_values"]["meterValue"][0]["sampledValue"][0]["value"] == "1.75"

    tx = await db.transactions.find_one({"_id": 1})
    assert tx["charger"] == "CP1"
    assert tx["connector"] == 1
    assert tx["id_tag"] == "anytag"
    assert tx["open"] is False
    assert tx["meter_start"] == 1000
    assert tx["meter_stop"] == 2500
    assert tx["energy_wh"] == 1500
    assert tx["last_register_wh"] == 1750.0
    assert tx["stop_reason"] == "EVDisconnected"
    assert tx["start_ts"] == datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    assert tx["anomalies"] == []

    values = sorted(await stored_rows(db), key=lambda row: row["meta"]["measurand"])
    assert values == [
        {
            "ts": datetime(2026, 11, 24, 10, 5, tzinfo=UTC),
            "meta": {
                "charger": "CP1", "connector": 1, "transaction": 1,
                "measurand": "Energy.Active.Import.Register", "phase": None, "unit": "Wh",
                "context": "Sample.Periodic", "location": "Outlet",
            },
            "value": 1750.0,
        },
        {
            "ts": datetime(2026, 11, 24, 10, 5, tzinfo=UTC),
            "meta": {
                "charger": "CP1", "connector": 1, "transaction": 1,
                "measurand": "Power.Active.Import", "phase": None, "unit": "W",
                "context": "Sample.Periodic", "location": "Outlet",
            },
            "value": 7200.0,
        },
    ]  # fmt: skip
    # One message-log exchange per CALL: the charger's frame and, as its reply, our CALLRESULT.
    logged = await db.messages.find({"charger": "CP1"}).sort([("ts", 1), ("_id", 1)]).to_list()
    actions = [
        "BootNotification", "Heartbeat", "StatusNotification", "Authorize",
        "StartTransaction", "StatusNotification", "MeterValues", "StopTransaction",
    ]  # fmt: skip
    assert [(m["direction"], m["action"]) for m in logged] == [("in", a) for a in actions]
    for m in logged:
        sent, answer = json.loads(m["frame"]), json.loads(m["reply"]["frame"])
        assert sent[:3] == [2, m["unique_id"], m["action"]]
        assert answer[:2] == [3, m["unique_id"]]
        assert m["ts"] <= m["reply"]["ts"]

    disconnected = await wait_for(lambda: _connected_is(db, "CP1", False))
    assert disconnected


async def _connected_is(db, charger_id, value):
    await asyncio.sleep(0)
    doc = await db.chargers.find_one({"_id": charger_id})
    return doc["connected"] is value
