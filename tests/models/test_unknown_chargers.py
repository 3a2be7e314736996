"""UnknownChargerRepo: attempts counted per id, the collection bounded, a TTL on last_seen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.unknown_chargers import MAX_PATH, UNKNOWN_TTL_SECONDS, UnknownChargerRepo

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)


@pytest.mark.gen_test
async def test_record_creates_then_counts_attempts(db):
    repo = UnknownChargerRepo(db)
    assert await repo.record("CPX", "/ocpp/CPX", "10.0.0.1", NOW) is True
    assert await repo.get("CPX") == {
        "_id": "CPX", "first_seen": NOW, "last_seen": NOW, "path": "/ocpp/CPX",
        "ip": "10.0.0.1", "attempts": 1,
    }  # fmt: skip
    assert await repo.record("CPX", "/other/CPX", "10.0.0.2", LATER) is True
    assert await repo.get("CPX") == {
        "_id": "CPX", "first_seen": NOW, "last_seen": LATER, "path": "/other/CPX",
        "ip": "10.0.0.2", "attempts": 2,
    }  # fmt: skip
    assert await repo.get("NOPE") is None


@pytest.mark.gen_test
async def test_long_paths_are_cut(db):
    repo = UnknownChargerRepo(db)
    path = "/" + "x" * 1000
    await repo.record("CPX", path, "::1", NOW)
    assert (await repo.get("CPX"))["path"] == path[:MAX_PATH]
    await repo.record("CPX", "/y" * 400, "::1", LATER)
    assert len((await repo.get("CPX"))["path"]) == MAX_PATH == 300


@pytest.mark.gen_test
async def test_a_full_collection_refuses_new_ids_but_keeps_counting_known_ones(db):
    repo = UnknownChargerRepo(db, max_entries=3)
    for n in range(3):
        assert await repo.record(f"CP{n}", "/", "ip", NOW) is True
    assert await repo.record("CP9", "/", "ip", NOW) is False
    assert await repo.get("CP9") is None
    assert await repo.count() == 3
    assert await repo.record("CP1", "/", "ip", LATER) is True
    assert (await repo.get("CP1"))["attempts"] == 2
    assert await repo.forget("CP0") is True
    assert await repo.record("CP9", "/", "ip", LATER) is True  # room again
    assert await repo.count() == 3


@pytest.mark.gen_test
async def test_list_most_recently_seen_first_and_forget(db):
    repo = UnknownChargerRepo(db)
    for n, minutes in ((1, 3), (2, 1), (3, 2)):
        await repo.record(f"CP{n}", "/", "ip", NOW + timedelta(minutes=minutes))
    await repo.record("CP2", "/", "ip", NOW + timedelta(minutes=9))
    assert [doc["_id"] for doc in await repo.list()] == ["CP2", "CP1", "CP3"]
    assert [doc["_id"] for doc in await repo.list(limit=1)] == ["CP2"]
    assert await repo.forget("CP1") is True
    assert await repo.forget("CP1") is False
    assert await repo.count() == 2


@pytest.mark.gen_test
async def test_entries_expire_30_days_after_last_seen(db):
    ttl = (await db.unknown_chargers.index_information())["ttl"]
    assert ttl["key"] == [("last_seen", 1)]
    assert ttl["expireAfterSeconds"] == UNKNOWN_TTL_SECONDS == 30 * 24 * 3600
