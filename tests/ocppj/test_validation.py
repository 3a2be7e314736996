"""Schema validation and the mapping of failures to CALLERROR codes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ocppj import errors
from ocppj.timeutil import format_datetime, is_datetime, parse_datetime

PROFILE = {
    "connectorId": 1,
    "csChargingProfiles": {
        "chargingProfileId": 1,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 8.1}],
        },
    },
}


def with_limit(limit):
    profile = {**PROFILE["csChargingProfiles"]}
    profile["chargingSchedule"] = {
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}],
    }
    return {**PROFILE, "csChargingProfiles": profile}


@pytest.mark.parametrize("limit", [8.1, 0.3, 16.7, 32, 0.1])
def test_multiple_of_tolerates_binary_floats(schemas, limit):
    schemas.validate("SetChargingProfile", with_limit(limit))


def test_multiple_of_still_rejects_two_decimals(schemas):
    with pytest.raises(errors.OcppError) as info:
        schemas.validate("SetChargingProfile", with_limit(8.15))
    assert info.value.code == "PropertyConstraintViolation"
    assert "csChargingProfiles.chargingSchedule.chargingSchedulePeriod[0].limit" in (
        info.value.description
    )


def test_classification_agrees_with_the_fast_path(schemas):
    assert schemas.classify("Heartbeat", {}) == (None, "")
    assert schemas.classify("Heartbeat", {"x": 1}) == (
        "OccurenceConstraintViolation",
        "unexpected field x",
    )
    assert schemas.classify("Authorize", {"idTag": True}) == (
        "TypeConstraintViolation",
        "idTag: expected string",
    )


def test_every_message_has_a_schema(schemas):
    assert len(schemas.names) == 78


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("2026-01-01T00:00:00Z", True),
        ("2026-01-01T00:00:00.5+02:00", True),
        ("2026-01-01t00:00:00z", True),
        ("2026-01-01T00:00:00", False),  # RFC 3339 needs an offset
        ("2026-02-30T00:00:00Z", False),
        ("2026-01-01 00:00:00Z", False),
        ("", False),
    ],
)
def test_date_time_format(text, ok):
    assert is_datetime(text) is ok


def test_datetimes_parse_to_utc_and_format_with_z():
    parsed = parse_datetime("2026-01-01T02:00:00.123456789+02:00")
    assert parsed == datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)
    assert format_datetime(parsed) == "2026-01-01T00:00:00.123Z"


def test_integers_beyond_64_bits_are_refused(schemas):
    payload = {"connectorId": 1, "idTag": "T", "meterStart": 2**63,
               "timestamp": "2026-01-01T00:00:00Z"}  # fmt: skip
    with pytest.raises(errors.OcppError) as info:
        schemas.validate("StartTransaction", payload)
    assert (info.value.code, info.value.description) == (
        "PropertyConstraintViolation",
        "meterStart: integer out of 64-bit range",
    )
    schemas.validate("StartTransaction", {**payload, "meterStart": 2**63 - 1})


def test_years_before_1000_are_zero_padded():
    assert format_datetime(parse_datetime("0999-01-01T00:00:00Z")) == "0999-01-01T00:00:00.000Z"
