"""Pieces of metering that need no charger: the in-memory last register readings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from csms.metering import LastRegisters

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_newer_reading_wins_and_pop_forgets():
    registers = LastRegisters()
    registers.note(1, T0 + timedelta(minutes=5), 500.0)
    registers.note(1, T0, 100.0)  # a late, older reading does not replace the newer one
    assert registers.pop(1) == 500.0
    assert registers.pop(1) is None


def test_capacity_evicts_the_oldest_entry():
    registers = LastRegisters(capacity=2)
    for tx in (1, 2, 3):
        registers.note(tx, T0, float(tx))
    assert len(registers) == 2
    assert registers.pop(1) is None
    assert registers.pop(3) == 3.0
