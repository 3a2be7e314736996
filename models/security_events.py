"""The ``security_events`` collection: SecurityEventNotification and our own findings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase


class SecurityEventRepo:
    """Security events per charger."""

    def __init__(self, db: AsyncDatabase):
        self._coll = db.security_events

    async def record(
        self, charger: str, kind: str, ts: datetime, tech_info: str | None = None, **extra: Any
    ) -> None:
        """Store one event."""
        await self._coll.insert_one(
            {"charger": charger, "type": kind, "ts": ts, "tech_info": tech_info, **extra}
        )

    async def recent(self, charger: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Newest events first, of one charger or of all."""
        query = {"charger": charger} if charger else {}
        return await self._coll.find(query).sort("ts", DESCENDING).limit(limit).to_list()
