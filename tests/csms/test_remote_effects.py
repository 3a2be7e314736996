"""Remote operations whose answers are used: remote start/stop, reservations, the local list,
charging profiles, firmware/diagnostics/log requests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from ocpp.v16 import call

from csms.registry import ConnectionRegistry
from csms.remote import ParameterError, Refused, perform
from csms.remote_effects import link_status_notification
from models.commands import CommandRepo
from ocppj.timeutil import format_datetime, utcnow
from tests.csms.test_remote import booted, check


@pytest.fixture
def registry(services):
    """The registry with the commands repository (overrides the conftest fixture)."""
    return ConnectionRegistry(services.schemas, CommandRepo(services.db))


def soon(hours: float = 1) -> datetime:
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(microsecond=0)


async def start_tx(cp, connector: int, id_tag: str = "T1") -> int:
    started = await cp.call(
        call.StartTransaction(
            connector_id=connector, id_tag=id_tag, meter_start=0,
            timestamp=format_datetime(utcnow()),
        )
    )  # fmt: skip
    return started.transaction_id


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
    off (the default): nothing is sent."""
    await services.rfid.upsert("STOLEN", status="blocked")
    await services.rfid.upsert("OLD", expiry=datetime.now(UTC) - timedelta(days=1))
    await services.rfid.upsert("BUSY")
    async with booted(ws_url) as cp:
        assert (await db.chargers.find_one({"_id": "CP1"}))["require_rfid"] is False
        await start_tx(cp, 1, "BUSY")
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


# --- reservations ----------------------------------------------------------------


@pytest.mark.gen_test(timeout=20)
async def test_reservations_are_stored_with_status_and_expiry(ws_url, services, registry, db):
    expiry = soon()
    params = {"connector_id": 1, "expiry_date": expiry.isoformat(), "id_tag": "TAG1"}
    await db.reservations.insert_one({"_id": 50, "charger": "CP9", "status": "accepted"})
    async with booted(ws_url) as cp:
        with pytest.raises(ParameterError) as past:
            await perform(
                services, registry, "CP1", "reserve_now",
                {**params, "expiry_date": "2020-01-01T00:00:00Z"},
            )  # fmt: skip
        assert past.value.field == "expiry_date"
        with pytest.raises(ParameterError) as other:
            await perform(services, registry, "CP1", "cancel_reservation", {"reservation_id": 50})
        assert other.value.field == "reservation_id"
        first = await perform(services, registry, "CP1", "reserve_now", params)
        payload = {
            "connectorId": 1, "expiryDate": format_datetime(expiry), "idTag": "TAG1",
            "reservationId": 1,
        }  # fmt: skip
        await check(db, cp, first, "reserve_now", "ReserveNow", payload, "accepted")
        assert (await db.commands.find_one({"_id": first.command_id}))["reservation_id"] == 1
        cp.replies["ReserveNow"] = {"status": "Occupied"}
        occupied = await perform(
            services, registry, "CP1", "reserve_now", {**params, "parent_id_tag": "P"}
        )
        assert occupied.status == "rejected"
        assert occupied.request["reservationId"] == 2
        assert occupied.request["parentIdTag"] == "P"
        # Re-using id 1 for a refused request keeps the accepted reservation.
        cp.replies["ReserveNow"] = {"status": "Rejected"}
        await perform(services, registry, "CP1", "reserve_now", {**params, "reservation_id": 1})
        assert cp.frames[-1][3]["reservationId"] == 1
        cancelled = await perform(
            services, registry, "CP1", "cancel_reservation", {"reservation_id": 1}
        )
        await check(db, cp, cancelled, "cancel_reservation", "CancelReservation",
                    {"reservationId": 1}, "accepted")  # fmt: skip
        # An operator-chosen id moves the counter past it.
        await perform(services, registry, "CP1", "reserve_now", {**params, "reservation_id": 9})
        cp.replies["ReserveNow"] = {"status": "Accepted"}
        after = await perform(services, registry, "CP1", "reserve_now", params)
        assert after.request["reservationId"] == 10
    one = await db.reservations.find_one({"_id": 1})
    assert one["status"] == "cancelled"
    assert one["expiry"] == expiry
    assert one["id_tag"] == "TAG1"
    assert one["command_id"] == first.command_id
    assert one["cancel_command_id"] == cancelled.command_id
    two = await db.reservations.find_one({"_id": 2})
    assert (two["status"], two["parent_id_tag"], two["connector"]) == ("occupied", "P", 1)
    assert (await db.reservations.find_one({"_id": 9}))["status"] == "rejected"
    assert (await db.reservations.find_one({"_id": 10}))["status"] == "accepted"


@pytest.mark.gen_test(timeout=20)
async def test_reserve_now_sends_the_tags_parent_from_its_record(ws_url, services, registry, db):
    """Without a parent_id_tag given, the tag's own record supplies parentIdTag."""
    await services.rfid.upsert("DRIVER", parent_id_tag="FLEET7")
    params = {"connector_id": 1, "expiry_date": soon().isoformat(), "id_tag": "driver"}
    async with booted(ws_url) as cp:
        from_record = await perform(services, registry, "CP1", "reserve_now", params)
        given = await perform(
            services, registry, "CP1", "reserve_now", {**params, "parent_id_tag": "OTHER"}
        )
        anyone = await perform(
            services, registry, "CP1", "reserve_now", {**params, "id_tag": "nobody"}
        )
    sent = [frame[3] for frame in cp.frames if frame[2] == "ReserveNow"]
    assert [p.get("parentIdTag") for p in sent] == ["FLEET7", "OTHER", None]
    assert from_record.request["parentIdTag"] == "FLEET7" and given.ok and anyone.ok
    stored = await db.reservations.find_one({"_id": from_record.request["reservationId"]})
    assert stored["parent_id_tag"] == "FLEET7"


# --- local authorization list -------------------------------------------------------


@pytest.mark.gen_test(timeout=20)
async def test_local_list_is_built_from_rfid_tags_and_versioned(ws_url, services, registry, db):
    expiry = soon(24)
    past = datetime(2020, 1, 1, tzinfo=UTC)
    await services.rfid.upsert("Alpha")
    await services.rfid.upsert("Beta", status="blocked")
    await services.rfid.upsert("Gamma", expiry=past)
    await services.rfid.upsert("Delta", expiry=expiry, parent_id_tag="Alpha")
    full = [
        {"idTag": "Alpha", "idTagInfo": {"status": "Accepted"}},
        {"idTag": "Beta", "idTagInfo": {"status": "Blocked"}},
        {"idTag": "Delta", "idTagInfo": {"status": "Accepted", "parentIdTag": "Alpha",
                                         "expiryDate": format_datetime(expiry)}},
        {"idTag": "Gamma", "idTagInfo": {"status": "Expired",
                                         "expiryDate": format_datetime(past)}},
    ]  # fmt: skip
    async with booted(ws_url) as cp:
        sent = await perform(services, registry, "CP1", "send_local_list", {})
        payload = {"listVersion": 1, "updateType": "Full", "localAuthorizationList": full}
        await check(db, cp, sent, "send_local_list", "SendLocalList", payload, "accepted")
        state = await db.local_lists.find_one({"_id": "CP1"})
        assert (state["version"], state["entries"], state["in_sync"]) == (1, full, True)

        cp.replies["GetLocalListVersion"] = {"listVersion": 1}
        asked = await perform(services, registry, "CP1", "get_local_list_version", {})
        await check(db, cp, asked, "get_local_list_version", "GetLocalListVersion", {},
                    "accepted", {"listVersion": 1})  # fmt: skip
        assert (await db.local_lists.find_one({"_id": "CP1"}))["in_sync"] is True
        cp.replies["GetLocalListVersion"] = {"listVersion": 5}
        await perform(services, registry, "CP1", "get_local_list_version", {})
        state = await db.local_lists.find_one({"_id": "CP1"})
        assert (state["charger_version"], state["in_sync"]) == (5, False)

        await services.rfid.upsert("Alpha", status="blocked")
        await db.rfid_tags.delete_one({"_id": "GAMMA"})
        await services.rfid.upsert("Eps")
        diff = await perform(
            services, registry, "CP1", "send_local_list", {"update_type": "Differential"}
        )
        changes = [
            {"idTag": "Alpha", "idTagInfo": {"status": "Blocked"}},
            {"idTag": "Eps", "idTagInfo": {"status": "Accepted"}},
            {"idTag": "Gamma"},
        ]
        assert cp.frames[-1][3] == {
            "listVersion": 6, "updateType": "Differential", "localAuthorizationList": changes,
        }  # fmt: skip
        assert diff.status == "accepted"
        state = await db.local_lists.find_one({"_id": "CP1"})
        assert state["version"] == 6
        assert [entry["idTag"] for entry in state["entries"]] == ["Alpha", "Beta", "Delta", "Eps"]

        with pytest.raises(ParameterError, match="ZZZ") as unknown:
            await perform(services, registry, "CP1", "send_local_list", {"id_tags": ["Eps", "ZZZ"]})
        assert unknown.value.field == "id_tags"
        cp.replies["SendLocalList"] = {"status": "VersionMismatch"}
        mismatch = await perform(
            services, registry, "CP1", "send_local_list",
            {"update_type": "Differential", "id_tags": "zzz", "list_version": 3},
        )  # fmt: skip
        assert cp.frames[-1][3] == {
            "listVersion": 3, "updateType": "Differential", "localAuthorizationList": [
                {"idTag": "zzz"}
            ],
        }  # fmt: skip
        assert mismatch.status == "rejected"
        state = await db.local_lists.find_one({"_id": "CP1"})
        assert (state["version"], state["last_status"]) == (6, "VersionMismatch")

        await db.chargers.update_one(
            {"_id": "CP1"},
            {"$set": {"ocpp_config.keys": [{"key": "SendLocalListMaxLength", "value": "2"}]}},
        )
        with pytest.raises(ParameterError, match="at once"):
            await perform(services, registry, "CP1", "send_local_list", {})


# --- charging profiles -------------------------------------------------------------


def profile(profile_id: int, purpose: str, stack: int = 0) -> dict:
    return {
        "chargingProfileId": profile_id,
        "stackLevel": stack,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400.0, "numberPhases": 3}],
        },
    }


@pytest.mark.gen_test(timeout=20)
async def test_charging_profiles_are_stored_per_connector(ws_url, services, registry, db):
    async def stored():
        docs = await db.charging_profiles.find({}).sort("profile_id", 1).to_list()
        return [(doc["connector"], doc["profile_id"]) for doc in docs]

    async with booted(ws_url) as cp:
        default = profile(10, "TxDefaultProfile")
        first = await perform(
            services, registry, "CP1", "set_charging_profile",
            {"connector_id": 1, "charging_profile": default},
        )  # fmt: skip
        await check(db, cp, first, "set_charging_profile", "SetChargingProfile",
                    {"connectorId": 1, "csChargingProfiles": default}, "accepted")  # fmt: skip
        # Same purpose and stack level on the same connector replaces it.
        await perform(
            services, registry, "CP1", "set_charging_profile",
            {"connector_id": 1, "charging_profile": profile(11, "TxDefaultProfile")},
        )  # fmt: skip
        await perform(
            services, registry, "CP1", "set_charging_profile",
            {"connector_id": "0", "charging_profile": profile(12, "ChargePointMaxProfile")},
        )  # fmt: skip
        assert await stored() == [(1, 11), (0, 12)]
        with pytest.raises(ParameterError) as wrong:
            await perform(
                services, registry, "CP1", "set_charging_profile",
                {"connector_id": 1, "charging_profile": profile(13, "ChargePointMaxProfile")},
            )  # fmt: skip
        assert wrong.value.field == "connector_id"
        broken = profile(14, "TxDefaultProfile")
        del broken["chargingSchedule"]
        with pytest.raises(ParameterError, match="chargingSchedule") as invalid:
            await perform(
                services, registry, "CP1", "set_charging_profile",
                {"connector_id": 1, "charging_profile": broken},
            )  # fmt: skip
        assert invalid.value.field == "charging_profile"
        cp.replies["SetChargingProfile"] = {"status": "Rejected"}
        await perform(
            services, registry, "CP1", "set_charging_profile",
            {"connector_id": 2, "charging_profile": profile(15, "TxDefaultProfile")},
        )  # fmt: skip
        assert await stored() == [(1, 11), (0, 12)]
        cleared = await perform(
            services, registry, "CP1", "clear_charging_profile", {"profile_id": 11}
        )
        await check(db, cp, cleared, "clear_charging_profile", "ClearChargingProfile",
                    {"id": 11}, "accepted")  # fmt: skip
        assert await stored() == [(0, 12)]
        cp.replies["ClearChargingProfile"] = {"status": "Unknown"}
        unknown = await perform(
            services, registry, "CP1", "clear_charging_profile",
            {"connector_id": 0, "charging_profile_purpose": "ChargePointMaxProfile",
             "stack_level": 0},
        )  # fmt: skip
        assert cp.frames[-1][3] == {
            "connectorId": 0, "chargingProfilePurpose": "ChargePointMaxProfile", "stackLevel": 0,
        }  # fmt: skip
        assert unknown.status == "rejected"
        assert await stored() == []


# --- firmware, diagnostics, logs -------------------------------------------------------


@pytest.mark.gen_test(timeout=20)
async def test_firmware_request_is_linked_to_the_status_notifications(
    ws_url, services, registry, db
):
    async with booted(ws_url) as cp:
        with pytest.raises(ParameterError) as bad:
            await perform(
                services, registry, "CP1", "update_firmware",
                {"location": "fw.bin", "retrieve_date": "2026-01-01T00:00:00Z"},
            )  # fmt: skip
        assert bad.value.field == "location"
        outcome = await perform(
            services, registry, "CP1", "update_firmware",
            {"location": "ftp://fw.example/fw.bin", "retrieve_date": "2026-01-01T01:00:00+01:00",
             "retries": "3", "retry_interval": 60},
        )  # fmt: skip
    payload = {
        "location": "ftp://fw.example/fw.bin", "retrieveDate": "2026-01-01T00:00:00.000Z",
        "retries": 3, "retryInterval": 60,
    }  # fmt: skip
    await check(db, cp, outcome, "update_firmware", "UpdateFirmware", payload, "accepted")
    charger = await db.chargers.find_one({"_id": "CP1"})
    assert charger["requests"]["firmware"]["command_id"] == outcome.command_id
    now = utcnow()
    link = link_status_notification
    assert await link(services, "CP1", "firmware", {"status": "Idle"}, now) is None
    assert await link(services, "CP1", "firmware", {"status": "Downloading"}, now) == (
        outcome.command_id
    )
    assert await link(services, "CP1", "firmware", {"status": "Installed"}, now) == (
        outcome.command_id
    )
    assert await link(services, "CP1", "firmware", {"status": "Downloading"}, now) is None
    assert await link(services, "CP1", "diagnostics", {"status": "Uploading"}, now) is None
    doc = await db.commands.find_one({"_id": outcome.command_id})
    assert doc["notifications"] == [
        {"status": "Downloading", "ts": now},
        {"status": "Installed", "ts": now},
    ]
    assert doc["progress"] == "Installed"
    request = (await db.chargers.find_one({"_id": "CP1"}))["requests"]["firmware"]
    assert (request["status"], request["done"]) == ("Installed", True)


@pytest.mark.gen_test(timeout=20)
async def test_diagnostics_and_log_requests(ws_url, services, registry, db):
    async with booted(ws_url) as cp:
        cp.replies["GetDiagnostics"] = {"fileName": "diag.zip"}
        diagnostics = await perform(
            services, registry, "CP1", "get_diagnostics",
            {"location": "https://up.example/d", "start_time": "2026-01-01T00:00:00Z",
             "stop_time": "2026-01-02T00:00:00Z", "retries": 1},
        )  # fmt: skip
        payload = {
            "location": "https://up.example/d", "startTime": "2026-01-01T00:00:00.000Z",
            "stopTime": "2026-01-02T00:00:00.000Z", "retries": 1,
        }  # fmt: skip
        await check(db, cp, diagnostics, "get_diagnostics", "GetDiagnostics", payload,
                    "accepted", {"fileName": "diag.zip"})  # fmt: skip
        cp.replies["GetLog"] = {"status": "Accepted", "filename": "log.tgz"}
        log = await perform(
            services, registry, "CP1", "get_log",
            {"log_type": "SecurityLog", "remote_location": "ftp://up.example/logs",
             "oldest_timestamp": "2026-01-01T00:00:00Z"},
        )  # fmt: skip
        payload = {
            "logType": "SecurityLog", "requestId": 1,
            "log": {"remoteLocation": "ftp://up.example/logs",
                    "oldestTimestamp": "2026-01-01T00:00:00.000Z"},
        }  # fmt: skip
        await check(db, cp, log, "get_log", "GetLog", payload, "accepted",
                    {"status": "Accepted", "filename": "log.tgz"})  # fmt: skip
        signed = await perform(
            services, registry, "CP1", "signed_update_firmware",
            {"location": "https://fw.example/x", "retrieve_date_time": "2026-02-01T00:00:00Z",
             "signing_certificate": "PEM", "signature": "c2ln", "retries": 2},
        )  # fmt: skip
        payload = {
            "requestId": 2, "retries": 2,
            "firmware": {"location": "https://fw.example/x",
                         "retrieveDateTime": "2026-02-01T00:00:00.000Z",
                         "signingCertificate": "PEM", "signature": "c2ln"},
        }  # fmt: skip
        await check(db, cp, signed, "signed_update_firmware", "SignedUpdateFirmware", payload,
                    "accepted")  # fmt: skip
    requests = (await db.chargers.find_one({"_id": "CP1"}))["requests"]
    assert requests["diagnostics"]["file_name"] == "diag.zip"
    assert requests["log"]["request_id"] == 1
    assert requests["log"]["file_name"] == "log.tgz"
    assert requests["firmware"]["request_id"] == 2
    now = utcnow()
    link = link_status_notification
    assert await link(services, "CP1", "log", {"status": "Uploading", "requestId": 7}, now) is None
    assert await link(services, "CP1", "log", {"status": "Uploaded", "requestId": 1}, now) == (
        log.command_id
    )
    assert await link(services, "CP1", "diagnostics", {"status": "Uploaded"}, now) == (
        diagnostics.command_id
    )
    status = {"status": "SignatureVerified", "requestId": 2}
    assert await link(services, "CP1", "firmware", status, now) == signed.command_id
    doc = await db.commands.find_one({"_id": log.command_id})
    assert doc["notifications"] == [{"status": "Uploaded", "ts": now, "request_id": 1}]
