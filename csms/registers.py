"""The latest energy register of each open transaction, and what is plausible for it.

A transaction is addressed by (charger, transactionId): readings are noted and
looked up under both, so one charger's readings never count for another's
transaction. ``plausible_max_wh`` bounds the energy a connector can deliver in
a time; a register beyond it is never used for a session's energy.
"""

from __future__ import annotations

from datetime import datetime, timedelta

# Clocks and sampling are not exact: a register may run ahead of the elapsed time by
# this much of full power before it counts as implausible.
SLACK_SECONDS = 60.0

# Why a stored reading is never used for energy (its ``excluded`` field).
FUTURE = "future"  # dated beyond the server's clock plus the allowed skew
BEFORE_START = "before_start"  # dated before the start of its transaction
NON_FINITE = "non_finite"  # not a finite number once scaled to its unit


def plausible_max_wh(max_power_w: float, seconds: float) -> float:
    """The most energy (Wh) a connector of ``max_power_w`` delivers in ``seconds``."""
    return max_power_w * (max(0.0, seconds) + SLACK_SECONDS) / 3600.0


def out_of_window(
    ts: datetime, now: datetime, skew_s: float, start: datetime | None = None
) -> str | None:
    """Why a charger's reading time ``ts`` is implausible (``FUTURE``, ``BEFORE_START``),
    or None. ``start`` is the start of the reading's transaction, if it has one; a
    reading up to ``SLACK_SECONDS`` before it still counts (clocks and rounding)."""
    if ts > now + timedelta(seconds=skew_s):
        return FUTURE
    if start is not None and ts < start - timedelta(seconds=SLACK_SECONDS):
        return BEFORE_START
    return None


def plausible_seconds(
    start: datetime, created: datetime, end: datetime, now: datetime, skew_s: float
) -> float:
    """The session time energy may be judged by: the charger's start and end times,
    except that a time beyond the server's clock plus ``skew_s`` is replaced by the
    server's own (when the start arrived, ``created``; when the end arrived, ``now``)."""
    allowed = timedelta(seconds=skew_s)
    if start > created + allowed:
        start = created
    if end > now + allowed:
        end = now
    return (end - start).total_seconds()


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
