"""RfidRepo: tags keyed case-insensitively, spelling kept, replaced whole, listed by key."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from models.rfid import RfidRepo, tag_key

EXPIRY = datetime(2026, 1, 1, tzinfo=UTC)


def test_tag_key_ignores_case():
    assert tag_key("abc-12x") == "ABC-12X"
    assert tag_key("ABC-12X") == tag_key("aBc-12x")


@pytest.mark.gen_test
async def test_upsert_stores_the_upper_cased_key_and_the_spelling_as_entered(db):
    repo = RfidRepo(db)
    doc = await repo.upsert("deadBeef", label="Anna", expiry=EXPIRY, parent_id_tag="FLEET")
    expected = {
        "_id": "DEADBEEF", "id_tag": "deadBeef", "label": "Anna", "status": "accepted",
        "expiry": EXPIRY, "parent_id_tag": "FLEET", "max_active_transactions": 1,
        "tariff": None,
    }  # fmt: skip
    assert doc == expected
    assert await db.rfid_tags.find_one({"_id": "DEADBEEF"}) == expected
    assert await repo.get("DEADBEEF") == expected
    assert await repo.get("deadbeef") == expected
    assert await repo.get("deadbee") is None


@pytest.mark.gen_test
async def test_upsert_in_another_case_replaces_the_same_tag_with_defaults(db):
    repo = RfidRepo(db)
    await repo.upsert("tag1", label="old", expiry=EXPIRY, max_active_transactions=3)
    await repo.upsert("TAG1", status="blocked")
    assert await db.rfid_tags.count_documents({}) == 1
    assert await repo.get("Tag1") == {
        "_id": "TAG1", "id_tag": "TAG1", "label": "", "status": "blocked", "expiry": None,
        "parent_id_tag": None, "max_active_transactions": 1, "tariff": None,
    }  # fmt: skip


@pytest.mark.gen_test
async def test_list_is_by_key_and_limited(db):
    repo = RfidRepo(db)
    for id_tag in ("c3", "A1", "b2"):
        await repo.upsert(id_tag)
    assert [doc["id_tag"] for doc in await repo.list()] == ["A1", "b2", "c3"]
    assert [doc["id_tag"] for doc in await repo.list(limit=2)] == ["A1", "b2"]


@pytest.mark.gen_test
async def test_delete_in_any_case_and_false_when_absent(db):
    repo = RfidRepo(db)
    await repo.upsert("Tag1")
    await repo.upsert("Tag2")
    assert await repo.delete("tAG1") is True
    assert await repo.delete("tag1") is False
    assert [doc["_id"] for doc in await repo.list()] == ["TAG2"]
