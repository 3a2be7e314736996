"""Bad configuration and a misbehaving server end in a clear error state, never a hung task."""

from __future__ import annotations

import asyncio
import time

import pytest

from simulator import ChargePointSimulator, SimulatorError
from tests.simulator.helpers import FakeCentralSystem, free_port, sim_config, wait_for


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
async def test_handshake_refused_by_the_server(http_server, http_port):
    # The server refuses a charger id that is not valid UTF-8 with HTTP 400.
    sim = ChargePointSimulator(sim_config(http_port, "%FF/"))
    error = await run_to_error(sim)
    assert error == (
        f"ws://127.0.0.1:{http_port}/%FF/ refused the WebSocket upgrade: "
        "HTTP 400: the charger id is not valid UTF-8"
    )


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


def test_invalid_configuration_is_refused_at_once():
    from simulator import ConfigError, SimulatorConfig

    with pytest.raises(ConfigError) as raised:
        SimulatorConfig(cp_path="/", interval=0, kwh_min=5, kwh_max=1, ws_port=70000)
    assert str(raised.value) == (
        "ws_port 70000 is not a port number (1-65535); cp_path must end with the charger id; "
        "interval must be greater than 0; need 0 <= kwh_min <= kwh_max"
    )
