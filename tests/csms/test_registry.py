"""ConnectionRegistry: the connection table and ``call`` with a scripted connection."""

from __future__ import annotations

import asyncio
import json

import pytest

from csms.registry import ConnectionRegistry, Outcome
from models.commands import CommandRepo
from ocppj import errors, frames
from ocppj.rpc import OutgoingCalls


class ScriptedConnection:
    """A connection whose charger answers each CALL with ``replies`` (None: never)."""

    def __init__(self, *replies):
        self.replies = list(replies)
        self.sent: list[list] = []
        self.sent_one = asyncio.Event()
        self.closed: tuple | None = None
        self.session = self  # the registry reaches the calls through connection.session
        self.outgoing = OutgoingCalls(self._send)

    async def _send(self, text: str) -> None:
        frame = json.loads(text)
        self.sent.append(frame)
        self.sent_one.set()
        reply = self.replies.pop(0) if self.replies else None
        if reply is not None:
            reply.unique_id = frame[1]
            asyncio.get_running_loop().call_soon(self.outgoing.resolve, reply)

    def close(self, code=None, reason=None) -> None:
        self.closed = (code, reason)
        self.outgoing.close()


def test_register_replace_unregister(schemas):
    registry = ConnectionRegistry(schemas)
    first, second = ScriptedConnection(), ScriptedConnection()
    assert registry.register("CP1", first) is None
    assert registry.register("CP1", second) is first
    assert registry.unregister("CP1", first) is False  # the old close keeps the new one
    assert registry.get("CP1") is second
    assert "CP1" in registry
    assert registry.ids() == ["CP1"]
    assert registry.unregister("CP1", second) is True
    assert len(registry) == 0


@pytest.mark.gen_test
async def test_call_without_a_commands_repo_stores_nothing(schemas):
    registry = ConnectionRegistry(schemas, default_timeout=1)
    connection = ScriptedConnection(frames.CallResult("", {"status": "Accepted"}))
    registry.register("CP1", connection)
    outcome = await registry.call("CP1", "Reset", {"type": "Soft"})
    assert outcome == Outcome(
        "accepted",
        {"status": "Accepted"},
        unique_id=outcome.command_id,
        command_id=outcome.command_id,
        request={"type": "Soft"},
        sent=True,
    )
    assert connection.sent == [[2, outcome.command_id, "Reset", {"type": "Soft"}]]
    assert outcome.ok and outcome.answered


@pytest.mark.gen_test
async def test_invalid_request_raises_and_stores_nothing(schemas, db):
    registry = ConnectionRegistry(schemas, CommandRepo(db))
    connection = ScriptedConnection()
    registry.register("CP1", connection)
    with pytest.raises(errors.OcppError) as raised:
        await registry.call("CP1", "Reset", {"type": "Gentle"})
    assert raised.value.code == errors.PROPERTY_CONSTRAINT_VIOLATION
    assert connection.sent == []
    assert await db.commands.count_documents({}) == 0


@pytest.mark.gen_test
async def test_command_document_and_meta(schemas, db):
    registry = ConnectionRegistry(schemas, CommandRepo(db))
    registry.register("CP1", ScriptedConnection(frames.CallResult("", {"status": "Rejected"})))
    outcome = await registry.call(
        "CP1", "ClearCache", {}, 2, name="clear_cache", requested_by="alice"
    )
    doc = await db.commands.find_one({"_id": outcome.command_id})
    assert doc == {
        "_id": outcome.command_id,
        "charger": "CP1",
        "action": "ClearCache",
        "name": "clear_cache",
        "payload": {},
        "unique_id": outcome.command_id,
        "ts": doc["ts"],
        "sent_ts": doc["sent_ts"],
        "status": "rejected",
        "reply": {"status": "Rejected"},
        "charger_status": "Rejected",
        "error_code": None,
        "description": "Rejected",
        "error_details": None,
        "finished_ts": doc["finished_ts"],
        "requested_by": "alice",
    }
    assert doc["ts"] <= doc["sent_ts"] <= doc["finished_ts"]
    recent = await CommandRepo(db).recent("CP1")
    assert [entry["_id"] for entry in recent] == [outcome.command_id]


@pytest.mark.gen_test
async def test_callerror_details_are_kept(schemas, db):
    registry = ConnectionRegistry(schemas, CommandRepo(db))
    error = frames.CallError("", "InternalError", "boom", {"line": 3})
    registry.register("CP1", ScriptedConnection(error))
    outcome = await registry.call("CP1", "ClearCache", {}, 2)
    assert (outcome.status, outcome.error_code, outcome.details) == ("error", "InternalError", {
        "line": 3
    })  # fmt: skip
    doc = await db.commands.find_one({"_id": outcome.command_id})
    assert (doc["error_code"], doc["description"], doc["error_details"]) == (
        "InternalError", "boom", {"line": 3}
    )  # fmt: skip
    assert outcome.as_dict()["details"] == {"line": 3}


@pytest.mark.gen_test
async def test_a_cancelled_caller_leaves_a_cancelled_command(schemas, db):
    registry = ConnectionRegistry(schemas, CommandRepo(db))
    connection = ScriptedConnection()  # never answers
    registry.register("CP1", connection)
    task = asyncio.ensure_future(registry.call("CP1", "ClearCache", {}, 5))
    await connection.sent_one.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    doc = await db.commands.find_one({"_id": connection.sent[0][1]})
    assert doc["status"] == "cancelled"
    assert doc["sent_ts"] is not None


@pytest.mark.gen_test
async def test_closing_the_connection_fails_the_waiting_call(schemas, db):
    registry = ConnectionRegistry(schemas, CommandRepo(db))
    connection = ScriptedConnection()
    registry.register("CP1", connection)
    task = asyncio.ensure_future(registry.call("CP1", "ClearCache", {}, 5))
    await connection.sent_one.wait()
    registry.close_all()
    outcome = await task
    assert (outcome.status, outcome.sent) == ("disconnected", True)
    assert connection.closed == (1001, "server shutting down")
