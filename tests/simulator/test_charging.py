"""Simulated sessions against the real Central System: stored transactions and meter values."""

from __future__ import annotations

import asyncio
import itertools
import json

import pytest

from simulator import ChargePointSimulator, SimulatorConfig
from tests.meter_rows import stored_rows
from tests.simulator.helpers import FakeCentralSystem, sim_config, wait_for

MEASURANDS = [
    ("Current.Import", "A", "Outlet"),
    ("Energy.Active.Import.Register", "Wh", "Outlet"),
    ("Power.Active.Import", "W", "Outlet"),
    ("SoC", "Percent", "EV"),
    ("Voltage", "V", "Outlet"),
]


async def incoming_calls(db, charger):
    """(action, payload) of every CALL the charger sent, in order."""
    docs = (
        await db.messages.find({"charger": charger, "direction": "in"})
        .sort([("ts", 1), ("_id", 1)])
        .to_list()
    )
    return [(doc["action"], json.loads(doc["frame"])[3]) for doc in docs]


@pytest.mark.gen_test(timeout=30)
async def test_readme_snippet_stores_the_session(http_server, http_port, services, db):
    # The README snippet, with a quick session configured.
    config = SimulatorConfig(
        host="127.0.0.1", ws_port=http_port, cp_path="SIM1/",
        interval=0.2, duration=1.0, kwh_min=1.5, kwh_max=1.5, seed=3,
    )  # fmt: skip
    sim = ChargePointSimulator(config)
    await asyncio.wait_for(sim._run_session(), 15)

    state = sim.state
    assert (state.status, state.running, state.connected) == ("finished", False, False)
    assert state.last_error is None
    assert (state.sessions_completed, state.sessions_rejected, state.energy_wh) == (1, 0, 1500)
    assert state.current_session is None
    last = state.last_session
    assert (last.transaction_id, last.energy_wh, last.outcome) == (1, 1500, "completed")
    assert (last.meter_start_wh, last.meter_stop_wh, last.stop_reason) == (
        0,
        1500,
        "EVDisconnected",
    )
    assert state.boot_status == "Accepted" and state.heartbeat_interval == 120

    await services.flush()
    tx = await db.transactions.find_one({"charger": "SIM1"})
    assert tx["_id"] == 1
    assert (tx["connector"], tx["id_tag"], tx["id_tag_info"]) == (
        1,
        "SIMULATOR",
        {"status": "Accepted"},
    )
    assert tx["open"] is False
    assert (tx["meter_start"], tx["meter_stop"], tx["energy_wh"]) == (0, 1500, 1500)
    assert tx["last_register_wh"] == 1500.0
    assert tx["stop_reason"] == "EVDisconnected"
    assert tx["anomalies"] == []
    assert tx["start_ts"] < tx["stop_ts"]

    docs = await stored_rows(db, {"meta.transaction": 1})
    samples = last.meter_values_sent
    assert 4 <= samples <= 6  # one every 0.2 s over 1 s
    assert len(docs) == 5 * samples
    by_time: dict = {}
    for doc in docs:
        by_time.setdefault(doc["ts"], []).append(doc)
    assert len(by_time) == samples
    energy = []
    for ts in sorted(by_time):
        reading = sorted(by_time[ts], key=lambda d: d["meta"]["measurand"])
        metas = [
            (d["meta"]["measurand"], d["meta"]["unit"], d["meta"]["location"]) for d in reading
        ]
        assert metas == MEASURANDS
        for doc in reading:
            assert doc["meta"] | {"measurand": None, "unit": None, "location": None} == {
                "charger": "SIM1", "connector": 1, "transaction": 1, "measurand": None,
                "phase": None, "unit": None, "context": "Sample.Periodic", "location": None,
            }  # fmt: skip
        values = {d["meta"]["measurand"]: d["value"] for d in reading}
        energy.append(values["Energy.Active.Import.Register"])
        assert values["Voltage"] == 230.0
        if values["Energy.Active.Import.Register"] < 1500:
            assert values["Power.Active.Import"] == 5_400_000.0  # 1.5 kWh in 1 s
            assert values["Current.Import"] == 23478.26  # at 230 V
        assert 10 <= values["SoC"] <= 100
    assert energy == sorted(energy) and energy[-1] == 1500.0 and energy[0] < 1500.0

    calls = await incoming_calls(db, "SIM1")
    actions = [action for action, _ in calls]
    assert actions == [
        "BootNotification", "StatusNotification", "StatusNotification", "StatusNotification",
        "StartTransaction", "StatusNotification", *["MeterValues"] * samples,
        "StopTransaction", "StatusNotification", "StatusNotification",
    ]  # fmt: skip
    assert calls[0][1] == {
        "chargePointVendor": "Simulator", "chargePointModel": "SIM-1",
        "chargePointSerialNumber": "SIM1", "firmwareVersion": "1.0",
    }  # fmt: skip
    statuses = [(p["connectorId"], p["status"]) for a, p in calls if a == "StatusNotification"]
    assert statuses == [
        (0, "Available"), (1, "Available"), (1, "Preparing"), (1, "Charging"),
        (1, "Finishing"), (1, "Available"),
    ]  # fmt: skip
    start = calls[4][1]
    assert (start["connectorId"], start["idTag"], start["meterStart"]) == (1, "SIMULATOR", 0)
    stop = calls[-3][1]
    assert {k: v for k, v in stop.items() if k != "timestamp"} == {
        "transactionId": 1, "idTag": "SIMULATOR", "meterStop": 1500, "reason": "EVDisconnected",
    }  # fmt: skip
    charger = await db.chargers.find_one({"_id": "SIM1"})
    assert charger["boot"]["vendor"] == "Simulator"
    assert charger["connectors"]["1"]["status"] == "Available"


@pytest.mark.gen_test(timeout=30)
async def test_repeat_mode_runs_sessions_until_stopped(http_server, http_port, services, db):
    sim = ChargePointSimulator(sim_config(http_port, "site/REP1/", duration=0.4, repeat=True))
    sim.start()
    assert await wait_for(lambda: sim.state.sessions_completed >= 2, 15)
    await sim.stop(5)
    state = sim.state
    assert (state.status, state.running, state.last_error) == ("stopped", False, None)
    assert sim._task.done()

    await services.flush()
    txs = await db.transactions.find({"charger": "REP1"}).sort("_id", 1).to_list()
    assert len(txs) >= 2
    assert [tx["_id"] for tx in txs] == list(range(1, len(txs) + 1))
    assert all(tx["open"] is False for tx in txs)
    assert all(tx["energy_wh"] == tx["meter_stop"] - tx["meter_start"] for tx in txs)
    assert all(tx["anomalies"] == [] for tx in txs)
    # The meter register carries over from one session to the next.
    for before, after in itertools.pairwise(txs):
        assert after["meter_start"] == before["meter_stop"]
    assert [tx["stop_reason"] for tx in txs[:2]] == ["EVDisconnected", "EVDisconnected"]
    finished = [tx for tx in txs if tx["stop_reason"] == "EVDisconnected"]
    assert all(tx["energy_wh"] == 1500 for tx in finished)
    assert state.sessions_completed == len(txs)
    assert state.energy_wh == sum(tx["energy_wh"] for tx in txs)
    charger = await db.chargers.find_one({"_id": "REP1"})
    assert charger["last_path"] == "/site/REP1/"


@pytest.mark.gen_test(timeout=30)
@pytest.mark.parametrize("repeat", [False, True])
async def test_unknown_tag_with_require_rfid_is_refused(
    http_server, http_port, services, db, repeat
):
    # The charger exists (and requires RFID) before it first connects.
    await db.chargers.update_one({"_id": "RF1"}, {"$set": {"require_rfid": True}}, upsert=True)
    sim = ChargePointSimulator(sim_config(http_port, "RF1/", rfid="NOSUCHTAG", repeat=repeat))
    await asyncio.wait_for(sim._run_session(), 10)

    state = sim.state
    assert (state.status, state.last_error) == ("finished", None)
    assert (state.sessions_rejected, state.sessions_completed, state.energy_wh) == (1, 0, 0)
    last = state.last_session
    assert (last.id_tag, last.id_tag_status, last.outcome) == ("NOSUCHTAG", "Invalid", "rejected")
    assert last.transaction_id is None
    await services.flush()
    assert await db.transactions.count_documents({}) == 0
    calls = await incoming_calls(db, "RF1")
    assert [a for a, _ in calls] == [
        "BootNotification", "StatusNotification", "StatusNotification",
        "StatusNotification", "Authorize", "StatusNotification",
    ]  # fmt: skip
    assert calls[4][1] == {"idTag": "NOSUCHTAG"}
    assert (calls[5][1]["connectorId"], calls[5][1]["status"]) == (1, "Available")
    exchange = await db.messages.find_one(
        {"charger": "RF1", "direction": "in", "action": "Authorize"}
    )
    assert json.loads(exchange["reply"]["frame"])[2] == {"idTagInfo": {"status": "Invalid"}}


@pytest.mark.gen_test(timeout=30)
async def test_known_tag_with_require_rfid_charges(http_server, http_port, services, db):
    await db.chargers.update_one({"_id": "RF2"}, {"$set": {"require_rfid": True}}, upsert=True)
    await services.rfid.upsert("Tag42", label="test card")
    sim = ChargePointSimulator(sim_config(http_port, "RF2/", rfid="TAG42"))
    await asyncio.wait_for(sim._run_session(), 10)

    assert (sim.state.status, sim.state.sessions_completed) == ("finished", 1)
    assert sim.state.last_session.id_tag_status == "Accepted"
    tx = await db.transactions.find_one({"charger": "RF2"})
    assert (tx["id_tag"], tx["id_tag_key"], tx["id_tag_info"]) == (
        "TAG42",
        "TAG42",
        {"status": "Accepted"},
    )
    assert (tx["open"], tx["energy_wh"], tx["stop_reason"]) == (False, 1500, "EVDisconnected")
    await services.flush()
    calls = await incoming_calls(db, "RF2")
    assert [a for a, _ in calls][3:5] == ["StatusNotification", "Authorize"]
    assert calls[4][1] == {"idTag": "TAG42"}
    assert calls[5][0] == "StartTransaction" and calls[5][1]["idTag"] == "TAG42"


@pytest.mark.gen_test(timeout=30)
async def test_stop_ends_the_session_with_a_stop_transaction(http_server, http_port, services, db):
    sim = ChargePointSimulator(sim_config(http_port, "STOP1/", duration=30, connectors=2))
    sim.start()
    assert await wait_for(lambda: len(sim.state.sessions) == 2 and sim.state.energy_wh > 0, 10)
    assert sim.state.current_session.connector == 1
    assert sim.state.as_dict()["current_session"]["outcome"] == "active"
    await sim.stop(5)
    assert (sim.state.status, sim.state.last_error) == ("stopped", None)
    assert sim.state.sessions_completed == 2
    txs = await db.transactions.find({"charger": "STOP1"}).sort("connector", 1).to_list()
    assert [(tx["connector"], tx["open"], tx["stop_reason"]) for tx in txs] == [
        (1, False, "Local"), (2, False, "Local"),
    ]  # fmt: skip
    assert all(0 < tx["energy_wh"] < 1500 for tx in txs)
    assert sim.state.energy_wh == sum(tx["energy_wh"] for tx in txs)


@pytest.mark.gen_test(timeout=30)
async def test_start_transaction_refused_by_the_central_system_is_stopped_at_once():
    async def refuse_start(cs, ws):
        while True:
            frame = await cs.recv(ws, timeout=30)
            reply = cs.reply_to(frame)
            if frame[2] == "StartTransaction":
                reply = [3, frame[1], {"transactionId": 9, "idTagInfo": {"status": "Blocked"}}]
            await cs.send(ws, reply)

    fake = FakeCentralSystem(refuse_start)
    async with fake.serving():
        sim = ChargePointSimulator(sim_config(fake.port, "X5/"))
        await asyncio.wait_for(sim._run_session(), 10)
    calls = [frame for frame in fake.received if frame[0] == 2]
    assert [frame[2] for frame in calls][4:] == [
        "StartTransaction", "StopTransaction", "StatusNotification",
    ]  # fmt: skip
    stop = calls[5][3]
    assert {k: v for k, v in stop.items() if k != "timestamp"} == {
        "transactionId": 9, "idTag": "SIMULATOR", "meterStop": 0, "reason": "DeAuthorized",
    }  # fmt: skip
    assert (sim.state.status, sim.state.sessions_rejected) == ("finished", 1)
    assert sim.state.last_session.id_tag_status == "Blocked"
