"""AnomalyRepo: findings stored as given, read newest first, per charger or all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.anomalies import AnomalyRepo

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.gen_test
async def test_record_stores_kind_time_and_detail(db):
    repo = AnomalyRepo(db)
    await repo.record("CP1", "meter_backwards", NOW, transaction=7, difference_wh=-12.5)
    docs = await db.anomalies.find({}, {"_id": 0}).to_list()
    assert docs == [
        {"charger": "CP1", "kind": "meter_backwards", "ts": NOW, "transaction": 7,
         "difference_wh": -12.5}
    ]  # fmt: skip


@pytest.mark.gen_test
async def test_recent_is_newest_first_per_charger_or_all_and_limited(db):
    repo = AnomalyRepo(db)
    for n in (2, 0, 3, 1):  # inserted out of order: the sort is by ts, not insertion
        await repo.record("CP1", f"k{n}", NOW + timedelta(seconds=n))
    await repo.record("CP2", "other", NOW + timedelta(seconds=10))
    assert [doc["kind"] for doc in await repo.recent("CP1")] == ["k3", "k2", "k1", "k0"]
    assert [doc["kind"] for doc in await repo.recent("CP1", limit=2)] == ["k3", "k2"]
    assert [doc["kind"] for doc in await repo.recent()] == ["other", "k3", "k2", "k1", "k0"]
    assert [doc["kind"] for doc in await repo.recent(limit=1)] == ["other"]
    assert await repo.recent("NOBODY") == []
