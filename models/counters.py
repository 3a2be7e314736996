"""Monotonic integer sequences (transaction ids come from here, never from the clock)."""

from __future__ import annotations

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase


class Counters:
    """The ``counters`` collection: one document per sequence, ``{_id: name, seq: n}``."""

    def __init__(self, db: AsyncDatabase):
        self._coll = db.counters

    async def next(self, name: str) -> int:
        """Atomically increment and return the next value of sequence ``name`` (starts at 1)."""
        for _ in range(5):
            doc = await self._coll.find_one_and_update(
                {"_id": name}, {"$inc": {"seq": 1}}, upsert=True,
                return_document=ReturnDocument.AFTER,
            )  # fmt: skip
            if doc is not None:
                return int(doc["seq"])
            # SecantusDB can answer a racing first upsert with no document; the
            # counter exists by now, so the next attempt increments it.
        raise RuntimeError(f"counter {name!r} could not be incremented")

    async def ensure_at_least(self, name: str, value: int) -> None:
        """Make sure the next value handed out is greater than ``value``."""
        await self._coll.update_one({"_id": name}, {"$max": {"seq": int(value)}}, upsert=True)
