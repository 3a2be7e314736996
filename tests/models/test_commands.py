"""CommandRepo: command documents, outcomes, notifications, newest first, and their frames."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pymongo.errors import DuplicateKeyError

from models.commands import PENDING, CommandRepo, new_command
from models.messages import IN, OUT, new_exchange, set_reply

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def test_new_command_document():
    doc = new_command("m1", "CP1", "Reset", {"type": "Soft"}, NOW, name="reset",
                      requested_by="admin")  # fmt: skip
    assert doc == {
        "_id": "m1", "charger": "CP1", "action": "Reset", "name": "reset",
        "payload": {"type": "Soft"}, "unique_id": "m1", "ts": NOW, "sent_ts": None,
        "status": PENDING, "reply": None, "charger_status": None, "error_code": None,
        "description": "", "finished_ts": None, "requested_by": "admin",
    }  # fmt: skip
    assert new_command("m2", "CP1", "Reset", {}, NOW)["name"] is None


@pytest.mark.gen_test
async def test_insert_get_and_update(db):
    repo = CommandRepo(db)
    doc = new_command("m1", "CP1", "Reset", {"type": "Soft"}, NOW)
    await repo.insert(dict(doc))
    assert await repo.get("m1") == doc
    with pytest.raises(DuplicateKeyError):
        await repo.insert(dict(doc))
    done = NOW + timedelta(seconds=1)
    outcome = {"status": "accepted", "reply": {"status": "Accepted"},
               "charger_status": "Accepted", "finished_ts": done}  # fmt: skip
    assert await repo.update("m1", outcome) is True
    assert await repo.get("m1") == doc | outcome
    assert await repo.update("nope", outcome) is False
    assert await repo.get("nope") is None


@pytest.mark.gen_test
async def test_add_notification_appends_in_order_and_sets_fields(db):
    repo = CommandRepo(db)
    await repo.insert(new_command("fw", "CP1", "UpdateFirmware", {}, NOW))
    first = {"status": "Downloading", "ts": NOW + timedelta(seconds=1)}
    second = {"status": "Installed", "ts": NOW + timedelta(seconds=2)}
    assert await repo.add_notification("fw", first) is True
    assert await repo.add_notification("fw", second, {"progress": "Installed"}) is True
    doc = await repo.get("fw")
    assert (doc["notifications"], doc["progress"]) == ([first, second], "Installed")
    assert await repo.add_notification("nope", first) is False


@pytest.mark.gen_test
async def test_recent_is_newest_first_with_skip_and_limit(db):
    repo = CommandRepo(db)
    for n in (3, 1, 4, 0, 2):
        await repo.insert(new_command(f"m{n}", "CP1", "Reset", {}, NOW + timedelta(seconds=n)))
    await repo.insert(new_command("x", "CP2", "Reset", {}, NOW + timedelta(seconds=9)))
    assert [doc["_id"] for doc in await repo.recent("CP1")] == ["m4", "m3", "m2", "m1", "m0"]
    assert [doc["_id"] for doc in await repo.recent("CP1", limit=2, skip=1)] == ["m3", "m2"]
    assert [doc["_id"] for doc in await repo.recent("CP2")] == ["x"]
    assert await repo.recent("CP3") == []


def call(unique_id: str, at: datetime, charger: str = "CP1", reply_after: float | None = 0.2):
    exchange = new_exchange(charger, OUT, f'[2,"{unique_id}","Reset",{{}}]', at, "Reset",
                            unique_id)  # fmt: skip
    if reply_after is None:
        return exchange
    return set_reply(exchange, f'[3,"{unique_id}",{{}}]', at + timedelta(seconds=reply_after))


@pytest.mark.gen_test
async def test_frames_are_the_commands_exchanges_within_its_lifetime_oldest_first(db):
    repo = CommandRepo(db)
    command = new_command("m1", "CP1", "Reset", {}, NOW) | {
        "finished_ts": NOW + timedelta(seconds=30)
    }
    late = new_exchange("CP1", IN, '[3,"m1",{}]', NOW + timedelta(seconds=80), None, "m1")
    await db.messages.insert_many([
        late,
        call("m1", NOW),
        call("m2", NOW + timedelta(seconds=1)),  # another command
        call("m1", NOW, charger="CP2"),  # same id from another charger
        call("m1", NOW - timedelta(seconds=1)),  # before the command was requested
        new_exchange("CP1", IN, '[3,"m1",{}]', NOW + timedelta(seconds=91), None, "m1"),
    ])  # fmt: skip
    assert [(f["direction"], f["ts"], f["frame"]) for f in await repo.frames(command)] == [
        ("out", NOW, '[2,"m1","Reset",{}]'),
        ("in", NOW + timedelta(milliseconds=200), '[3,"m1",{}]'),
        ("in", NOW + timedelta(seconds=80), '[3,"m1",{}]'),  # late reply within the slack
    ]
    assert len(await repo.frames(command, slack=10)) == 2


@pytest.mark.gen_test
async def test_frames_of_an_unfinished_command_use_its_request_time(db):
    repo = CommandRepo(db)
    command = new_command("m1", "CP1", "Reset", {}, NOW)
    await db.messages.insert_many([
        call("m1", NOW + timedelta(seconds=5), reply_after=None),
        new_exchange("CP1", IN, '[3,"m1",{}]', NOW + timedelta(seconds=61), None, "m1"),
    ])  # fmt: skip
    assert [f["frame"] for f in await repo.frames(command)] == ['[2,"m1","Reset",{}]']
    assert await repo.frames(command, slack=1) == []
