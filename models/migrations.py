"""Collections, indexes, the time-series collection and the schema version.

``migrate`` is idempotent and runs at every server start and from
``scripts/migrate.py``. ``reset=True`` drops and re-creates every index and
re-applies all migrations from the start, never deleting documents.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from pymongo import ASCENDING, DESCENDING, IndexModel, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from models import (
    alerts,
    certificates,
    charging_profiles,
    leases,
    reservations,
    security_events,
    sites,
    tariffs,
    unknown_chargers,
)
from models.chargers import connector_statuses, search_terms
from models.meter_values import measurements
from models.transactions import SEQUENCE as TX_SEQUENCE

log = logging.getLogger("csms.migrations")

MESSAGE_TTL_SECONDS = 30 * 24 * 3600

INDEXES: dict[str, list[IndexModel]] = {
    "chargers": [
        # No index on the arrays "search" and "statuses": on the embedded database a
        # multikey index makes every update of a charger document cost more the more
        # chargers there are (4.5 ms instead of 0.6 at 700 chargers); the operator's
        # search scans instead (~0.2 s at 10,000 chargers).
        IndexModel([("connected", ASCENDING)], name="connected"),
        sites.CHARGER_SITE_INDEX,
        *leases.CHARGER_LEASE_INDEXES,
    ],
    "transactions": [
        IndexModel(
            [("charger", ASCENDING), ("connector", ASCENDING)],
            name="one_open_per_connector",
            unique=True,
            partialFilterExpression={"open": True},
        ),
        IndexModel(
            [
                ("charger", ASCENDING),
                ("connector", ASCENDING),
                ("start_ts", ASCENDING),
                ("meter_start", ASCENDING),
                ("id_tag_key", ASCENDING),
            ],
            # Only open sessions: a start with the same values as a closed one is new.
            name="open_start_replay",
            unique=True,
            partialFilterExpression={"kind": "session", "open": True},
        ),
        IndexModel([("charger", ASCENDING), ("start_ts", DESCENDING)], name="charger_start"),
        IndexModel([("start_ts", DESCENDING)], name="start"),
        IndexModel([("id_tag_key", ASCENDING), ("open", ASCENDING)], name="tag_open"),
        IndexModel(
            [("charger", ASCENDING), ("charger_tx_id", ASCENDING), ("stop_ts", ASCENDING)],
            name="orphan_stop",
        ),
        # Alert rules: open sessions by age (long-open and stale transactions).
        IndexModel([("open", ASCENDING), ("start_ts", ASCENDING)], name="open_start"),
    ],
    "meter_values": [
        IndexModel([("meta.charger", ASCENDING), ("ts", DESCENDING)], name="charger_ts"),
        IndexModel([("meta.transaction", ASCENDING), ("ts", DESCENDING)], name="transaction_ts"),
    ],
    "messages": [
        IndexModel([("charger", ASCENDING), ("ts", DESCENDING)], name="charger_ts"),
        IndexModel([("ts", ASCENDING)], name="ttl", expireAfterSeconds=MESSAGE_TTL_SECONDS),
    ],
    "security_events": security_events.INDEXES,
    "anomalies": [
        IndexModel([("charger", ASCENDING), ("ts", DESCENDING)], name="charger_ts"),
        IndexModel([("ts", DESCENDING)], name="ts"),  # the energy-anomaly alert rule
    ],
    "commands": [
        IndexModel([("charger", ASCENDING), ("ts", DESCENDING)], name="charger_ts"),
        IndexModel([("ts", DESCENDING)], name="ts"),  # the fleet's recent commands
    ],
    "reservations": reservations.INDEXES,
    "charging_profiles": charging_profiles.INDEXES,
    "local_lists": [],
    "unknown_chargers": unknown_chargers.INDEXES,
    "rfid_tags": [],
    "tariffs": tariffs.INDEXES,
    "simulators": [IndexModel([("name", ASCENDING)], name="name", unique=True)],
    "users": [
        IndexModel([("username", ASCENDING)], name="username", unique=True),
        # One-time set-password links (invites, resets): only users holding one.
        IndexModel(
            [("invite.token_hash", ASCENDING)],
            name="invite",
            partialFilterExpression={"invite.token_hash": {"$exists": True}},
        ),
    ],
    "api_tokens": [IndexModel([("token_hash", ASCENDING)], name="token_hash", unique=True)],
    **alerts.INDEXES,
    "counters": [],
    "meta": [],
    "certificates": certificates.INDEXES,
    "sites": sites.SITE_INDEXES,
    "allocations": sites.ALLOCATION_INDEXES,
    **leases.INDEXES,
}


async def _create_collections(db: AsyncDatabase) -> None:
    existing = set(await db.list_collection_names())
    if "meter_values" not in existing:
        await db.create_collection(
            "meter_values",
            timeseries={"timeField": "ts", "metaField": "meta", "granularity": "seconds"},
        )
    for name in INDEXES:
        if name not in existing and name != "meter_values":
            await db.create_collection(name)


async def _sync_transaction_counter(db: AsyncDatabase) -> None:
    """Never hand out an id below one already stored (e.g. after a restore)."""
    last = await db.transactions.find_one(
        {"_id": {"$type": "number"}}, sort=[("_id", DESCENDING)], projection={"_id": 1}
    )
    # Create the counter up front too: concurrent first upserts are fragile on some servers.
    floor = int(last["_id"]) if last is not None else 0
    await db.counters.update_one({"_id": TX_SEQUENCE}, {"$max": {"seq": floor}}, upsert=True)


async def _charger_search_fields(db: AsyncDatabase) -> None:
    """Every charger gets its search terms and the distinct statuses of its connectors."""
    ops = []
    async for doc in db.chargers.find({}, {"name": 1, "boot": 1, "connectors": 1}):
        statuses = connector_statuses(doc.get("connectors"))
        fields = {"search": search_terms(doc), "statuses": statuses}
        ops.append(UpdateOne({"_id": doc["_id"]}, {"$set": fields}))
        if len(ops) == 1000:
            await db.chargers.bulk_write(ops, ordered=False)
            ops = []
    if ops:
        await db.chargers.bulk_write(ops, ordered=False)


async def _drop_closed_start_replay(db: AsyncDatabase) -> None:
    """The old start_replay index also held closed sessions: a second real session with
    the same connector, tag, time and meterStart could not be stored."""
    if "start_replay" in await db.transactions.index_information():
        await db.transactions.drop_index("start_replay")


async def _security_event_stored(db: AsyncDatabase) -> None:
    """Events from before the TTL get ``stored`` (when received, else their own time)."""
    missing = {"stored": {"$exists": False}}
    await db.security_events.update_many(
        {**missing, "received": {"$type": "date"}}, [{"$set": {"stored": "$received"}}]
    )
    await db.security_events.update_many(missing, [{"$set": {"stored": "$ts"}}])


async def _tariff_user_indexes(db: AsyncDatabase) -> None:
    """Chargers, RFID tags and sites are found by the tariff they name (a tariff in use
    is not deleted)."""
    for name, index in tariffs.USER_INDEXES.items():
        await db[name].create_indexes([index])


async def _certificates(db: AsyncDatabase) -> None:
    """The ``certificates`` collection (created with the others) and its indexes."""
    await db.certificates.create_indexes(certificates.INDEXES)


async def _alert_indexes(db: AsyncDatabase) -> None:
    """The alert collections exist (``_create_collections``); their indexes and the
    transactions' and anomalies' new ones are built here first, then ensured at every start."""
    for name in (*alerts.INDEXES, "transactions", "anomalies"):
        if INDEXES[name]:
            await db[name].create_indexes(INDEXES[name])


# Sampled values stored one document each (before migration 10) have ``meta.measurand``.
_PER_SAMPLE = {"meta.measurand": {"$exists": True}}
_CONVERTED = 10  # ``migrated``: a measurement migration 10 wrote (redone if interrupted)


async def _measurements(db: AsyncDatabase, chunk: int = 5000) -> None:
    """One document per sampled value becomes one measurement per charger, connector,
    transaction and time (``models.meter_values``), charger by charger.

    A charger's measurements are written before its old documents are deleted; when a
    run stops between the two, the next one deletes what it wrote and starts over."""
    coll = db.meter_values
    for charger in await coll.distinct("meta.charger", _PER_SAMPLE):
        await coll.delete_many({"meta.charger": charger, "migrated": _CONVERTED})
        rows: list[dict] = []
        query = {"meta.charger": charger, **_PER_SAMPLE}
        async for row in coll.find(query, {"_id": 0}).sort([("ts", ASCENDING), ("_id", ASCENDING)]):
            if len(rows) >= chunk and row["ts"] != rows[-1]["ts"]:  # a reading stays whole
                await _insert_measurements(db, rows)
                rows = []
            rows.append(row)
        await _insert_measurements(db, rows)
        await coll.delete_many(query)
    if "transaction_measurand_ts" in await coll.index_information():
        await coll.drop_index("transaction_measurand_ts")


async def _insert_measurements(db: AsyncDatabase, rows: list[dict]) -> None:
    docs = [{**doc, "migrated": _CONVERTED} for doc in measurements(rows)]
    if docs:
        await db.meter_values.insert_many(docs, ordered=False)


async def _instance_indexes(db: AsyncDatabase) -> None:
    """Several instances: chargers by holder and by lease, the site leases and the
    relayed events (expired by a TTL index)."""
    await db.chargers.create_indexes(leases.CHARGER_LEASE_INDEXES)
    for name, models in leases.INDEXES.items():
        if models:
            await db[name].create_indexes(models)


async def _user_roles(db: AsyncDatabase) -> None:
    """``is_admin`` becomes ``role`` (true, or missing: admin, as every user was one;
    false: operator) and users get ``disabled``; ``is_admin`` is dropped."""
    no_role = {"role": {"$exists": False}}
    await db.users.update_many({**no_role, "is_admin": False}, {"$set": {"role": "operator"}})
    await db.users.update_many(no_role, {"$set": {"role": "admin"}})
    await db.users.update_many({"disabled": {"$exists": False}}, {"$set": {"disabled": False}})
    await db.users.update_many({"is_admin": {"$exists": True}}, {"$unset": {"is_admin": ""}})


MIGRATIONS: list[tuple[int, str, Callable[[AsyncDatabase], Awaitable[None]]]] = [
    (1, "create collections and the meter_values time series", _create_collections),
    (2, "transaction counter above every stored id", _sync_transaction_counter),
    (3, "charger search terms and connector statuses", _charger_search_fields),
    (4, "start replay index of open sessions only", _drop_closed_start_replay),
    (5, "security events expire by the time they were stored", _security_event_stored),
    (6, "sites and allocations of load management", _create_collections),
    (7, "chargers, RFID tags and sites by their tariff", _tariff_user_indexes),
    (8, "alert collections and their indexes", _alert_indexes),
    (9, "certificates: issued charger certificates and kept CSRs", _certificates),
    (10, "meter values: one measurement per reading", _measurements),
    (11, "several instances: charger and site leases, relayed events", _instance_indexes),
    (12, "users: is_admin becomes a role; disabled", _user_roles),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]


async def ensure_indexes(db: AsyncDatabase) -> None:
    """Create every index this code queries with."""
    for name, models in INDEXES.items():
        if models:
            await db[name].create_indexes(models)


async def current_version(db: AsyncDatabase) -> int:
    """The schema version recorded in ``meta``; 0 for a new database."""
    doc = await db.meta.find_one({"_id": "schema"})
    return int(doc["version"]) if doc else 0


async def migrate(db: AsyncDatabase, reset: bool = False) -> list[str]:
    """Bring the database up to ``SCHEMA_VERSION``; return what was done, one line each."""
    done: list[str] = []
    if reset:
        existing = set(await db.list_collection_names())
        for name in INDEXES:
            if name in existing:
                await db[name].drop_indexes()
        await db.meta.update_one({"_id": "schema"}, {"$set": {"version": 0}}, upsert=True)
        done.append("dropped indexes and cleared the schema version")
    version = await current_version(db)
    # Collections first: the time-series collection must exist before its indexes.
    await _create_collections(db)
    for number, title, step in MIGRATIONS:
        if number > version:
            await step(db)
            await db.meta.update_one({"_id": "schema"}, {"$set": {"version": number}}, upsert=True)
            done.append(f"applied {number}: {title}")
    await ensure_indexes(db)
    done.append(f"indexes ensured; schema version {SCHEMA_VERSION}")
    for line in done:
        log.info("migrate: %s", line)
    return done
