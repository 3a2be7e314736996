"""The ``unknown_chargers`` collection: ids that tried to connect while unknown chargers were
not allowed; ``_id`` = charger id, with first/last seen, last path and IP, and attempts.

The collection is bounded: at most ``max_entries`` ids are kept (a new id beyond that is
not stored; known ones keep being counted) and a TTL index forgets an id 30 days after
it was last seen.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

UNKNOWN_TTL_SECONDS = 30 * 24 * 3600
MAX_ENTRIES = 10_000
MAX_PATH = 300

INDEXES = [
    # Serves the newest-first listing too (an index is walked in both directions).
    IndexModel([("last_seen", ASCENDING)], name="ttl", expireAfterSeconds=UNKNOWN_TTL_SECONDS),
]


class UnknownChargerRepo:
    """Attempts of unknown charger ids."""

    def __init__(self, db: AsyncDatabase, max_entries: int = MAX_ENTRIES):
        self._coll = db.unknown_chargers
        self.max_entries = max_entries

    async def record(self, charger_id: str, path: str, ip: str, now: datetime) -> bool:
        """Count one attempt; False when the id is new and the collection is full."""
        changes = {"$set": {"last_seen": now, "path": path[:MAX_PATH], "ip": ip},
                   "$inc": {"attempts": 1}}  # fmt: skip
        result = await self._coll.update_one({"_id": charger_id}, changes)
        if result.matched_count:
            return True
        if await self._coll.estimated_document_count() >= self.max_entries:
            return False
        doc = {"_id": charger_id, "first_seen": now, "last_seen": now,
               "path": path[:MAX_PATH], "ip": ip, "attempts": 1}  # fmt: skip
        try:
            await self._coll.insert_one(doc)
        except DuplicateKeyError:  # a parallel attempt inserted it first
            await self._coll.update_one({"_id": charger_id}, changes)
        return True

    async def get(self, charger_id: str) -> dict[str, Any] | None:
        """One entry, or None."""
        return await self._coll.find_one({"_id": charger_id})

    async def list(self, limit: int = 500) -> list[dict[str, Any]]:
        """The most recently seen first."""
        return await self._coll.find({}).sort("last_seen", DESCENDING).limit(limit).to_list()

    async def count(self) -> int:
        """How many ids are listed."""
        return await self._coll.count_documents({})

    async def forget(self, charger_id: str) -> bool:
        """Remove an entry (accepted or dismissed); False when it was not there."""
        return (await self._coll.delete_one({"_id": charger_id})).deleted_count == 1
