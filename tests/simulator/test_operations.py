"""The Central System's operations, sent through the registry, answered by the simulator."""

from __future__ import annotations

import json

import pytest

from simulator import ChargePointSimulator
from tests.simulator.helpers import sim_config, started, wait_for


async def calls_from(db, services, charger, action):
    """Payloads of the CALLs ``action`` the charger sent, in order."""
    await services.flush()
    docs = (
        await db.messages.find(
            {"charger": charger, "direction": "in", "action": action, "frame": {"$regex": "^\\[2"}}
        )
        .sort([("ts", 1), ("_id", 1)])
        .to_list()
    )
    return [json.loads(doc["frame"])[3] for doc in docs]


def idle_sim(port, cid, **fields):
    """A simulator that boots and waits for the Central System (no sessions of its own)."""
    return ChargePointSimulator(sim_config(port, f"{cid}/", auto_start=False, **fields))


@pytest.mark.gen_test(timeout=30)
async def test_get_and_change_configuration(http_server, http_port, registry, services, db):
    async with started(idle_sim(http_port, "OPS1")) as sim:
        outcome = await registry.call(
            "OPS1", "GetConfiguration", {"key": ["HeartbeatInterval", "NoSuchKey"]}
        )
        assert outcome.status == "accepted"
        assert outcome.payload == {
            "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "120"}],
            "unknownKey": ["NoSuchKey"],
        }
        everything = await registry.call("OPS1", "GetConfiguration", {})
        keys = {
            k["key"]: (k["value"], k["readonly"]) for k in everything.payload["configurationKey"]
        }
        assert keys["NumberOfConnectors"] == ("1", True)
        assert keys["MeterValueSampleInterval"] == ("0", False)  # 0.2 s, in whole seconds
        assert "unknownKey" not in everything.payload

        changed = await registry.call(
            "OPS1", "ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "3"}
        )
        assert (changed.status, changed.payload) == ("accepted", {"status": "Accepted"})
        assert sim.sample_interval == 3
        readonly = await registry.call(
            "OPS1", "ChangeConfiguration", {"key": "NumberOfConnectors", "value": "4"}
        )
        assert (readonly.status, readonly.payload) == ("rejected", {"status": "Rejected"})
        bad = await registry.call(
            "OPS1", "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "soon"}
        )
        assert bad.payload == {"status": "Rejected"}
        unknown = await registry.call("OPS1", "ChangeConfiguration", {"key": "Foo", "value": "1"})
        assert unknown.payload == {"status": "NotSupported"}
        again = await registry.call(
            "OPS1", "GetConfiguration", {"key": ["MeterValueSampleInterval"]}
        )
        assert again.payload["configurationKey"][0]["value"] == "3"


@pytest.mark.gen_test(timeout=90)  # generous: under a loaded machine each wait stretches
async def test_remote_start_and_stop(http_server, http_port, registry, services, db):
    async with started(idle_sim(http_port, "OPS2", connectors=2, duration=600)) as sim:
        outcome = await registry.call(
            "OPS2", "RemoteStartTransaction", {"idTag": "REMOTE1", "connectorId": 2}
        )
        assert (outcome.status, outcome.payload) == ("accepted", {"status": "Accepted"})
        assert await wait_for(
            lambda: sim.state.sessions.get(2) and sim.state.sessions[2].transaction_id
        )
        info = sim.state.sessions[2]
        assert (info.id_tag, info.remote, info.connector) == ("REMOTE1", True, 2)
        tx = await db.transactions.find_one({"_id": info.transaction_id})
        assert (tx["charger"], tx["connector"], tx["id_tag"], tx["open"]) == (
            "OPS2",
            2,
            "REMOTE1",
            True,
        )

        busy = await registry.call(
            "OPS2", "RemoteStartTransaction", {"idTag": "REMOTE2", "connectorId": 2}
        )
        assert (busy.status, busy.payload) == ("rejected", {"status": "Rejected"})
        unknown = await registry.call("OPS2", "RemoteStopTransaction", {"transactionId": 999})
        assert unknown.payload == {"status": "Rejected"}

        # The register has moved before the stop, so the session's energy is above 0.
        assert await wait_for(lambda: sim.state.energy_wh > 0, 30)
        stop = await registry.call(
            "OPS2", "RemoteStopTransaction", {"transactionId": info.transaction_id}
        )
        assert (stop.status, stop.payload) == ("accepted", {"status": "Accepted"})

        async def closed():
            doc = await db.transactions.find_one({"_id": info.transaction_id})
            return doc if not doc["open"] else None

        tx = await wait_for(closed)
        assert tx["stop_reason"] == "Remote"
        assert tx["energy_wh"] == tx["meter_stop"] - tx["meter_start"] > 0
        assert await wait_for(lambda: sim.state.last_session is info and not sim.state.sessions)
        assert (info.outcome, info.stop_reason) == ("completed", "Remote")
        statuses = await calls_from(db, services, "OPS2", "StatusNotification")
        assert [(s["connectorId"], s["status"]) for s in statuses] == [
            (0, "Available"), (1, "Available"), (2, "Available"), (2, "Preparing"),
            (2, "Charging"), (2, "Finishing"), (2, "Available"),
        ]  # fmt: skip
    assert sim.state.status == "stopped"


@pytest.mark.gen_test(timeout=30)
async def test_remote_start_authorizes_when_configured(http_server, http_port, registry, db):
    await db.chargers.update_one({"_id": "OPS3"}, {"$set": {"require_rfid": True}}, upsert=True)
    async with started(idle_sim(http_port, "OPS3")) as sim:
        await registry.call(
            "OPS3", "ChangeConfiguration", {"key": "AuthorizeRemoteTxRequests", "value": "true"}
        )
        outcome = await registry.call("OPS3", "RemoteStartTransaction", {"idTag": "STRANGER"})
        assert outcome.payload == {"status": "Accepted"}
        assert await wait_for(lambda: sim.state.last_session is not None)
        assert (sim.state.last_session.id_tag_status, sim.state.last_session.outcome) == (
            "Invalid", "rejected",
        )  # fmt: skip
        assert await db.transactions.count_documents({}) == 0


@pytest.mark.gen_test(timeout=30)
async def test_trigger_message(http_server, http_port, registry, services, db):
    async with started(idle_sim(http_port, "OPS4", connectors=2)):
        for requested in ("StatusNotification", "MeterValues", "Heartbeat"):
            outcome = await registry.call(
                "OPS4", "TriggerMessage", {"requestedMessage": requested, "connectorId": 2}
            )
            assert (outcome.status, outcome.payload) == ("accepted", {"status": "Accepted"})
        assert await wait_for(lambda: calls_from(db, services, "OPS4", "Heartbeat"))
        statuses = await calls_from(db, services, "OPS4", "StatusNotification")
        assert [(s["connectorId"], s["status"]) for s in statuses][-1] == (2, "Available")
        assert len(statuses) == 4
        [meter] = await calls_from(db, services, "OPS4", "MeterValues")
        sampled = meter["meterValue"][0]["sampledValue"]
        assert meter["connectorId"] == 2 and "transactionId" not in meter
        assert [(s["measurand"], s["value"], s["context"]) for s in sampled] == [
            ("Energy.Active.Import.Register", "0", "Trigger"),
            ("Power.Active.Import", "0", "Trigger"),
            ("Current.Import", "0", "Trigger"), ("Voltage", "230", "Trigger"),
        ]  # fmt: skip
        outcome = await registry.call(
            "OPS4", "TriggerMessage", {"requestedMessage": "BootNotification"}
        )
        assert outcome.ok
        assert await wait_for(lambda: calls_from(db, services, "OPS4", "BootNotification"), 5)
        assert len(await wait_for(_boots(db, services, "OPS4", 2))) == 2
        bad = await registry.call(
            "OPS4", "TriggerMessage", {"requestedMessage": "Heartbeat", "connectorId": 3}
        )
        assert bad.payload == {"status": "Rejected"}


def _boots(db, services, charger, count):
    async def check():
        boots = await calls_from(db, services, charger, "BootNotification")
        return boots if len(boots) >= count else None

    return check


@pytest.mark.gen_test(timeout=30)
async def test_unlock_and_availability(http_server, http_port, registry, services, db):
    async with started(idle_sim(http_port, "OPS5", connectors=2, duration=30)) as sim:
        unlock = await registry.call("OPS5", "UnlockConnector", {"connectorId": 1})
        assert (unlock.status, unlock.payload) == ("accepted", {"status": "Unlocked"})
        missing = await registry.call("OPS5", "UnlockConnector", {"connectorId": 5})
        assert (missing.status, missing.payload) == ("rejected", {"status": "NotSupported"})

        off = await registry.call(
            "OPS5", "ChangeAvailability", {"connectorId": 1, "type": "Inoperative"}
        )
        assert off.payload == {"status": "Accepted"}
        refused = await registry.call(
            "OPS5", "RemoteStartTransaction", {"idTag": "T1", "connectorId": 1}
        )
        assert refused.payload == {"status": "Rejected"}
        # Without a connector id the first operative one is used.
        remote = await registry.call("OPS5", "RemoteStartTransaction", {"idTag": "T1"})
        assert remote.payload == {"status": "Accepted"}
        assert await wait_for(lambda: 2 in sim.state.sessions)
        assert await wait_for(lambda: sim.state.sessions[2].transaction_id)
        # Inoperative while charging: Scheduled, applied when the session ends.
        later = await registry.call(
            "OPS5", "ChangeAvailability", {"connectorId": 2, "type": "Inoperative"}
        )
        assert later.payload == {"status": "Scheduled"}
        unlock = await registry.call("OPS5", "UnlockConnector", {"connectorId": 2})
        assert unlock.payload == {"status": "Unlocked"}
        assert await wait_for(lambda: not sim.state.sessions)
        assert sim.state.last_session.stop_reason == "UnlockCommand"
        statuses = await wait_for(_statuses(db, services, "OPS5", 8))
        assert [(s["connectorId"], s["status"]) for s in statuses] == [
            (0, "Available"), (1, "Available"), (2, "Available"), (1, "Unavailable"),
            (2, "Preparing"), (2, "Charging"), (2, "Finishing"), (2, "Unavailable"),
        ]  # fmt: skip
        tx = await db.transactions.find_one({"charger": "OPS5"})
        assert (tx["connector"], tx["stop_reason"], tx["open"]) == (2, "UnlockCommand", False)
        on = await registry.call(
            "OPS5", "ChangeAvailability", {"connectorId": 0, "type": "Operative"}
        )
        assert on.payload == {"status": "Accepted"}
        assert await wait_for(_statuses(db, services, "OPS5", 11))


def _statuses(db, services, charger, count):
    async def check():
        statuses = await calls_from(db, services, charger, "StatusNotification")
        return statuses if len(statuses) >= count else None

    return check


@pytest.mark.gen_test(timeout=30)
async def test_data_transfer_and_unsupported_operations(http_server, http_port, registry):
    async with started(idle_sim(http_port, "OPS6")):
        ours = await registry.call(
            "OPS6", "DataTransfer", {"vendorId": "Simulator", "messageId": "echo", "data": "hi"}
        )
        assert (ours.status, ours.payload) == ("accepted", {"status": "Accepted", "data": "hi"})
        theirs = await registry.call("OPS6", "DataTransfer", {"vendorId": "Acme"})
        assert (theirs.status, theirs.payload) == ("rejected", {"status": "UnknownVendorId"})
        for action, payload in (("ClearCache", {}), ("GetLocalListVersion", {})):
            outcome = await registry.call("OPS6", action, payload)
            assert (outcome.status, outcome.error_code) == ("error", "NotSupported")
            assert outcome.description == f"{action} is not supported by this charge point"


@pytest.mark.gen_test(timeout=30)
async def test_reset_stops_the_session_reconnects_and_boots_again(
    http_server, http_port, registry, services, db
):
    sim = ChargePointSimulator(sim_config(http_port, "OPS7/", duration=30))
    async with started(sim):
        assert await wait_for(lambda: sim.state.current_session and sim.state.energy_wh > 0)
        outcome = await registry.call("OPS7", "Reset", {"type": "Soft"})
        assert (outcome.status, outcome.payload) == ("accepted", {"status": "Accepted"})
        assert await wait_for(lambda: sim.state.connections == 2 and sim.state.current_session)
        assert sim.state.last_error is None
        boots = await wait_for(_boots(db, services, "OPS7", 2))
        assert len(boots) == 2
        first = await db.transactions.find_one({"_id": 1})
        assert (first["open"], first["stop_reason"]) == (False, "SoftReset")
        assert await wait_for(lambda: db.transactions.find_one({"_id": 2}))
        second = await db.transactions.find_one({"_id": 2})
        assert second["meter_start"] == first["meter_stop"]
        assert second["open"] is True
    assert sim.state.status == "stopped"
    assert (await db.transactions.find_one({"_id": 2}))["stop_reason"] == "Local"
