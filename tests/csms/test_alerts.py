"""Alert rules driven by real (raw-frame) chargers: each rule opens one alert per charger,
keeps it open while the condition holds and closes it when it clears.

The time-based rules are evaluated by calling the sweep with a chosen ``now`` (the
server's own loop runs it every ``interval`` seconds, here an hour, so it never races
the test)."""

from __future__ import annotations

import asyncio
import inspect
from datetime import timedelta

import pytest

from csms.alert_rules import AlertSettings
from csms.services import CsmsSettings
from ocppj.timeutil import format_datetime, utcnow
from tests.charge_points import raw_charger
from tests.csms.charger_helpers import booted_charger, reading, start, stop


@pytest.fixture
def settings():
    """No automatic sweep during a test; quick delivery retries."""
    alerts = AlertSettings(interval=3600, backoff_initial=0.05, backoff_max=0.2)
    return CsmsSettings(heartbeat_interval=120, flush_interval=0.02, alerts=alerts)


@pytest.fixture
def charger(ws_url):
    """Factory: a booted raw charger as an async context manager."""
    return booted_charger(ws_url)


async def eventually(check, timeout: float = 5.0):
    """Wait until ``check()`` (a function or coroutine function) returns something true;
    return it."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


async def alerts_of(db, rule, charger="CP1"):
    return await db.alerts.find({"rule": rule, "charger": charger}).sort("opened", 1).to_list()


def status(connector, state, error="NoError", **extra):
    return {"connectorId": connector, "status": state, "errorCode": error,
            "timestamp": format_datetime(utcnow()), **extra}  # fmt: skip


@pytest.mark.gen_test
async def test_faulted_connector_opens_one_alert_with_its_error_and_closes_when_available(
    charger, db
):
    async with charger() as cp:
        faulted = status(1, "Faulted", "GroundFailure", info="RCD tripped", vendorId="Acme",
                         vendorErrorCode="E42")  # fmt: skip
        assert await cp.call("f1", "StatusNotification", faulted) == [3, "f1", {}]
        assert await cp.call("f2", "StatusNotification", {**faulted}) == [3, "f2", {}]
        [alert] = await alerts_of(db, "connector_faulted")
        assert alert["open"] is True
        assert alert["detail"] == {"connectors": [1], "connector": 1, "error_code": "GroundFailure",
                                   "info": "RCD tripped", "vendor_id": "Acme",
                                   "vendor_error_code": "E42"}  # fmt: skip
        assert await cp.call("a", "StatusNotification", status(1, "Available")) == [3, "a", {}]
        [alert] = await alerts_of(db, "connector_faulted")
        assert alert["open"] is False and alert["closed"] is not None


@pytest.mark.gen_test
async def test_flapping_charger_makes_one_offline_alert_not_ten(ws_url, services, db):
    await services.alerts.set_rule(
        "charger_offline", {"minutes": 0.0001, "clear_minutes": 1}
    )  # offline for 6 ms is enough; back online for a minute clears it

    async def offline():
        doc = await services.chargers.get("CP1")
        return doc is not None and doc.get("connected") is False and doc.get("last_seen")

    for _ in range(10):
        async with raw_charger(ws_url("/CP1/")) as cp:
            assert (await cp.boot())[0] == 3
        await eventually(offline)
        await asyncio.sleep(0.01)  # past the 6 ms threshold
        await services.alerts.sweep()
    [alert] = await alerts_of(db, "charger_offline")
    assert alert["open"] is True
    async with raw_charger(ws_url("/CP1/")) as cp:
        assert (await cp.boot())[0] == 3
        await services.alerts.sweep()  # online, but not yet for clear_minutes
        assert (await alerts_of(db, "charger_offline"))[0]["open"] is True
        await services.alerts.sweep(utcnow() + timedelta(minutes=1, seconds=1))
        [alert] = await alerts_of(db, "charger_offline")
        assert alert["open"] is False


@pytest.mark.gen_test
async def test_charging_without_energy(charger, services, db):
    await services.alerts.set_rule("no_energy", {"minutes": 15})
    now = utcnow()
    async with charger() as cp:
        reply = await cp.call("s", "StartTransaction", start(ts=format_datetime(now)))
        tx = reply[2]["transactionId"]
        await cp.call("c", "StatusNotification", status(1, "Charging"))
        values = {"connectorId": 1, "transactionId": tx,
                  "meterValue": [reading(format_datetime(now), "1000")]}  # fmt: skip
        assert await cp.call("m1", "MeterValues", values) == [3, "m1", {}]
        await services.flush()
        await services.alerts.sweep(now)
        await services.alerts.sweep(now + timedelta(minutes=14))
        assert await alerts_of(db, "no_energy") == []
        await services.alerts.sweep(now + timedelta(minutes=15))
        [alert] = await alerts_of(db, "no_energy")
        assert alert["open"] is True
        assert alert["detail"]["transaction"] == tx and alert["detail"]["register_wh"] == 1000
        later = format_datetime(now + timedelta(minutes=16))
        values["meterValue"] = [reading(later, "1500")]
        assert await cp.call("m2", "MeterValues", values) == [3, "m2", {}]
        await services.alerts.sweep(now + timedelta(minutes=16))
        [alert] = await alerts_of(db, "no_energy")
        assert alert["open"] is False


@pytest.mark.gen_test
async def test_long_open_transaction_is_flagged_stale_and_alerted(charger, services, db):
    begun = utcnow() - timedelta(hours=25)
    async with charger() as cp:
        reply = await cp.call("s", "StartTransaction", start(ts=format_datetime(begun)))
        tx = reply[2]["transactionId"]
        await services.alerts.sweep()
        [alert] = await alerts_of(db, "long_transaction")
        assert alert["detail"]["stale"] is True
        [entry] = alert["detail"]["transactions"]
        assert (entry["transaction"], entry["stale"], entry["last_meter_value"]) == (tx, True, None)
        doc = await db.transactions.find_one({"_id": tx})
        assert doc["open"] is True and doc["stale"] is True  # closing is the operator's call
        assert [a["kind"] for a in doc["anomalies"]] == ["stale"]
        await services.alerts.sweep()  # again: nothing new
        assert len(await alerts_of(db, "long_transaction")) == 1
        assert len((await db.transactions.find_one({"_id": tx}))["anomalies"]) == 1
        assert await cp.call("e", "StopTransaction", stop(tx, 2000)) == [3, "e", {}]
        await services.alerts.sweep()
        [alert] = await alerts_of(db, "long_transaction")
        assert alert["open"] is False


@pytest.mark.gen_test
async def test_reboot_loop(charger, services, db):
    await services.alerts.set_rule("reboot_loop", {"boots": 2, "window_minutes": 60})
    boot = {"chargePointVendor": "V", "chargePointModel": "M"}
    async with charger() as cp:  # the first boot
        assert (await cp.call("b2", "BootNotification", boot))[0] == 3
        assert await alerts_of(db, "reboot_loop") == []
        assert (await cp.call("b3", "BootNotification", boot))[0] == 3
        [alert] = await alerts_of(db, "reboot_loop")
        assert alert["detail"] == {"boots": 3, "window_minutes": 60}
        assert (await cp.call("b4", "BootNotification", boot))[0] == 3
        assert len(await alerts_of(db, "reboot_loop")) == 1  # still the one alert
    await services.alerts.sweep(utcnow() + timedelta(minutes=61))
    [alert] = await alerts_of(db, "reboot_loop")
    assert alert["open"] is False


@pytest.mark.gen_test
async def test_clock_off_by_more_than_the_limit(charger, services, db):
    async with charger() as cp:
        ahead = {**status(1, "Available"),
                 "timestamp": format_datetime(utcnow() + timedelta(minutes=10))}  # fmt: skip
        assert await cp.call("t1", "StatusNotification", ahead) == [3, "t1", {}]
        [alert] = await alerts_of(db, "clock_skew")
        assert alert["open"] is True and 590 < alert["detail"]["skew_seconds"] <= 600
        assert await cp.call("t2", "StatusNotification", status(1, "Available")) == [3, "t2", {}]
        [alert] = await alerts_of(db, "clock_skew")
        assert alert["open"] is False


@pytest.mark.gen_test
async def test_repeated_security_events(charger, services, db):
    await services.alerts.set_rule("security_events", {"count": 3})
    event = {"type": "InvalidCentralSystemCertificate", "timestamp": format_datetime(utcnow())}
    async with charger() as cp:
        for n in range(3):
            assert await cp.call(f"e{n}", "SecurityEventNotification", event) == [3, f"e{n}", {}]
            await services.alerts.sweep()
            assert len(await alerts_of(db, "security_events")) == (1 if n == 2 else 0)
    [alert] = await alerts_of(db, "security_events")
    assert alert["detail"] == {"events": 3, "types": ["InvalidCentralSystemCertificate"]}
    await services.alerts.sweep(utcnow() + timedelta(minutes=61))
    assert (await alerts_of(db, "security_events"))[0]["open"] is False


@pytest.mark.gen_test
async def test_energy_anomalies_of_transactions(charger, services, db):
    async with charger() as cp:
        tx = (await cp.call("s", "StartTransaction", start(meter=5000)))[2]["transactionId"]
        assert await cp.call("e", "StopTransaction", stop(tx, 4000)) == [3, "e", {}]
    await services.alerts.sweep()
    [alert] = await alerts_of(db, "energy_anomalies")
    assert alert["detail"] == {"anomalies": 1, "kinds": ["meter_backwards"], "transactions": [tx]}
    await services.alerts.sweep(utcnow() + timedelta(minutes=61))
    assert (await alerts_of(db, "energy_anomalies"))[0]["open"] is False


@pytest.mark.gen_test
async def test_a_rule_switched_off_opens_nothing_and_closes_its_alerts(charger, services, db):
    async with charger() as cp:
        await cp.call("f", "StatusNotification", status(1, "Faulted", "OtherError"))
        assert (await alerts_of(db, "connector_faulted"))[0]["open"] is True
        await services.alerts.set_rule("connector_faulted", {"enabled": False})
        assert (await alerts_of(db, "connector_faulted"))[0]["open"] is False
        await cp.call("f2", "StatusNotification", status(2, "Faulted", "OtherError"))
        assert len(await alerts_of(db, "connector_faulted")) == 1
    assert (await db.alert_rules.find_one({"_id": "connector_faulted"}))["enabled"] is False


@pytest.mark.gen_test
async def test_one_chargers_alerts_never_touch_another(ws_url, services, db):
    async with raw_charger(ws_url("/CP1/")) as one, raw_charger(ws_url("/CP2/")) as two:
        await one.boot()
        await two.boot()
        await one.call("f", "StatusNotification", status(1, "Faulted", "OtherError"))
        await two.call("f", "StatusNotification", status(1, "Faulted", "OtherError"))
        await two.call("a", "StatusNotification", status(1, "Available"))
    assert (await alerts_of(db, "connector_faulted", "CP1"))[0]["open"] is True
    assert (await alerts_of(db, "connector_faulted", "CP2"))[0]["open"] is False


@pytest.mark.gen_test
async def test_a_certificate_near_its_end_alerts_until_a_new_one_replaces_it(services, db):
    now = utcnow()
    repo = services.certificates
    expiring = {"rule": "certificate_expiring"}
    await repo.add_issued("CERT-1", "0a", "CN=CERT-1", now - timedelta(days=350),
                          now + timedelta(days=15), "PEM-OLD", now)  # fmt: skip
    await repo.add_issued("CERT-2", "0b", "CN=CERT-2", now - timedelta(days=360),
                          now + timedelta(days=5), "PEM", now)  # fmt: skip
    await services.alerts.sweep(now)
    [alert] = await db.alerts.find(expiring).to_list()  # 15 days left is not 14
    assert (alert["charger"], alert["open"]) == ("CERT-2", True)
    assert alert["detail"]["serial"] == "0b"
    await services.alerts.sweep(now + timedelta(days=2))
    opened = {a["charger"]: a["open"] for a in await db.alerts.find(expiring).to_list()}
    assert opened == {"CERT-1": True, "CERT-2": True}
    # CERT-1 is renewed: its new certificate is current and far from its end.
    await repo.add_issued("CERT-1", "0c", "CN=CERT-1", now, now + timedelta(days=365),
                          "PEM-NEW", now)  # fmt: skip
    await services.alerts.sweep(now + timedelta(days=2))
    opened = {a["charger"]: a["open"] for a in await db.alerts.find(expiring).to_list()}
    assert opened == {"CERT-1": False, "CERT-2": True}


@pytest.mark.gen_test
async def test_reboot_loop_counts_boots_across_connections_from_the_charger_document(
    charger, services, db
):
    await services.alerts.set_rule("reboot_loop", {"boots": 1, "window_minutes": 60})
    async with charger():  # the first boot
        pass
    doc = await db.chargers.find_one({"_id": "CP1"})
    assert len(doc["recent_boots"]) == 1 and doc["recent_boots"][0] == doc["boot"]["ts"]
    assert await alerts_of(db, "reboot_loop") == []
    async with charger():  # a new connection reads the first boot from the document
        [alert] = await alerts_of(db, "reboot_loop")
        assert alert["detail"] == {"boots": 2, "window_minutes": 60}
    assert len((await db.chargers.find_one({"_id": "CP1"}))["recent_boots"]) == 2
    await services.flush()
    assert await db.charger_boots.count_documents({"charger": "CP1"}) == 2  # the history
