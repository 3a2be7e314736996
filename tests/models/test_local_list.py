"""Local lists: AuthorizationData from rfid_tags, differential updates, the per-charger state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.local_list import LocalListRepo, differential, entries_from_tags, entry_for, merged
from models.rfid import RfidRepo

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def accepted(id_tag: str, **info) -> dict:
    return {"idTag": id_tag, "idTagInfo": {"status": "Accepted", **info}}


def test_entry_for_derives_status_expiry_and_parent():
    tag = {"id_tag": "abc", "status": "accepted", "expiry": None, "parent_id_tag": None}
    assert entry_for(tag, NOW) == accepted("abc")
    later = NOW + timedelta(days=1)
    assert entry_for({**tag, "expiry": later, "parent_id_tag": "P"}, NOW) == accepted(
        "abc", expiryDate="2025-03-02T12:00:00.000Z", parentIdTag="P"
    )
    assert entry_for({**tag, "expiry": NOW}, NOW) == {
        "idTag": "abc", "idTagInfo": {"status": "Expired", "expiryDate": "2025-03-01T12:00:00.000Z"}
    }  # fmt: skip
    # blocked wins over expired
    assert entry_for({**tag, "status": "blocked", "expiry": NOW - timedelta(days=1)}, NOW) == {
        "idTag": "abc",
        "idTagInfo": {"status": "Blocked", "expiryDate": "2025-02-28T12:00:00.000Z"},
    }


@pytest.mark.gen_test
async def test_entries_from_tags_all_or_requested_ones_sorted_by_key(db):
    rfid = RfidRepo(db)
    await rfid.upsert("zed")
    await rfid.upsert("Abc", parent_id_tag="P")
    await rfid.upsert("mid", status="blocked")
    assert await entries_from_tags(db, NOW) == [
        accepted("Abc", parentIdTag="P"),
        {"idTag": "mid", "idTagInfo": {"status": "Blocked"}},
        accepted("zed"),
    ]
    # requested tags match case-insensitively; an unknown one gets no idTagInfo (a removal)
    assert await entries_from_tags(db, NOW, ["ZED", "gone", "abc"]) == [
        accepted("Abc", parentIdTag="P"),
        {"idTag": "gone"},
        accepted("zed"),
    ]
    assert await entries_from_tags(db, NOW, []) == []


def test_differential_adds_changes_and_removes_sorted_by_key():
    held = [accepted("A"), accepted("b"), accepted("C")]
    wanted = [accepted("d"), {"idTag": "B", "idTagInfo": {"status": "Blocked"}}, accepted("A")]
    assert differential(held, wanted) == [
        {"idTag": "B", "idTagInfo": {"status": "Blocked"}},
        {"idTag": "C"},
        accepted("d"),
    ]  # "A" is unchanged; "b" is matched by "B" whatever the case; "C" is removed
    assert differential(wanted, wanted) == []
    assert differential([], []) == []


def test_merged_applies_a_differential_update():
    held = [accepted("A"), accepted("b"), accepted("C")]
    update = [{"idTag": "B", "idTagInfo": {"status": "Blocked"}}, {"idTag": "c"},
              accepted("d"), {"idTag": "never-held"}]  # fmt: skip
    assert merged(held, update) == [
        accepted("A"), {"idTag": "B", "idTagInfo": {"status": "Blocked"}}, accepted("d")
    ]  # fmt: skip
    wanted = [accepted("x"), accepted("A")]
    assert merged(held, differential(held, wanted)) == [accepted("A"), accepted("x")]


@pytest.mark.gen_test
async def test_record_sent_and_answers(db):
    repo = LocalListRepo(db)
    assert await repo.get("CP1") is None
    await repo.record_answer("CP1", "VersionMismatch", NOW)
    assert await repo.get("CP1") == {
        "_id": "CP1", "last_status": "VersionMismatch", "last_status_ts": NOW
    }  # fmt: skip
    later = NOW + timedelta(minutes=1)
    await repo.record_sent("CP1", 3, [accepted("A")], "Full", later, "cmd-1")
    sent = {
        "_id": "CP1", "version": 3, "entries": [accepted("A")], "update_type": "Full",
        "sent_ts": later, "command_id": "cmd-1", "last_status": "Accepted",
        "last_status_ts": later, "charger_version": 3, "checked_ts": later, "in_sync": True,
    }  # fmt: skip
    assert await repo.get("CP1") == sent
    rejected = later + timedelta(minutes=1)
    await repo.record_answer("CP1", "Failed", rejected)
    assert await repo.get("CP1") == {**sent, "last_status": "Failed", "last_status_ts": rejected}


@pytest.mark.gen_test
async def test_record_version_compares_with_the_version_sent(db):
    repo = LocalListRepo(db)
    assert await repo.record_version("NEW", 0, NOW) is True  # nothing sent: our version is 0
    assert await repo.get("NEW") == {
        "_id": "NEW", "charger_version": 0, "checked_ts": NOW, "in_sync": True
    }  # fmt: skip
    assert await repo.record_version("NOLIST", -1, NOW) is False
    await repo.record_sent("CP1", 5, [], "Full", NOW, None)
    later = NOW + timedelta(hours=1)
    assert await repo.record_version("CP1", 4, later) is False
    doc = await repo.get("CP1")
    assert (doc["version"], doc["charger_version"], doc["checked_ts"], doc["in_sync"]) == (
        5, 4, later, False
    )  # fmt: skip
    assert await repo.record_version("CP1", 5, later) is True
    assert (await repo.get("CP1"))["in_sync"] is True
