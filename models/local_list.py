"""Local authorization lists: what each charger holds, built from ``rfid_tags``.

The ``local_lists`` collection, ``_id`` = charger id: ``version`` (the list
version the charger last accepted from us), ``entries`` (the list as the
charger now holds it, OCPP ``AuthorizationData`` items sorted by idTag),
``update_type``, ``sent_ts``, ``command_id`` (of the accepted SendLocalList),
``last_status`` / ``last_status_ts`` (the answer to the latest
SendLocalList, accepted or not), ``charger_version`` / ``checked_ts`` (what
the charger reported in GetLocalListVersion; -1 = no local list support) and
``in_sync`` (charger_version == version).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from models.rfid import tag_key
from ocppj.timeutil import format_datetime


def entry_for(tag: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The AuthorizationData of an ``rfid_tags`` document as of ``now``."""
    expiry = tag.get("expiry")
    if tag.get("status") == "blocked":
        status = "Blocked"
    elif expiry is not None and expiry <= now:
        status = "Expired"
    else:
        status = "Accepted"
    info: dict[str, Any] = {"status": status}
    if expiry is not None:
        info["expiryDate"] = format_datetime(expiry)
    if tag.get("parent_id_tag"):
        info["parentIdTag"] = tag["parent_id_tag"]
    return {"idTag": tag["id_tag"], "idTagInfo": info}


async def entries_from_tags(
    db: AsyncDatabase, now: datetime, id_tags: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    """AuthorizationData for every tag in ``rfid_tags``, or for ``id_tags`` only.

    A requested tag that is not in the collection gets an entry without
    idTagInfo, which in a Differential update removes it from the charger.
    """
    if id_tags is None:
        tags = await db.rfid_tags.find({}).sort("_id", 1).to_list()
        return [entry_for(tag, now) for tag in tags]
    wanted = {tag_key(tag): tag for tag in id_tags}
    found = await db.rfid_tags.find({"_id": {"$in": list(wanted)}}).to_list()
    by_key = {tag["_id"]: tag for tag in found}
    return [
        entry_for(by_key[key], now) if key in by_key else {"idTag": wanted[key]}
        for key in sorted(wanted)
    ]


def differential(
    held: Iterable[dict[str, Any]], wanted: Iterable[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The Differential update that turns list ``held`` into list ``wanted``."""
    old = {tag_key(entry["idTag"]): entry for entry in held}
    new = {tag_key(entry["idTag"]): entry for entry in wanted}
    changes = [entry for key, entry in new.items() if old.get(key) != entry]
    changes += [{"idTag": entry["idTag"]} for key, entry in old.items() if key not in new]
    return sorted(changes, key=lambda entry: tag_key(entry["idTag"]))


def merged(held: Iterable[dict[str, Any]], update: Iterable[dict[str, Any]]) -> list[dict]:
    """The list after a Differential update (entries without idTagInfo are removed)."""
    entries = {tag_key(entry["idTag"]): entry for entry in held}
    for entry in update:
        key = tag_key(entry["idTag"])
        if "idTagInfo" in entry:
            entries[key] = entry
        else:
            entries.pop(key, None)
    return [entries[key] for key in sorted(entries)]


class LocalListRepo:
    """The per-charger local list state (reads and writes by ``_id`` only)."""

    def __init__(self, db: AsyncDatabase):
        self._coll = db.local_lists

    async def get(self, charger: str) -> dict[str, Any] | None:
        """The charger's local list state, or None when nothing was ever sent or asked."""
        return await self._coll.find_one({"_id": charger})

    async def record_answer(self, charger: str, status: str, now: datetime) -> None:
        """Remember the answer to a SendLocalList."""
        await self._coll.update_one(
            {"_id": charger},
            {"$set": {"last_status": status, "last_status_ts": now}},
            upsert=True,
        )

    async def record_sent(
        self,
        charger: str,
        version: int,
        entries: list[dict[str, Any]],
        update_type: str,
        now: datetime,
        command_id: str | None,
    ) -> None:
        """The charger accepted list ``version``; ``entries`` is what it now holds."""
        await self._coll.update_one(
            {"_id": charger},
            {
                "$set": {
                    "version": version,
                    "entries": entries,
                    "update_type": update_type,
                    "sent_ts": now,
                    "command_id": command_id,
                    "last_status": "Accepted",
                    "last_status_ts": now,
                    "charger_version": version,
                    "checked_ts": now,
                    "in_sync": True,
                }
            },
            upsert=True,
        )

    async def record_version(self, charger: str, charger_version: int, now: datetime) -> bool:
        """What GetLocalListVersion reported; returns whether it matches our version."""
        doc = await self.get(charger)
        ours = (doc or {}).get("version", 0)
        in_sync = charger_version == ours
        await self._coll.update_one(
            {"_id": charger},
            {
                "$set": {
                    "charger_version": charger_version,
                    "checked_ts": now,
                    "in_sync": in_sync,
                }
            },
            upsert=True,
        )
        return in_sync
