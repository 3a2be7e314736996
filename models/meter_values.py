"""The ``meter_values`` time-series collection: one *measurement* per reading.

A measurement is one ``meterValue`` element of a MeterValues (or of a stop's
transactionData): ``ts`` is the time field, ``meta`` holds charger, connector and
transaction, ``samples`` every sampled value as sent (measurand, phase, unit, context,
location; ``value`` numeric, or None with ``raw`` text and ``format`` when it is not a
number; ``excluded`` names why a value is never used for energy). The common values are
numeric fields too, read directly by charts and queries: ``energy_wh`` (the whole-meter
Energy.Active.Import.Register), ``power_w`` (Power.Active.Import in W, no phase), ``soc``,
and ``current_a`` / ``voltage_v`` by phase (``"total"`` without one). A 3-phase charger
sending 12 sampled values a reading writes 1 document, not 12.

The read methods still answer one row per sampled value (``unwind``), shaped as before:
``ts``, ``meta`` with measurand, phase, unit, context and location, ``value`` ...

A sampled value is stored once per ``reading_key``: a MeterValues resent after a lost
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
from ocppj.measurands import CURRENT, ENERGY_REGISTER, POWER, SOC, VOLTAGE
from ocppj.timeutil import utcnow

Key = tuple[Any, ...]
# What a sampled value says besides its value (``meta`` of an unwound row).
SAMPLE_FIELDS = ("measurand", "phase", "unit", "context", "location")
# Kept with a sampled value (and an unwound row) only when present.
OPTIONAL_FIELDS = ("raw", "format", "excluded")
# The numeric per-phase fields of a measurement: measurand -> (field, unit).
PHASE_FIELDS = {CURRENT: ("current_a", "A"), VOLTAGE: ("voltage_v", "V")}
WHOLE = "total"  # the per-phase key of a value without a phase


def _ms(ts: datetime) -> datetime:
    """``ts`` at the millisecond, as the database stores it."""
    return ts.replace(microsecond=ts.microsecond // 1000 * 1000)


def reading_key(doc: dict[str, Any]) -> Key:
    """What makes a sampled value (an unwound row) the same one again: charger, connector,
    time, measurand, phase, location (another meter) and context (another reason to sample)."""
    meta = doc["meta"]
    return (meta["charger"], meta["connector"], _ms(doc["ts"]), meta["measurand"],
            meta["phase"], meta["location"], meta["context"])  # fmt: skip


def measurements(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The measurements holding ``rows`` (one per sampled value, as ``unwind`` gives them):
    one per charger, connector, transaction, claimed transaction and time, in order."""
    found: dict[Key, dict[str, Any]] = {}
    for row in rows:
        meta = row["meta"]
        key = (meta["charger"], meta["connector"], meta["transaction"], row["ts"],
               row.get("charger_tx_id"))  # fmt: skip
        doc = found.get(key)
        if doc is None:
            doc = found[key] = {
                "ts": row["ts"],
                "meta": {"charger": key[0], "connector": key[1], "transaction": key[2]},
                "samples": [],
            }
            if key[4] is not None:
                doc["charger_tx_id"] = key[4]
        sample = {"value": row["value"], **{name: meta.get(name) for name in SAMPLE_FIELDS}}
        sample.update({name: row[name] for name in OPTIONAL_FIELDS if name in row})
        doc["samples"].append(sample)
        _note_numeric(doc, sample)
    return list(found.values())


def _note_numeric(doc: dict[str, Any], sample: dict[str, Any]) -> None:
    """Copy a usable value of a common measurand to the measurement's numeric fields
    (the last one of a kind wins, as ``csms.metering.latest`` picks it)."""
    value = sample["value"]
    if value is None or "excluded" in sample:
        return
    measurand, phase = sample["measurand"], sample["phase"]
    if measurand == ENERGY_REGISTER and phase is None:
        doc["energy_wh"] = value
    elif measurand == POWER and phase is None and sample["unit"] == "W":
        doc["power_w"] = value
    elif measurand == SOC:
        doc["soc"] = value
    elif measurand in PHASE_FIELDS and sample["unit"] == PHASE_FIELDS[measurand][1]:
        doc.setdefault(PHASE_FIELDS[measurand][0], {})[phase or WHOLE] = value


def unwind(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per sampled value of a stored measurement (the shape ``measurements`` takes)."""
    return [_row(doc, sample) for sample in doc["samples"]]


def _row(doc: dict[str, Any], sample: dict[str, Any]) -> dict[str, Any]:
    meta = {**doc["meta"], **{name: sample.get(name) for name in SAMPLE_FIELDS}}
    row = {"ts": doc["ts"], "meta": meta, "value": sample.get("value")}
    row.update({name: sample[name] for name in OPTIONAL_FIELDS if name in sample})
    if "charger_tx_id" in doc:
        row["charger_tx_id"] = doc["charger_tx_id"]
    return row


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
    """Batched inserts of measurements and the queries the domain needs; rows in, rows out
    (one per sampled value), measurements in the database."""

    def __init__(
        self, db: AsyncDatabase, writer: BatchInserter, recent: RecentReadings | None = None
    ):
        self._coll = db.meter_values
        self.writer = writer
        self.recent = recent or RecentReadings()

    def add(self, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Queue the measurements of these sampled values (rows) for the next batch;
        return them."""
        docs = measurements(docs)
        self.writer.extend(docs)
        return docs

    async def add_new(self, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Those of ``docs`` (one charger's rows) whose key was never stored (nor seen
        earlier in ``docs``), now remembered as stored: the caller queues them (``add``)."""
        recent = self.recent
        keys = [reading_key(doc) for doc in docs]
        old = {key[2] for key in keys if key[2] <= recent.horizon}
        stored: set[Key] = set()
        if old:
            # Dated before memory's horizon: the database knows (index charger_ts).
            query = {"meta.charger": keys[0][0], "ts": {"$in": sorted(old)}}
            async for doc in self._coll.find(query, {"meta": 1, "ts": 1, "samples": 1}):
                stored.update(reading_key(row) for row in unwind(doc))
        fresh = []
        for doc, key in zip(docs, keys, strict=True):
            if key in recent or key in stored:
                continue
            recent.add(key)
            fresh.append(doc)
        return fresh

    async def insert_now(self, docs: list[dict[str, Any]]) -> None:
        """Write the measurements of these rows at once, bypassing the batch (data a reply
        vouches for)."""
        if docs:
            await self._coll.insert_many(measurements(docs), ordered=False)

    async def flush(self) -> None:
        """Write everything queued so far."""
        await self.writer.flush()

    async def backpressure(self) -> None:
        """Wait while the database is behind with the queued values (``models.batch``)."""
        await self.writer.backpressure()

    async def last_energy_register(self, charger: str, transaction: int) -> float | None:
        """The latest whole-meter (no phase) Energy.Active.Import.Register in Wh that
        ``charger`` stored against its ``transaction``, if any (a signed, non-finite or
        out-of-window reading has no ``energy_wh``)."""
        doc = await self._coll.find_one(
            {"meta.charger": charger, "meta.transaction": transaction,
             "energy_wh": {"$type": "number"}},
            sort=[("ts", DESCENDING)], projection={"energy_wh": 1},
        )  # fmt: skip
        return None if doc is None else doc["energy_wh"]

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
        """Sampled values (rows) filtered by any of the fields, newest first; (page, total).

        Give a charger or a transaction: both have an index.
        """
        query: dict[str, Any] = {}
        for key, value in (("charger", charger), ("connector", connector),
                           ("transaction", transaction)):  # fmt: skip
            if value is not None:
                query[f"meta.{key}"] = value
        if measurand is not None:
            query["samples.measurand"] = measurand
        if ts_from is not None or ts_to is not None:
            query["ts"] = {}
            if ts_from is not None:
                query["ts"]["$gte"] = ts_from
            if ts_to is not None:
                query["ts"]["$lt"] = ts_to
        rows: list[dict[str, Any]] = [{"$unwind": "$samples"}]
        if measurand is not None:
            rows.append({"$match": {"samples.measurand": measurand}})
        counted = [{"$match": query}, *rows, {"$count": "n"}]
        total = await (await self._coll.aggregate(counted)).to_list()
        if not total:
            return [], 0
        # Newest measurement first, its sampled values in the order sent.
        newest = [{"$match": query}, {"$sort": {"ts": -1, "_id": -1}}, *rows]
        cursor = await self._coll.aggregate([*newest, {"$skip": skip}, {"$limit": limit}])
        return [_row(doc, doc["samples"]) async for doc in cursor], total[0]["n"]

    async def series(
        self, transaction: int, field: str, charger: str | None = None, limit: int = 1000
    ) -> list[tuple[datetime, float]]:
        """(time, value) of the newest ``limit`` measurements of ``transaction`` (stored by
        ``charger``, when given) with the numeric ``field`` (``energy_wh``, ``power_w``,
        ``soc``), oldest first."""
        query: dict[str, Any] = {"meta.transaction": transaction, field: {"$type": "number"}}
        if charger is not None:
            query["meta.charger"] = charger
        cursor = self._coll.find(query, {"ts": 1, field: 1}).sort("ts", DESCENDING).limit(limit)
        return [(doc["ts"], doc[field]) async for doc in cursor][::-1]

    async def last_reading_ts(self, charger: str, transaction: int) -> datetime | None:
        """When ``charger`` last sent an energy register for its ``transaction`` (the
        stale-transaction rule), or None."""
        doc = await self._coll.find_one(
            {"meta.transaction": transaction, "meta.charger": charger,
             "samples.measurand": ENERGY_REGISTER},
            sort=[("ts", DESCENDING)], projection={"ts": 1},
        )  # fmt: skip
        return None if doc is None else doc["ts"]
