"""SimulatorManager: start/stop/state by entry id, one task per entry, bounded shutdown;
entry_config and config_problems (the simulator's rules, by form field)."""

from __future__ import annotations

import asyncio
import time

import pytest

from simulator import ConfigError
from simulator.manager import (
    ManagerClosed,
    SimulatorConflict,
    SimulatorManager,
    config_problems,
    entry_config,
    entry_url,
)
from tests.simulator.helpers import FakeCentralSystem, free_port, sim_config, wait_for


def simulator_tasks(charger_id: str) -> list[asyncio.Task]:
    """The running tasks of the simulator for ``charger_id``."""
    name = f"simulator {charger_id}"
    return [task for task in asyncio.all_tasks() if task.get_name() == name and not task.done()]


async def stored_transaction(db, charger_id: str, timeout: float = 10.0):
    """Poll until a transaction of the charger is stored."""
    return await wait_for(lambda: db.transactions.find_one({"charger": charger_id}), timeout)


@pytest.mark.gen_test(timeout=30)
async def test_start_state_stop(http_server, http_port, services, db, schemas):
    manager = SimulatorManager(schemas)
    assert manager.state("e1") is None and not manager.is_running("e1")
    config = sim_config(http_port, "MGR1/", repeat=True)
    assert manager.start("e1", config) is True
    assert manager.is_running("e1") and [e for e in manager if manager.is_running(e)] == ["e1"]
    assert "e1" in manager and len(manager) == 1 and list(manager) == ["e1"]
    tx = await stored_transaction(db, "MGR1")
    assert tx is not None and tx["connector"] == 1 and tx["id_tag"] == "SIMULATOR"
    state = manager.state("e1")
    assert state.running and state.status == "ready" and state.last_error is None
    assert state.url == f"ws://127.0.0.1:{http_port}/MGR1/"

    assert await manager.stop("e1", timeout=5) is True
    state = manager.state("e1")
    assert (state.status, state.running, state.connected) == ("stopped", False, False)
    assert not manager.is_running("e1") and [e for e in manager if manager.is_running(e)] == []
    assert simulator_tasks("MGR1") == []
    assert await manager.stop("e1") is False  # not running any more
    assert await manager.stop("unknown") is False
    await services.flush()
    assert await db.transactions.count_documents({"charger": "MGR1", "open": True}) == 0


@pytest.mark.gen_test(timeout=30)
async def test_starting_twice_runs_one_task(http_server, http_port, schemas):
    manager = SimulatorManager(schemas)
    config = sim_config(http_port, "MGR2/", repeat=True)
    assert manager.start("e2", config) is True
    first = manager.get("e2")
    assert manager.start("e2", config.replace(interval=1.0)) is False
    assert manager.get("e2") is first and first.config.interval == 0.2
    assert len(simulator_tasks("MGR2")) == 1
    await wait_for(lambda: first.state.connected, 5)
    assert first.state.connections == 1
    await manager.stop("e2", timeout=5)
    assert simulator_tasks("MGR2") == []


@pytest.mark.gen_test(timeout=30)
async def test_a_finished_run_starts_again_with_the_new_config(http_server, http_port, schemas):
    manager = SimulatorManager(schemas)
    assert manager.start("e3", sim_config(http_port, "MGR3/", duration=0.4, interval=0.1))
    first = manager.get("e3")
    assert await wait_for(lambda: first.state.status == "finished", 10)
    assert manager.start("e3", sim_config(http_port, "MGR3/", repeat=True)) is True
    second = manager.get("e3")
    assert second is not first and second.config.repeat and manager.is_running("e3")
    await manager.stop("e3", timeout=5)


@pytest.mark.gen_test(timeout=30)
async def test_refused_port_ends_in_an_error_state(schemas):
    manager = SimulatorManager(schemas)
    port = free_port()
    manager.start("bad", sim_config(port, "MGR4/"))
    assert await wait_for(lambda: not manager.is_running("bad"), 10)
    state = manager.state("bad")
    assert (state.status, state.running) == ("error", False)
    assert state.last_error == (
        f"connection refused by 127.0.0.1:{port} (is the Central System running?)"
    )
    assert simulator_tasks("MGR4") == []


@pytest.mark.gen_test(timeout=30)
async def test_same_charger_twice_is_a_conflict(http_server, http_port, schemas):
    manager = SimulatorManager(schemas)
    manager.start("a", sim_config(http_port, "MGR5/", repeat=True))
    with pytest.raises(SimulatorConflict, match="charger MGR5 is already simulated"):
        manager.start("b", sim_config(http_port, "other/MGR5/", repeat=True))
    assert "b" not in manager
    await manager.stop("a", timeout=5)
    assert manager.start("b", sim_config(http_port, "other/MGR5/", repeat=True)) is True
    await manager.stop_all(timeout=5)


@pytest.mark.gen_test(timeout=30)
async def test_remove_stops_and_forgets(http_server, http_port, schemas):
    manager = SimulatorManager(schemas)
    manager.start("r", sim_config(http_port, "MGR6/", repeat=True))
    await manager.remove("r", timeout=5)
    assert "r" not in manager and manager.state("r") is None
    assert simulator_tasks("MGR6") == []
    await manager.remove("r")  # nothing left: no error


@pytest.mark.gen_test(timeout=40)
async def test_stop_all_is_bounded_even_with_a_silent_server(http_server, http_port, schemas):
    async def never_answer(cs, ws):
        await ws.wait_closed()  # the BootNotification stays unanswered

    manager = SimulatorManager(schemas)
    async with FakeCentralSystem(never_answer).serving() as silent:
        manager.start("s1", sim_config(http_port, "ALL1/", repeat=True))
        manager.start("s2", sim_config(http_port, "ALL2/", repeat=True))
        manager.start("s3", sim_config(silent.port, "ALL3/", call_timeout=30))
        manager.start("s4", sim_config(free_port(), "ALL4/"))
        assert await wait_for(lambda: manager.state("s3").status == "booting", 5)
        assert await wait_for(lambda: manager.state("s1").sessions, 5)
        began = time.monotonic()
        await manager.stop_all(timeout=1.0)
        assert time.monotonic() - began < 3.5
    assert [e for e in manager if manager.is_running(e)] == []
    assert all(not simulator_tasks(f"ALL{n}") for n in range(1, 5))
    assert manager.state("s1").status == "stopped" and manager.state("s3").status == "stopped"
    assert manager.closed
    with pytest.raises(ManagerClosed):
        manager.start("s5", sim_config(http_port, "ALL5/"))


@pytest.mark.gen_test
async def test_stop_all_with_nothing_running():
    manager = SimulatorManager()
    await manager.stop_all()
    assert manager.closed and len(manager) == 0


ENTRY = {
    "name": "Bay 1", "cp_path": "site/BAY1/", "host": "127.0.0.1", "ws_port": None,
    "rfid": "", "interval": 5.0, "kwh_min": 1.0, "kwh_max": 2.5, "duration": 60.0,
    "pre_charge_delay": 0.0, "repeat": True, "connectors": 2, "username": "",
    "password": "secret-key-16chars",
}  # fmt: skip


def test_entry_config_uses_the_default_port_and_drops_empty_texts():
    config = entry_config(ENTRY, 8123)
    assert (config.host, config.ws_port, config.cp_path, config.charger_id) == (
        "127.0.0.1", 8123, "site/BAY1/", "BAY1",
    )  # fmt: skip
    assert (config.rfid, config.username, config.password) == (None, None, "secret-key-16chars")
    assert (config.interval, config.kwh_min, config.kwh_max, config.duration) == (5, 1, 2.5, 60)
    assert (config.repeat, config.connectors, config.basic_auth_user) == (True, 2, "BAY1")
    assert entry_config(ENTRY | {"ws_port": 9000}, 8123).ws_port == 9000
    assert entry_url(ENTRY, 8123) == "ws://127.0.0.1:8123/site/BAY1/"


def test_entry_config_refuses_broken_entries():
    with pytest.raises(ConfigError, match="missing interval"):
        entry_config(ENTRY | {"interval": None}, 8000)
    with pytest.raises(ConfigError, match="cp_path must end with the charger id"):
        entry_config(ENTRY | {"cp_path": "///"}, 8000)
    # The URL is still shown for an entry that cannot start.
    assert entry_url(ENTRY | {"cp_path": "///", "host": "::1"}, 8000) == "ws://[::1]:8000/"


def test_config_problems_by_field():
    assert config_problems({"host": "127.0.0.1", "ws_port": 8000, "cp_path": "A/"}) == {}
    found = config_problems(
        {"host": "a b", "ws_port": 70000, "cp_path": "x/a:b/", "rfid": "R" * 21,
         "interval": 0, "kwh_min": 3, "kwh_max": 2, "connectors": 0, "password": ""}
    )  # fmt: skip
    assert found == {
        "host": "host 'a b' is not a host name or address",
        "ws_port": "ws_port 70000 is not a port number (1-65535)",
        "cp_path": "charger id 'a:b': at most 48 characters, no ':'",
        "rfid": "rfid must be 1 to 20 characters",
        "interval": "interval must be greater than 0",
        "kwh_max": "need 0 <= kwh_min <= kwh_max",
        "connectors": "connectors must be at least 1",
        "password": "password must not be empty",
    }
    assert config_problems({"meter_start_wh": -1}) == {
        "config": "meter_start_wh must not be negative"
    }
