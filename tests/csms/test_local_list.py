"""SendLocalList and GetLocalListVersion (csms/local_list.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from csms.remote import ParameterError, perform
from ocppj.timeutil import format_datetime
from tests.csms.test_remote import booted, check, soon

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


@pytest.mark.gen_test(timeout=20)
async def test_local_list_entries_given_as_they_are(ws_url, services, registry, db):
    await services.rfid.upsert("Alpha")  # not sent: the entries given replace the RFID list
    entries = [
        {"idTag": "Zed", "idTagInfo": {"status": "Blocked"}},
        {"idTag": "beta", "idTagInfo": {"status": "Accepted", "parentIdTag": "Zed"}},
    ]
    async with booted(ws_url) as cp:
        with pytest.raises(ParameterError, match="not both") as both:
            await perform(services, registry, "CP1", "send_local_list",
                          {"entries": entries, "id_tags": ["Alpha"]})  # fmt: skip
        assert both.value.field == "entries"
        with pytest.raises(ParameterError, match="cannot remove 'Old'") as removal:
            await perform(services, registry, "CP1", "send_local_list",
                          {"entries": [{"idTag": "Old"}]})  # fmt: skip
        assert removal.value.field == "entries"
        with pytest.raises(ParameterError, match="list of objects"):
            await perform(services, registry, "CP1", "send_local_list", {"entries": ["Zed"]})
        sent = await perform(services, registry, "CP1", "send_local_list", {"entries": entries})
        payload = {"listVersion": 1, "updateType": "Full",
                   "localAuthorizationList": [entries[1], entries[0]]}  # fmt: skip
        await check(db, cp, sent, "send_local_list", "SendLocalList", payload, "accepted")
        state = await db.local_lists.find_one({"_id": "CP1"})
        assert state["entries"] == [entries[1], entries[0]]

        removal = [{"idTag": "ZED"}, {"idTag": "New", "idTagInfo": {"status": "Accepted"}}]
        diff = await perform(services, registry, "CP1", "send_local_list",
                             {"update_type": "Differential", "entries": removal})  # fmt: skip
        assert diff.status == "accepted"
        assert cp.frames[-1][3] == {
            "listVersion": 2, "updateType": "Differential",
            "localAuthorizationList": [removal[1], removal[0]],
        }  # fmt: skip
        state = await db.local_lists.find_one({"_id": "CP1"})
        assert state["entries"] == [entries[1], removal[1]]
