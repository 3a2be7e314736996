"""The ``meter_values`` time-series collection: one document per sampled value.

``ts`` is the time field; ``meta`` holds charger, connector, transaction,
measurand, phase, unit, context and location; ``value`` is numeric (None, with
``raw`` text, when it is not a number; ``excluded`` names why a reading is never
used for energy).

A reading is stored once per ``reading_key``: a MeterValues resent after a lost
reply adds nothing. MongoDB has no unique index on a time-series collection, so
the check is ``RecentReadings`` in memory, and the database only for readings
dated before what memory covers (a restart, an old offline queue).
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from models.batch import BatchInserter
from ocppj.measurands import ENERGY_REGISTER
from ocppj.timeutil import utcnow

Key = tuple[Any, ...]


def _ms(ts: datetime) -> datetime:
    """``ts`` at the millisecond, as the database stores it."""
    return ts.replace(microsecond=ts.microsecond // 1000 * 1000)


def reading_key(doc: dict[str, Any]) -> Key:
    """What makes a sampled value the same one again: charger, connector, time,
    measurand, phase, location (another meter) and context (another reason to sample)."""
    meta = doc["meta"]
    return (meta["charger"], meta["connector"], _ms(doc["ts"]), meta["measurand"],
            meta["phase"], meta["location"], meta["context"])  # fmt: skip


class RecentReadings:
    """The keys of the readings stored since ``horizon``, bounded in memory.

    Every reading stored since the process started is here, unless evicted; the
    horizon moves past the newest time evicted (never past the clock: a reading dated
    2099 must not send every later one to the database), so "not here and dated after
    the horizon" means "never stored" without asking the database. Keys are kept as
    their hash (~190 bytes a reading instead of ~300; Python's string hashes are
    randomised per process, so nobody can craft a collision; a chance one drops a
    reading with odds about n^2 / 2^64).
    """

    def __init__(self, capacity: int = 50_000, horizon: datetime | None = None):
        self._keys: OrderedDict[int, datetime] = OrderedDict()
        self._capacity = capacity
        self.horizon = horizon or utcnow()

    def __contains__(self, key: Key) -> bool:
        return hash(key) in self._keys

    def add(self, key: Key) -> None:
        """Remember a stored reading's key; the oldest remembered goes past capacity."""
        self._keys[hash(key)] = key[2]
        if len(self._keys) > self._capacity:
            _, evicted = self._keys.popitem(last=False)
            self.horizon = max(self.horizon, min(evicted, utcnow()))

    def __len__(self) -> int:
        return len(self._keys)


class MeterValueRepo:
    """Batched inserts of sampled values and the queries the domain needs."""

    def __init__(
        self, db: AsyncDatabase, writer: BatchInserter, recent: RecentReadings | None = None
    ):
        self._coll = db.meter_values
        self.writer = writer
        self.recent = recent or RecentReadings()

    def add(self, docs: list[dict[str, Any]]) -> None:
        """Queue sampled-value documents for the next batch."""
        self.writer.extend(docs)

    async def add_new(self, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Those of ``docs`` (one charger's) whose key was never stored (nor seen earlier
        in ``docs``), now remembered as stored: the caller queues them (``add``)."""
        recent = self.recent
        keys = [reading_key(doc) for doc in docs]
        old = {key[2] for key in keys if key[2] <= recent.horizon}
        stored: set[Key] = set()
        if old:
            # Dated before memory's horizon: the database knows (index charger_ts).
            query = {"meta.charger": keys[0][0], "ts": {"$in": sorted(old)}}
            async for doc in self._coll.find(query, {"meta": 1, "ts": 1}):
                stored.add(reading_key(doc))
        fresh = []
        for doc, key in zip(docs, keys, strict=True):
            if key in recent or key in stored:
                continue
            recent.add(key)
            fresh.append(doc)
        return fresh

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
                "excluded": None,  # out of the time window or not finite: never energy
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

    async def latest_of(self, transaction: int, measurand: str, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` whole-meter (no phase) sampled values of one measurand of a
        transaction, newest first (index transaction_measurand_ts; no count, unlike
        ``search``)."""
        query = {"meta.transaction": transaction, "meta.measurand": measurand, "meta.phase": None}
        cursor = self._coll.find(query).sort("ts", DESCENDING).limit(limit)
        return await cursor.to_list()

    async def last_reading_ts(self, charger: str, transaction: int) -> datetime | None:
        """When ``charger`` last sent an energy register for its ``transaction`` (the
        stale-transaction rule), or None."""
        doc = await self._coll.find_one(
            {"meta.transaction": transaction, "meta.measurand": ENERGY_REGISTER,
             "meta.charger": charger},
            sort=[("ts", DESCENDING)], projection={"ts": 1},
        )  # fmt: skip
        return None if doc is None else doc["ts"]
