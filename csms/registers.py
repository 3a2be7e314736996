"""The latest energy register of each open transaction, and what is plausible for it.

A transaction is addressed by (charger, transactionId): readings are noted and
looked up under both, so one charger's readings never count for another's
transaction. ``plausible_max_wh`` bounds the energy a connector can deliver in
a time; a register beyond it is never used for a session's energy.
"""

from __future__ import annotations

from datetime import datetime

# Clocks and sampling are not exact: a register may run ahead of the elapsed time by
# this much of full power before it counts as implausible.
SLACK_SECONDS = 60.0


def plausible_max_wh(max_power_w: float, seconds: float) -> float:
    """The most energy (Wh) a connector of ``max_power_w`` delivers in ``seconds``."""
    return max_power_w * (max(0.0, seconds) + SLACK_SECONDS) / 3600.0


class LastRegisters:
    """The latest energy register reading (Wh) of each open transaction, in memory.

    StopTransaction needs it to cross-check the energy; keeping it here saves
    waiting for the meter-value batch and querying it back. Bounded: the oldest
    entries go first (a miss falls back to the database).
    """

    def __init__(self, capacity: int = 100_000):
        self._values: dict[tuple[str, int], tuple[datetime, float]] = {}
        self._capacity = capacity

    def last(self, charger: str, transaction: int) -> tuple[datetime, float] | None:
        """The latest reading (time, Wh) of a charger's transaction, if remembered."""
        return self._values.get((charger, transaction))

    def note(self, charger: str, transaction: int, ts: datetime, wh: float) -> None:
        """Remember a reading unless a newer one is known."""
        key = (charger, transaction)
        known = self._values.get(key)
        if known is not None and known[0] > ts:
            return
        self._values[key] = (ts, wh)
        if len(self._values) > self._capacity:
            del self._values[next(iter(self._values))]

    def pop(self, charger: str, transaction: int) -> tuple[datetime, float] | None:
        """The latest reading of a charger's transaction, forgotten (it is closing)."""
        return self._values.pop((charger, transaction), None)

    def __len__(self) -> int:
        return len(self._values)
