"""ChargerRepo and its pure helpers: documents, connections, batched state, search, deletion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from bson import ObjectId

from models.batch import StateUpdater
from models.chargers import (
    OFFLINE,
    ONLINE,
    ChargerRepo,
    connector_statuses,
    new_charger,
    search_query,
    search_terms,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=1)


def make_repo(db, **kwargs) -> ChargerRepo:
    return ChargerRepo(db, StateUpdater(db.chargers, interval=60), **kwargs)


def make_repo_with_observed(db) -> ChargerRepo:
    """A repository whose slow ``observed`` updater is its own (as the server's is)."""
    state, observed = (StateUpdater(db.chargers, interval=60) for _ in range(2))
    return ChargerRepo(db, state, observed)


def test_search_terms_are_whole_values_and_every_word_start_lower_cased():
    doc = {"_id": "DE-ACME-0001", "name": "Yard 3",
           "boot": {"vendor": "Acme", "model": "W.11", "serial": "  "}}  # fmt: skip
    assert search_terms(doc) == [
        "0001", "11", "3", "acme", "acme-0001", "de-acme-0001", "w.11", "yard 3",
    ]  # fmt: skip
    assert search_terms({"_id": "  cp1 ", "name": None, "boot": None}) == ["cp1"]
    assert search_terms({"_id": "A", "name": 5, "boot": {"serial": "s/n#7"}}) == [
        "7", "a", "n#7", "s/n#7"
    ]  # fmt: skip


def test_connector_statuses_are_distinct_and_sorted():
    connectors = {
        "0": {"status": "Available"}, "1": {"status": "Charging"}, "2": {"status": "Available"},
        "3": {}, "4": "junk", "5": {"status": ""},
    }  # fmt: skip
    assert connector_statuses(connectors) == ["Available", "Charging"]
    assert connector_statuses(None) == []
    assert connector_statuses({}) == []


def test_search_query():
    assert search_query() == {}
    assert search_query("  ", None) == {}
    acme = {"$elemMatch": {"$gte": "acme", "$lt": "acme\U0010ffff"}}
    assert search_query(" AcMe ") == {"search": acme}
    assert search_query(status=ONLINE) == {"connected": True}
    assert search_query(status=OFFLINE) == {"connected": {"$ne": True}}
    assert search_query("x", "Faulted") == {
        "search": {"$elemMatch": {"$gte": "x", "$lt": "x\U0010ffff"}},
        "connected": True, "statuses": "Faulted",
    }  # fmt: skip


def test_new_charger_document():
    assert new_charger("CP-1", NOW, require_rfid=True) == {
        "_id": "CP-1", "name": "CP-1", "config": {}, "require_rfid": True, "latitude": None,
        "longitude": None, "last_path": None, "boot": None, "last_heartbeat": None,
        "last_seen": None, "last_meter_values": None, "connectors": {}, "statuses": [],
        "search": ["1", "cp-1"], "connected": False, "created": NOW, "updated": NOW,
    }  # fmt: skip
    assert new_charger("CP-1", NOW)["require_rfid"] is False


@pytest.mark.gen_test
async def test_connect_creates_an_unknown_charger_then_updates_it(db):
    repo = make_repo(db, require_rfid_default=True)
    doc, created = await repo.connect("CP1", "/ocpp/CP1", NOW)
    changes = {"last_path": "/ocpp/CP1", "last_seen": NOW, "connected": True, "connected_at": NOW}
    assert created is True
    assert doc == new_charger("CP1", NOW, require_rfid=True) | changes
    assert await repo.get("CP1") == doc
    again, created = await repo.connect("CP1", "/other/CP1", LATER)
    assert created is False
    assert again == doc | {"last_path": "/other/CP1", "last_seen": LATER, "connected_at": LATER}
    assert await repo.get("CP1") == again
    assert await db.chargers.count_documents({}) == 1
    assert await repo.get("NOPE") is None


@pytest.mark.gen_test
async def test_disconnected_only_closes_the_connection_it_belongs_to(db):
    repo = make_repo(db)
    await repo.connect("CP1", "/CP1", NOW)
    await repo.connect("CP1", "/CP1", LATER)  # a new socket replaced the first one
    await repo.disconnected("CP1", LATER + timedelta(seconds=1), connected_at=NOW)
    doc = await repo.get("CP1")
    assert doc["connected"] is True and "disconnected_at" not in doc
    gone = LATER + timedelta(seconds=2)
    await repo.disconnected("CP1", gone, connected_at=LATER)
    doc = await repo.get("CP1")
    assert (doc["connected"], doc["disconnected_at"], doc["last_seen"]) == (False, gone, gone)


@pytest.mark.gen_test
async def test_a_known_chargers_connection_is_queued_and_written_with_its_boot(db):
    repo = make_repo(db)
    known, _ = await repo.connect("CP1", "/CP1", NOW)
    await repo.disconnected("CP1", NOW, connected_at=NOW)
    known = await db.chargers.find_one({"_id": "CP1"})
    doc, created = await repo.connect("CP1", "/again/CP1", LATER, known)
    changes = {"last_path": "/again/CP1", "last_seen": LATER, "connected": True,
               "connected_at": LATER}  # fmt: skip
    assert (created, doc) == (False, known | changes)
    # Queued with the fast state, not written yet ...
    assert (await db.chargers.find_one({"_id": "CP1"}))["connected"] is False
    assert repo.state.pending == 1
    # ... the boot's one update carries it, and nothing is left queued.
    boot = {"vendor": "Acme", "model": "Wallbox", "serial": None}
    booted = LATER + timedelta(seconds=1)
    await repo.record_boot("CP1", boot, booted, "CP1")
    stored = await db.chargers.find_one({"_id": "CP1"})
    assert (stored["connected"], stored["connected_at"], stored["last_path"]) == (
        True, LATER, "/again/CP1",
    )  # fmt: skip
    assert (stored["boot"], stored["last_seen"]) == (boot, booted)
    assert repo.state.pending == 0


@pytest.mark.gen_test
async def test_a_close_writes_the_queued_connection_before_marking_offline(db):
    repo = make_repo(db)
    known, _ = await repo.connect("CP1", "/CP1", NOW)
    await repo.connect("CP1", "/CP1", LATER, known)  # queued: the database still has NOW
    repo.set_connector("CP1", 1, {"status": "Available"}, ["Available"])
    gone = LATER + timedelta(seconds=5)
    await repo.disconnected("CP1", gone, connected_at=LATER)
    stored = await db.chargers.find_one({"_id": "CP1"})
    assert (stored["connected"], stored["connected_at"], stored["disconnected_at"]) == (
        False, LATER, gone,
    )  # fmt: skip
    assert stored["connectors"]["1"] == {"status": "Available"}
    assert repo.state.pending == 0
    # An old socket's close does not mark offline a charger whose newer connection is
    # still queued: that one is written first, and the close's condition fails.
    await repo.connect("CP1", "/CP1", gone, stored)
    await repo.disconnected("CP1", gone + timedelta(seconds=1), connected_at=LATER)
    stored = await db.chargers.find_one({"_id": "CP1"})
    assert (stored["connected"], stored["connected_at"]) == (True, gone)


@pytest.mark.gen_test
async def test_a_new_charger_is_written_with_its_boot_in_one_upsert(db):
    repo = make_repo_with_observed(db)
    doc, created = await repo.connect("NEW1", "/NEW1", NOW, absent=True)
    assert created and doc["connected"] and doc["name"] == "NEW1"
    assert await db.chargers.find_one({"_id": "NEW1"}) is None  # queued, not written
    assert repo.take_dirty() == set()  # the fleet overview asks again once it is written
    repo.set_connector("NEW1", 1, {"status": "Available"}, ["Available"])
    repo.touch("NEW1", {"last_heartbeat": NOW})  # goes with the document, not 2 s later
    boot = {"vendor": "Acme", "model": "Wallbox", "serial": None}
    await repo.record_boot("NEW1", boot, LATER, "NEW1")
    stored = await db.chargers.find_one({"_id": "NEW1"})
    assert stored == new_charger("NEW1", NOW) | {
        "last_path": "/NEW1", "connected": True, "connected_at": NOW, "last_seen": LATER,
        "connectors": {"1": {"status": "Available"}}, "statuses": ["Available"],
        "last_heartbeat": NOW, "boot": boot, "updated": LATER,
        "search": search_terms({"_id": "NEW1", "name": "NEW1", "boot": boot}),
    }  # fmt: skip
    assert (repo.state.pending, repo.state.written) == (0, 0)  # the boot's own write
    assert repo.take_dirty() == {"NEW1"}


@pytest.mark.gen_test
async def test_a_new_charger_is_written_before_it_is_read_changed_or_closed(db):
    repo = make_repo(db)
    await repo.connect("NEW1", "/NEW1", NOW, absent=True)
    assert (await repo.get("NEW1"))["connected_at"] == NOW  # written by the read
    await repo.connect("NEW2", "/NEW2", NOW, absent=True)
    assert await repo.update("NEW2", {"site": "S1"})
    assert (await db.chargers.find_one({"_id": "NEW2"}))["site"] == "S1"
    await repo.connect("NEW3", "/NEW3", NOW, absent=True)
    await repo.disconnected("NEW3", LATER, connected_at=NOW)
    stored = await db.chargers.find_one({"_id": "NEW3"})
    assert (stored["connected"], stored["disconnected_at"]) == (False, LATER)
    # A second connection before the first was written is no second registration.
    await repo.connect("NEW4", "/NEW4", NOW, absent=True)
    doc, created = await repo.connect("NEW4", "/again/NEW4", LATER, absent=True)
    assert (created, doc["connected_at"]) == (False, LATER)
    await repo.flush()
    stored = await db.chargers.find_one({"_id": "NEW4"})
    assert (stored["last_path"], stored["created"]) == ("/again/NEW4", NOW)


@pytest.mark.gen_test
async def test_a_new_charger_deleted_before_it_was_written_stays_deleted(db):
    repo = make_repo_with_observed(db)
    await repo.connect("NEW1", "/NEW1", NOW, absent=True)
    repo.touch("NEW1", {"last_heartbeat": NOW})
    await repo.delete_with_data("NEW1")
    await repo.flush()
    assert await db.chargers.find_one({"_id": "NEW1"}) is None


@pytest.mark.gen_test
async def test_record_boot_stores_it_and_refreshes_search_terms(db):
    repo = make_repo(db)
    await repo.connect("CP1", "/CP1", NOW)
    boot = {"vendor": "Acme", "model": "Wallbox", "serial": None}
    await repo.record_boot("CP1", boot, LATER)
    doc = await repo.get("CP1")
    assert (doc["boot"], doc["last_seen"], doc["updated"]) == (boot, LATER, LATER)
    assert doc["search"] == ["acme", "cp1", "wallbox"]
    await repo.record_boot("NOPE", boot, LATER)  # unknown charger: nothing created
    assert await repo.get("NOPE") is None


@pytest.mark.gen_test
async def test_update_changes_fields_and_a_new_name_refreshes_search(db):
    repo = make_repo(db)
    assert await repo.create("CP1", {}, NOW) is True
    assert await repo.update("CP1", {"latitude": 52.5, "longitude": 13.4}) is True
    doc = await repo.get("CP1")
    assert (doc["latitude"], doc["longitude"], doc["search"]) == (52.5, 13.4, ["cp1"])
    assert await repo.update("CP1", {"name": "Depot North"}) is True
    assert (await repo.get("CP1"))["search"] == ["cp1", "depot north", "north"]
    assert await repo.update("NOPE", {"latitude": 1.0}) is False
    assert await repo.update("NOPE", {"name": "x"}) is False
    assert await repo.get("NOPE") is None


@pytest.mark.gen_test
async def test_connector_state_and_observed_fields_are_written_on_flush(db):
    observed = StateUpdater(db.chargers, interval=60)
    repo = ChargerRepo(db, StateUpdater(db.chargers, interval=60), observed)
    await repo.create("CP1", {}, NOW)
    repo.set_connector("CP1", 1, {"status": "Charging", "ts": NOW}, ["Charging"])
    repo.set_connector("CP1", 0, {"status": "Available", "ts": NOW}, ["Available", "Charging"])
    repo.touch("CP1", {"last_heartbeat": NOW, "last_seen": NOW})
    repo.touch("CP1", {"last_seen": LATER})
    assert (await repo.get("CP1"))["connectors"] == {}  # queued, not written yet
    await repo.flush()
    doc = await repo.get("CP1")
    assert doc["connectors"] == {"0": {"status": "Available", "ts": NOW},
                                 "1": {"status": "Charging", "ts": NOW}}  # fmt: skip
    assert doc["statuses"] == ["Available", "Charging"]
    assert (doc["last_heartbeat"], doc["last_seen"]) == (NOW, LATER)


@pytest.mark.gen_test
async def test_search_by_prefix_and_status_pages_by_id_with_total(db):
    repo = make_repo(db)
    online = {"connected": True, "statuses": ["Charging"]}
    await repo.create("DE-ACME-0001", {"search": ["acme", "de-acme-0001"], **online}, NOW)
    stale = {"connected": False, "statuses": ["Charging"]}  # offline: its statuses are stale
    await repo.create("DE-ACME-0002", {"search": ["acme", "de-acme-0002"], **stale}, NOW)
    available = {"connected": True, "statuses": ["Available"]}
    await repo.create("AT-BETA-1", {"search": ["at-beta-1", "beta"], **available}, NOW)
    await repo.create("CP9", {}, NOW)  # connected missing counts as offline

    async def ids(**kwargs):
        page, total = await repo.search(**kwargs)
        return [doc["_id"] for doc in page], total

    assert await ids() == (["AT-BETA-1", "CP9", "DE-ACME-0001", "DE-ACME-0002"], 4)
    assert await ids(q="ACM") == (["DE-ACME-0001", "DE-ACME-0002"], 2)
    assert await ids(q="de-acme-0002") == (["DE-ACME-0002"], 1)
    assert await ids(q="cme") == ([], 0)  # a prefix of a term, not any substring
    assert await ids(status=ONLINE) == (["AT-BETA-1", "DE-ACME-0001"], 2)
    assert await ids(status=OFFLINE) == (["CP9", "DE-ACME-0002"], 2)
    assert await ids(status="Charging") == (["DE-ACME-0001"], 1)
    assert await ids(q="acme", status=OFFLINE) == (["DE-ACME-0002"], 1)
    assert await ids(skip=1, limit=2) == (["CP9", "DE-ACME-0001"], 4)
    assert await ids(skip=10) == ([], 4)


@pytest.mark.gen_test
async def test_search_finds_terms_made_by_the_repo(db):
    repo = make_repo(db)
    await repo.connect("de-acme-0001", "/p", NOW)
    await repo.record_boot("de-acme-0001", {"vendor": "Acme", "model": "W 11"}, NOW)
    await repo.create("other", {}, NOW)
    for q in ("0001", "Acme", "w 1", "11", "de-"):
        page, total = await repo.search(q)
        assert ([doc["_id"] for doc in page], total) == (["de-acme-0001"], 1), q


@pytest.mark.gen_test
async def test_ids_are_sorted_and_limited(db):
    repo = make_repo(db)
    for charger_id in ("b", "c", "a"):
        await repo.create(charger_id, {}, NOW)
    assert await repo.ids(2) == ["a", "b"]
    assert await repo.ids(10) == ["a", "b", "c"]


@pytest.mark.gen_test
async def test_create_applies_fields_and_refuses_an_existing_id(db):
    repo = make_repo(db, require_rfid_default=True)
    assert await repo.create("CP1", {"latitude": 1.5, "config": {"a": 1}}, NOW) is True
    assert await repo.get("CP1") == new_charger("CP1", NOW, True) | {"latitude": 1.5,
                                                                    "config": {"a": 1}}  # fmt: skip
    assert await repo.create("CP1", {"latitude": 9.0}, LATER) is False
    assert (await repo.get("CP1"))["latitude"] == 1.5


@pytest.mark.gen_test
async def test_a_charger_added_with_a_name_is_found_by_that_name(db):
    # Found by this test: create() kept the search terms of the id alone, so a name given
    # (the admin "add charger" form passes one) was not searchable until a rename or a boot.
    repo = make_repo(db)
    assert await repo.create("CP1", {"name": "Depot North"}, NOW) is True
    assert (await repo.get("CP1"))["name"] == "Depot North"
    page, total = await repo.search("north")
    assert ([doc["_id"] for doc in page], total) == (["CP1"], 1)


@pytest.mark.gen_test
async def test_prefix_search_finds_terms_continuing_above_u_ffff(db):
    # Found by this test: an upper bound of prefix + "\uffff" missed terms whose next character
    # is above U+FFFF (an emoji right after the prefix): strings compare by UTF-8 bytes.
    repo = make_repo(db)
    await repo.create("garage\U0001f697", {}, NOW)
    page, total = await repo.search("garage")
    assert ([doc["_id"] for doc in page], total) == (["garage\U0001f697"], 1)


@pytest.mark.gen_test
async def test_delete_with_data_removes_the_charger_and_its_records_only(db):
    repo = make_repo(db)
    await repo.create("CP1", {}, NOW)
    await repo.create("CP2", {}, NOW)
    for charger in ("CP1", "CP2"):
        for name in ("transactions", "messages", "commands", "anomalies", "security_events",
                     "reservations", "charging_profiles"):  # fmt: skip
            await db[name].insert_many([{"_id": ObjectId(), "charger": charger} for _ in range(2)])
        await db.local_lists.insert_one({"_id": charger})
        meta = {"charger": charger, "connector": 1, "transaction": None}
        await db.meter_values.insert_many(  # 3 measurements, the last with 2 sampled values
            [{"ts": NOW, "meta": meta, "samples": [{"value": 1.0}]} for _ in range(2)]
            + [{"ts": NOW, "meta": meta, "samples": [{"value": 2.0}, {"value": 3.0}]}]
        )
    counts = await repo.delete_with_data("CP1")
    assert counts == {
        "chargers": 1, "transactions": 2, "messages": 2, "commands": 2, "anomalies": 2,
        "security_events": 2, "reservations": 2, "charging_profiles": 2, "certificates": 0,
        "local_lists": 1, "meter_values": 4,  # sampled values
    }  # fmt: skip
    assert await repo.get("CP1") is None
    assert await db.transactions.count_documents({"charger": "CP2"}) == 2
    assert await db.meter_values.count_documents({}) == 3
    assert await db.local_lists.find_one({"_id": "CP2"}) == {"_id": "CP2"}
    assert set((await repo.delete_with_data("CP1")).values()) == {0}


@pytest.mark.gen_test
async def test_mark_all_offline(db):
    repo = make_repo(db)
    await repo.connect("CP1", "/CP1", NOW)
    await repo.connect("CP2", "/CP2", NOW)
    await repo.create("CP3", {}, NOW)
    await repo.mark_all_offline()
    assert await db.chargers.count_documents({"connected": True}) == 0
    assert await db.chargers.count_documents({"connected": False}) == 3


@pytest.mark.gen_test
async def test_a_connection_given_up_while_registering_hands_the_record_back(services, db):
    repo = services.chargers
    live_at = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    abandoned_at = live_at + timedelta(seconds=14)
    await repo.connect("TWICE", "/ocpp/TWICE", live_at)
    await repo.connect("TWICE", "/ocpp/TWICE", abandoned_at)  # a slow second handshake
    await repo.handed_back("TWICE", abandoned_at, live_at)  # ... given up by the client
    doc = await db.chargers.find_one({"_id": "TWICE"})
    assert (doc["connected"], doc["connected_at"]) == (True, live_at)
    # The live connection's own close is the one that marks it offline.
    await repo.disconnected("TWICE", live_at + timedelta(minutes=1), live_at)
    assert (await db.chargers.find_one({"_id": "TWICE"}))["connected"] is False


@pytest.mark.gen_test(timeout=60)  # 1,203 documents on a busy embedded database
async def test_get_many_reads_chargers_by_id_in_chunks(db):
    repo = make_repo(db)
    await db.chargers.insert_many(
        [{"_id": f"CP{n}", "connected": n % 2 == 0, "name": f"n{n}"} for n in range(1203)]
    )
    wanted = [f"CP{n}" for n in range(1203)] + ["CP5", "NOPE"]  # a repeat and an unknown id
    found = await repo.get_many(wanted, ("connected",))
    assert len(found) == 1203 and "NOPE" not in found  # across the 1,000-id chunks
    assert found["CP1202"] == {"_id": "CP1202", "connected": True}  # only the fields asked
    assert (await repo.get_many(["CP7"]))["CP7"] == {"_id": "CP7", "connected": False,
                                                     "name": "n7"}  # fmt: skip
    assert await repo.get_many([]) == {}
