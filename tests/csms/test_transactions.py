"""Transactions and their integrity (OCPP_RULES 15-19).

Authorization of tags is in test_authorization.py, MeterValues in test_metering.py."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.charge_points import raw_charger
from tests.csms.charger_helpers import booted_charger, reading, start, stop
from tests.meter_rows import stored_rows


@pytest.fixture
def charger(ws_url):
    """Factory: a booted raw charger as an async context manager."""
    return booted_charger(ws_url)


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
    value = (await stored_rows(db, {"meta.transaction": tx}))[0]
    assert value["value"] == 2400.0 and value["meta"]["unit"] == "Wh"
    assert value["meta"]["context"] == "Transaction.End"


@pytest.mark.gen_test
async def test_a_start_like_a_closed_one_is_a_new_session(charger, db):
    """The attack seen: a second real session with the same connector, idTag, timestamp
    and meterStart was merged into the CLOSED first one, and its stop dropped. Rule 17
    holds only for a resend of an open session."""
    async with charger() as cp:
        first = (await cp.call("a", "StartTransaction", start()))[2]["transactionId"]
        await cp.call("b", "StopTransaction", stop(first, 1500))
        second = await cp.call("c", "StartTransaction", start())
        assert second[2] == {"transactionId": first + 1, "idTagInfo": {"status": "Accepted"}}
        resent = await cp.call("d", "StartTransaction", start())  # while open: the same id
        assert resent[2] == second[2]
        reply = await cp.call("e", "StopTransaction", stop(first + 1, 4000))
        assert reply == [3, "e", {}]
    docs = await db.transactions.find({}).sort("_id", 1).to_list()
    assert [(d["_id"], d["open"], d["energy_wh"]) for d in docs] == [
        (first, False, 500), (first + 1, False, 3000),
    ]  # fmt: skip


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
    value = (await stored_rows(db))[0]
    assert value["ts"] == datetime(2025, 6, 1, 8, 15, 0, 123000, tzinfo=UTC)


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
