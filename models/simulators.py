"""The ``simulators`` collection: simulator entries an operator configures in the admin.

One document per entry, ``_id`` an ObjectId (shown as 24 hex digits in URLs)::

    {_id, name, cp_path, host, ws_port (int, or None: this server's own port), rfid,
     interval, kwh_min, kwh_max, duration, pre_charge_delay, repeat, connectors,
     username, password, created, updated}

The password is kept as given (the simulator sends it in HTTP Basic), so it is
never shown back: forms leave it blank and a blank field keeps it unchanged.
The collection stays small (entries are typed by hand), so listing it by name
needs no index.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from pymongo.asynchronous.database import AsyncDatabase

# Every field an entry stores besides _id and created/updated.
FIELDS = (
    "name", "cp_path", "host", "ws_port", "rfid", "interval", "kwh_min", "kwh_max",
    "duration", "pre_charge_delay", "repeat", "connectors", "username", "password",
)  # fmt: skip


def object_id(entry_id: str | ObjectId) -> ObjectId | None:
    """The ObjectId an entry id stands for, or None when it is not one."""
    if isinstance(entry_id, ObjectId):
        return entry_id
    try:
        return ObjectId(entry_id)
    except (InvalidId, TypeError):
        return None


class SimulatorRepo:
    """Simulator entries: create, read, update, delete."""

    def __init__(self, db: AsyncDatabase):
        self._coll = db.simulators

    async def list(self, limit: int = 1000) -> list[dict[str, Any]]:
        """Every entry, by name."""
        return await self._coll.find({}).sort([("name", 1), ("_id", 1)]).limit(limit).to_list()

    async def get(self, entry_id: str | ObjectId) -> dict[str, Any] | None:
        """The entry, or None (also for an id that is not an ObjectId)."""
        oid = object_id(entry_id)
        return None if oid is None else await self._coll.find_one({"_id": oid})

    async def name_taken(self, name: str, exclude: str | ObjectId | None = None) -> bool:
        """True when another entry (not ``exclude``) has this name."""
        query: dict[str, Any] = {"name": name}
        if exclude is not None:
            query["_id"] = {"$ne": object_id(exclude)}
        return await self._coll.find_one(query, projection={"_id": 1}) is not None

    async def create(self, fields: dict[str, Any], now: datetime) -> str:
        """Store a new entry; return its id (24 hex digits)."""
        doc = {name: fields.get(name) for name in FIELDS}
        doc.update(created=now, updated=now)
        result = await self._coll.insert_one(doc)
        return str(result.inserted_id)

    async def update(self, entry_id: str | ObjectId, fields: dict[str, Any], now: datetime) -> bool:
        """Change some fields (only those in FIELDS); False when the entry does not exist."""
        oid = object_id(entry_id)
        if oid is None:
            return False
        changes = {name: value for name, value in fields.items() if name in FIELDS}
        changes["updated"] = now
        result = await self._coll.update_one({"_id": oid}, {"$set": changes})
        return result.matched_count == 1

    async def delete(self, entry_id: str | ObjectId) -> bool:
        """Remove an entry; False when it did not exist."""
        oid = object_id(entry_id)
        if oid is None:
            return False
        return (await self._coll.delete_one({"_id": oid})).deleted_count == 1
