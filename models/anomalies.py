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
