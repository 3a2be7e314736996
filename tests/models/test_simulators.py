"""SimulatorRepo: entries with their FIELDS only, ids as 24 hex digits, names unique."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from bson import ObjectId

from models.simulators import FIELDS, SimulatorRepo, object_id

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=1)


def test_object_id_accepts_ids_and_their_hex_only():
    oid = ObjectId()
    assert object_id(oid) is oid
    assert object_id(str(oid)) == oid
    for bad in ("", "xyz", "0" * 23, "g" * 24, 12):
        assert object_id(bad) is None, bad


@pytest.mark.gen_test
async def test_create_keeps_every_field_and_only_those(db):
    repo = SimulatorRepo(db)
    entry_id = await repo.create({"name": "Sim A", "cp_path": "/SIMA/", "interval": 5,
                                  "password": "pw", "unexpected": "dropped"}, NOW)  # fmt: skip
    assert len(entry_id) == 24 and ObjectId.is_valid(entry_id)
    doc = await repo.get(entry_id)
    given = {"name": "Sim A", "cp_path": "/SIMA/", "interval": 5, "password": "pw"}
    expected = dict.fromkeys(FIELDS) | given | {"created": NOW, "updated": NOW}
    assert doc == {"_id": ObjectId(entry_id), **expected}
    assert await repo.get(ObjectId(entry_id)) == doc
    assert await repo.get("not-an-id") is None
    assert await repo.get(str(ObjectId())) is None


@pytest.mark.gen_test
async def test_list_by_name(db):
    repo = SimulatorRepo(db)
    for name in ("b", "c", "a"):
        await repo.create({"name": name}, NOW)
    assert [doc["name"] for doc in await repo.list()] == ["a", "b", "c"]
    assert [doc["name"] for doc in await repo.list(limit=2)] == ["a", "b"]


@pytest.mark.gen_test
async def test_name_taken_excluding_an_entry(db):
    repo = SimulatorRepo(db)
    first = await repo.create({"name": "one"}, NOW)
    second = await repo.create({"name": "two"}, NOW)
    assert await repo.name_taken("one") is True
    assert await repo.name_taken("three") is False
    assert await repo.name_taken("one", exclude=first) is False  # its own name
    assert await repo.name_taken("one", exclude=ObjectId(first)) is False
    assert await repo.name_taken("one", exclude=second) is True


@pytest.mark.gen_test
async def test_update_changes_known_fields_only(db):
    repo = SimulatorRepo(db)
    entry_id = await repo.create({"name": "one", "password": "keep", "ws_port": 8080}, NOW)
    assert await repo.update(entry_id, {"ws_port": None, "repeat": True, "_id": "x",
                                        "created": LATER, "junk": 1}, LATER) is True  # fmt: skip
    doc = await repo.get(entry_id)
    assert (doc["ws_port"], doc["repeat"], doc["password"]) == (None, True, "keep")
    assert (doc["created"], doc["updated"]) == (NOW, LATER)
    assert "junk" not in doc
    assert await repo.update(str(ObjectId()), {"name": "x"}, LATER) is False
    assert await repo.update("bad id", {"name": "x"}, LATER) is False


@pytest.mark.gen_test
async def test_delete(db):
    repo = SimulatorRepo(db)
    entry_id = await repo.create({"name": "one"}, NOW)
    assert await repo.delete("bad id") is False
    assert await repo.delete(entry_id) is True
    assert await repo.delete(entry_id) is False
    assert await repo.list() == []
