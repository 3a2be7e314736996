"""The ``tariffs`` collection: every version of every tariff, one document each.

A document is ``{tariff, version, terms, created, deleted}``; an edit stores the next
version and never changes an earlier one, so a transaction's ``tariff`` (id, version
and a copy of the terms) stays true to what it was billed with. The newest version is
the tariff in force; ``deleted`` set on it means the tariff was deleted (creating the
id again continues the numbering).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, WriteConcern
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

# Partial: only documents that name a tariff are in these indexes, so the many charger
# updates that do not touch one pay nothing for them.
_HAS_TARIFF = {"tariff": {"$type": "string"}}
INDEXES = [
    IndexModel([("tariff", ASCENDING), ("version", DESCENDING)], name="version", unique=True)
]
USER_INDEXES = {
    "chargers": IndexModel(
        [("tariff", ASCENDING)], name="tariff", partialFilterExpression=_HAS_TARIFF
    ),
    "rfid_tags": IndexModel(
        [("tariff", ASCENDING)], name="tariff", partialFilterExpression=_HAS_TARIFF
    ),
    "sites": IndexModel(
        [("tariff", ASCENDING)], name="tariff", partialFilterExpression=_HAS_TARIFF
    ),
}


class TariffRepo:
    """Tariff versions, the tariff in force, and who uses a tariff."""

    def __init__(self, db: AsyncDatabase):
        self._db = db
        self._coll = db.get_collection("tariffs", write_concern=WriteConcern(w="majority", j=True))

    async def latest(self, tariff_id: str) -> dict[str, Any] | None:
        """The newest version of a tariff (deleted or not), or None."""
        return await self._coll.find_one({"tariff": tariff_id}, sort=[("version", DESCENDING)])

    async def current(self, tariff_id: str) -> dict[str, Any] | None:
        """The version in force, or None when the tariff does not exist (or was deleted)."""
        doc = await self.latest(tariff_id)
        return None if doc is None or doc.get("deleted") else doc

    async def version(self, tariff_id: str, version: int) -> dict[str, Any] | None:
        """One stored version."""
        return await self._coll.find_one({"tariff": tariff_id, "version": version})

    async def versions(self, tariff_id: str) -> list[dict[str, Any]]:
        """Every version of a tariff, newest first."""
        cursor = self._coll.find({"tariff": tariff_id}).sort("version", DESCENDING)
        return await cursor.to_list()

    async def list(self, limit: int = 1000) -> list[dict[str, Any]]:
        """The version in force of every tariff that is not deleted, by id."""
        found: dict[str, dict[str, Any]] = {}
        cursor = self._coll.find({}).sort([("tariff", ASCENDING), ("version", DESCENDING)])
        async for doc in cursor:
            found.setdefault(doc["tariff"], doc)
        return [doc for doc in found.values() if not doc.get("deleted")][:limit]

    async def store(
        self, tariff_id: str, terms: dict[str, Any], now: datetime, after: int
    ) -> dict[str, Any] | None:
        """Store version ``after + 1``; None when another writer stored it first."""
        doc = {
            "tariff": tariff_id,
            "version": after + 1,
            "terms": terms,
            "created": now,
            "deleted": None,
        }
        try:
            await self._coll.insert_one(doc)
        except DuplicateKeyError:
            return None
        return doc

    async def delete(self, tariff_id: str, version: int, now: datetime) -> bool:
        """Mark version ``version`` (the newest) deleted; False when it is not there."""
        result = await self._coll.update_one(
            {"tariff": tariff_id, "version": version, "deleted": None},
            {"$set": {"deleted": now}},
        )
        return result.modified_count == 1

    async def users(self, tariff_id: str, limit: int = 5) -> dict[str, list[str]]:
        """Up to ``limit`` ids of the chargers, RFID tags and sites that name the tariff."""
        found = {}
        for name in ("chargers", "rfid_tags", "sites"):
            # The partial index's own filter is in the query, so the index serves it.
            query = {"tariff": {"$type": "string", "$eq": tariff_id}}
            cursor = self._db[name].find(query, {"_id": 1}).limit(limit)
            found[name] = [str(doc["_id"]) async for doc in cursor]
        return found
