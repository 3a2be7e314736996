"""The profiles load management sends (csms/smart_charging.py): unit, ids, limits."""

from __future__ import annotations

from csms.smart_charging import (
    LOAD_PROFILE_ID,
    LOAD_STACK_LEVEL,
    load_profile,
    profile_limit_a,
    rate_unit,
)


def keys(value):
    key = {"key": "ChargingScheduleAllowedChargingRateUnit", "value": value, "readonly": True}
    return {"ocpp_config": {"keys": [key]}}


def test_the_rate_unit_is_amps_unless_only_power_is_allowed():
    assert rate_unit({}) == "A"
    assert rate_unit(keys("Current")) == "A"
    assert rate_unit(keys("Current,Power")) == "A"
    assert rate_unit(keys("Power")) == "W"
    assert rate_unit(keys(" Power ")) == "W"


def test_tx_and_default_profiles():
    assert load_profile("TxProfile", 10.6, connector=2, transaction_id=7) == {
        "chargingProfileId": LOAD_PROFILE_ID + 2, "stackLevel": LOAD_STACK_LEVEL,
        "chargingProfilePurpose": "TxProfile", "chargingProfileKind": "Relative",
        "transactionId": 7,
        "chargingSchedule": {"chargingRateUnit": "A",
                             "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10.6}]},
    }  # fmt: skip
    default = load_profile("TxDefaultProfile", 10.6, unit="W", voltage=230, phases=3)
    assert default["chargingProfileId"] == LOAD_PROFILE_ID and "transactionId" not in default
    assert default["chargingSchedule"]["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 7314.0}
    ]
    assert profile_limit_a(default, 230, 3) == 10.6
    assert profile_limit_a({"chargingSchedule": {"chargingSchedulePeriod": []}}, 230, 3) is None
