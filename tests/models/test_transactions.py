"""TransactionRepo: ids from the counter, resent starts, one open per connector, closing, search."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pymongo.errors import DuplicateKeyError

from models.counters import Counters
from models.transactions import SEQUENCE, TransactionRepo

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def session(charger: str = "CP1", connector: int = 1, tag: str = "ABC", start_s: int = 0,
            meter_start: int = 1000) -> dict:  # fmt: skip
    return {
        "kind": "session", "charger": charger, "connector": connector, "id_tag": tag.lower(),
        "id_tag_key": tag, "start_ts": NOW + timedelta(seconds=start_s),
        "meter_start": meter_start, "open": True, "stop_ts": None, "meter_stop": None,
        "energy_wh": None, "anomalies": [],
    }  # fmt: skip


def make_repo(db) -> TransactionRepo:
    return TransactionRepo(db, Counters(db))


@pytest.mark.gen_test
async def test_insert_started_gives_the_next_id_and_stores_the_document(db):
    repo = make_repo(db)
    first = await repo.insert_started(session())
    second = await repo.insert_started(session(connector=2))
    assert (first["_id"], second["_id"]) == (1, 2)
    assert await repo.get(1) == first
    assert await repo.get(1) == {"_id": 1, **session()}
    assert await repo.get(3) is None


@pytest.mark.gen_test
async def test_insert_started_follows_the_counter_floor(db):
    await Counters(db).ensure_at_least(SEQUENCE, 500)
    assert (await make_repo(db).insert_started(session()))["_id"] == 501


@pytest.mark.gen_test
async def test_a_resent_start_returns_the_stored_transaction(db):
    repo = make_repo(db)
    stored = await repo.insert_started(session())
    assert await repo.insert_started(session()) == stored  # resent while open
    assert await db.transactions.count_documents({}) == 1
    assert await repo.find_start("CP1", 1, "ABC", NOW, 1000) == stored
    assert await repo.find_start("CP1", 1, "ABC", NOW, 1001) is None
    assert await repo.find_start("CP1", 1, "abc", NOW, 1000) is None  # the key is exact


@pytest.mark.gen_test
async def test_the_same_start_values_after_the_stop_are_a_new_session(db):
    """A closed session is history: a second real session with the same connector, tag,
    time and meterStart is stored as its own (the attack: it was merged into the first)."""
    repo = make_repo(db)
    first = await repo.insert_started(session())
    assert await repo.close(first["_id"], {"stop_ts": NOW + timedelta(hours=1)})
    assert await repo.find_start("CP1", 1, "ABC", NOW, 1000) is None
    second = await repo.insert_started(session())
    assert second["_id"] != first["_id"]
    assert await repo.find_start("CP1", 1, "ABC", NOW, 1000) == second
    assert await db.transactions.count_documents({}) == 2


@pytest.mark.gen_test
async def test_a_second_open_transaction_on_a_connector_is_refused(db):
    repo = make_repo(db)
    await repo.insert_started(session())
    with pytest.raises(DuplicateKeyError):
        await repo.insert_started(session(start_s=60, tag="OTHER"))
    assert await db.transactions.count_documents({}) == 1
    assert (await repo.insert_started(session(connector=2, start_s=60)))["_id"] == 3


@pytest.mark.gen_test
async def test_open_look_ups(db):
    repo = make_repo(db)
    a = await repo.insert_started(session(connector=2))
    b = await repo.insert_started(session(connector=1, tag="XYZ"))
    c = await repo.insert_started(session(charger="CP2", connector=1) | {"tag_checked": True})
    await repo.insert_started(session(charger="CP3", connector=1) | {"tag_checked": False})
    assert await repo.open_on_connector("CP1", 1) == b
    assert await repo.open_on_connector("CP1", 3) is None
    assert await repo.open_for_charger("CP1") == [b, a]
    # Only sessions on chargers that checked the tag count (csms.authorization).
    assert await repo.count_open_for_tag("ABC") == 1
    await repo.insert_started(session(charger="CP4", connector=1) | {"tag_checked": True})
    assert await repo.count_open_for_tag("ABC") == 2
    await repo.close(c["_id"], {})
    assert await repo.count_open_for_tag("ABC") == 1
    assert await repo.open_for_charger("CP2") == []
    assert await repo.open_on_connector("CP2", 1) is None


@pytest.mark.gen_test
async def test_close_sets_fields_appends_anomalies_and_only_once(db):
    repo = make_repo(db)
    tx = await repo.insert_started(session() | {"anomalies": [{"kind": "earlier"}]})
    stop = {"stop_ts": NOW + timedelta(hours=1), "meter_stop": 5000, "energy_wh": 4000}
    found = [{"kind": "meter_backwards"}, {"kind": "stop_before_start"}]
    assert await repo.close(tx["_id"], stop, found) is True
    assert await repo.get(tx["_id"]) == tx | stop | {
        "open": False, "anomalies": [{"kind": "earlier"}, *found]
    }  # fmt: skip
    assert await repo.close(tx["_id"], {"meter_stop": 1}, [{"kind": "again"}]) is False
    assert (await repo.get(tx["_id"]))["meter_stop"] == 5000
    assert await repo.close(999, stop) is False
    assert await repo.get(999) is None


@pytest.mark.gen_test
async def test_orphan_stop_records(db):
    repo = make_repo(db)
    stop_ts = NOW + timedelta(minutes=5)
    record = {"kind": "orphan_stop", "charger": "CP1", "charger_tx_id": 77, "connector": None,
              "start_ts": None, "meter_start": None, "open": False, "stop_ts": stop_ts}  # fmt: skip
    stored = await repo.insert_record(dict(record))
    assert stored == {"_id": 1, **record}
    assert await repo.find_orphan_stop("CP1", 77, stop_ts) == stored
    assert await repo.find_orphan_stop("CP1", 77, NOW) is None
    assert await repo.find_orphan_stop("CP2", 77, stop_ts) is None
    # orphan records are not sessions: several of them never collide on the start index
    assert (await repo.insert_record(dict(record)))["_id"] == 2


@pytest.mark.gen_test
async def test_list_for_charger_is_newest_start_first(db):
    repo = make_repo(db)
    for connector, start_s in ((1, 10), (2, 30), (3, 20)):
        await repo.insert_started(session(connector=connector, start_s=start_s))
    await repo.insert_started(session(charger="CP2", start_s=99))
    assert [tx["connector"] for tx in await repo.list_for_charger("CP1")] == [2, 3, 1]
    assert [tx["connector"] for tx in await repo.list_for_charger("CP1", limit=1)] == [2]


@pytest.mark.gen_test
async def test_search_pages_newest_first_with_total_and_filters(db):
    repo = make_repo(db)
    for n in range(5):  # ids 1..5, CP1 starting at 0, 10, 20, 30, 40 s
        await repo.insert_started(session(connector=n + 1, start_s=n * 10))
    await repo.insert_started(session(charger="CP2", start_s=20))  # id 6, same start as id 3
    await repo.insert_started(session(charger="CP2", connector=2, start_s=100))  # id 7

    async def ids(**kwargs):
        page, total = await repo.search(**kwargs)
        return [tx["_id"] for tx in page], total

    assert await ids() == ([7, 5, 4, 6, 3, 2, 1], 7)  # equal starts: the higher id first
    assert await ids(skip=2, limit=3) == ([4, 6, 3], 7)
    assert await ids(charger="CP1", limit=2) == ([5, 4], 5)
    window = {"start_from": NOW + timedelta(seconds=10), "start_to": NOW + timedelta(seconds=30)}
    assert await ids(**window) == ([6, 3, 2], 3)  # from inclusive, to exclusive
    assert await ids(charger="CP2", **window) == ([6], 1)
    assert await ids(start_from=NOW + timedelta(seconds=40)) == ([7, 5], 2)
    assert await ids(start_to=NOW + timedelta(seconds=10)) == ([1], 1)
    assert await ids(charger="NONE") == ([], 0)


@pytest.mark.gen_test
async def test_energy_total_sums_closed_sessions_only(db):
    repo = make_repo(db)
    assert await repo.energy_total("CP1") == 0.0
    for connector, energy in ((1, 1500), (2, 250.5), (3, None)):
        tx = await repo.insert_started(session(connector=connector))
        await repo.close(tx["_id"], {"energy_wh": energy})
    await repo.insert_started(session(connector=4) | {"energy_wh": 9999})  # still open
    tx = await repo.insert_started(session(charger="CP2"))
    await repo.close(tx["_id"], {"energy_wh": 7})
    await repo.insert_record({"kind": "orphan_stop", "charger": "CP1", "open": False,
                              "energy_wh": 100})  # fmt: skip
    assert await repo.energy_total("CP1") == 1750.5
    assert await repo.energy_total("CP2") == 7.0
