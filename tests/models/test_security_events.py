"""SecurityEventRepo: events stored with type and tech info, read newest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.security_events import SecurityEventRepo

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.gen_test
async def test_record_stores_type_tech_info_and_extra_fields(db):
    repo = SecurityEventRepo(db)
    await repo.record("CP1", "InvalidFirmwareSignature", NOW, "sig mismatch", source="charger")
    await repo.record("CP1", "ResetOrReboot", NOW + timedelta(seconds=1))
    docs = await db.security_events.find({}, {"_id": 0}).sort("ts", 1).to_list()
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
