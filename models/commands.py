"""The ``commands`` collection: every CALL we sent (or tried to send) a charger.

One document per call, ``_id`` = the OCPP message id of the CALL, so the
command links to its frames in the ``messages`` log (``unique_id`` there).
It is inserted with status ``pending`` before the frame leaves and finished
with the outcome:

``charger, action, name (snake_case operation or None), payload, unique_id,
ts (requested), sent_ts, status (pending / accepted / rejected / error /
timeout / not_connected / disconnected / cancelled), reply (the CALLRESULT
payload, kept even when invalid), charger_status (reply.status), error_code,
description, error_details (of a CALLERROR), finished_ts`` plus what the
caller adds (``requested_by``, ``reservation_id``, ...) and, for firmware,
diagnostics and log requests, ``notifications`` / ``progress`` (the status
notifications that followed).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from models.messages import frames_of
from models.paging import NEWEST_FIRST, find_page, matching

PENDING = "pending"


def new_command(
    command_id: str,
    charger: str,
    action: str,
    payload: dict[str, Any],
    ts: datetime,
    **meta: Any,
) -> dict[str, Any]:
    """The document of a command about to be sent."""
    return {
        "_id": command_id,
        "charger": charger,
        "action": action,
        "name": meta.pop("name", None),
        "payload": payload,
        "unique_id": command_id,
        "ts": ts,
        "sent_ts": None,
        "status": PENDING,
        "reply": None,
        "charger_status": None,
        "error_code": None,
        "description": "",
        "finished_ts": None,
        **meta,
    }


class CommandRepo:
    """Stores commands and their outcomes (a few writes per operator action: never batched)."""

    def __init__(self, db: AsyncDatabase):
        self._coll = db.commands
        self._messages = db.messages

    async def insert(self, doc: dict[str, Any]) -> None:
        """Store a new command document."""
        await self._coll.insert_one(doc)

    async def update(self, command_id: str, fields: dict[str, Any]) -> bool:
        """Set fields of a command; False when it does not exist."""
        result = await self._coll.update_one({"_id": command_id}, {"$set": fields})
        return result.matched_count == 1

    async def add_notification(
        self, command_id: str, entry: dict[str, Any], fields: dict[str, Any] | None = None
    ) -> bool:
        """Append a status notification that followed the command (firmware, diagnostics, log)."""
        update: dict[str, Any] = {"$push": {"notifications": entry}}
        if fields:
            update["$set"] = fields
        result = await self._coll.update_one({"_id": command_id}, update)
        return result.matched_count == 1

    async def get(self, command_id: str) -> dict[str, Any] | None:
        """One command, or None."""
        return await self._coll.find_one({"_id": command_id})

    async def recent(self, charger: str, limit: int = 50, skip: int = 0) -> list[dict[str, Any]]:
        """A charger's newest commands first (index ``charger_ts``)."""
        cursor = self._coll.find({"charger": charger}).sort("ts", DESCENDING)
        return await cursor.skip(skip).limit(limit).to_list()

    async def during(
        self, charger: str, start: datetime, end: datetime, limit: int = 100
    ) -> list[dict[str, Any]]:
        """A charger's commands requested in [start, end], oldest first (index
        ``charger_ts``): those sent while a session ran."""
        query = {"charger": charger, "ts": {"$gte": start, "$lte": end}}
        return await self._coll.find(query).sort("ts", ASCENDING).limit(limit).to_list()

    async def search(
        self,
        charger: str | None = None,
        action: str | None = None,
        status: str | None = None,
        skip: int = 0,
        limit: int = 50,
    ) -> tuple[list[dict[str, Any]], int]:
        """Commands newest first, filtered by charger, OCPP action and outcome status;
        (page, total). Indexes ``charger_ts`` and ``ts``."""
        query = matching(charger=charger, action=action, status=status)
        return await find_page(self._coll, query, NEWEST_FIRST, skip, limit)

    async def frames(self, command: dict[str, Any], slack: float = 60.0) -> list[dict[str, Any]]:
        """The logged frames of a command (its CALL, then the reply), oldest first.

        A flat list of ``{charger, ts, direction, action, unique_id, frame}``
        taken from the command's exchanges (``models.messages.frames_of``); a
        reply that came after the call had ended is an exchange of its own.
        Served by the ``messages`` index ``charger_ts``: the window is the
        command's lifetime plus ``slack`` seconds (for a late reply). The log
        is written in batches, so flush its writer first for the latest frames.
        """
        end = (command.get("finished_ts") or command["ts"]) + timedelta(seconds=slack)
        query = {
            "charger": command["charger"],
            "ts": {"$gte": command["ts"], "$lte": end},
            "unique_id": command["_id"],
        }
        cursor = self._messages.find(query).sort([("ts", ASCENDING), ("_id", ASCENDING)])
        return [frame for exchange in await cursor.to_list() for frame in frames_of(exchange)]

    async def watch_one(self, command_id: str) -> Any:
        """A change stream of the updates of one command (the full document with each):
        the caller of a relayed command waits on it for the outcome."""
        match = {"documentKey._id": command_id, "operationType": {"$in": ["update", "replace"]}}
        return await self._coll.watch([{"$match": match}], full_document="updateLookup")

    async def watch_relayed(self, instance: str, resume_after: Any = None) -> Any:
        """A change stream of the commands other instances relay to ``instance`` (new
        documents whose ``relay_to`` names it), resumed after ``resume_after``."""
        match = {"operationType": "insert", "fullDocument.relay_to": instance}
        return await self._coll.watch([{"$match": match}], resume_after=resume_after)

    async def finish_pending(self, command_id: str, fields: dict[str, Any]) -> bool:
        """Set the outcome of a command nobody has finished yet; False when one had."""
        result = await self._coll.update_one(
            {"_id": command_id, "status": PENDING}, {"$set": fields}
        )
        return result.matched_count == 1
