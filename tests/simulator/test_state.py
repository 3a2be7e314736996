"""What a running simulator shows the outside world (simulator.state)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from simulator import state as st
from simulator.state import SessionInfo, SimulatorError, SimulatorState

T0 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)


def test_a_new_state_is_idle_and_empty():
    state = SimulatorState("SIM1", "ws://127.0.0.1:8000/SIM1/")
    assert (state.status, state.running, state.connected) == (st.IDLE, False, False)
    assert state.current_session is None and state.energy_wh == 0
    assert state.sessions == {} and SimulatorState("SIM2", "u").sessions is not state.sessions


def test_the_current_session_is_the_one_on_the_lowest_connector():
    state = SimulatorState("SIM1", "u")
    state.sessions[3] = SessionInfo(3, "C")
    state.sessions[2] = SessionInfo(2, "B")
    assert state.current_session is state.sessions[2]


def test_energy_counts_finished_and_running_sessions():
    state = SimulatorState("SIM1", "u", energy_delivered_wh=1500)
    state.sessions[1] = SessionInfo(1, "A", energy_wh=200)
    state.sessions[2] = SessionInfo(2, "B", energy_wh=50)
    assert state.energy_wh == 1750


def test_session_info_as_dict():
    info = SessionInfo(1, "TAG", remote=True, target_wh=2000, transaction_id=7, started=T0)
    assert info.as_dict() == {
        "connector": 1, "id_tag": "TAG", "remote": True, "target_wh": 2000,
        "transaction_id": 7, "id_tag_status": None, "energy_wh": 0, "meter_start_wh": None,
        "meter_stop_wh": None, "started": T0, "stopped": None, "stop_reason": None,
        "outcome": st.ACTIVE, "meter_values_sent": 0,
    }  # fmt: skip


def test_state_as_dict_is_plain_data_with_sessions_by_connector_text():
    state = SimulatorState("SIM1", "u", status=st.READY, running=True, connected=True,
                           energy_delivered_wh=1000)  # fmt: skip
    state.sessions[2] = SessionInfo(2, "B", energy_wh=10)
    state.last_session = SessionInfo(1, "A", outcome=st.COMPLETED)
    data = state.as_dict()
    assert list(data["sessions"]) == ["2"]
    assert data["current_session"] == data["sessions"]["2"] == state.sessions[2].as_dict()
    assert data["last_session"]["outcome"] == st.COMPLETED
    assert (data["energy_wh"], data["energy_delivered_wh"]) == (1010, 1000)
    assert (data["status"], data["running"], data["connected"]) == ("ready", True, True)
    assert set(data) == {
        "charger_id", "url", "status", "running", "connected", "boot_status",
        "heartbeat_interval", "heartbeats_sent", "connections", "sessions_completed",
        "sessions_rejected", "sessions_interrupted", "energy_delivered_wh", "energy_wh",
        "last_error", "started_at", "stopped_at", "sessions", "current_session",
        "last_session",
    }  # fmt: skip
    json.dumps(data)  # no datetimes set: JSON as it is


def test_an_idle_state_as_dict_has_no_sessions():
    data = SimulatorState("SIM1", "u").as_dict()
    assert (data["sessions"], data["current_session"], data["last_session"]) == ({}, None, None)


def test_simulator_error_is_an_exception_with_the_operator_message():
    error = SimulatorError("BootNotification was answered Rejected 10 times")
    assert isinstance(error, Exception)
    assert str(error) == "BootNotification was answered Rejected 10 times"
