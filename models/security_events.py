"""The ``security_events`` collection: SecurityEventNotification and our own findings.

Bounded two ways, so a brute force cannot fill the database: every event carries
``stored`` (our clock, never the charger's, which may lie) and a TTL index drops it
``EVENT_TTL_SECONDS`` later; and each charger keeps at most ``max_per_charger`` events,
the oldest going first.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from models.paging import NEWEST_FIRST, find_page, matching
from ocppj.timeutil import utcnow

EVENT_TTL_SECONDS = 90 * 24 * 3600
MAX_PER_CHARGER = 1000

INDEXES = [
    IndexModel([("charger", ASCENDING), ("ts", DESCENDING)], name="charger_ts"),
    IndexModel([("ts", DESCENDING)], name="ts"),
    IndexModel([("stored", ASCENDING)], name="ttl", expireAfterSeconds=EVENT_TTL_SECONDS),
]


class SecurityEventRepo:
    """Security events per charger, at most ``max_per_charger`` of each."""

    def __init__(self, db: AsyncDatabase, max_per_charger: int = MAX_PER_CHARGER):
        self._coll = db.security_events
        self.max_per_charger = max_per_charger

    async def record(
        self, charger: str, kind: str, ts: datetime, tech_info: str | None = None, **extra: Any
    ) -> None:
        """Store one event; beyond the cap, the charger's oldest events are deleted."""
        doc = {"charger": charger, "type": kind, "ts": ts, "tech_info": tech_info, **extra}
        doc.setdefault("stored", utcnow())
        await self._coll.insert_one(doc)
        await self._trim(charger)

    async def _trim(self, charger: str) -> None:
        # The newest max_per_charger stay; one indexed skip finds the first to go.
        cutoff = (
            await self._coll.find({"charger": charger}, {"ts": 1})
            .sort([("ts", DESCENDING), ("_id", DESCENDING)])
            .skip(self.max_per_charger)
            .limit(1)
            .to_list()
        )
        if cutoff:
            oldest = cutoff[0]
            await self._coll.delete_many(
                {
                    "charger": charger,
                    "$or": [
                        {"ts": {"$lt": oldest["ts"]}},
                        {"ts": oldest["ts"], "_id": {"$lte": oldest["_id"]}},
                    ],
                }
            )

    async def recent(self, charger: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Newest events first, of one charger or of all."""
        query = {"charger": charger} if charger else {}
        return await self._coll.find(query).sort("ts", DESCENDING).limit(limit).to_list()

    async def search(
        self,
        charger: str | None = None,
        kind: str | None = None,
        skip: int = 0,
        limit: int = 50,
    ) -> tuple[list[dict[str, Any]], int]:
        """Events newest first, filtered by charger and type; (page, total). Indexes
        ``charger_ts`` and ``ts``."""
        query = matching(charger=charger, type=kind)
        return await find_page(self._coll, query, NEWEST_FIRST, skip, limit)

    async def counts_since(
        self, since: datetime, types: tuple[str, ...]
    ) -> dict[str, tuple[int, list[str]]]:
        """Events of ``types`` stored since ``since``, by charger: (count, types seen)."""
        pipeline = [
            {"$match": {"stored": {"$gte": since}, "type": {"$in": list(types)}}},
            {"$group": {"_id": "$charger", "n": {"$sum": 1}, "types": {"$addToSet": "$type"}}},
        ]
        rows = await (await self._coll.aggregate(pipeline)).to_list()
        return {row["_id"]: (row["n"], sorted(row["types"])) for row in rows}
