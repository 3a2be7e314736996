"""The ``sites`` and ``allocations`` collections of load management.

A site: ``_id`` = site id, name, limit_a (amps per phase) or limit_w, phases, voltage,
reserve_a (kept for other loads), parent (the site it is a circuit of, or None),
tariff (string or None, stored as given), timezone (IANA name), created, updated.
A charger belongs to a site through the ``site`` field of its ``chargers`` document.

An allocation: one decision for one site: ts, site, reason, capacity_a, allocated_a,
measured_a, connectors [{charger, connector, transaction, limit_a, measured_a,
state}]. Expired by a TTL index after ``ALLOCATION_TTL_SECONDS``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

ALLOCATION_TTL_SECONDS = 7 * 24 * 3600
MAX_SITE_DEPTH = 16  # levels followed up from a site (a loop in parents ends there)

# Wanted in models/migrations.INDEXES.
SITE_INDEXES = [IndexModel([("parent", ASCENDING)], name="parent")]
ALLOCATION_INDEXES = [
    IndexModel([("site", ASCENDING), ("ts", DESCENDING)], name="site_ts"),
    IndexModel([("ts", ASCENDING)], name="ttl", expireAfterSeconds=ALLOCATION_TTL_SECONDS),
]
CHARGER_SITE_INDEX = IndexModel([("site", ASCENDING)], name="site")


class SiteRepo:
    """Sites, and which chargers belong to them."""

    def __init__(self, db: AsyncDatabase):
        self._coll = db.sites
        self._chargers = db.chargers

    async def create(self, doc: dict[str, Any]) -> bool:
        """Insert a new site; False when the id exists."""
        try:
            await self._coll.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def get(self, site_id: str) -> dict[str, Any] | None:
        """One site, or None."""
        return await self._coll.find_one({"_id": site_id})

    async def all(self) -> list[dict[str, Any]]:
        """Every site, by id (sites are few: a building, its circuits)."""
        return await self._coll.find({}).sort("_id", ASCENDING).to_list()

    async def chain(self, site_id: str | None) -> list[dict[str, Any]]:
        """A site and its parents, nearest first (a loop or a missing site ends it)."""
        chain: list[dict[str, Any]] = []
        seen: set[str] = set()
        while isinstance(site_id, str) and site_id not in seen and len(chain) < MAX_SITE_DEPTH:
            seen.add(site_id)
            site = await self.get(site_id)
            if site is None:
                break
            chain.append(site)
            site_id = site.get("parent")
        return chain

    async def children(self, site_id: str) -> list[dict[str, Any]]:
        """The sites whose parent is ``site_id``."""
        return await self._coll.find({"parent": site_id}).to_list()

    async def update(self, site_id: str, fields: dict[str, Any]) -> bool:
        """Set fields of a site; False when there is none."""
        result = await self._coll.update_one({"_id": site_id}, {"$set": fields})
        return result.matched_count == 1

    async def delete(self, site_id: str) -> bool:
        """Delete a site; False when there was none."""
        result = await self._coll.delete_one({"_id": site_id})
        return result.deleted_count == 1

    async def chargers_in(self, site_ids: list[str]) -> list[dict[str, Any]]:
        """The charger documents of these sites, by id."""
        cursor = self._chargers.find({"site": {"$in": site_ids}}).sort("_id", ASCENDING)
        return await cursor.to_list()

    async def charger_ids_in(self, site_ids: list[str]) -> dict[str, list[str]]:
        """Charger ids per site."""
        found: dict[str, list[str]] = {site: [] for site in site_ids}
        cursor = self._chargers.find({"site": {"$in": site_ids}}, {"site": 1})
        async for doc in cursor:
            found.setdefault(doc["site"], []).append(doc["_id"])
        for ids in found.values():
            ids.sort()
        return found


class AllocationRepo:
    """The stored decisions of load management."""

    def __init__(self, db: AsyncDatabase):
        self._coll = db.allocations

    async def record(self, docs: list[dict[str, Any]]) -> None:
        """Store the decisions of one recomputation (one document per site)."""
        if docs:
            await self._coll.insert_many(docs)

    async def latest(self, site_id: str) -> dict[str, Any] | None:
        """The newest decision of a site."""
        return await self._coll.find_one({"site": site_id}, sort=[("ts", DESCENDING)])

    async def history(
        self, site_id: str, since: datetime | None = None, limit: int = 200
    ) -> list[dict[str, Any]]:
        """The newest ``limit`` decisions of a site (after ``since``), oldest first."""
        query: dict[str, Any] = {"site": site_id}
        if since is not None:
            query["ts"] = {"$gt": since}
        cursor = self._coll.find(query).sort("ts", DESCENDING).limit(limit)
        docs = await cursor.to_list()
        docs.reverse()
        return docs

    async def delete_site(self, site_id: str) -> int:
        """Forget the decisions of a deleted site."""
        result = await self._coll.delete_many({"site": site_id})
        return result.deleted_count
