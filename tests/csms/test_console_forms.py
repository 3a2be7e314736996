"""The structured editors' input turned into operation parameters, with errors per field."""

from __future__ import annotations

import pytest

from csms.console_forms import (
    FormErrors,
    charging_profile,
    config_changes,
    local_list_entries,
    rows_from_entries,
)

KEYS = [
    {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
    {"key": "MeterValueSampleInterval", "readonly": False, "value": "60"},
    {"key": "NumberOfConnectors", "readonly": True, "value": "2"},
    {"key": "AuthorizationKey", "readonly": False, "value": None},
]


def errors_of(call, *args) -> dict[str, str]:
    with pytest.raises(FormErrors) as caught:
        call(*args)
    return caught.value.errors


def test_config_changes_are_the_changed_writable_keys_only():
    typed = {"HeartbeatInterval": "120", "MeterValueSampleInterval": "60",
             "NumberOfConnectors": "2", "AuthorizationKey": "", "Unknown": "1"}  # fmt: skip
    assert config_changes(KEYS, typed) == [("HeartbeatInterval", "120")]
    assert config_changes(KEYS, {"AuthorizationKey": "x", "HeartbeatInterval": ""}) == [
        ("AuthorizationKey", "x"),
        ("HeartbeatInterval", ""),
    ]
    assert config_changes(KEYS, {}) == []


def test_config_changes_refuse_a_read_only_key_and_a_long_value():
    typed = {"NumberOfConnectors": "3", "HeartbeatInterval": "9" * 501}
    assert errors_of(config_changes, KEYS, typed) == {
        "NumberOfConnectors": "is read-only on the charger",
        "HeartbeatInterval": "longer than 500 characters",
    }


PROFILE = {"profile_id": "5", "connector_id": "1", "purpose": "TxProfile", "stack_level": "2",
           "kind": "Relative", "unit": "A", "transaction_id": "42"}  # fmt: skip
ROWS = [{"start_period": "0", "limit": "16", "number_phases": ""},
        {"start_period": "1800", "limit": "10.5", "number_phases": "3"},
        {"start_period": "", "limit": "", "number_phases": ""}]  # fmt: skip


def test_a_tx_profile_with_two_periods():
    assert charging_profile(PROFILE, ROWS) == {
        "connector_id": 1,
        "charging_profile": {
            "chargingProfileId": 5, "transactionId": 42, "stackLevel": 2,
            "chargingProfilePurpose": "TxProfile", "chargingProfileKind": "Relative",
            "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [
                {"startPeriod": 0, "limit": 16.0},
                {"startPeriod": 1800, "limit": 10.5, "numberPhases": 3},
            ]},
        },
    }  # fmt: skip


def test_a_recurring_default_profile_with_start_and_duration():
    typed = {**PROFILE, "purpose": "TxDefaultProfile", "transaction_id": "", "kind": "Recurring",
             "recurrency_kind": "Daily", "start_schedule": "2026-01-01T00:00:00+01:00",
             "duration": "86400", "unit": "W", "connector_id": "0"}  # fmt: skip
    profile = charging_profile(typed, ROWS[:1])["charging_profile"]
    assert profile["recurrencyKind"] == "Daily"
    assert "transactionId" not in profile
    assert profile["chargingSchedule"] == {
        "duration": 86400, "startSchedule": "2025-12-31T23:00:00.000Z", "chargingRateUnit": "W",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}],
    }  # fmt: skip


def test_profile_errors_name_each_field_and_period_cell():
    typed = {"profile_id": "0", "connector_id": "0", "purpose": "TxProfile", "stack_level": "x",
             "kind": "Recurring", "unit": "kW", "transaction_id": ""}  # fmt: skip
    rows = [{"start_period": "5", "limit": "16.25"}, {"start_period": "3", "limit": "-1"},
            {"start_period": "", "limit": "", "number_phases": "4"}]  # fmt: skip
    assert errors_of(charging_profile, typed, rows) == {
        "profile_id": "must be at least 1",
        "stack_level": "must be an integer",
        "unit": "must be one of A, W",
        "period-0-limit": "at most one decimal (OCPP: multiple of 0.1)",
        "period-0-start_period": "the first period starts at 0",
        "period-1-limit": "must be between 0.1 and inf",
        "period-2-start_period": "is required",
        "period-2-limit": "is required",
        "period-2-number_phases": "must be at most 3",
        "transaction_id": "a TxProfile is for one transaction: give its id",
        "connector_id": "a TxProfile goes on a connector above 0",
        "recurrency_kind": "a Recurring profile repeats Daily or Weekly",
        "start_schedule": "a Recurring profile needs the start of its first cycle",
    }


def test_profile_rules_between_fields():
    max_profile = {**PROFILE, "purpose": "ChargePointMaxProfile"}
    assert errors_of(charging_profile, max_profile, ROWS) == {
        "transaction_id": "only a TxProfile names a transaction",
        "connector_id": "a ChargePointMaxProfile goes on connector 0",
    }
    assert errors_of(charging_profile, {**PROFILE, "recurrency_kind": "Daily"}, ROWS) == {
        "recurrency_kind": "only a Recurring profile has one"
    }
    assert errors_of(charging_profile, PROFILE, [{}]) == {"periods": "give at least one period"}
    rows = [{"start_period": "0", "limit": "1"}, {"start_period": "0", "limit": "2"}]
    assert errors_of(charging_profile, PROFILE, rows) == {
        "period-1-start_period": "must come after the previous period"
    }


def test_local_list_entries_from_the_table():
    rows = [
        {"id_tag": "B", "status": "Blocked", "expiry": "", "parent": ""},
        {"id_tag": "A", "status": "Accepted", "expiry": "2027-01-01T00:00:00Z", "parent": "F"},
        {"id_tag": "", "status": "Accepted", "expiry": "", "parent": ""},
        {"id_tag": "C", "status": "remove", "expiry": "junk", "parent": ""},
    ]
    entries = local_list_entries(rows)
    assert entries == [
        {"idTag": "B", "idTagInfo": {"status": "Blocked"}},
        {"idTag": "A", "idTagInfo": {"status": "Accepted", "expiryDate": "2027-01-01T00:00:00.000Z",
                                     "parentIdTag": "F"}},
        {"idTag": "C"},
    ]  # fmt: skip
    assert rows_from_entries(entries) == [
        {"id_tag": "B", "status": "Blocked", "expiry": "", "parent": ""},
        {"id_tag": "A", "status": "Accepted", "expiry": "2027-01-01T00:00:00.000Z", "parent": "F"},
        {"id_tag": "C", "status": "remove", "expiry": "", "parent": ""},
    ]


def test_local_list_errors_per_cell():
    rows = [
        {"id_tag": "A" * 21, "status": "Accepted"},
        {"id_tag": "x", "status": "Maybe", "expiry": "tomorrow"},
        {"id_tag": "X", "status": "Accepted", "parent": ""},
        {"id_tag": "", "status": "Accepted", "parent": "P"},
    ]
    assert errors_of(local_list_entries, rows) == {
        "tag-0-id_tag": "longer than 20 characters",
        "tag-1-status": "must be one of Accepted, Blocked, Expired, Invalid, ConcurrentTx",
        "tag-1-expiry": "must be an RFC 3339 date-time with a time zone (2026-01-31T10:00:00Z)",
        "tag-2-id_tag": "appears twice",
        "tag-3-id_tag": "is required",
    }
