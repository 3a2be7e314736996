"""The message log stores one document per exchange: a CALL and the reply answering it."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime

import pytest

from csms.session import ChargerSession
from ocppj import frames
from tests.charge_points import raw_charger

BOOT = {"chargePointVendor": "V", "chargePointModel": "M"}


async def logged(services, db, charger: str, count: int) -> list[dict]:
    """The charger's exchanges, oldest first, once there are ``count`` (waits up to 5 s)."""
    for _ in range(250):
        await services.flush()
        docs = await db.messages.find({"charger": charger}).sort([("ts", 1), ("_id", 1)]).to_list()
        if len(docs) >= count:
            assert len(docs) == count, docs
            return docs
        await asyncio.sleep(0.02)
    raise AssertionError(f"{charger}: {len(docs)} exchanges logged, expected {count}")


def times(doc: dict) -> dict:
    """The document with its generated fields (``_id``, times) checked and taken as they are.

    Returns the fields an exact comparison needs from ``doc`` itself: ``_id``, ``ts`` and
    ``reply.ts`` (a reply never precedes its CALL)."""
    assert isinstance(doc["ts"], datetime)
    fields = {"_id": doc["_id"], "ts": doc["ts"]}
    if doc["reply"] is not None:
        assert doc["ts"] <= doc["reply"]["ts"]
    return fields


def reply_of(doc: dict, frame: str) -> dict:
    """The expected ``reply`` of ``doc``: ``frame`` at the stored reply time."""
    return {"ts": doc["reply"]["ts"], "frame": frame}


@pytest.mark.gen_test(timeout=20)
async def test_charger_call_and_our_reply_are_one_exchange(ws_url, services, db):
    async with raw_charger(ws_url("/ML1/")) as cp:
        boot = await cp.boot()
        beat = await cp.call("hb1", "Heartbeat", {})
        again = await cp.call("hb1", "Heartbeat", {})  # resent (rule 4): the same reply
    assert again == beat
    boot_doc, beat_doc, again_doc = await logged(services, db, "ML1", 3)
    boot_reply = frames.pack_result("boot", boot[2])
    assert boot_doc == {
        **times(boot_doc), "charger": "ML1", "direction": "in", "action": "BootNotification",
        "unique_id": "boot", "frame": json.dumps([2, "boot", "BootNotification", BOOT]),
        "reply": reply_of(boot_doc, boot_reply),
    }  # fmt: skip
    beat_reply = frames.pack_result("hb1", beat[2])
    for doc in (beat_doc, again_doc):
        assert doc == {
            **times(doc), "charger": "ML1", "direction": "in", "action": "Heartbeat",
            "unique_id": "hb1", "frame": '[2, "hb1", "Heartbeat", {}]',
            "reply": reply_of(doc, beat_reply),
        }  # fmt: skip


@pytest.mark.gen_test(timeout=20)
async def test_remote_operation_and_the_charger_reply_are_one_exchange(
    ws_url, services, registry, db
):
    async with raw_charger(ws_url("/ML2/")) as cp:
        await cp.boot()
        task = asyncio.ensure_future(registry.call("ML2", "Reset", {"type": "Soft"}, timeout=5))
        call = await cp.recv()
        await cp.send([3, call[1], {"status": "Accepted"}])
        outcome = await task
    assert outcome.status == "accepted"
    assert call == [2, outcome.command_id, "Reset", {"type": "Soft"}]
    _, doc = await logged(services, db, "ML2", 2)
    assert doc == {
        **times(doc), "charger": "ML2", "direction": "out", "action": "Reset",
        "unique_id": outcome.command_id,
        "frame": frames.pack_call(outcome.command_id, "Reset", {"type": "Soft"}),
        "reply": reply_of(doc, json.dumps([3, outcome.command_id, {"status": "Accepted"}])),
    }  # fmt: skip


@pytest.mark.gen_test(timeout=20)
async def test_remote_operation_without_a_reply_is_logged_and_a_late_reply_stands_alone(
    ws_url, services, registry, db
):
    async with raw_charger(ws_url("/ML3/")) as cp:
        await cp.boot()
        outcome = await registry.call("ML3", "ClearCache", {}, timeout=0.3)
        assert outcome.status == "timeout"
        call = await cp.recv()
        _, doc = await logged(services, db, "ML3", 2)  # logged at the timeout, not at close
        await cp.send([3, call[1], {"status": "Accepted"}])  # too late: matches no call
        _, doc, late = await logged(services, db, "ML3", 3)
    assert doc == {
        **times(doc), "charger": "ML3", "direction": "out", "action": "ClearCache",
        "unique_id": outcome.command_id, "frame": frames.pack_call(outcome.command_id,
                                                                   "ClearCache", {}),
        "reply": None,
    }  # fmt: skip
    assert late == {
        **times(late), "charger": "ML3", "direction": "in", "action": None,
        "unique_id": outcome.command_id,
        "frame": json.dumps([3, outcome.command_id, {"status": "Accepted"}]), "reply": None,
    }  # fmt: skip
    command = await db.commands.find_one({"_id": outcome.command_id})
    assert [(f["direction"], f["frame"]) for f in await services.commands.frames(command)] == [
        ("out", doc["frame"]), ("in", late["frame"])
    ]  # fmt: skip


@pytest.mark.gen_test(timeout=20)
async def test_connection_closed_during_a_pending_outgoing_call(ws_url, services, registry, db):
    async with raw_charger(ws_url("/ML4/")) as cp:
        await cp.boot()
        task = asyncio.ensure_future(registry.call("ML4", "Reset", {"type": "Hard"}, timeout=5))
        call = await cp.recv()
    outcome = await task
    assert outcome.status == "disconnected"
    _, doc = await logged(services, db, "ML4", 2)
    assert doc == {
        **times(doc), "charger": "ML4", "direction": "out", "action": "Reset",
        "unique_id": call[1], "frame": frames.pack_call(call[1], "Reset", {"type": "Hard"}),
        "reply": None,
    }  # fmt: skip


@pytest.mark.gen_test(timeout=20)
async def test_malformed_frames_and_our_callerror_are_one_exchange(ws_url, services, db):
    async with raw_charger(ws_url("/ML5/")) as cp:
        await cp.send("not json")
        unreadable = await cp.recv()
        await cp.send('[2, "a", 5, {}]')
        bad_action = await cp.recv()
    assert unreadable[:3] == [4, "-1", "FormationViolation"]
    assert bad_action == [4, "a", "FormationViolation", "action must be a string", {}]
    first, second = await logged(services, db, "ML5", 2)
    assert first == {
        **times(first), "charger": "ML5", "direction": "in", "action": None, "unique_id": "-1",
        "frame": "not json", "reply": reply_of(first, frames.pack_error(*unreadable[1:])),
    }  # fmt: skip
    assert second == {
        **times(second), "charger": "ML5", "direction": "in", "action": None, "unique_id": "a",
        "frame": '[2, "a", 5, {}]', "reply": reply_of(second, frames.pack_error(*bad_action[1:])),
    }  # fmt: skip


@pytest.mark.gen_test(timeout=20)
async def test_unmatched_replies_and_unknown_types_stand_alone(ws_url, services, db):
    async with raw_charger(ws_url("/ML6/")) as cp:
        await cp.send('[3, "nobody-asked", {}]')
        await cp.send('[4, "nor-this", "GenericError", "", {}]')
        await cp.send('[5, "x", "Heartbeat", {}]')
        assert (await cp.boot())[0] == 3  # nothing was answered before
    unmatched, error, unknown, _ = await logged(services, db, "ML6", 4)
    base = {"charger": "ML6", "direction": "in", "action": None, "reply": None}
    assert unmatched == {
        **times(unmatched), **base, "unique_id": "nobody-asked", "frame": '[3, "nobody-asked", {}]'
    }  # fmt: skip
    assert error == {
        **times(error), **base, "unique_id": "nor-this",
        "frame": '[4, "nor-this", "GenericError", "", {}]',
    }  # fmt: skip
    assert unknown == {
        **times(unknown), **base, "unique_id": None, "frame": '[5, "x", "Heartbeat", {}]'
    }  # fmt: skip


class SlowSession(ChargerSession):
    """A session whose answers wait for ``go`` (a CALL still being handled)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.go = asyncio.Event()
        self.answering = asyncio.Event()

    async def answer(self, call: frames.Call, now: datetime | None = None) -> str:
        """Wait for ``go``, then answer as usual."""
        self.answering.set()
        await self.go.wait()
        return await super().answer(call, now)


@pytest.mark.gen_test(timeout=20)
async def test_connection_closed_while_a_charger_call_is_handled(services, db):
    sent: list[str] = []

    async def send(text: str) -> None:
        sent.append(text)

    session = SlowSession("ML7", services, send, "/ML7")
    await session.open()
    handling = asyncio.ensure_future(session.on_text('[2, "b1", "BootNotification", {}]'))
    await session.answering.wait()
    await session.closed()
    [doc] = await logged(services, db, "ML7", 1)  # logged at the close, without a reply
    assert doc == {
        **times(doc), "charger": "ML7", "direction": "in", "action": "BootNotification",
        "unique_id": "b1", "frame": '[2, "b1", "BootNotification", {}]', "reply": None,
    }  # fmt: skip
    session.go.set()
    await handling  # the reply is still produced, but the exchange is not logged twice
    assert len(sent) == 1 and sent[0].startswith('[4,"b1",')
    await logged(services, db, "ML7", 1)


@pytest.mark.gen_test(timeout=20)
async def test_a_cancelled_charger_call_is_logged_alone(services, db):
    async def send(text: str) -> None:
        raise AssertionError("nothing is sent")

    session = SlowSession("ML8", services, send, "/ML8")
    handling = asyncio.ensure_future(session.on_text('[2, "h1", "Heartbeat", {}]'))
    await session.answering.wait()
    handling.cancel()
    with pytest.raises(asyncio.CancelledError):
        await handling
    [doc] = await logged(services, db, "ML8", 1)
    assert doc == {
        **times(doc), "charger": "ML8", "direction": "in", "action": "Heartbeat",
        "unique_id": "h1", "frame": '[2, "h1", "Heartbeat", {}]', "reply": None,
    }  # fmt: skip
