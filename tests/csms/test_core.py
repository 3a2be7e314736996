"""Core actions about the charger itself (csms.core): BootNotification, Heartbeat and
StatusNotification answers, and what they store and publish.

DataTransfer and late StatusNotifications are in test_session.py."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from ocppj.timeutil import parse_datetime
from tests.charge_points import raw_charger

OCPP_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
FULL_BOOT = {
    "chargePointVendor": "Acme", "chargePointModel": "X1", "chargePointSerialNumber": "CPS-1",
    "chargeBoxSerialNumber": "CBS-1", "firmwareVersion": "1.2.3", "iccid": "8931",
    "imsi": "20404", "meterType": "MT-3", "meterSerialNumber": "MS-9",
}  # fmt: skip


def drain(queue) -> list[dict]:
    """Every event queued so far."""
    return [queue.get_nowait() for _ in range(queue.qsize())]


def status(connector, state, **extra):
    return {"connectorId": connector, "errorCode": "NoError", "status": state, **extra}


@pytest.mark.gen_test
async def test_boot_is_accepted_with_the_time_and_the_heartbeat_interval(ws_url, services, db):
    queue = services.bus.subscribe()
    try:
        async with raw_charger(ws_url("/CORE1/")) as cp:
            reply = await cp.call("b", "BootNotification", FULL_BOOT)
            doc = await db.chargers.find_one({"_id": "CORE1"})
    finally:
        services.bus.unsubscribe(queue)
    assert reply[:2] == [3, "b"]
    assert reply[2]["status"] == "Accepted"
    assert reply[2]["interval"] == services.settings.heartbeat_interval == 120
    assert OCPP_TIME.fullmatch(reply[2]["currentTime"])
    now = parse_datetime(reply[2]["currentTime"])
    assert doc["boot"] == {
        "vendor": "Acme", "model": "X1", "serial": "CPS-1", "charge_box_serial": "CBS-1",
        "firmware": "1.2.3", "iccid": "8931", "imsi": "20404", "meter_type": "MT-3",
        "meter_serial": "MS-9", "ts": now,
    }  # fmt: skip
    assert doc["last_seen"] == now
    boots = [event for event in drain(queue) if event["type"] == "boot"]
    assert boots == [{"type": "boot", "charger": "CORE1", "vendor": "Acme", "model": "X1"}]


@pytest.mark.gen_test
async def test_fields_a_boot_leaves_out_are_stored_as_none(ws_url, db):
    async with raw_charger(ws_url("/CORE2/")) as cp:
        reply = await cp.boot()
    boot = (await db.chargers.find_one({"_id": "CORE2"}))["boot"]
    assert boot == {
        "vendor": "V", "model": "M", "serial": None, "charge_box_serial": None,
        "firmware": None, "iccid": None, "imsi": None, "meter_type": None, "meter_serial": None,
        "ts": parse_datetime(reply[2]["currentTime"]),
    }  # fmt: skip


@pytest.mark.gen_test
async def test_a_new_boot_replaces_the_stored_boot_information(ws_url, db):
    async with raw_charger(ws_url("/CORE3/")) as cp:
        await cp.call("b1", "BootNotification", FULL_BOOT)
        upgraded = {"chargePointVendor": "Acme", "chargePointModel": "X1", "firmwareVersion": "2.0"}
        assert (await cp.call("b2", "BootNotification", upgraded))[2]["status"] == "Accepted"
    boot = (await db.chargers.find_one({"_id": "CORE3"}))["boot"]
    assert (boot["firmware"], boot["serial"], boot["meter_serial"]) == ("2.0", None, None)


@pytest.mark.gen_test
async def test_heartbeat_answers_the_time_and_stores_it(ws_url, services, db):
    async with raw_charger(ws_url("/CORE4/")) as cp:
        await cp.boot()
        reply = await cp.call("h", "Heartbeat", {})
        await services.flush()
        doc = await db.chargers.find_one({"_id": "CORE4"})
    assert reply[:2] == [3, "h"] and list(reply[2]) == ["currentTime"]
    assert OCPP_TIME.fullmatch(reply[2]["currentTime"])
    now = parse_datetime(reply[2]["currentTime"])
    assert (doc["last_heartbeat"], doc["last_seen"]) == (now, now)


@pytest.mark.gen_test
async def test_status_notification_stores_every_field_and_publishes(ws_url, services, db):
    queue = services.bus.subscribe()
    try:
        async with raw_charger(ws_url("/CORE5/")) as cp:
            await cp.boot()
            faulted = status(
                2, "Faulted", errorCode="GroundFailure", info="relay", vendorId="com.acme",
                vendorErrorCode="E42", timestamp="2026-01-01T10:00:00.250Z",
            )  # fmt: skip
            assert await cp.call("s1", "StatusNotification", faulted) == [3, "s1", {}]
            assert await cp.call("s2", "StatusNotification", status(1, "Charging")) == [
                3, "s2", {},
            ]  # fmt: skip
            await services.flush()
            doc = await db.chargers.find_one({"_id": "CORE5"})
    finally:
        services.bus.unsubscribe(queue)
    second = doc["connectors"]["2"]
    assert isinstance(second.pop("received"), datetime)
    assert second == {
        "status": "Faulted", "error_code": "GroundFailure", "info": "relay",
        "vendor_id": "com.acme", "vendor_error_code": "E42",
        "ts": datetime(2026, 1, 1, 10, 0, 0, 250000, tzinfo=UTC),
    }  # fmt: skip
    first = doc["connectors"]["1"]
    # Without a timestamp the status is as of its arrival.
    assert first["ts"] == first["received"]
    assert (first["info"], first["vendor_id"], first["vendor_error_code"]) == (None, None, None)
    assert doc["statuses"] == ["Charging", "Faulted"]
    published = [event for event in drain(queue) if event["type"] == "status"]
    assert published == [
        {"type": "status", "charger": "CORE5", "connector": 2, "status": "Faulted",
         "error_code": "GroundFailure"},
        {"type": "status", "charger": "CORE5", "connector": 1, "status": "Charging",
         "error_code": "NoError"},
    ]  # fmt: skip


@pytest.mark.gen_test
async def test_statuses_include_the_connectors_of_the_previous_connection(ws_url, services, db):
    async with raw_charger(ws_url("/CORE6/")) as cp:
        await cp.boot()
        await cp.call("s1", "StatusNotification", status(1, "Charging"))
        await cp.call("s2", "StatusNotification", status(2, "Available"))
        await services.flush()
    async with raw_charger(ws_url("/CORE6/")) as cp:
        await cp.call("s3", "StatusNotification", status(2, "Unavailable"))
        await services.flush()
        doc = await db.chargers.find_one({"_id": "CORE6"})
    assert doc["statuses"] == ["Charging", "Unavailable"]
    assert doc["connectors"]["1"]["status"] == "Charging"
