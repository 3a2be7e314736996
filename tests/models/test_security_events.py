"""SecurityEventRepo: events stored with type and tech info, read newest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.security_events import SecurityEventRepo
from ocppj.timeutil import utcnow

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.gen_test
async def test_record_stores_type_tech_info_and_extra_fields(db):
    repo = SecurityEventRepo(db)
    await repo.record("CP1", "InvalidFirmwareSignature", NOW, "sig mismatch", source="charger")
    await repo.record("CP1", "ResetOrReboot", NOW + timedelta(seconds=1))
    docs = await db.security_events.find({}, {"_id": 0, "stored": 0}).sort("ts", 1).to_list()
    assert docs == [
        {"charger": "CP1", "type": "InvalidFirmwareSignature", "ts": NOW,
         "tech_info": "sig mismatch", "source": "charger"},
        {"charger": "CP1", "type": "ResetOrReboot", "ts": NOW + timedelta(seconds=1),
         "tech_info": None},
    ]  # fmt: skip


@pytest.mark.gen_test
async def test_recent_is_newest_first_per_charger_or_all_and_limited(db):
    repo = SecurityEventRepo(db)
    for n in (1, 3, 0, 2):
        await repo.record("CP1", f"e{n}", NOW + timedelta(seconds=n))
    await repo.record("CP2", "other", NOW - timedelta(seconds=1))
    assert [doc["type"] for doc in await repo.recent("CP1")] == ["e3", "e2", "e1", "e0"]
    assert [doc["type"] for doc in await repo.recent("CP1", limit=3)] == ["e3", "e2", "e1"]
    assert [doc["type"] for doc in await repo.recent()] == ["e3", "e2", "e1", "e0", "other"]
    assert [doc["type"] for doc in await repo.recent("CP2")] == ["other"]
    assert await repo.recent("NOBODY") == []


@pytest.mark.gen_test
async def test_a_brute_force_keeps_only_the_newest_events_per_charger(db):
    # The attack: 950 failed logins against one id filled the collection without bound.
    repo = SecurityEventRepo(db, max_per_charger=5)
    await repo.record("OTHER", "kept", NOW)
    for n in range(12):
        await repo.record("CP1", "FailedLogin", NOW + timedelta(seconds=n), f"try {n}")
    docs = await db.security_events.find({"charger": "CP1"}).sort("ts", 1).to_list()
    assert [doc["tech_info"] for doc in docs] == [f"try {n}" for n in range(7, 12)]
    assert await db.security_events.count_documents({"charger": "OTHER"}) == 1


@pytest.mark.gen_test
async def test_events_with_the_same_time_are_trimmed_one_by_one(db):
    repo = SecurityEventRepo(db, max_per_charger=3)
    for n in range(5):
        await repo.record("CP1", f"e{n}", NOW)
    assert await db.security_events.count_documents({"charger": "CP1"}) == 3
    assert {doc["type"] for doc in await repo.recent("CP1")} == {"e2", "e3", "e4"}


@pytest.mark.gen_test
async def test_events_expire_by_our_clock_not_the_chargers(db):
    from models.migrations import migrate

    await migrate(db)
    repo = SecurityEventRepo(db)
    before = utcnow()
    await repo.record("CP1", "StartupOfTheDevice", datetime(2099, 1, 1, tzinfo=UTC))
    doc = await db.security_events.find_one({"charger": "CP1"})
    assert before <= doc["stored"].replace(tzinfo=UTC) <= utcnow()
    indexes = await (await db.security_events.list_indexes()).to_list()
    ttl = {index["name"]: index for index in indexes}["ttl"]
    assert ttl["key"] == {"stored": 1}
    assert ttl["expireAfterSeconds"] == 90 * 24 * 3600
