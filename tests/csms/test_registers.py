"""The in-memory last register readings and the plausibility bound: no charger needed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from csms.registers import SLACK_SECONDS, LastRegisters, plausible_max_wh

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_newer_reading_wins_and_pop_forgets():
    registers = LastRegisters()
    registers.note("CP1", 1, T0 + timedelta(minutes=5), 500.0)
    registers.note("CP1", 1, T0, 100.0)  # a late, older reading does not replace the newer one
    assert registers.last("CP1", 1) == (T0 + timedelta(minutes=5), 500.0)
    assert registers.pop("CP1", 1) == (T0 + timedelta(minutes=5), 500.0)
    assert registers.pop("CP1", 1) is None


def test_readings_are_kept_per_charger_and_transaction():
    registers = LastRegisters()
    registers.note("VICTIM", 7, T0, 1000.0)
    registers.note("ATTACKER", 7, T0 + timedelta(minutes=1), 999_999_000.0)
    assert registers.pop("VICTIM", 7) == (T0, 1000.0)
    assert registers.last("ATTACKER", 7) == (T0 + timedelta(minutes=1), 999_999_000.0)


def test_capacity_evicts_the_oldest_entry():
    registers = LastRegisters(capacity=2)
    for tx in (1, 2, 3):
        registers.note("CP1", tx, T0, float(tx))
    assert len(registers) == 2
    assert registers.pop("CP1", 1) is None
    assert registers.pop("CP1", 3) == (T0, 3.0)


@pytest.mark.parametrize(
    ("power_w", "seconds", "expected_wh"),
    [
        (22_000, 3600, 22_000 * (3600 + SLACK_SECONDS) / 3600),
        (400_000, 0, 400_000 * SLACK_SECONDS / 3600),
        (11_000, -30, 11_000 * SLACK_SECONDS / 3600),  # a stop before its start: no credit
    ],
)
def test_plausible_maximum_is_full_power_over_the_time_plus_slack(power_w, seconds, expected_wh):
    assert plausible_max_wh(power_w, seconds) == pytest.approx(expected_wh)
