"""The ``chargers`` collection: one document per charge point, ``_id`` = charger id."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from models.batch import StateUpdater


def new_charger(charger_id: str, now: datetime) -> dict[str, Any]:
    """The document of a charger nobody has configured yet."""
    return {
        "_id": charger_id,
        "name": charger_id,
        "config": {},
        "require_rfid": False,
        "latitude": None,
        "longitude": None,
        "last_path": None,
        "boot": None,
        "last_heartbeat": None,
        "last_seen": None,
        "last_meter_values": None,
        "connectors": {},
        "connected": False,
        "created": now,
        "updated": now,
    }


class ChargerRepo:
    """Reads and writes charger documents; frequent state goes through batched updaters.

    ``state`` (fast, ~100 ms) carries what operators watch: connector statuses and
    the connection flag. ``observed`` (slow, seconds) carries what only needs to be
    roughly current in the database: last heartbeat, last seen, last meter values;
    coalescing many of those into one write per charger is the point. Readers
    that must be exact call ``flush()`` first.
    """

    def __init__(
        self, db: AsyncDatabase, state: StateUpdater, observed: StateUpdater | None = None
    ):
        self._coll = db.chargers
        self.state = state
        self.observed = observed or state

    async def flush(self) -> None:
        """Write every queued charger update now."""
        await self.state.flush()
        if self.observed is not self.state:
            await self.observed.flush()

    async def get(self, charger_id: str) -> dict[str, Any] | None:
        """The charger document, or None."""
        return await self._coll.find_one({"_id": charger_id})

    async def connect(self, charger_id: str, path: str, now: datetime) -> tuple[dict, bool]:
        """Record a connection; create the charger when unknown. Returns (doc, created)."""
        changes = {"last_path": path, "last_seen": now, "connected": True, "connected_at": now}
        doc = await self._coll.find_one_and_update(
            {"_id": charger_id}, {"$set": changes}, return_document=True
        )
        if doc is not None:
            return doc, False
        doc = new_charger(charger_id, now) | changes
        try:
            await self._coll.insert_one(doc)
        except DuplicateKeyError:  # another connection created it meanwhile
            return await self.connect(charger_id, path, now)
        return doc, True

    async def disconnected(self, charger_id: str, now: datetime, connected_at: datetime) -> None:
        """Mark the charger offline, unless a newer connection has taken over meanwhile
        (its ``connected_at`` differs): a replaced socket's close must not win."""
        await self._coll.update_one(
            {"_id": charger_id, "connected_at": connected_at},
            {"$set": {"connected": False, "disconnected_at": now, "last_seen": now}},
        )

    async def record_boot(self, charger_id: str, boot: dict[str, Any], now: datetime) -> None:
        """Store the boot information of an accepted BootNotification (written at once)."""
        await self._coll.update_one(
            {"_id": charger_id}, {"$set": {"boot": boot, "last_seen": now, "updated": now}}
        )

    def touch(self, charger_id: str, fields: dict[str, Any]) -> None:
        """Queue frequent fields (last_heartbeat, last_seen, last_meter_values ...)."""
        self.observed.set(charger_id, fields)

    def set_connector(self, charger_id: str, connector: int, status: dict[str, Any]) -> None:
        """Queue the status of one connector (0 is the charger as a whole)."""
        self.state.set(charger_id, {f"connectors.{connector}": status})

    async def update(self, charger_id: str, fields: dict[str, Any]) -> bool:
        """Change fields at once; False when the charger does not exist."""
        result = await self._coll.update_one({"_id": charger_id}, {"$set": fields})
        return result.matched_count == 1

    async def list(self, limit: int = 5000) -> list[dict[str, Any]]:
        """Every charger, by id."""
        return await self._coll.find({}).sort("_id", 1).limit(limit).to_list()

    async def create(self, charger_id: str, fields: dict[str, Any], now: datetime) -> bool:
        """Add a charger by hand; False when the id exists already."""
        try:
            await self._coll.insert_one(new_charger(charger_id, now) | fields)
        except DuplicateKeyError:
            return False
        return True

    async def delete_with_data(self, charger_id: str) -> dict[str, int]:
        """Delete a charger and everything recorded for it; return the counts per collection."""
        db = self._coll.database
        counts = {"chargers": (await self._coll.delete_one({"_id": charger_id})).deleted_count}
        for name in ("transactions", "messages", "commands", "anomalies", "security_events",
                     "reservations", "charging_profiles"):  # fmt: skip
            counts[name] = (await db[name].delete_many({"charger": charger_id})).deleted_count
        counts["local_lists"] = (await db.local_lists.delete_one({"_id": charger_id})).deleted_count
        result = await db.meter_values.delete_many({"meta.charger": charger_id})
        counts["meter_values"] = result.deleted_count
        return counts

    async def mark_all_offline(self) -> None:
        """At start-up no charger is connected yet."""
        await self._coll.update_many({"connected": True}, {"$set": {"connected": False}})
