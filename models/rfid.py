"""The ``rfid_tags`` collection. IdTokens are case-insensitive (CiString20), so the
document id is the upper-cased tag and ``id_tag`` keeps the spelling as entered."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase


def tag_key(id_tag: str) -> str:
    """The case-insensitive key of an idTag."""
    return id_tag.upper()


class RfidRepo:
    """RFID tags known to the Central System."""

    def __init__(self, db: AsyncDatabase):
        self._coll = db.rfid_tags

    async def get(self, id_tag: str) -> dict[str, Any] | None:
        """The tag's document, or None."""
        return await self._coll.find_one({"_id": tag_key(id_tag)})

    async def upsert(
        self,
        id_tag: str,
        *,
        label: str = "",
        status: str = "accepted",
        expiry: datetime | None = None,
        parent_id_tag: str | None = None,
        max_active_transactions: int = 1,
        tariff: str | None = None,
    ) -> dict[str, Any]:
        """Create or replace a tag; status is ``accepted`` or ``blocked``; ``tariff``: the
        tag's own tariff (a fleet contract), or None."""
        doc = {
            "_id": tag_key(id_tag),
            "id_tag": id_tag,
            "label": label,
            "status": status,
            "expiry": expiry,
            "parent_id_tag": parent_id_tag,
            "max_active_transactions": max_active_transactions,
            "tariff": tariff,
        }
        await self._coll.replace_one({"_id": doc["_id"]}, doc, upsert=True)
        return doc

    async def list(self, limit: int = 5000) -> list[dict[str, Any]]:
        """Every tag, by key."""
        return await self._coll.find({}).sort("_id", 1).limit(limit).to_list()

    async def delete(self, id_tag: str) -> bool:
        """Remove a tag; False when it did not exist."""
        return (await self._coll.delete_one({"_id": tag_key(id_tag)})).deleted_count == 1
