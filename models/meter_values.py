"""The ``meter_values`` time-series collection: one document per sampled value.

``ts`` is the time field; ``meta`` holds charger, connector, transaction,
measurand, phase, unit, context and location; ``value`` is numeric.
"""

from __future__ import annotations

from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from models.batch import BatchInserter

ENERGY_REGISTER = "Energy.Active.Import.Register"


class MeterValueRepo:
    """Batched inserts of sampled values and the queries the domain needs."""

    def __init__(self, db: AsyncDatabase, writer: BatchInserter):
        self._coll = db.meter_values
        self.writer = writer

    def add(self, docs: list[dict[str, Any]]) -> None:
        """Queue sampled-value documents for the next batch."""
        self.writer.extend(docs)

    async def flush(self) -> None:
        """Write everything queued so far."""
        await self.writer.flush()

    async def last_energy_register(self, transaction: int) -> float | None:
        """The latest whole-meter (no phase) Energy.Active.Import.Register in Wh, if any."""
        doc = await self._coll.find_one(
            {
                "meta.transaction": transaction,
                "meta.measurand": ENERGY_REGISTER,
                "meta.phase": None,
            },
            sort=[("ts", DESCENDING)],
        )
        return None if doc is None else doc.get("value")

    async def find(self, query: dict[str, Any], limit: int = 1000) -> list[dict[str, Any]]:
        """Sampled values matching ``query``, newest first."""
        cursor = self._coll.find(query).sort("ts", DESCENDING).limit(limit)
        return await cursor.to_list()
