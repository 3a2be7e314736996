"""RFC 3339 date-times as OCPP uses them (ocppj.timeutil).

The schema format cases and the nanosecond round trip are in test_validation.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from ocppj.timeutil import format_datetime, is_datetime, parse_datetime, utcnow


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-01T00:00:00Z", datetime(2026, 1, 1, tzinfo=UTC)),
        ("2026-01-01t00:00:00z", datetime(2026, 1, 1, tzinfo=UTC)),
        ("2026-01-01T00:00:00.5Z", datetime(2026, 1, 1, 0, 0, 0, 500000, tzinfo=UTC)),
        ("2026-01-01T00:00:00.000001Z", datetime(2026, 1, 1, 0, 0, 0, 1, tzinfo=UTC)),
        # Beyond microseconds the digits are cut, never rounded into the next second.
        ("2026-01-01T23:59:59.9999999Z", datetime(2026, 1, 1, 23, 59, 59, 999999, tzinfo=UTC)),
        ("2026-01-01T05:30:00+05:30", datetime(2026, 1, 1, tzinfo=UTC)),
        ("2025-12-31T19:00:00.25-05:00", datetime(2026, 1, 1, 0, 0, 0, 250000, tzinfo=UTC)),
        ("2026-01-01T00:00:00-00:00", datetime(2026, 1, 1, tzinfo=UTC)),
    ],
)
def test_parse_gives_aware_utc(text, expected):
    parsed = parse_datetime(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        "2026-01-01T00:00:00.Z",  # a dot needs digits
        "2026-01-01T00:00:00+0100",  # the offset needs its colon
        "2026-01-01T24:00:00Z",
        "2026-13-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
        " 2026-01-01T00:00:00Z",
        "2026-01-01T00:00:00Z\n",
    ],
)
def test_is_datetime_rejects(text):
    assert is_datetime(text) is False


def test_is_datetime_judges_strings_only():
    # A format constrains strings; the schema's "type" refuses the rest.
    assert is_datetime(20260101) is True
    assert is_datetime(None) is True


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2026, 1, 1, 0, 0, 0, 999999, tzinfo=UTC), "2026-01-01T00:00:00.999Z"),
        (datetime(2026, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=2))),
         "2025-12-31T23:00:00.000Z"),
        (datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), "9999-12-31T23:59:59.000Z"),
        (datetime(1, 1, 1, tzinfo=UTC), "0001-01-01T00:00:00.000Z"),
    ],
)  # fmt: skip
def test_format_is_utc_milliseconds_with_z(value, text):
    assert format_datetime(value) == text


@pytest.mark.parametrize(
    "text", ["2026-06-30T12:34:56.789Z", "0999-01-01T00:00:00.000Z", "2024-02-29T23:59:59.001Z"]
)
def test_formatted_text_survives_a_round_trip(text):
    assert format_datetime(parse_datetime(text)) == text
    assert is_datetime(text)


def test_utcnow_is_aware_utc_in_whole_milliseconds():
    before = datetime.now(UTC) - timedelta(milliseconds=1)
    now = utcnow()
    assert now.tzinfo is UTC
    assert now.microsecond % 1000 == 0
    assert before <= now <= datetime.now(UTC)
    assert parse_datetime(format_datetime(now)) == now
