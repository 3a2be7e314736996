"""Migrations: collections, the time series, indexes, versions, reset without data loss."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from models.batch import BatchInserter
from models.meter_values import MeterValueRepo
from models.migrations import SCHEMA_VERSION, current_version, migrate


@pytest.mark.gen_test
async def test_fresh_database_is_fully_migrated(db):
    assert await current_version(db) == SCHEMA_VERSION
    infos = {c["name"]: c for c in await (await db.list_collections()).to_list()}
    # MongoDB reports type "timeseries"; SecantusDB imitates time series on a plain collection.
    assert infos["meter_values"]["type"] in ("timeseries", "collection")
    assert infos["meter_values"]["options"]["timeseries"]["timeField"] == "ts"
    assert infos["meter_values"]["options"]["timeseries"]["metaField"] == "meta"
    indexes = await db.transactions.index_information()
    assert indexes["one_open_per_connector"]["unique"] is True
    assert indexes["one_open_per_connector"]["partialFilterExpression"] == {"open": True}
    ttl = (await db.messages.index_information())["ttl"]
    assert ttl["expireAfterSeconds"] == 30 * 24 * 3600


@pytest.mark.gen_test
async def test_reset_recreates_indexes_and_keeps_documents(db):
    await db.transactions.insert_one({"_id": 41, "charger": "A", "connector": 1, "open": True})
    await db.transactions.drop_index("one_open_per_connector")
    await db.counters.delete_many({})
    done = await migrate(db, reset=True)
    assert done[0] == "dropped indexes and cleared the schema version"
    assert "one_open_per_connector" in await db.transactions.index_information()
    assert await db.transactions.count_documents({}) == 1
    # the counter never hands out an id already used
    assert (await db.counters.find_one({"_id": "transactions"}))["seq"] == 41


@pytest.mark.gen_test
async def test_migrate_is_idempotent(db):
    done = await migrate(db)
    assert done == [f"indexes ensured; schema version {SCHEMA_VERSION}"]


@pytest.mark.gen_test
async def test_migration_3_gives_old_chargers_search_terms_and_statuses(db):
    await db.chargers.insert_one(
        {"_id": "DE-ACME-7", "name": "Yard", "boot": {"vendor": "Acme", "model": "W 11"},
         "connectors": {"0": {"status": "Available"}, "1": {"status": "Charging"},
                        "2": {"status": "Available"}}}
    )  # fmt: skip
    await db.meta.update_one({"_id": "schema"}, {"$set": {"version": 2}})
    assert await migrate(db) == [
        "applied 3: charger search terms and connector statuses",
        "applied 4: start replay index of open sessions only",
        "applied 5: security events expire by the time they were stored",
        "applied 6: sites and allocations of load management",
        "applied 7: chargers, RFID tags and sites by their tariff",
        "applied 8: alert collections and their indexes",
        "applied 9: certificates: issued charger certificates and kept CSRs",
        "applied 10: meter values: one measurement per reading",
        "applied 11: several instances: charger and site leases, relayed events",
        "applied 12: users: is_admin becomes a role; disabled",
        f"indexes ensured; schema version {SCHEMA_VERSION}",
    ]
    doc = await db.chargers.find_one({"_id": "DE-ACME-7"})
    assert doc["search"] == ["11", "7", "acme", "acme-7", "de-acme-7", "w 11", "yard"]
    assert doc["statuses"] == ["Available", "Charging"]


@pytest.mark.gen_test
async def test_migration_4_replaces_the_start_replay_index_of_closed_sessions(db):
    """The old index held closed sessions too: a second real session with the same start
    values could not be stored."""
    await db.transactions.drop_index("open_start_replay")
    await db.transactions.create_index(
        [("charger", 1), ("connector", 1), ("start_ts", 1), ("meter_start", 1),
         ("id_tag_key", 1)],
        name="start_replay", unique=True, partialFilterExpression={"kind": "session"},
    )  # fmt: skip
    await db.meta.update_one({"_id": "schema"}, {"$set": {"version": 3}})
    assert (await migrate(db))[0] == "applied 4: start replay index of open sessions only"
    indexes = await db.transactions.index_information()
    assert "start_replay" not in indexes
    assert indexes["open_start_replay"]["partialFilterExpression"] == {
        "kind": "session", "open": True,
    }  # fmt: skip


@pytest.mark.gen_test
async def test_migration_5_gives_old_security_events_the_time_they_were_stored(db):
    received = datetime(2025, 5, 1, 8, 0)
    await db.security_events.insert_many([
        {"_id": 1, "charger": "CP1", "type": "e", "ts": datetime(2099, 1, 1), "received": received},
        {"_id": 2, "charger": "CP1", "type": "FailedLogin", "ts": datetime(2025, 5, 2)},
    ])  # fmt: skip
    await db.meta.update_one({"_id": "schema"}, {"$set": {"version": 4}})
    done = await migrate(db)
    assert done[0] == "applied 5: security events expire by the time they were stored"
    stored = {
        doc["_id"]: doc["stored"].replace(tzinfo=None) async for doc in db.security_events.find()
    }
    assert stored == {1: received, 2: datetime(2025, 5, 2)}


@pytest.mark.gen_test
async def test_migration_7_indexes_who_uses_a_tariff(db):
    for name in ("chargers", "rfid_tags", "sites"):
        index = (await db[name].index_information())["tariff"]
        assert index["key"] == [("tariff", 1)]
        assert index["partialFilterExpression"] == {"tariff": {"$type": "string"}}
    assert (await db.tariffs.index_information())["version"]["unique"] is True


@pytest.mark.gen_test
async def test_migration_6_creates_sites_and_allocations_with_their_indexes(db):
    await db.sites.drop()
    await db.allocations.drop()
    await db.meta.update_one({"_id": "schema"}, {"$set": {"version": 5}})
    done = await migrate(db)
    assert done[0] == "applied 6: sites and allocations of load management"
    assert "parent" in await db.sites.index_information()
    allocations = await db.allocations.index_information()
    assert allocations["ttl"]["expireAfterSeconds"] == 7 * 24 * 3600
    assert allocations["site_ts"]["key"] == [("site", 1), ("ts", -1)]
    assert "site" in await db.chargers.index_information()


@pytest.mark.gen_test
async def test_migration_8_creates_the_alert_collections_and_indexes(db):
    await db.meta.update_one({"_id": "schema"}, {"$set": {"version": 7}})
    assert (await migrate(db))[0] == "applied 8: alert collections and their indexes"
    names = set(await db.list_collection_names())
    assert {"alerts", "alert_rules", "alert_channels", "alert_deliveries", "charger_boots"} <= names
    alerts = await db.alerts.index_information()
    assert alerts["one_open"]["unique"] is True
    assert alerts["one_open"]["partialFilterExpression"] == {"open": True}
    assert "channel_status_seq" in await db.alert_deliveries.index_information()
    assert "open_start" in await db.transactions.index_information()
    assert "ts" in await db.anomalies.index_information()
    boots = await db.charger_boots.index_information()
    assert boots["ttl"]["expireAfterSeconds"] == 2 * 24 * 3600


def _per_sample(at_s: int, measurand: str, value: float | None, charger: str = "CP1",
                phase: str | None = None, **extra) -> dict:  # fmt: skip
    """A sampled value as it was stored before migration 10: one document each."""
    return {
        "ts": datetime(2025, 5, 1, 9, 0, at_s, tzinfo=UTC),
        "meta": {"charger": charger, "connector": 1, "transaction": 7, "measurand": measurand,
                 "phase": phase, "unit": "Wh" if measurand.startswith("Energy") else "W",
                 "context": "Sample.Periodic", "location": "Outlet"},
        "value": value,
        **extra,
    }  # fmt: skip


@pytest.mark.gen_test
async def test_migration_10_turns_sampled_values_into_one_measurement_per_reading(db):
    energy, power = "Energy.Active.Import.Register", "Power.Active.Import"
    old = [
        _per_sample(0, energy, 1000.0),
        _per_sample(0, power, 7000.0),
        _per_sample(0, power, 2300.0, phase="L1"),
        _per_sample(0, energy, None, raw="ab12==", format="SignedData"),
        _per_sample(30, energy, 1200.0, excluded="future"),
        _per_sample(0, energy, 50.0, charger="CP2", charger_tx_id=99),
    ]
    await db.meter_values.insert_many([dict(doc) for doc in old])
    await db.meter_values.drop_index("transaction_ts")
    await db.meter_values.create_index(
        [("meta.transaction", 1), ("meta.measurand", 1), ("ts", -1)],
        name="transaction_measurand_ts",
    )
    # A run stopped after writing CP1's measurements and before deleting its old documents:
    # what it wrote is written again, not twice.
    await db.meter_values.insert_one(
        {"ts": old[0]["ts"], "meta": {"charger": "CP1", "connector": 1, "transaction": 7},
         "samples": [], "migrated": 10}
    )  # fmt: skip
    await db.meta.update_one({"_id": "schema"}, {"$set": {"version": 9}})
    assert (await migrate(db))[0] == "applied 10: meter values: one measurement per reading"
    stored = db.meter_values.find({}, {"_id": 0}).sort([("ts", 1), ("meta.charger", 1)])
    sample = {"context": "Sample.Periodic", "location": "Outlet"}
    cp1 = {"charger": "CP1", "connector": 1, "transaction": 7}
    assert await stored.to_list() == [
        {"ts": old[0]["ts"], "meta": cp1, "migrated": 10, "energy_wh": 1000.0, "power_w": 7000.0,
         "samples": [
             {"value": 1000.0, "measurand": energy, "phase": None, "unit": "Wh", **sample},
             {"value": 7000.0, "measurand": power, "phase": None, "unit": "W", **sample},
             {"value": 2300.0, "measurand": power, "phase": "L1", "unit": "W", **sample},
             {"value": None, "measurand": energy, "phase": None, "unit": "Wh", **sample,
              "raw": "ab12==", "format": "SignedData"},
         ]},
        {"ts": old[0]["ts"], "meta": {**cp1, "charger": "CP2"}, "migrated": 10,
         "charger_tx_id": 99, "energy_wh": 50.0,
         "samples": [{"value": 50.0, "measurand": energy, "phase": None, "unit": "Wh", **sample}]},
        {"ts": old[4]["ts"], "meta": cp1, "migrated": 10,  # excluded: no energy_wh
         "samples": [{"value": 1200.0, "measurand": energy, "phase": None, "unit": "Wh",
                      **sample, "excluded": "future"}]},
    ]  # fmt: skip
    indexes = await db.meter_values.index_information()
    assert "transaction_ts" in indexes and "transaction_measurand_ts" not in indexes
    # The read methods answer the rows stored before, newest first.
    repo = MeterValueRepo(db, BatchInserter(db.meter_values, interval=60))
    rows, total = await repo.search(charger="CP1")
    assert (rows, total) == ([old[4], *old[:4]], 5)
    assert await repo.last_energy_register("CP1", 7) == 1000.0


@pytest.mark.gen_test
async def test_migration_11_indexes_the_charger_leases_and_expires_relayed_events(db):
    await db.meta.update_one({"_id": "schema"}, {"$set": {"version": 10}})
    for name in ("holder", "connected_lease"):
        await db.chargers.drop_index(name)
    assert (await migrate(db))[0] == (
        "applied 11: several instances: charger and site leases, relayed events"
    )
    chargers = await db.chargers.index_information()
    assert chargers["holder"]["key"] == [("holder", 1)]
    assert chargers["connected_lease"]["key"] == [("connected", 1), ("lease_until", 1)]
    events = await db.events.index_information()
    assert events["ttl"]["expireAfterSeconds"] == 600


@pytest.mark.gen_test
async def test_migration_12_turns_is_admin_into_a_role(db):
    await db.users.insert_many([
        {"username": "a", "is_admin": True}, {"username": "o", "is_admin": False},
        {"username": "old"}, {"username": "v", "role": "viewer", "disabled": True},
    ])  # fmt: skip
    await db.meta.update_one({"_id": "schema"}, {"$set": {"version": 11}})
    assert (await migrate(db))[0] == "applied 12: users: is_admin becomes a role; disabled"
    users = await db.users.find({}, {"_id": 0}).sort("username", 1).to_list()
    assert users == [
        {"username": "a", "role": "admin", "disabled": False},
        {"username": "o", "role": "operator", "disabled": False},
        {"username": "old", "role": "admin", "disabled": False},
        {"username": "v", "role": "viewer", "disabled": True},
    ]
    assert "invite" in await db.users.index_information()
