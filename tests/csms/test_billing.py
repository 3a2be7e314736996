"""Sessions priced end to end (csms.billing): a raw charger's frames, the stored cost.

Every amount is worked out by hand beside the assertion."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from csms.tariffs import check_terms
from tests.csms.charger_helpers import booted_charger, reading, start, stop

NOW = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def charger(ws_url):
    return booted_charger(ws_url)


async def tariff(services, tariff_id, **fields):
    terms = check_terms({"currency": "EUR", **fields})
    latest = await services.tariffs.latest(tariff_id)
    return await services.tariffs.store(tariff_id, terms, NOW, latest["version"] if latest else 0)


def status(value, ts, connector=1):
    return {"connectorId": connector, "errorCode": "NoError", "status": value, "timestamp": ts}


def cost(currency="EUR", tariff="T1", version=1, tax_included=True, **amounts):
    base = dict.fromkeys(("energy", "time", "idle", "fee", "adjustment", "tax", "total"), "0.00")
    return {"currency": currency, **base, **amounts, "tax_included": tax_included,
            "tariff": tariff, "version": version}  # fmt: skip


@pytest.mark.gen_test
async def test_the_charger_tariff_prices_the_stop(charger, services, db):
    await tariff(services, "T1", energy_per_kwh="0.35", session_fee="1.00", tax_percent="19")
    await db.chargers.insert_one({"_id": "CP1", "tariff": "T1"})
    async with charger() as cp:
        tx = (await cp.call("a", "StartTransaction", start(meter=1000)))[2]["transactionId"]
        stored = await db.transactions.find_one({"_id": tx})
        terms = (await services.tariffs.current("T1"))["terms"]
        assert stored["tariff"] == {"id": "T1", "version": 1, "source": "charger",
                                    "timezone": "UTC", "terms": terms}  # fmt: skip
        assert await cp.call("b", "StopTransaction", stop(tx, 13345)) == [3, "b", {}]
    # 12.345 kWh x 0.35 = 4.32075 -> 4.32; + 1.00 = 5.32 with VAT inside:
    # 5.32 x 19 / 119 = 0.8494 -> 0.85
    doc = await db.transactions.find_one({"_id": tx})
    assert doc["cost"] == cost(energy="4.32", fee="1.00", tax="0.85", total="5.32")


@pytest.mark.gen_test
async def test_a_tag_tariff_wins_over_the_chargers(charger, services, db):
    await tariff(services, "T1", energy_per_kwh="0.35")
    await tariff(services, "FLEET", energy_per_kwh="0.20", tax_percent="19", tax_included=False)
    await db.chargers.insert_one({"_id": "CP1", "tariff": "T1"})
    await services.rfid.upsert("TAG1", tariff="FLEET")
    async with charger() as cp:
        tx = (await cp.call("a", "StartTransaction", start(meter=0)))[2]["transactionId"]
        await cp.call("b", "StopTransaction", stop(tx, 10000))
    # 10 kWh x 0.20 = 2.00; 19 % added: 0.38; total 2.38
    doc = await db.transactions.find_one({"_id": tx})
    assert doc["tariff"]["source"] == "tag"
    assert doc["cost"] == cost(energy="2.00", tax="0.38", total="2.38", tariff="FLEET",
                               tax_included=False)  # fmt: skip


@pytest.mark.gen_test
async def test_an_edit_during_the_session_does_not_change_its_price(charger, services, db):
    await tariff(services, "T1", energy_per_kwh="0.35")
    await db.chargers.insert_one({"_id": "CP1", "tariff": "T1"})
    async with charger() as cp:
        tx = (await cp.call("a", "StartTransaction", start(meter=0)))[2]["transactionId"]
        await tariff(services, "T1", energy_per_kwh="0.99")  # version 2
        await cp.call("b", "StopTransaction", stop(tx, 10000))
        # 10 kWh x 0.35 = 3.50 under version 1
        assert (await db.transactions.find_one({"_id": tx}))["cost"] == cost(
            energy="3.50", total="3.50"
        )
        # the next session gets version 2: 1 kWh x 0.99
        tx2 = await cp.call("c", "StartTransaction", start(ts="2026-01-01T12:00:00Z", meter=0))
        tx2 = tx2[2]["transactionId"]
        await cp.call("d", "StopTransaction", stop(tx2, 1000, ts="2026-01-01T13:00:00Z"))
    assert (await db.transactions.find_one({"_id": tx2}))["cost"] == cost(
        energy="0.99", total="0.99", version=2
    )


@pytest.mark.gen_test
async def test_the_site_chain_gives_tariff_and_time_zone(charger, services, db):
    # Tuesday 2026-12-01, 18:00-20:00 UTC = 19:00-21:00 in Berlin; 0.45 until 20:00 local
    await tariff(services, "SITE", energy_per_kwh="0.35", periods=[
        {"days": [1], "from": "07:00", "to": "20:00", "energy_per_kwh": "0.45"}])  # fmt: skip
    await db.sites.insert_many([
        {"_id": "garage", "parent": "city"},
        {"_id": "city", "tariff": "SITE", "timezone": "Europe/Berlin"},
    ])  # fmt: skip
    await db.chargers.insert_one({"_id": "CP1", "site": "garage"})
    async with charger() as cp:
        tx = await cp.call("a", "StartTransaction", start(ts="2026-12-01T18:00:00Z", meter=0))
        tx = tx[2]["transactionId"]
        mv = {"connectorId": 1, "transactionId": tx,
              "meterValue": [reading("2026-12-01T19:00:00Z", "4000")]}  # fmt: skip
        assert await cp.call("m", "MeterValues", mv) == [3, "m", {}]
        await cp.call("b", "StopTransaction", stop(tx, 10000, ts="2026-12-01T20:00:00Z"))
    # 4 kWh by 19:00 UTC (20:00 local) x 0.45 = 1.80; 6 kWh after x 0.35 = 2.10; 3.90
    doc = await db.transactions.find_one({"_id": tx})
    assert (doc["tariff"]["source"], doc["tariff"]["timezone"]) == ("site:city", "Europe/Berlin")
    assert doc["cost"] == cost(energy="3.90", total="3.90", tariff="SITE")


@pytest.mark.gen_test
async def test_the_charger_time_zone_wins_over_the_sites(services, db):
    from csms.billing import session_tariff

    await tariff(services, "T1")
    await db.sites.insert_one({"_id": "s", "tariff": "T1", "timezone": "Europe/Berlin"})
    found = await session_tariff(services, {"_id": "X", "site": "s", "timezone": "Asia/Tokyo"}, "T")
    assert (found["id"], found["source"], found["timezone"]) == ("T1", "site:s", "Asia/Tokyo")
    # A loop of parents ends; nothing applies: no tariff.
    await db.sites.insert_many([{"_id": "a", "parent": "b"}, {"_id": "b", "parent": "a"}])
    assert await session_tariff(services, {"_id": "X", "site": "a"}, "T") is None
    # A deleted tariff is skipped for the next one down the chain.
    await tariff(services, "GONE")
    gone = await services.tariffs.latest("GONE")
    await services.tariffs.delete("GONE", gone["version"], NOW)
    found = await session_tariff(services, {"_id": "X", "tariff": "GONE", "site": "s"}, "T")
    assert found["source"] == "site:s"


@pytest.mark.gen_test
async def test_idle_time_from_status_notifications(charger, services, db):
    await tariff(services, "T1", idle_per_hour="6.00", idle_grace_minutes=15)
    await db.chargers.insert_one({"_id": "CP1", "tariff": "T1"})
    async with charger() as cp:
        tx = (await cp.call("a", "StartTransaction", start(meter=0)))[2]["transactionId"]
        await cp.call("s1", "StatusNotification", status("Charging", "2026-01-01T10:00:00Z"))
        await cp.call("s2", "StatusNotification", status("SuspendedEV", "2026-01-01T10:20:00Z"))
        await cp.call("s3", "StatusNotification", status("Charging", "2026-01-01T10:45:00Z"))
        await cp.call("s4", "StatusNotification", status("SuspendedEVSE", "2026-01-01T10:50:00Z"))
        doc = await db.transactions.find_one({"_id": tx})
        assert doc["idle"] == [{"from": datetime(2026, 1, 1, 10, 20, tzinfo=UTC),
                                "to": datetime(2026, 1, 1, 10, 45, tzinfo=UTC)}]  # fmt: skip
        assert doc["idle_since"] == datetime(2026, 1, 1, 10, 50, tzinfo=UTC)
        await cp.call("b", "StopTransaction", stop(tx, 5000))
    # idle 25 min + 10 min (until the stop at 11:00) = 35 min; 15 min free: 20 min x 6.00/h
    assert (await db.transactions.find_one({"_id": tx}))["cost"] == cost(idle="2.00", total="2.00")


@pytest.mark.gen_test
async def test_idle_time_from_meter_values_without_power(charger, services, db):
    await tariff(services, "T1", time_per_hour="1.20", idle_per_hour="3.00")
    await db.chargers.insert_one({"_id": "CP1", "tariff": "T1"})

    def power(ts, watts):
        return {"timestamp": ts, "sampledValue": [
            {"value": watts, "measurand": "Power.Active.Import", "unit": "W"}]}  # fmt: skip

    async with charger() as cp:
        tx = (await cp.call("a", "StartTransaction", start(meter=0)))[2]["transactionId"]
        for n, (ts, watts) in enumerate([("10:10", "7000"), ("10:30", "0"), ("10:35", "0"),
                                         ("10:40", "3500")]):  # fmt: skip
            payload = {"connectorId": 1, "transactionId": tx,
                       "meterValue": [power(f"2026-01-01T{ts}:00Z", watts)]}  # fmt: skip
            assert await cp.call(f"m{n}", "MeterValues", payload) == [3, f"m{n}", {}]
        await cp.call("b", "StopTransaction", stop(tx, 5000))
    doc = await db.transactions.find_one({"_id": tx})
    assert doc["idle"] == [{"from": datetime(2026, 1, 1, 10, 30, tzinfo=UTC),
                            "to": datetime(2026, 1, 1, 10, 40, tzinfo=UTC)}]  # fmt: skip
    # charging 50 min x 1.20/h = 1.00; idle 10 min x 3.00/h = 0.50
    assert doc["cost"] == cost(time="1.00", idle="0.50", total="1.50")


@pytest.mark.gen_test
async def test_without_a_tariff_the_cost_is_null(charger, db):
    async with charger() as cp:
        tx = (await cp.call("a", "StartTransaction", start(meter=0)))[2]["transactionId"]
        await cp.call("b", "StopTransaction", stop(tx, 1000))
    doc = await db.transactions.find_one({"_id": tx})
    assert (doc["tariff"], doc["cost"]) == (None, None)


@pytest.mark.gen_test
async def test_a_resent_stop_keeps_the_first_cost(charger, services, db):
    await tariff(services, "T1", energy_per_kwh="0.50")
    await db.chargers.insert_one({"_id": "CP1", "tariff": "T1"})
    async with charger() as cp:
        tx = (await cp.call("a", "StartTransaction", start(meter=0)))[2]["transactionId"]
        await cp.call("b", "StopTransaction", stop(tx, 2000))
        await tariff(services, "T1", energy_per_kwh="9")
        await cp.call("c", "StopTransaction", stop(tx, 4000))
    assert (await db.transactions.find_one({"_id": tx}))["cost"] == cost(
        energy="1.00", total="1.00"
    )


@pytest.mark.gen_test
async def test_a_parent_tag_carries_the_fleet_tariff(services, db):
    from csms.billing import session_tariff

    await tariff(services, "T1")
    await tariff(services, "FLEET")
    await services.rfid.upsert("FLEET-GROUP", tariff="FLEET")
    await services.rfid.upsert("CARD7", parent_id_tag="FLEET-GROUP")
    found = await session_tariff(services, {"_id": "X", "tariff": "T1"}, "CARD7")
    assert (found["id"], found["source"]) == ("FLEET", "parent_tag")
    # The card's own tariff wins over its group's.
    await services.rfid.upsert("CARD7", parent_id_tag="FLEET-GROUP", tariff="T1")
    found = await session_tariff(services, {"_id": "X"}, "CARD7")
    assert (found["id"], found["source"]) == ("T1", "tag")
