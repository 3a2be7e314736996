"""The ``meter_values`` time-series collection: one document per sampled value.

``ts`` is the time field; ``meta`` holds charger, connector, transaction,
measurand, phase, unit, context and location; ``value`` is numeric.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from models.batch import BatchInserter
from ocppj.measurands import ENERGY_REGISTER


class MeterValueRepo:
    """Batched inserts of sampled values and the queries the domain needs."""

    def __init__(self, db: AsyncDatabase, writer: BatchInserter):
        self._coll = db.meter_values
        self.writer = writer

    def add(self, docs: list[dict[str, Any]]) -> None:
        """Queue sampled-value documents for the next batch."""
        self.writer.extend(docs)

    async def insert_now(self, docs: list[dict[str, Any]]) -> None:
        """Write these documents at once, bypassing the batch (data a reply vouches for)."""
        if docs:
            await self._coll.insert_many(docs, ordered=False)

    async def flush(self) -> None:
        """Write everything queued so far."""
        await self.writer.flush()

    async def backpressure(self) -> None:
        """Wait while the database is behind with the queued values (``models.batch``)."""
        await self.writer.backpressure()

    async def last_energy_register(self, charger: str, transaction: int) -> float | None:
        """The latest whole-meter (no phase) Energy.Active.Import.Register in Wh that
        ``charger`` stored against its ``transaction``, if any."""
        doc = await self._coll.find_one(
            {
                "meta.charger": charger,
                "meta.transaction": transaction,
                "meta.measurand": ENERGY_REGISTER,
                "meta.phase": None,
                "value": {"$ne": None},  # a signed (non-numeric) reading says no number
            },
            sort=[("ts", DESCENDING)],
        )
        return None if doc is None else doc.get("value")

    async def search(
        self,
        charger: str | None = None,
        connector: int | None = None,
        transaction: int | None = None,
        measurand: str | None = None,
        ts_from: datetime | None = None,
        ts_to: datetime | None = None,
        skip: int = 0,
        limit: int = 100,
    ) -> tuple[list[dict[str, Any]], int]:
        """Sampled values filtered by any of the fields, newest first; (page, total).

        Give a charger or a transaction: both have an index.
        """
        query: dict[str, Any] = {}
        for key, value in (("charger", charger), ("connector", connector),
                           ("transaction", transaction), ("measurand", measurand)):  # fmt: skip
            if value is not None:
                query[f"meta.{key}"] = value
        if ts_from is not None or ts_to is not None:
            query["ts"] = {}
            if ts_from is not None:
                query["ts"]["$gte"] = ts_from
            if ts_to is not None:
                query["ts"]["$lt"] = ts_to
        cursor = self._coll.find(query).sort("ts", DESCENDING).skip(skip).limit(limit)
        return await cursor.to_list(), await self._coll.count_documents(query)
