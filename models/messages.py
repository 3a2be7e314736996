"""The ``messages`` collection: the per-charger OCPP message log.

Every frame in and out is appended through a batch writer. The log is
bounded: a TTL index expires old entries, and ``prune`` keeps at most
``max_per_charger`` entries per charger.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from models.batch import BatchInserter

IN = "in"
OUT = "out"


class MessageLog:
    """Appends frames to the log and reads them back."""

    def __init__(self, db: AsyncDatabase, writer: BatchInserter, max_per_charger: int = 10_000):
        self._coll = db.messages
        self.writer = writer
        self.max_per_charger = max_per_charger
        self._touched: set[str] = set()

    def append(
        self,
        charger: str,
        direction: str,
        frame: str,
        ts: datetime,
        action: str | None = None,
        unique_id: str | None = None,
    ) -> None:
        """Queue one frame (as the text that crossed the wire)."""
        self.writer.add(
            {
                "charger": charger,
                "ts": ts,
                "direction": direction,
                "action": action,
                "unique_id": unique_id,
                "frame": frame,
            }
        )
        self._touched.add(charger)

    async def recent(self, charger: str, limit: int = 50, skip: int = 0) -> list[dict[str, Any]]:
        """The newest entries of a charger first."""
        await self.writer.flush()
        cursor = (
            self._coll.find({"charger": charger})
            .sort([("ts", DESCENDING), ("_id", DESCENDING)])
            .skip(skip)
            .limit(limit)
        )
        return await cursor.to_list()

    async def count(self, charger: str) -> int:
        """How many entries a charger has."""
        return await self._coll.count_documents({"charger": charger})

    async def prune(self) -> int:
        """Trim chargers that logged since the last prune to ``max_per_charger`` entries."""
        touched, self._touched = self._touched, set()
        removed = 0
        for charger in touched:
            cursor = (
                self._coll.find({"charger": charger}, {"ts": 1})
                .sort([("ts", DESCENDING), ("_id", DESCENDING)])
                .skip(self.max_per_charger)
                .limit(1)
            )
            edge = await cursor.to_list()
            if edge:
                result = await self._coll.delete_many(
                    {"charger": charger, "ts": {"$lte": edge[0]["ts"]}}
                )
                removed += result.deleted_count
        return removed
