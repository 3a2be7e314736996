"""The ``anomalies`` collection: integrity findings that must not stop the protocol.

A StartTransaction, StopTransaction or MeterValues that passes the schema is
always answered (OCPP_RULES 15); what was odd about it is recorded here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase


class AnomalyRepo:
    """Integrity anomalies per charger."""

    def __init__(self, db: AsyncDatabase):
        self._coll = db.anomalies

    async def record(self, charger: str, kind: str, ts: datetime, **detail: Any) -> None:
        """Store one anomaly."""
        await self._coll.insert_one({"charger": charger, "kind": kind, "ts": ts, **detail})

    async def recent(self, charger: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Newest anomalies first, of one charger or of all."""
        query = {"charger": charger} if charger else {}
        return await self._coll.find(query).sort("ts", DESCENDING).limit(limit).to_list()

    async def counts_since(
        self, since: datetime, kinds: tuple[str, ...]
    ) -> dict[str, tuple[int, list[str], list[Any]]]:
        """Anomalies of ``kinds`` recorded since ``since`` (index ts), by charger:
        (count, kinds seen, transactions)."""
        pipeline = [
            {"$match": {"ts": {"$gte": since}, "kind": {"$in": list(kinds)}}},
            {"$group": {"_id": "$charger", "n": {"$sum": 1}, "kinds": {"$addToSet": "$kind"},
                        "txs": {"$addToSet": "$transaction"}}},
        ]  # fmt: skip
        rows = await (await self._coll.aggregate(pipeline)).to_list()
        return {
            row["_id"]: (
                row["n"],
                sorted(row["kinds"]),
                sorted(t for t in row["txs"] if t is not None),
            )
            for row in rows
        }
