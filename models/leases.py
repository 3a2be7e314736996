"""What several instances on one database share: named leases and relayed events.

``leases``: ``_id`` = a name (``site:<id>``: the one instance that decides a site's
load), ``holder`` (instance id), ``until`` (UTC). A lease is taken when it is free,
expired or already ours, in one conditional upsert, so two instances never hold it
at once (the loser's upsert hits the unique ``_id``).

``events``: the event bus's events of one instance (``instance``, ``ts``,
``event``), written in batches, read by the other instances from a change stream
and expired after ``EVENT_TTL_SECONDS``.

The charger's own lease (``holder``, ``held_since``, ``lease_until``) is on its
document (``models.chargers``); its indexes are here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from models.batch import BatchInserter

EVENT_TTL_SECONDS = 600

CHARGER_LEASE_INDEXES = [
    IndexModel([("holder", ASCENDING)], name="holder"),
    IndexModel([("connected", ASCENDING), ("lease_until", ASCENDING)], name="connected_lease"),
]
INDEXES: dict[str, list[IndexModel]] = {
    "leases": [],
    "events": [IndexModel([("ts", ASCENDING)], name="ttl", expireAfterSeconds=EVENT_TTL_SECONDS)],
}


class LeaseRepo:
    """Named leases held by one instance at a time."""

    def __init__(self, db: AsyncDatabase):
        self._coll = db.leases

    async def acquire(self, name: str, holder: str, now: datetime, seconds: float) -> bool:
        """Take or renew the lease ``name`` for ``seconds``; False when another instance
        holds it and it has not expired."""
        free = {"_id": name, "$or": [{"holder": holder}, {"until": {"$lt": now}}]}
        update = {"$set": {"holder": holder, "until": now + timedelta(seconds=seconds)}}
        try:
            await self._coll.find_one_and_update(
                free, update, upsert=True, return_document=ReturnDocument.AFTER
            )
        except DuplicateKeyError:
            return False
        return True

    async def release(self, name: str, holder: str) -> None:
        """Give the lease up (when ``holder`` has it)."""
        await self._coll.delete_one({"_id": name, "holder": holder})

    async def get(self, name: str) -> dict[str, Any] | None:
        """The lease document, or None."""
        return await self._coll.find_one({"_id": name})


def storable(value: Any) -> Any:
    """``value`` with what BSON cannot hold made plain (Decimal as its text, sets as lists)."""
    if isinstance(value, dict):
        return {str(key): storable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [storable(item) for item in value]
    if isinstance(value, Decimal):
        return str(value)
    return value


class EventLog:
    """The events of this instance, for the others (batched inserts)."""

    def __init__(self, db: AsyncDatabase, instance: str, interval: float = 0.1):
        self.collection = db.events
        self.instance = instance
        self.writer = BatchInserter(db.events, interval=interval)

    def record(self, event: dict[str, Any], now: datetime) -> None:
        """Queue one published event."""
        self.writer.add({"instance": self.instance, "ts": now, "event": storable(event)})

    async def watch_others(self, resume_after: Any = None) -> Any:
        """A change stream of the events other instances record."""
        match = {"operationType": "insert", "fullDocument.instance": {"$ne": self.instance}}
        return await self.collection.watch([{"$match": match}], resume_after=resume_after)
