"""Transactions and their integrity (OCPP_RULES 15-19), authorization of tags."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.charge_points import raw_charger


def start(ts="2026-01-01T10:00:00Z", meter=1000, tag="TAG1", connector=1):
    return {"connectorId": connector, "idTag": tag, "meterStart": meter, "timestamp": ts}


def stop(tx, meter, ts="2026-01-01T11:00:00Z", **extra):
    return {"transactionId": tx, "meterStop": meter, "timestamp": ts, **extra}


def reading(ts, value, unit="Wh", **extra):
    return {"timestamp": ts, "sampledValue": [{"value": value, "unit": unit, **extra}]}


@pytest.fixture
def charger(ws_url):
    """Factory: a booted raw charger as an async context manager."""

    class Booted:
        def __init__(self, path="/CP1/"):
            self.cm = raw_charger(ws_url(path))

        async def __aenter__(self):
            self.cp = await self.cm.__aenter__()
            assert (await self.cp.boot())[0] == 3
            return self.cp

        async def __aexit__(self, *exc):
            return await self.cm.__aexit__(*exc)

    return Booted


@pytest.mark.gen_test
async def test_start_is_stored_before_it_is_answered(charger, db):
    async with charger() as cp:
        reply = await cp.call("s", "StartTransaction", start())
        assert reply == [3, "s", {"transactionId": 1, "idTagInfo": {"status": "Accepted"}}]
        doc = await db.transactions.find_one({"_id": 1})  # no flush: not batched
        assert doc["open"] is True and doc["meter_start"] == 1000 and doc["kind"] == "session"


@pytest.mark.gen_test
async def test_ids_come_from_a_counter(charger, db):
    async with charger() as cp:
        ids = []
        for n in range(3):
            reply = await cp.call(f"s{n}", "StartTransaction", start(connector=n + 1))
            ids.append(reply[2]["transactionId"])
        assert ids == [1, 2, 3]
        assert (await db.counters.find_one({"_id": "transactions"}))["seq"] == 3


@pytest.mark.gen_test
async def test_resent_start_returns_the_same_id(charger, db):
    async with charger() as cp:
        first = await cp.call("a", "StartTransaction", start())
        # idTag is case-insensitive (CiString20)
        again = await cp.call("b", "StartTransaction", start(tag="tag1"))
        assert again[2] == first[2]
        assert await db.transactions.count_documents({}) == 1


@pytest.mark.gen_test
async def test_stop_computes_energy_and_stores_transaction_data(charger, services, db):
    async with charger() as cp:
        tx = (await cp.call("a", "StartTransaction", start()))[2]["transactionId"]
        data = [reading("2026-01-01T10:59:00Z", "2.4", "kWh", context="Transaction.End")]
        reply = await cp.call("b", "StopTransaction", stop(tx, 3400, transactionData=data))
        assert reply == [3, "b", {}]
    doc = await db.transactions.find_one({"_id": tx})
    assert (doc["open"], doc["energy_wh"], doc["meter_stop"]) == (False, 2400, 3400)
    assert doc["stop_reason"] == "Local"  # the spec's default when reason is omitted
    assert doc["last_register_wh"] == 2400.0
    assert doc["anomalies"] == []
    value = await db.meter_values.find_one({"meta.transaction": tx})
    assert value["value"] == 2400.0 and value["meta"]["unit"] == "Wh"
    assert value["meta"]["context"] == "Transaction.End"


@pytest.mark.gen_test
async def test_resent_stop_changes_nothing(charger, db):
    async with charger() as cp:
        tx = (await cp.call("a", "StartTransaction", start()))[2]["transactionId"]
        await cp.call("b", "StopTransaction", stop(tx, 2000))
        before = await db.transactions.find_one({"_id": tx})
        reply = await cp.call("c", "StopTransaction", stop(tx, 9999, ts="2026-01-01T12:00:00Z"))
        assert reply == [3, "c", {}]
    assert await db.transactions.find_one({"_id": tx}) == before


@pytest.mark.gen_test
async def test_stop_of_unknown_transaction_is_answered_and_recorded_once(charger, db):
    async with charger() as cp:
        for n in range(2):
            reply = await cp.call(f"x{n}", "StopTransaction", stop(777, 5000, idTag="T"))
            assert reply == [3, f"x{n}", {"idTagInfo": {"status": "Accepted"}}]
    orphans = await db.transactions.find({"kind": "orphan_stop"}).to_list()
    assert len(orphans) == 1
    assert (orphans[0]["charger_tx_id"], orphans[0]["meter_stop"]) == (777, 5000)
    assert orphans[0]["energy_wh"] is None
    anomaly = await db.anomalies.find_one({"kind": "stop_unknown_transaction"})
    assert anomaly["charger"] == "CP1" and anomaly["charger_tx_id"] == 777


@pytest.mark.gen_test
async def test_stop_from_another_charger_is_an_orphan(charger, db):
    async with charger("/A/") as cp:
        tx = (await cp.call("a", "StartTransaction", start()))[2]["transactionId"]
    async with charger("/B/") as cp:
        assert (await cp.call("b", "StopTransaction", stop(tx, 2000)))[0] == 3
    assert (await db.transactions.find_one({"_id": tx}))["open"] is True


@pytest.mark.gen_test
async def test_meter_going_backwards_is_answered_and_flagged(charger, db):
    async with charger() as cp:
        tx = (await cp.call("a", "StartTransaction", start(meter=5000)))[2]["transactionId"]
        assert (await cp.call("b", "StopTransaction", stop(tx, 4000)))[0] == 3
    doc = await db.transactions.find_one({"_id": tx})
    assert doc["energy_wh"] == 0
    assert [a["kind"] for a in doc["anomalies"]] == ["meter_backwards"]
    assert doc["anomalies"][0]["difference_wh"] == -1000


@pytest.mark.gen_test
async def test_register_above_meter_stop_is_flagged(charger, db):
    async with charger() as cp:
        tx = (await cp.call("a", "StartTransaction", start(meter=0)))[2]["transactionId"]
        mv = {"connectorId": 1, "transactionId": tx,
              "meterValue": [reading("2026-01-01T10:30:00Z", "5000")]}  # fmt: skip
        assert await cp.call("m", "MeterValues", mv) == [3, "m", {}]
        assert (await cp.call("b", "StopTransaction", stop(tx, 3000)))[0] == 3
    doc = await db.transactions.find_one({"_id": tx})
    assert doc["energy_wh"] == 3000
    assert [a["kind"] for a in doc["anomalies"]] == ["register_above_meter_stop"]
    assert doc["anomalies"][0]["register_wh"] == 5000.0


@pytest.mark.gen_test
async def test_new_start_on_busy_connector_supersedes_the_open_one(charger, db):
    async with charger() as cp:
        old = (await cp.call("a", "StartTransaction", start(meter=100)))[2]["transactionId"]
        mv = {"connectorId": 1, "transactionId": old,
              "meterValue": [reading("2026-01-01T10:30:00Z", "0.9", "kWh")]}  # fmt: skip
        await cp.call("m", "MeterValues", mv)
        new = await cp.call("b", "StartTransaction", start(ts="2026-01-01T12:00:00Z", meter=950))
        assert new[2]["transactionId"] == old + 1
    previous = await db.transactions.find_one({"_id": old})
    assert previous["open"] is False
    assert previous["energy_wh"] == 800.0  # estimated from the last register reading
    assert previous["anomalies"][0]["kind"] == "superseded_by_new_start"
    assert await db.transactions.count_documents({"open": True}) == 1


@pytest.mark.gen_test
async def test_queued_messages_keep_their_own_timestamps(charger, services, db):
    async with charger() as cp:
        tx = (await cp.call("a", "StartTransaction", start(ts="2025-06-01T08:00:00Z")))[2]
        mv = {"connectorId": 1, "transactionId": tx["transactionId"],
              "meterValue": [reading("2025-06-01T08:15:00.123456789Z", "1500")]}  # fmt: skip
        await cp.call("m", "MeterValues", mv)
    await services.flush()
    doc = await db.transactions.find_one({"_id": tx["transactionId"]})
    assert doc["start_ts"] == datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
    value = await db.meter_values.find_one({})
    assert value["ts"] == datetime(2025, 6, 1, 8, 15, 0, 123000, tzinfo=UTC)


@pytest.mark.gen_test
async def test_meter_values_units_and_signed_data(charger, services, db):
    async with charger() as cp:
        mv = {"connectorId": 2, "meterValue": [{"timestamp": "2026-01-01T10:00:00Z",
              "sampledValue": [
                  {"value": "11", "measurand": "Power.Active.Import", "unit": "kW",
                   "phase": "L1", "location": "Inlet"},
                  {"value": "16.5", "measurand": "Current.Import", "unit": "A"},
                  {"value": "ab12==", "format": "SignedData"},
              ]}]}  # fmt: skip
        assert await cp.call("m", "MeterValues", mv) == [3, "m", {}]
    await services.flush()
    docs = await db.meter_values.find({}, {"_id": 0, "ts": 0}).to_list()
    by_measurand = {(d["meta"]["measurand"], d.get("format")): d for d in docs}
    power = by_measurand[("Power.Active.Import", None)]
    assert power["value"] == 11000.0
    assert power["meta"] == {
        "charger": "CP1", "connector": 2, "transaction": None, "measurand": "Power.Active.Import",
        "phase": "L1", "unit": "W", "context": "Sample.Periodic", "location": "Inlet",
    }  # fmt: skip
    assert by_measurand[("Current.Import", None)]["value"] == 16.5
    signed = by_measurand[("Energy.Active.Import.Register", "SignedData")]
    assert (signed["value"], signed["raw"]) == (None, "ab12==")
    charger_doc = await db.chargers.find_one({"_id": "CP1"})
    assert charger_doc["last_meter_values"]["connectorId"] == 2


@pytest.mark.gen_test
async def test_meter_values_for_unknown_transaction_are_kept_and_flagged(charger, services, db):
    async with charger() as cp:
        mv = {"connectorId": 1, "transactionId": 4242,
              "meterValue": [reading("2026-01-01T10:00:00Z", "10")]}  # fmt: skip
        assert await cp.call("m1", "MeterValues", mv) == [3, "m1", {}]
        assert await cp.call("m2", "MeterValues", mv) == [3, "m2", {}]
    await services.flush()
    # Kept against the sender, not under an id nobody owns; the claimed id stays visible.
    assert await db.meter_values.count_documents({"meta.transaction": 4242}) == 0
    kept = await db.meter_values.find({"charger_tx_id": 4242}).to_list()
    assert [(d["meta"]["charger"], d["meta"]["transaction"]) for d in kept] == [("CP1", None)] * 2
    assert await db.anomalies.count_documents({"kind": "meter_values_unknown_transaction"}) == 1


async def require_rfid(db, charger_id="CP1"):
    await db.chargers.insert_one({"_id": charger_id, "require_rfid": True, "boot": None})


@pytest.mark.gen_test
async def test_require_rfid_statuses(charger, services, db):
    await require_rfid(db)
    now = datetime.now(UTC)
    await services.rfid.upsert("GOOD", parent_id_tag="FLEET")
    await services.rfid.upsert("LATER", expiry=now + timedelta(days=1))
    await services.rfid.upsert("OLD", expiry=now - timedelta(days=1))
    await services.rfid.upsert("STOLEN", status="blocked")
    async with charger() as cp:

        async def authorize(tag):
            return (await cp.call(f"a-{tag}", "Authorize", {"idTag": tag}))[2]["idTagInfo"]

        assert await authorize("good") == {"status": "Accepted", "parentIdTag": "FLEET"}
        later = await authorize("LATER")
        assert later["status"] == "Accepted" and later["expiryDate"].endswith("Z")
        assert (await authorize("OLD"))["status"] == "Expired"
        assert (await authorize("STOLEN"))["status"] == "Blocked"
        assert await authorize("NOBODY") == {"status": "Invalid"}


@pytest.mark.gen_test
async def test_rejected_tag_still_gets_a_transaction_id(charger, db):
    await require_rfid(db)
    async with charger() as cp:
        reply = await cp.call("s", "StartTransaction", start(tag="NOBODY"))
        assert reply == [3, "s", {"transactionId": 1, "idTagInfo": {"status": "Invalid"}}]
    doc = await db.transactions.find_one({"_id": 1})
    assert doc["id_tag_info"] == {"status": "Invalid"}


@pytest.mark.gen_test
async def test_concurrent_tx_for_a_tag_already_charging(charger, services, db):
    await require_rfid(db)
    await services.rfid.upsert("GOOD")
    async with charger() as cp:
        first = await cp.call("s1", "StartTransaction", start(tag="GOOD", connector=1))
        second = await cp.call("s2", "StartTransaction", start(tag="GOOD", connector=2))
        auth = await cp.call("a", "Authorize", {"idTag": "GOOD"})
    assert first[2]["idTagInfo"] == {"status": "Accepted"}
    assert second[2]["idTagInfo"] == {"status": "ConcurrentTx"}
    assert auth[2]["idTagInfo"] == {"status": "Accepted"}  # Authorize may be for stopping


@pytest.mark.gen_test
async def test_without_require_rfid_an_unknown_tag_is_accepted(charger, services, db):
    async with charger() as cp:
        reply = await cp.call("a", "Authorize", {"idTag": "NOBODY"})
        start_reply = await cp.call("s", "StartTransaction", start(tag="NOBODY"))
    assert reply[2] == {"idTagInfo": {"status": "Accepted"}}
    assert start_reply[2]["idTagInfo"] == {"status": "Accepted"}


@pytest.mark.gen_test
async def test_operator_decisions_hold_on_every_charger_without_require_rfid(charger, services, db):
    now = datetime.now(UTC)
    await services.rfid.upsert("STOLEN", status="blocked", parent_id_tag="FLEET")
    await services.rfid.upsert("OLD", expiry=now - timedelta(days=1))
    await services.rfid.upsert("ONCE", max_active_transactions=1)
    async with charger() as cp:
        blocked = await cp.call("a", "Authorize", {"idTag": "stolen"})
        expired = await cp.call("b", "Authorize", {"idTag": "OLD"})
        started = await cp.call("s1", "StartTransaction", start(tag="STOLEN", connector=1))
        first = await cp.call("s2", "StartTransaction", start(tag="ONCE", connector=2))
        second = await cp.call("s3", "StartTransaction", start(tag="ONCE", connector=3))
    assert blocked[2] == {"idTagInfo": {"status": "Blocked", "parentIdTag": "FLEET"}}
    assert expired[2]["idTagInfo"]["status"] == "Expired"
    assert started[2]["idTagInfo"] == {"status": "Blocked", "parentIdTag": "FLEET"}
    assert first[2]["idTagInfo"] == {"status": "Accepted"}
    assert second[2]["idTagInfo"] == {"status": "ConcurrentTx"}
    stored = await db.transactions.find_one({"_id": started[2]["transactionId"]})
    assert stored["id_tag_info"] == {"status": "Blocked", "parentIdTag": "FLEET"}


@pytest.mark.gen_test
async def test_first_starts_on_many_chargers_at_once_get_distinct_ids(ws_url, db):
    import asyncio

    async def one(n):
        async with raw_charger(ws_url(f"/MANY{n}/")) as cp:
            await cp.boot()
            reply = await cp.call("s", "StartTransaction", start())
            return reply[2]["transactionId"]

    ids = await asyncio.gather(*(one(n) for n in range(12)))
    assert sorted(ids) == list(range(1, 13))
