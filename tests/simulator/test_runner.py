"""Many simulators at once (simulator.runner): ids, the fleet built from a URL, its totals.

Padding of the ids is in test_config.py, the progress line of an idle fleet and running
fleets in test_cli.py."""

from __future__ import annotations

import pytest

from simulator import state as st
from simulator.config import ConfigError
from simulator.runner import FleetTotals, SimulatorFleet, charger_ids


def test_charger_ids_edge_counts():
    assert charger_ids("SIM", 0) == []
    assert charger_ids("SIM", 1) == ["SIM1"]
    ids = charger_ids("CP", 100)
    assert (ids[0], ids[9], ids[-1], len(set(ids))) == ("CP001", "CP010", "CP100", 100)


def test_the_totals_line():
    totals = FleetTotals(
        simulators=5, running=4, connected=3, sessions_completed=12, sessions_active=2,
        sessions_rejected=1, energy_wh=12345, errors=1,
    )  # fmt: skip
    assert totals.line() == (
        "simulators 4/5 running, 3 connected | sessions 12 done, 2 active, 1 rejected"
        " | energy 12.345 kWh | errors 1"
    )
    assert FleetTotals(energy_wh=1).line().split(" | ")[2] == "energy 0.001 kWh"


def test_a_fleet_from_a_url_gets_one_simulator_per_id():
    fleet = SimulatorFleet.from_url("ws://127.0.0.1:9/ocpp", 3, prefix="CP-", interval=2)
    configs = [sim.config for sim in fleet.simulators]
    assert [c.charger_id for c in configs] == ["CP-1", "CP-2", "CP-3"]
    assert [c.cp_path for c in configs] == ["ocpp/CP-1/", "ocpp/CP-2/", "ocpp/CP-3/"]
    assert {(c.host, c.ws_port, c.interval) for c in configs} == {("127.0.0.1", 9, 2)}
    assert fleet.simulators[0].schemas is fleet.simulators[2].schemas  # compiled once
    assert fleet.running is False and fleet.errors() == []
    assert fleet.totals() == FleetTotals(simulators=3)


@pytest.mark.parametrize(
    ("url", "fields", "message"),
    [("http://127.0.0.1:9/", {}, "must start with ws:// or wss://"),
     ("ws:///x", {}, "has no host"),
     ("ws://127.0.0.1:99999/", {}, "bad URL"),
     ("ws://127.0.0.1:9/", {"interval": 0}, "interval must be greater than 0"),
     ("ws://127.0.0.1:9/", {"rfid": "x" * 21}, "rfid must be 1 to 20 characters")],
)  # fmt: skip
def test_an_unusable_url_or_field_is_a_config_error(url, fields, message):
    with pytest.raises(ConfigError, match=message):
        SimulatorFleet.from_url(url, 2, **fields)


def test_an_unknown_field_is_refused():
    with pytest.raises(TypeError):
        SimulatorFleet.from_url("ws://127.0.0.1:9/", 1, colour="red")


def test_totals_and_errors_sum_the_simulators_states():
    fleet = SimulatorFleet.from_url("ws://127.0.0.1:9/", 3)
    one, two, three = (sim.state for sim in fleet.simulators)
    one.running = one.connected = True
    one.sessions_completed, one.energy_delivered_wh = 2, 3000
    one.sessions[1] = st.SessionInfo(1, "A", energy_wh=500)
    two.running = True
    two.sessions_rejected = 1
    three.status, three.last_error = st.ERROR, "connection refused"
    assert fleet.running is True
    assert fleet.totals() == FleetTotals(
        simulators=3, running=2, connected=1, sessions_completed=2, sessions_active=1,
        sessions_rejected=1, energy_wh=3500, errors=1,
    )  # fmt: skip
    assert fleet.errors() == [("SIM3", "connection refused")]
