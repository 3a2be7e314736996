"""ChargePointSimulator: a run ends (or fails with a clear error, never a hung task),
heartbeats, stop(), and in repeat mode connections that are lost and come back."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import tornado.httpserver

import simulator
from csms.services import CsmsSettings
from ocppj.timeutil import parse_datetime
from simulator import ChargePointSimulator, SimulatorError
from tests.simulator.helpers import FakeCentralSystem, free_port, sim_config, started, wait_for

# Reconnection delays short enough for a test (the defaults are 1 s doubling to 30 s).
QUICK_RECONNECT = {"reconnect_min": 0.05, "reconnect_max": 0.2}
# The Central System's settings with a one-second heartbeat interval.
ONE_SECOND_HEARTBEATS = CsmsSettings(heartbeat_interval=1, flush_interval=0.02)


async def run_to_error(sim: ChargePointSimulator, within: float = 10.0) -> str:
    """Run the simulator as a task; it must end in the error state within ``within`` s."""
    started = time.monotonic()
    task = sim.start()
    await asyncio.wait_for(asyncio.shield(task), within)
    assert time.monotonic() - started < within
    state = sim.state
    assert (state.status, state.running, state.connected) == ("error", False, False)
    assert task.done() and task.exception() is None  # the error is in the state
    return state.last_error


@pytest.mark.gen_test(timeout=30)
async def test_unknown_host():
    sim = ChargePointSimulator(
        sim_config(80, "X1/", connect_timeout=3).replace(host="nosuchhost.invalid")
    )
    error = await run_to_error(sim)
    assert error.startswith(("cannot resolve host 'nosuchhost.invalid'", "no WebSocket handshake"))


@pytest.mark.gen_test(timeout=30)
async def test_refused_connection_raises_from_run_session():
    port = free_port()
    sim = ChargePointSimulator(sim_config(port, "X2/"))
    with pytest.raises(SimulatorError) as raised:
        await asyncio.wait_for(sim._run_session(), 10)
    message = f"connection refused by 127.0.0.1:{port} (is the Central System running?)"
    assert str(raised.value) == message
    assert (sim.state.status, sim.state.last_error) == ("error", message)


@pytest.mark.gen_test(timeout=30)
@pytest.mark.parametrize("repeat", [False, True])
async def test_handshake_refused_by_the_server(http_server, http_port, repeat):
    # The server refuses a charger id that is not valid UTF-8 with HTTP 400. Unlike a
    # refused or lost connection, that is not retried in repeat mode: it would not change.
    sim = ChargePointSimulator(sim_config(http_port, "%FF/", repeat=repeat, **QUICK_RECONNECT))
    error = await run_to_error(sim)
    assert error == (
        f"ws://127.0.0.1:{http_port}/%FF/ refused the WebSocket upgrade: "
        "HTTP 400: the charger id is not valid UTF-8"
    )
    assert sim.state.connections == 0


@pytest.mark.gen_test(timeout=30)
async def test_server_closes_during_boot():
    async def close_on_boot(cs, ws):
        await cs.recv(ws)
        await ws.close(1011, "going away")

    fake = FakeCentralSystem(close_on_boot)
    async with fake.serving():
        sim = ChargePointSimulator(sim_config(fake.port, "X3/"))
        error = await run_to_error(sim)
    assert error == "the server closed the connection (code 1011 'going away')"
    assert fake.actions() == ["BootNotification"]


@pytest.mark.gen_test(timeout=30)
async def test_server_closes_during_a_session(http_server, http_port, registry, db):
    sim = ChargePointSimulator(sim_config(http_port, "X4/", duration=30))
    sim.start()
    assert await wait_for(lambda: sim.state.energy_wh > 0)
    registry.get("X4").close(1001, "maintenance")
    await asyncio.wait_for(sim.wait(), 10)
    assert sim.state.status == "error"
    assert sim.state.last_error == "the server closed the connection (code 1001 'maintenance')"
    assert sim.state.sessions_interrupted == 1 and not sim.state.sessions
    assert sim.state.last_session.outcome == "interrupted"
    tx = await db.transactions.find_one({"charger": "X4"})
    assert tx["open"] is True  # the charger never got to send its stop
    assert sim.state.connections == 1  # without repeat: no reconnection


@pytest.mark.gen_test(timeout=30)
async def test_no_reply_times_out():
    async def silent(cs, ws):
        await cs.recv(ws)
        await ws.wait_closed()

    fake = FakeCentralSystem(silent)
    async with fake.serving():
        sim = ChargePointSimulator(sim_config(fake.port, "X5/", call_timeout=0.5))
        error = await run_to_error(sim, within=5)
    assert error == "no reply to BootNotification within 0.5 s"


@pytest.mark.gen_test(timeout=30)
async def test_call_error_to_boot_notification():
    async def refuse(cs, ws):
        boot = await cs.recv(ws)
        await cs.send(ws, [4, boot[1], "SecurityError", "go away", {}])
        await ws.wait_closed()

    fake = FakeCentralSystem(refuse)
    async with fake.serving():
        sim = ChargePointSimulator(sim_config(fake.port, "X6/"))
        error = await run_to_error(sim)
    assert error == "BootNotification was answered SecurityError: go away"


@pytest.mark.gen_test(timeout=30)
async def test_boot_rejected_gives_up_after_the_configured_attempts():
    async def reject(cs, ws):
        while True:
            boot = await cs.recv(ws)
            reply = {"status": "Rejected", "currentTime": "2026-01-01T00:00:00Z", "interval": 1}
            await cs.send(ws, [3, boot[1], reply])

    fake = FakeCentralSystem(reject)
    async with fake.serving():
        sim = ChargePointSimulator(sim_config(fake.port, "X7/", boot_attempts=2))
        error = await run_to_error(sim)
    assert error == "BootNotification was answered Rejected 2 times"
    assert fake.actions() == ["BootNotification", "BootNotification"]


@pytest.mark.gen_test(timeout=30)
async def test_stop_while_connecting_is_prompt():
    # A server that accepts TCP but never finishes the handshake.
    gone = asyncio.Event()

    async def hold(reader, writer):
        await reader.read()  # until the simulator gives up
        writer.close()
        gone.set()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        sim = ChargePointSimulator(sim_config(port, "X8/", connect_timeout=20))
        sim.start()
        await asyncio.sleep(0.2)
        assert (sim.state.status, sim.state.running) == ("connecting", True)
        started = time.monotonic()
        await sim.stop(timeout=5)
        assert time.monotonic() - started < 0.5
        assert (sim.state.status, sim.state.running, sim.state.last_error) == (
            "stopped", False, None,
        )  # fmt: skip
        await asyncio.wait_for(gone.wait(), 5)
    finally:
        server.close()


@pytest.mark.gen_test(timeout=30)
@pytest.mark.parametrize("settings", [ONE_SECOND_HEARTBEATS], ids=["heartbeat-1s"])
async def test_heartbeats_follow_the_boot_interval(http_server, http_port, registry, services, db):
    sim = ChargePointSimulator(sim_config(http_port, "HB1/", auto_start=False))
    async with started(sim):
        assert sim.state.heartbeat_interval == 1
        assert await wait_for(lambda: sim.state.heartbeats_sent >= 2, 5)
        await services.flush()
        charger = await db.chargers.find_one({"_id": "HB1"})
        assert charger["last_heartbeat"] is not None
        # A longer HeartbeatInterval takes effect at once: no heartbeat in the next second.
        outcome = await registry.call(
            "HB1", "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "60"}
        )
        assert outcome.ok
        sent = sim.state.heartbeats_sent
        assert not await wait_for(lambda: sim.state.heartbeats_sent > sent, 1.5)
    await services.flush()
    beats = await db.messages.count_documents(
        {"charger": "HB1", "direction": "in", "action": "Heartbeat"}
    )
    assert beats == sim.state.heartbeats_sent


def refused_by(port: int) -> str:
    """The error of a connection attempt that nothing listens to."""
    return f"connection refused by 127.0.0.1:{port} (is the Central System running?)"


def calls(frames: list[list]) -> list[list]:
    """The CALL frames among ``frames``."""
    return [frame for frame in frames if frame[0] == 2]


def restartable(cut_at: str, cut: asyncio.Event):
    """A Central System script: answer everything (numbering the transactions from 7), but
    the first connection goes down at the first CALL ``cut_at``, before answering it."""

    async def script(cs, ws):
        with_cut = cs.connections == 1
        while True:
            try:
                frame = await cs.recv(ws, timeout=30)
            except Exception:  # closed
                return
            if frame[0] != 2:
                continue
            if with_cut and frame[2] == cut_at:
                cut.set()
                await ws.wait_closed()
                return
            await cs.send(ws, cs.reply_to(frame))
            if frame[2] == "StartTransaction":
                cs.transaction_id += 1

    return script


async def through_a_restart(cut_at: str, cid: str, ready, **fields) -> tuple:
    """Run a repeat-mode simulator against a fake Central System that goes down at its
    first ``cut_at``; check that the simulator keeps trying while nothing listens; bring
    the server back on the same port and stop the simulator once ``ready(sim)``.

    Return the simulator and the CALLs the server received, in order."""
    cut = asyncio.Event()
    fake = FakeCentralSystem(restartable(cut_at, cut))
    async with fake.serving():
        port = fake.port
        config = sim_config(port, f"{cid}/", repeat=True, **QUICK_RECONNECT, **fields)
        sim = ChargePointSimulator(config)
        sim.start()
        await asyncio.wait_for(cut.wait(), 10)
    try:
        # Down: the simulator keeps trying, and says why it is not connected.
        assert await wait_for(lambda: sim.state.last_error == refused_by(port))
        assert (sim.state.status, sim.state.running, sim.state.connected) == (
            "connecting", True, False,
        )  # fmt: skip
        async with fake.serving(port):
            assert await wait_for(lambda: ready(sim))
            await sim.stop(5)
    finally:
        await sim.stop(5)
    assert fake.connections == 2
    return sim, calls(fake.received)


def metering(sim: ChargePointSimulator) -> bool:
    """True once the current session has had a MeterValues answered."""
    session = sim.state.current_session
    return session is not None and session.meter_values_sent > 0


def charging(sim: ChargePointSimulator) -> bool:
    """True once the current session has its transaction id."""
    session = sim.state.current_session
    return session is not None and session.transaction_id is not None


def stopped_all_started(sent: list[list], started: set[int]) -> bool:
    """True when the StopTransactions sent name exactly the transactions started."""
    return {frame[3]["transactionId"] for frame in sent if frame[2] == "StopTransaction"} == started


@pytest.mark.gen_test(timeout=60)
async def test_repeat_reconnects_after_a_restart_and_stops_the_open_transaction():
    sim, sent = await through_a_restart("MeterValues", "RC1", metering, duration=30)
    actions = [frame[2] for frame in sent]
    samples = actions.count("MeterValues") - 1
    assert actions == [
        "BootNotification", "StatusNotification", "StatusNotification", "StatusNotification",
        "StartTransaction", "StatusNotification", "MeterValues",
        # the connection is back: boot, then the stop the drop left unsent
        "BootNotification", "StopTransaction", "StatusNotification", "StatusNotification",
        "StatusNotification", "StartTransaction", "StatusNotification",
        *["MeterValues"] * samples, "StopTransaction",
    ]  # fmt: skip
    assert samples >= 1
    first_meter, offline_stop, second_start = sent[6][3], sent[8][3], sent[12][3]
    last_stop = sent[-1][3]
    register = int(first_meter["meterValue"][0]["sampledValue"][0]["value"])
    assert {k: v for k, v in offline_stop.items() if k not in ("timestamp", "meterStop")} == {
        "transactionId": 7, "idTag": "SIMULATOR", "reason": "Other",
    }  # fmt: skip
    # The meter goes on from where the interrupted transaction ended.
    assert register <= offline_stop["meterStop"] == second_start["meterStart"]
    assert parse_datetime(offline_stop["timestamp"]) <= parse_datetime(second_start["timestamp"])
    assert (last_stop["transactionId"], last_stop["reason"]) == (8, "Local")
    assert last_stop["meterStop"] >= second_start["meterStart"]
    statuses = [(f[3]["connectorId"], f[3]["status"]) for f in sent if f[2] == "StatusNotification"]
    assert statuses == [
        (0, "Available"), (1, "Available"), (1, "Preparing"), (1, "Charging"),
        (0, "Available"), (1, "Available"), (1, "Preparing"), (1, "Charging"),
    ]  # fmt: skip
    # No transaction stays open: every one started was stopped.
    assert stopped_all_started(sent, {7, 8})
    state = sim.state
    assert (state.status, state.last_error, state.connections) == ("stopped", None, 2)
    assert (state.sessions_interrupted, state.sessions_completed) == (1, 1)
    assert not sim.context.unsent
    first_start = sent[4][3]
    assert state.energy_wh == (offline_stop["meterStop"] - first_start["meterStart"]) + (
        last_stop["meterStop"] - second_start["meterStart"]
    )


@pytest.mark.gen_test(timeout=60)
async def test_a_start_left_unanswered_is_sent_again_then_stopped():
    sim, sent = await through_a_restart("StartTransaction", "RC2", charging, duration=30)
    actions = [frame[2] for frame in sent]
    samples = actions.count("MeterValues")
    assert actions == [
        "BootNotification", "StatusNotification", "StatusNotification", "StatusNotification",
        "StartTransaction",
        # back: the same start again (a Central System that stored it answers the same id)
        "BootNotification", "StartTransaction", "StopTransaction",
        "StatusNotification", "StatusNotification", "StatusNotification", "StartTransaction",
        "StatusNotification", *["MeterValues"] * samples, "StopTransaction",
    ]  # fmt: skip
    first, again, offline_stop, second = sent[4][3], sent[6][3], sent[7][3], sent[11][3]
    assert again == first
    assert {k: v for k, v in offline_stop.items() if k != "timestamp"} == {
        "transactionId": 7, "idTag": "SIMULATOR", "meterStop": first["meterStart"],
        "reason": "Other",
    }  # fmt: skip
    assert second["meterStart"] == first["meterStart"]  # nothing was charged
    assert (sent[-1][3]["transactionId"], sent[-1][3]["reason"]) == (8, "Local")
    assert stopped_all_started(sent, {7, 8})
    assert (sim.state.sessions_interrupted, sim.state.sessions_completed) == (1, 1)


@pytest.mark.gen_test(timeout=60)
async def test_a_stop_left_unanswered_is_sent_again():
    # Short sessions: the first one ends by itself, and its StopTransaction is cut off.
    sim, sent = await through_a_restart("StopTransaction", "RC3", charging, duration=0.3)
    actions = [frame[2] for frame in sent]
    cut = actions.index("StopTransaction")
    assert actions[: cut + 5] == [
        "BootNotification", "StatusNotification", "StatusNotification", "StatusNotification",
        "StartTransaction", "StatusNotification", *["MeterValues"] * (cut - 6),
        "StopTransaction", "BootNotification", "StopTransaction", "StatusNotification",
        "StatusNotification",
    ]  # fmt: skip
    assert sent[cut + 2][3] == sent[cut][3]  # the very same message, its timestamp too
    assert sent[cut][3]["reason"] == "EVDisconnected"
    assert sent[cut][3]["meterStop"] == 1500
    started = {7 + n for n in range(actions.count("StartTransaction"))}
    assert stopped_all_started(sent, started)
    assert sim.state.sessions_interrupted == 1


@pytest.mark.gen_test(timeout=60)
async def test_repeat_survives_a_restart_of_the_central_system(
    http_server, http_port, app, registry, services, db
):
    sim = ChargePointSimulator(
        sim_config(http_port, "RST1/", repeat=True, duration=30, **QUICK_RECONNECT)
    )
    sim.start()
    restarted = None
    try:
        assert await wait_for(
            lambda: sim.state.current_session and sim.state.current_session.meter_values_sent
        )
        # The server goes down: it stops listening and closes its charger connections.
        http_server.stop()
        registry.close_all(1001, "server shutting down")
        assert await registry.wait_empty(5)
        assert await wait_for(lambda: sim.state.last_error == refused_by(http_port))
        restarted = tornado.httpserver.HTTPServer(app)
        restarted.listen(http_port, "127.0.0.1")

        async def second_transaction_metered():
            return sim.state.last_error is None and await db.meter_values.find_one(
                {"meta.transaction": 2}
            )

        assert await wait_for(second_transaction_metered)
        await sim.stop(5)
    finally:
        await sim.stop(5)
        if restarted is not None:
            restarted.stop()
            await restarted.close_all_connections()

    await services.flush()
    txs = await db.transactions.find({}).sort("_id", 1).to_list()
    assert [(tx["_id"], tx["charger"], tx["open"], tx["stop_reason"]) for tx in txs] == [
        (1, "RST1", False, "Other"), (2, "RST1", False, "Local"),
    ]  # fmt: skip
    assert await db.transactions.count_documents({"open": True}) == 0
    assert all(tx["anomalies"] == [] for tx in txs)
    assert all(tx["energy_wh"] == tx["meter_stop"] - tx["meter_start"] for tx in txs)
    assert txs[1]["meter_start"] == txs[0]["meter_stop"] > 0
    assert sim.state.energy_wh == sum(tx["energy_wh"] for tx in txs)
    docs = (
        await db.messages.find({"charger": "RST1", "direction": "in", "frame": {"$regex": "^\\[2"}})
        .sort([("ts", 1), ("_id", 1)])
        .to_list()
    )
    actions = [doc["action"] for doc in docs]
    again = actions.index("BootNotification", 1)
    before, after = actions[:again], actions[again:]
    assert before == [
        "BootNotification", "StatusNotification", "StatusNotification", "StatusNotification",
        "StartTransaction", "StatusNotification", *["MeterValues"] * (len(before) - 6),
    ]  # fmt: skip
    assert after == [
        "BootNotification", "StopTransaction", "StatusNotification", "StatusNotification",
        "StatusNotification", "StartTransaction", "StatusNotification",
        *["MeterValues"] * (len(after) - 8), "StopTransaction",
    ]  # fmt: skip
    assert len(before) > 6 and len(after) > 8
    offline_stop = json.loads(docs[again + 1]["frame"])[3]
    assert (offline_stop["transactionId"], offline_stop["reason"]) == (1, "Other")


@pytest.mark.gen_test(timeout=30)
async def test_run_session_is_the_documented_name_and_the_old_one_stays(http_server, http_port, db):
    assert ChargePointSimulator._run_session is ChargePointSimulator.run_session
    assert "asyncio.run(sim.run_session())" in simulator.__doc__
    sim = ChargePointSimulator(sim_config(http_port, "RUN1/"))
    await asyncio.wait_for(sim.run_session(), 10)
    assert (sim.state.status, sim.state.sessions_completed, sim.state.energy_wh) == (
        "finished", 1, 1500,
    )  # fmt: skip
    tx = await db.transactions.find_one({"charger": "RUN1"})
    assert (tx["open"], tx["energy_wh"], tx["stop_reason"]) == (False, 1500, "EVDisconnected")
