"""``scripts/bench.py --db-ops N``: what one database operation of the server costs.

The server's own path is not the limit on the embedded database: each operation the
database serves costs it far more CPU than the server spends on a CALL. This measures
the operations the server sends, on a fresh database migrated by ``models.migrations``
(the real collections, the meter_values time series and every index), with documents
built by the server's own code (a 4-sample MeterValues, a message-log exchange, a new
charger):

- single operations, N of each (what an unbatched write or read costs);
- the same documents batched by 100 (what ``models.batch`` sends).

Reported per document: wall ms (one synchronous client, one at a time) and, for the
embedded database, the database process's CPU ms. Against ``--mongodb-uri`` only the
wall time is known.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient, MongoClient, UpdateOne

from bench.proc import cpu_seconds

REPO = Path(__file__).resolve().parent.parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from csms.metering import sample_documents  # noqa: E402
from models.chargers import new_charger  # noqa: E402
from models.embedded import EmbeddedDatabase, EmbeddedDatabaseError  # noqa: E402
from models.messages import new_exchange  # noqa: E402
from models.meter_values import measurements  # noqa: E402
from models.migrations import migrate  # noqa: E402

BATCH = 100
DB_NAME = "csms_db_ops"


def reading(n: int, now: datetime) -> dict[str, Any]:
    """One MeterValues element with the four sampled values of the benchmark's load."""
    return {
        "timestamp": (now + timedelta(seconds=n)).isoformat().replace("+00:00", "Z"),
        "sampledValue": [
            {"value": str(1000 + n), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
            {"value": "7200", "measurand": "Power.Active.Import", "unit": "W"},
            {"value": "31.5", "measurand": "Current.Import", "unit": "A", "phase": "L1"},
            {"value": "230.1", "measurand": "Voltage", "unit": "V", "phase": "L1-N"},
        ],
    }


def documents(n: int) -> dict[str, list[dict[str, Any]]]:
    """``n`` documents of each kind, as the server would write them."""
    now = datetime.now(UTC)
    meter = [measurements(sample_documents([reading(i, now)], f"C{i % 500:05d}", 1, i))[0]
             for i in range(n)]  # fmt: skip
    frame = '[2,"1","MeterValues",{"connectorId":1,"meterValue":[]}]'
    messages = [new_exchange(f"C{i % 500:05d}", "in", frame, now, "MeterValues", str(i))
                for i in range(n)]  # fmt: skip
    chargers = [new_charger(f"C{i:05d}", now) | {"connected": False} for i in range(n)]
    return {"meter": meter, "messages": messages, "chargers": chargers}


class Timer:
    """Wall and database CPU time of one measured step, per document."""

    def __init__(self, db_pid: int | None):
        self.db_pid = db_pid
        self.rows: list[dict[str, Any]] = []

    def measure(self, name: str, count: int, step: Callable[[], Any]) -> None:
        cpu = cpu_seconds(self.db_pid) if self.db_pid else None
        began = time.perf_counter()
        step()
        wall = time.perf_counter() - began
        after = cpu_seconds(self.db_pid) if self.db_pid else None
        db_ms = None if cpu is None or after is None else round((after - cpu) * 1000 / count, 3)
        self.rows.append({"operation": name, "documents": count,
                          "wall_ms_per_doc": round(wall * 1000 / count, 3),
                          "db_cpu_ms_per_doc": db_ms})  # fmt: skip


def batches(docs: list[Any]) -> list[list[Any]]:
    """``docs`` in chunks of BATCH."""
    return [docs[i : i + BATCH] for i in range(0, len(docs), BATCH)]


def measure_all(uri: str, n: int, db_pid: int | None) -> list[dict[str, Any]]:
    """Every step on a freshly migrated database; the rows of the report."""
    asyncio.run(_migrate(uri))
    client = MongoClient(uri)
    try:
        db = client[DB_NAME]
        docs, more = documents(n), documents(n)
        ids = [doc["_id"] for doc in docs["chargers"]]
        chargers, meter, messages = db.chargers, db.meter_values, db.messages

        def each(call: Callable[[Any], Any], items: list[Any]) -> Callable[[], None]:
            def step() -> None:
                for item in items:
                    call(item)

            return step

        steps = [
            ("charger insert_one", each(chargers.insert_one, docs["chargers"])),
            # A new charger and its boot in one write (an upsert: inserted unless it
            # exists by then), as a registration's BootNotification writes it.
            ("charger update_one upsert (new)", each(lambda doc: chargers.update_one(
                {"_id": f"N{doc['_id']}"},
                {"$set": {"connected": True, "boot": {"vendor": "V"}},
                 "$setOnInsert": {k: v for k, v in doc.items()
                                  if k not in ("_id", "connected", "boot")}},
                upsert=True), more["chargers"])),
            ("charger find_one", each(lambda i: chargers.find_one({"_id": i}), ids)),
            (f"charger find $in {BATCH}",
             each(lambda chunk: list(chargers.find({"_id": {"$in": chunk}})), batches(ids))),
            ("charger update_one $set",
             each(lambda i: chargers.update_one({"_id": i}, {"$set": {"last_seen": 1}}), ids)),
            (f"charger bulk_write {BATCH} UpdateOne",
             each(lambda chunk: chargers.bulk_write(
                 [UpdateOne({"_id": i}, {"$set": {"last_seen": 2}}) for i in chunk],
                 ordered=False), batches(ids))),
            ("measurement insert_one", each(meter.insert_one, docs["meter"])),
            (f"measurement insert_many {BATCH}",
             each(lambda chunk: meter.insert_many(chunk, ordered=False), batches(more["meter"]))),
            ("message exchange insert_one", each(messages.insert_one, docs["messages"])),
            (f"message exchange insert_many {BATCH}",
             each(lambda chunk: messages.insert_many(chunk, ordered=False),
                  batches(more["messages"]))),
        ]  # fmt: skip
        timer = Timer(db_pid)
        for name, step in steps:
            timer.measure(name, n, step)
        return timer.rows
    finally:
        client.drop_database(DB_NAME)
        client.close()


async def _migrate(uri: str) -> None:
    client = AsyncMongoClient(uri, tz_aware=True)
    try:
        await client.drop_database(DB_NAME)
        await migrate(client[DB_NAME])
    finally:
        await client.close()


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start the embedded database (unless ``--mongodb-uri``), measure, stop it."""
    if args.mongodb_uri:
        return {"database": "external", "rows": measure_all(args.mongodb_uri, args.db_ops, None)}
    with tempfile.TemporaryDirectory(prefix="bench-dbops-") as tmp:
        embedded = EmbeddedDatabase(tmp, write_uri_file=False)
        uri = embedded.start()
        try:
            pid = embedded.process.pid if embedded.process is not None else None
            return {"database": "embedded", "rows": measure_all(uri, args.db_ops, pid)}
        finally:
            embedded.stop()


def format_report(report: dict[str, Any]) -> str:
    """The rows as a table."""
    lines = [f"database operations ({report['database']} database), per document:",
             f"{'operation':38s} {'docs':>6s} {'wall ms':>9s} {'db CPU ms':>10s}"]  # fmt: skip
    for row in report["rows"]:
        cpu = "" if row["db_cpu_ms_per_doc"] is None else f"{row['db_cpu_ms_per_doc']:.3f}"
        lines.append(f"{row['operation']:38s} {row['documents']:6d} "
                     f"{row['wall_ms_per_doc']:9.3f} {cpu:>10s}")  # fmt: skip
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    """Entry point of ``--db-ops``: 0 done, 2 could not run."""
    if args.db_ops < BATCH:
        print(f"error: --db-ops must be at least {BATCH}", file=sys.stderr)
        return 2
    try:
        report = run(args)
    except EmbeddedDatabaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report) if args.json else format_report(report))
    return 0
