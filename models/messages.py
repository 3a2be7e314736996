"""The ``messages`` collection: the per-charger OCPP message log, one exchange a document.

An exchange is a CALL and the reply answering it, or a lone frame that no
reply belongs to. The document is queued through a batch writer once the
exchange is complete (or can no longer complete)::

    {charger, ts, direction, action, unique_id, frame, reply: {ts, frame} | None}

``ts``, ``direction`` and ``frame`` are those of the first frame (the CALL);
``reply`` is the CALLRESULT or CALLERROR answering it, or None when none
came. One document per exchange halves the inserts (and index updates) of a
document per frame. The log is bounded: a TTL index expires old exchanges,
and ``prune`` trims a charger to its newest ``max_per_charger`` exchanges once it logged
a tenth of that since its last check.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from models.batch import BatchInserter

IN = "in"
OUT = "out"


def new_exchange(
    charger: str,
    direction: str,
    frame: str,
    ts: datetime,
    action: str | None = None,
    unique_id: str | None = None,
) -> dict[str, Any]:
    """The log document of an exchange that starts with ``frame`` (text as on the wire)."""
    return {
        "charger": charger,
        "ts": ts,
        "direction": direction,
        "action": action,
        "unique_id": unique_id,
        "frame": frame,
        "reply": None,
    }


def set_reply(exchange: dict[str, Any], frame: str, ts: datetime) -> dict[str, Any]:
    """Attach the frame answering the exchange's first frame; returns the exchange."""
    exchange["reply"] = {"ts": ts, "frame": frame}
    return exchange


def frames_of(exchange: dict[str, Any]) -> list[dict[str, Any]]:
    """The frames of a stored exchange, oldest first (the CALL, then its reply if any), each
    as ``{charger, ts, direction, action, unique_id, frame}``; the reply's direction is
    the opposite of the CALL's."""
    fields = ("charger", "ts", "direction", "action", "unique_id", "frame")
    first = {field: exchange.get(field) for field in fields}
    reply = exchange.get("reply")
    if not reply:
        return [first]
    direction = OUT if first["direction"] == IN else IN
    return [first, {**first, "ts": reply.get("ts"), "direction": direction,
                    "frame": reply.get("frame")}]  # fmt: skip


class MessageLog:
    """Stores exchanges (a frame and its reply) and reads them back."""

    def __init__(self, db: AsyncDatabase, writer: BatchInserter, max_per_charger: int = 10_000):
        self._coll = db.messages
        self.writer = writer
        self.max_per_charger = max_per_charger
        # A charger is checked once it logged a tenth of the bound since its last check,
        # so a prune pass costs one query per busy charger, not one per charger.
        self.check_every = max(1, max_per_charger // 10)
        self._since_check: dict[str, int] = {}

    def record(self, exchange: dict[str, Any]) -> None:
        """Queue one finished exchange (built by ``new_exchange``) for the batch writer."""
        self.writer.add(exchange)
        charger = exchange["charger"]
        self._since_check[charger] = self._since_check.get(charger, 0) + 1

    async def backpressure(self) -> None:
        """Wait while the database is behind with the queued exchanges (``models.batch``)."""
        await self.writer.backpressure()

    async def recent(self, charger: str, limit: int = 50, skip: int = 0) -> list[dict[str, Any]]:
        """The newest exchanges of a charger first."""
        await self.writer.flush()
        cursor = (
            self._coll.find({"charger": charger})
            .sort([("ts", DESCENDING), ("_id", DESCENDING)])
            .skip(skip)
            .limit(limit)
        )
        return await cursor.to_list()

    async def count(self, charger: str) -> int:
        """How many exchanges a charger has."""
        return await self._coll.count_documents({"charger": charger})

    async def prune(self) -> int:
        """Trim each charger that logged ``check_every`` exchanges since it was last checked
        to its newest ``max_per_charger``; return how many were removed.

        A charger therefore holds at most ``max_per_charger + check_every`` exchanges
        between passes (a tenth more than the bound).
        """
        due = [c for c, n in self._since_check.items() if n >= self.check_every]
        for charger in due:
            del self._since_check[charger]
        removed = 0
        for charger in due:
            cursor = (
                self._coll.find({"charger": charger}, {"ts": 1})
                .sort([("ts", DESCENDING), ("_id", DESCENDING)])
                .skip(self.max_per_charger)
                .limit(1)
            )
            edge = await cursor.to_list()
            if edge:
                result = await self._coll.delete_many(
                    {"charger": charger, "ts": {"$lte": edge[0]["ts"]}}
                )
                removed += result.deleted_count
        return removed
