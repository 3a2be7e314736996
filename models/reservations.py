"""The ``reservations`` collection: ReserveNow requests and what became of them.

``_id`` is the reservationId (an integer from the ``reservations`` counter,
or one the operator chose). Fields: charger, connector, id_tag, id_tag_key,
parent_id_tag, expiry (datetime), status, ts (requested), command_id,
updated. ``status`` is the charger's answer in lower case (accepted,
faulted, occupied, rejected, unavailable), ``unconfirmed`` when the request
went out but no answer came (timeout, disconnect), ``failed`` when it was not
sent or answered with a CALLERROR, and ``cancelled`` after an accepted
CancelReservation. An accepted reservation whose expiry has passed is
expired; that is derived from ``expiry``, never stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from models.counters import Counters
from models.paging import NEWEST_FIRST, find_page, matching

SEQUENCE = "reservations"
ACCEPTED = "accepted"
CANCELLED = "cancelled"

# Wanted in models/migrations.INDEXES["reservations"].
INDEXES = [
    IndexModel([("charger", ASCENDING), ("ts", DESCENDING)], name="charger_ts"),
    IndexModel(
        [("charger", ASCENDING), ("connector", ASCENDING), ("expiry", ASCENDING)],
        name="active",
        partialFilterExpression={"status": ACCEPTED},
    ),
    IndexModel([("ts", DESCENDING)], name="ts"),  # every charger's, newest first
]


class ReservationRepo:
    """Reservations per charger."""

    def __init__(self, db: AsyncDatabase, counters: Counters):
        self._coll = db.reservations
        self._counters = counters

    async def next_id(self) -> int:
        """A reservation id never handed out before."""
        return await self._counters.next(SEQUENCE)

    async def claim_id(self, reservation_id: int) -> None:
        """The operator chose an id: never hand out this one (or a lower one) again."""
        await self._counters.ensure_at_least(SEQUENCE, reservation_id)

    async def get(self, reservation_id: int) -> dict[str, Any] | None:
        """One reservation, or None."""
        return await self._coll.find_one({"_id": reservation_id})

    async def store(self, doc: dict[str, Any]) -> None:
        """Create or replace a reservation (ReserveNow with a known id replaces it)."""
        await self._coll.replace_one({"_id": doc["_id"]}, doc, upsert=True)

    async def set_status(self, reservation_id: int, status: str, now: datetime, **fields) -> bool:
        """Change a reservation's status; False when it does not exist."""
        result = await self._coll.update_one(
            {"_id": reservation_id}, {"$set": {"status": status, "updated": now, **fields}}
        )
        return result.matched_count == 1

    async def active(self, charger: str, now: datetime) -> list[dict[str, Any]]:
        """Accepted reservations of a charger that have not expired, soonest expiry first."""
        cursor = self._coll.find(
            {"charger": charger, "status": ACCEPTED, "expiry": {"$gt": now}}
        ).sort("expiry", ASCENDING)
        return await cursor.to_list()

    async def for_charger(self, charger: str, limit: int = 100) -> list[dict[str, Any]]:
        """A charger's reservations, newest first."""
        cursor = self._coll.find({"charger": charger}).sort("ts", DESCENDING).limit(limit)
        return await cursor.to_list()

    async def search(
        self,
        charger: str | None = None,
        status: str | None = None,
        skip: int = 0,
        limit: int = 50,
    ) -> tuple[list[dict[str, Any]], int]:
        """Reservations newest first, filtered by charger and stored status; (page,
        total). Indexes ``charger_ts`` and ``ts``."""
        query = matching(charger=charger, status=status)
        return await find_page(self._coll, query, NEWEST_FIRST, skip, limit)
