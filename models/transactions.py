"""The ``transactions`` collection: charging sessions with integer ids from a counter.

Writes here are durable before the charger is answered (OCPP_RULES 15-17):
they use majority write concern and are never batched.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

from pymongo import DESCENDING, WriteConcern
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from models.counters import Counters

SEQUENCE = "transactions"


class TransactionRepo:
    """Charging sessions: start, stop, look-ups."""

    def __init__(self, db: AsyncDatabase, counters: Counters):
        self._coll = db.get_collection(
            "transactions", write_concern=WriteConcern(w="majority", j=True)
        )
        self._counters = counters

    async def get(self, tx_id: int) -> dict[str, Any] | None:
        """The transaction with this id, or None."""
        return await self._coll.find_one({"_id": tx_id})

    async def find_start(
        self, charger: str, connector: int, id_tag_key: str, start_ts: datetime, meter_start: int
    ) -> dict[str, Any] | None:
        """The OPEN session started with exactly these values (a resent StartTransaction);
        a closed one is history: the same values again are a new session."""
        return await self._coll.find_one(
            {
                "charger": charger,
                "connector": connector,
                "start_ts": start_ts,
                "meter_start": meter_start,
                "id_tag_key": id_tag_key,
                "kind": "session",
                "open": True,
            }
        )

    async def open_on_connector(self, charger: str, connector: int) -> dict[str, Any] | None:
        """The open transaction of a connector, if any."""
        return await self._coll.find_one({"charger": charger, "connector": connector, "open": True})

    async def count_open_for_tag(self, id_tag_key: str) -> int:
        """How many sessions are open with this idTag on chargers that checked it
        (``tag_checked``, see ``csms.authorization``)."""
        return await self._coll.count_documents(
            {"id_tag_key": id_tag_key, "open": True, "tag_checked": True}
        )

    async def insert_started(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Give ``doc`` the next id and store it; on a duplicate start return the stored one."""
        doc["_id"] = await self._counters.next(SEQUENCE)
        try:
            await self._coll.insert_one(doc)
        except DuplicateKeyError:
            existing = await self.find_start(
                doc["charger"],
                doc["connector"],
                doc["id_tag_key"],
                doc["start_ts"],
                doc["meter_start"],
            )
            if existing is None:
                raise
            return existing
        return doc

    async def insert_record(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Store a record that is not a normal start (an orphan stop), with the next id."""
        doc["_id"] = await self._counters.next(SEQUENCE)
        await self._coll.insert_one(doc)
        return doc

    async def close(
        self, tx_id: int, fields: dict[str, Any], anomalies: list[dict[str, Any]] = ()
    ) -> bool:
        """Close an open transaction; False when it is not open (already stopped)."""
        update: dict[str, Any] = {"$set": {**fields, "open": False}}
        if anomalies:
            update["$push"] = {"anomalies": {"$each": list(anomalies)}}
        result = await self._coll.update_one({"_id": tx_id, "open": True}, update)
        return result.modified_count == 1

    async def replace_estimate(
        self, tx_id: int, fields: dict[str, Any], anomalies: list[dict[str, Any]]
    ) -> bool:
        """A session closed with an estimate (superseded by a new start, or closed by a
        status or an operator) gets its late real stop instead, once: False when the
        session was not closed that way or already has its real stop."""
        result = await self._coll.update_one(
            {
                "_id": tx_id,
                "open": False,
                "stop_ts": None,
                "$or": [{"superseded": True}, {"estimated": True}],
            },
            {"$set": fields, "$push": {"anomalies": {"$each": list(anomalies)}}},
        )
        return result.modified_count == 1

    async def idle_start(self, tx_id: int, ts: datetime) -> None:
        """An open session's connector became idle at ``ts`` (see ``csms.billing``)."""
        await self._coll.update_one(
            {"_id": tx_id, "open": True, "idle_since": None}, {"$set": {"idle_since": ts}}
        )

    async def idle_end(self, tx_id: int, since: datetime, ts: datetime) -> None:
        """The idle interval that began at ``since`` ended at ``ts``."""
        await self._coll.update_one(
            {"_id": tx_id, "open": True, "idle_since": since},
            {"$set": {"idle_since": None}, "$push": {"idle": {"from": since, "to": ts}}},
        )

    async def find_orphan_stop(
        self, charger: str, charger_tx_id: int, stop_ts: datetime
    ) -> dict[str, Any] | None:
        """An orphan stop already recorded (a resent StopTransaction for an unknown id)."""
        return await self._coll.find_one(
            {"charger": charger, "charger_tx_id": charger_tx_id, "stop_ts": stop_ts}
        )

    async def list_for_charger(self, charger: str, limit: int = 100) -> list[dict[str, Any]]:
        """Most recent transactions of a charger first."""
        cursor = self._coll.find({"charger": charger}).sort("start_ts", DESCENDING).limit(limit)
        return await cursor.to_list()

    async def open_for_charger(self, charger: str, limit: int = 0) -> list[dict[str, Any]]:
        """The open transactions of a charger, by connector (at most ``limit``; 0: all).

        {charger, open: true} is served by the partial index one_open_per_connector.
        """
        cursor = self._coll.find({"charger": charger, "open": True}).sort("connector", 1)
        return await cursor.limit(limit).to_list()

    async def open_for_chargers(self, chargers: list[str]) -> dict[str, list[dict[str, Any]]]:
        """The open transactions of each of ``chargers`` (one query), by connector."""
        found: dict[str, list[dict[str, Any]]] = {cid: [] for cid in chargers}
        if not chargers:
            return found
        cursor = self._coll.find({"charger": {"$in": chargers}, "open": True})
        for doc in sorted(await cursor.to_list(), key=lambda tx: tx.get("connector") or 0):
            found.setdefault(doc["charger"], []).append(doc)
        return found

    async def search(
        self,
        charger: str | None = None,
        start_from: datetime | None = None,
        start_to: datetime | None = None,
        skip: int = 0,
        limit: int = 50,
    ) -> tuple[list[dict[str, Any]], int]:
        """Transactions filtered by charger and start time, newest first; (page, total)."""
        query: dict[str, Any] = {}
        if charger is not None:
            query["charger"] = charger
        if start_from is not None or start_to is not None:
            query["start_ts"] = {}
            if start_from is not None:
                query["start_ts"]["$gte"] = start_from
            if start_to is not None:
                query["start_ts"]["$lt"] = start_to
        cursor = self._coll.find(query).sort([("start_ts", DESCENDING), ("_id", DESCENDING)])
        page = await cursor.skip(skip).limit(limit).to_list()
        return page, await self._coll.count_documents(query)

    def costed(
        self, start_from: datetime | None = None, start_to: datetime | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Every session with a stored cost started in [start_from, start_to), oldest first."""
        query: dict[str, Any] = {"cost": {"$type": "object"}}
        if start_from is not None or start_to is not None:
            query["start_ts"] = {"$type": "date"}
            if start_from is not None:
                query["start_ts"]["$gte"] = start_from
            if start_to is not None:
                query["start_ts"]["$lt"] = start_to
        return self._coll.find(query).sort("start_ts", 1)

    async def energy_total(self, charger: str) -> float:
        """Energy (Wh) of every closed session of a charger."""
        pipeline = [
            {"$match": {"charger": charger, "kind": "session", "open": False}},
            {"$group": {"_id": None, "wh": {"$sum": "$energy_wh"}}},
        ]
        rows = await (await self._coll.aggregate(pipeline)).to_list()
        return float(rows[0]["wh"]) if rows else 0.0

    async def energy_stopped_since(self, since: datetime, longest: float = 2.0) -> float:
        """Energy (Wh) of the sessions stopped since ``since`` that started at most
        ``longest`` days before it (index start)."""
        pipeline = [
            {"$match": {"start_ts": {"$gte": since - timedelta(days=longest)},
                        "open": False, "stop_ts": {"$gte": since}}},
            {"$group": {"_id": None, "wh": {"$sum": "$energy_wh"}}},
        ]  # fmt: skip
        rows = await (await self._coll.aggregate(pipeline)).to_list()
        return float(rows[0]["wh"] or 0) if rows else 0.0

    async def count_open(self) -> int:
        """How many sessions are open now (index open_start)."""
        return await self._coll.count_documents({"open": True})

    async def open_started_before(
        self, cutoff: datetime, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """Open sessions started before ``cutoff`` (the long-open alert rule), oldest first."""
        query = {"open": True, "start_ts": {"$lt": cutoff}}
        return await self._coll.find(query).sort("start_ts", 1).limit(limit).to_list()

    async def open_sessions(self, limit: int = 10_000) -> list[dict[str, Any]]:
        """Open sessions (index open_start), for the alert rules' sweep."""
        cursor = self._coll.find({"open": True, "start_ts": {"$gte": datetime.min}})
        return await cursor.limit(limit).to_list()

    async def mark_stale(self, tx_id: int, anomaly: dict[str, Any]) -> bool:
        """Flag an open session as stale (no meter values for long), once."""
        result = await self._coll.update_one(
            {"_id": tx_id, "open": True, "stale": {"$ne": True}},
            {"$set": {"stale": True}, "$push": {"anomalies": anomaly}},
        )
        return result.modified_count == 1
