"""Remote start and stop (csms/transactions.py): authorization first, the TxProfile kept,
RemoteStop aimed at the right transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from ocpp.v16 import call

from csms.remote import ParameterError, Refused, perform
from ocppj.timeutil import format_datetime, utcnow
from tests.csms.test_remote import booted, check, start_tx

# --- remote start / stop -------------------------------------------------------


@pytest.mark.gen_test(timeout=20)
async def test_remote_start_without_rfid_requirement(ws_url, services, registry, db):
    async with booted(ws_url) as cp:
        params = {"id_tag": "anyone", "connector_id": 1}
        outcome = await perform(services, registry, "CP1", "remote_start", params)
    payload = {"idTag": "anyone", "connectorId": 1}
    await check(db, cp, outcome, "remote_start", "RemoteStartTransaction", payload, "accepted")


@pytest.mark.gen_test(timeout=20)
async def test_remote_start_refuses_a_tag_that_fails_authorization(ws_url, services, registry, db):
    await services.rfid.upsert("GOOD")
    await services.rfid.upsert("BAD", status="blocked")
    async with booted(ws_url) as cp:
        await db.chargers.update_one({"_id": "CP1"}, {"$set": {"require_rfid": True}})
        with pytest.raises(Refused) as blocked:
            await perform(services, registry, "CP1", "remote_start", {"id_tag": "bad"})
        assert blocked.value.field == "id_tag"
        assert blocked.value.info == {"status": "Blocked"}
        with pytest.raises(Refused) as unknown:
            await perform(services, registry, "CP1", "remote_start", {"id_tag": "nobody"})
        assert unknown.value.info == {"status": "Invalid"}
        assert cp.frames == []
        assert await db.commands.count_documents({}) == 0
        outcome = await perform(services, registry, "CP1", "remote_start", {"id_tag": "good"})
    await check(db, cp, outcome, "remote_start", "RemoteStartTransaction", {"idTag": "good"},
                "accepted")  # fmt: skip


@pytest.mark.gen_test(timeout=20)
async def test_remote_start_of_a_blocked_tag_is_refused_without_require_rfid(
    ws_url, services, registry, db
):
    """The operator's Blocked, Expired and ConcurrentTx hold on a charger with require_rfid
    off (the default): nothing is sent. (Only sessions where the tag was checked count
    toward ConcurrentTx: csms.authorization.)"""
    await services.rfid.upsert("STOLEN", status="blocked")
    await services.rfid.upsert("OLD", expiry=datetime.now(UTC) - timedelta(days=1))
    await services.rfid.upsert("BUSY")
    async with booted(ws_url) as cp:
        assert (await db.chargers.find_one({"_id": "CP1"}))["require_rfid"] is False
        await start_tx(cp, 1, "BUSY")
        # As if started on a charger that checks tags; on this open one it counts for nothing.
        await db.transactions.update_one({"id_tag": "BUSY"}, {"$set": {"tag_checked": True}})
        refused = {}
        for tag in ("stolen", "OLD", "BUSY"):
            with pytest.raises(Refused) as caught:
                await perform(services, registry, "CP1", "remote_start", {"id_tag": tag})
            refused[tag] = caught.value.info["status"]
        assert cp.frames == []
    assert refused == {"stolen": "Blocked", "OLD": "Expired", "BUSY": "ConcurrentTx"}
    assert await db.commands.count_documents({}) == 0


PROFILE = {
    "chargingProfileId": 7,
    "stackLevel": 1,
    "chargingProfilePurpose": "TxProfile",
    "chargingProfileKind": "Relative",
    "chargingSchedule": {
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}],
    },
}


@pytest.mark.gen_test(timeout=20)
async def test_remote_start_with_a_tx_profile_stores_it(ws_url, services, registry, db):
    async with booted(ws_url) as cp:
        wrong = {**PROFILE, "chargingProfilePurpose": "TxDefaultProfile"}
        with pytest.raises(ParameterError) as bad:
            await perform(
                services, registry, "CP1", "remote_start",
                {"id_tag": "T", "connector_id": 2, "charging_profile": wrong},
            )  # fmt: skip
        assert bad.value.field == "charging_profile"
        outcome = await perform(
            services, registry, "CP1", "remote_start",
            {"id_tag": "T", "connector_id": 2, "charging_profile": PROFILE},
        )  # fmt: skip
    payload = {"idTag": "T", "connectorId": 2, "chargingProfile": PROFILE}
    await check(db, cp, outcome, "remote_start", "RemoteStartTransaction", payload, "accepted")
    stored = await db.charging_profiles.find({}, {"_id": 0}).to_list()
    assert stored == [
        {
            "charger": "CP1", "connector": 2, "profile_id": 7, "stack_level": 1,
            "purpose": "TxProfile", "transaction_id": None, "profile": PROFILE,
            "ts": stored[0]["ts"], "command_id": outcome.command_id,
        }
    ]  # fmt: skip


@pytest.mark.gen_test(timeout=20)
async def test_remote_stop_targets_the_open_transaction(ws_url, services, registry, db):
    async with booted(ws_url) as cp:
        with pytest.raises(ParameterError, match="no open transaction"):
            await perform(services, registry, "CP1", "remote_stop", {})
        tx1 = await start_tx(cp, 1)
        tx2 = await start_tx(cp, 2, "T2")
        with pytest.raises(ParameterError) as several:
            await perform(services, registry, "CP1", "remote_stop", {})
        assert several.value.field == "connector_id"
        by_connector = await perform(services, registry, "CP1", "remote_stop", {"connector_id": 2})
        await check(db, cp, by_connector, "remote_stop", "RemoteStopTransaction",
                    {"transactionId": tx2}, "accepted")  # fmt: skip
        await cp.call(
            call.StopTransaction(
                meter_stop=10, timestamp=format_datetime(utcnow()), transaction_id=tx1
            )
        )
        with pytest.raises(ParameterError, match="already stopped") as stopped:
            await perform(services, registry, "CP1", "remote_stop", {"transaction_id": tx1})
        assert stopped.value.field == "transaction_id"
        with pytest.raises(ParameterError, match="no open transaction on connector 1"):
            await perform(services, registry, "CP1", "remote_stop", {"connector_id": 1})
        only = await perform(services, registry, "CP1", "remote_stop", {})
        assert cp.frames[-1][3] == {"transactionId": tx2}
        cp.replies["RemoteStopTransaction"] = {"status": "Rejected"}
        explicit = await perform(services, registry, "CP1", "remote_stop", {"transaction_id": 999})
        assert cp.frames[-1][3] == {"transactionId": 999}
    assert only.status == "accepted"
    assert explicit.status == "rejected"
