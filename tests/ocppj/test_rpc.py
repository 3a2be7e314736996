"""OutgoingCalls: one outstanding CALL per connection, replies matched by id."""

from __future__ import annotations

import asyncio
import json

import pytest

from ocppj import frames
from ocppj.rpc import ConnectionLost, OutgoingCalls


class Wire:
    """Records what was sent; ``tagged`` takes (text, action, unique_id) like the session."""

    def __init__(self):
        self.sent: list[list] = []
        self.tags: list[tuple] = []
        self.arrived = asyncio.Event()

    async def send(self, text: str) -> None:
        self.sent.append(json.loads(text))
        self.arrived.set()

    async def tagged(self, text: str, action=None, unique_id=None) -> None:
        self.tags.append((action, unique_id))
        await self.send(text)

    async def next_call(self) -> list:
        while not self.sent:
            self.arrived.clear()
            await self.arrived.wait()
        return self.sent.pop(0)


@pytest.mark.gen_test
async def test_reply_resolves_the_call_and_send_gets_the_ids():
    wire = Wire()
    calls = OutgoingCalls(wire.tagged)
    sent = []
    task = asyncio.create_task(
        calls.call("Reset", {"type": "Soft"}, 5, "id-1", on_sent=lambda: sent.append(True))
    )
    assert await wire.next_call() == [2, "id-1", "Reset", {"type": "Soft"}]
    assert wire.tags == [("Reset", "id-1")]
    assert sent == [True]
    assert calls.pending_id == "id-1"
    assert calls.resolve(frames.CallResult("other", {})) is False
    assert calls.resolve(frames.CallResult("id-1", {"status": "Accepted"})) is True
    assert await task == frames.CallResult("id-1", {"status": "Accepted"})
    assert calls.pending_id is None
    assert calls.resolve(frames.CallResult("id-1", {})) is False  # late duplicate


@pytest.mark.gen_test
async def test_plain_send_gets_only_the_text():
    wire = Wire()
    calls = OutgoingCalls(wire.send)
    task = asyncio.create_task(calls.call("ClearCache", {}, 5))
    frame = await wire.next_call()
    assert frame[:3] == [2, frame[1], "ClearCache"]
    assert len(frame[1]) == 36
    calls.resolve(frames.CallError(frame[1], "NotSupported", "no", {}))
    assert await task == frames.CallError(frame[1], "NotSupported", "no", {})


@pytest.mark.gen_test
async def test_second_call_waits_until_the_first_is_answered():
    wire = Wire()
    calls = OutgoingCalls(wire.send)
    first = asyncio.create_task(calls.call("Reset", {"type": "Soft"}, 5, "a"))
    second = asyncio.create_task(calls.call("ClearCache", {}, 5, "b"))
    assert (await wire.next_call())[1] == "a"
    await asyncio.sleep(0.05)
    assert wire.sent == []  # "b" is queued, not sent
    calls.resolve(frames.CallResult("a", {"status": "Accepted"}))
    assert (await wire.next_call())[1] == "b"
    calls.resolve(frames.CallResult("b", {"status": "Accepted"}))
    assert (await first).unique_id == "a"
    assert (await second).unique_id == "b"


@pytest.mark.gen_test
async def test_timeout_covers_the_queue_and_frees_the_turn():
    wire = Wire()
    calls = OutgoingCalls(wire.send)
    first = asyncio.create_task(calls.call("Reset", {"type": "Soft"}, 0.2, "a"))
    assert (await wire.next_call())[1] == "a"
    sent = []
    with pytest.raises(TimeoutError):
        await calls.call("ClearCache", {}, 0.1, "b", on_sent=lambda: sent.append(True))
    assert sent == []  # never left: "a" held the turn
    with pytest.raises(TimeoutError):
        await first
    assert calls.pending_id is None
    task = asyncio.create_task(calls.call("ClearCache", {}, 5, "c"))
    assert (await wire.next_call())[1] == "c"
    calls.resolve(frames.CallResult("c", {"status": "Accepted"}))
    assert (await task).payload == {"status": "Accepted"}


@pytest.mark.gen_test
async def test_close_fails_the_pending_call_and_refuses_new_ones():
    wire = Wire()
    calls = OutgoingCalls(wire.send)
    task = asyncio.create_task(calls.call("Reset", {"type": "Soft"}, 5, "a"))
    await wire.next_call()
    calls.close()
    with pytest.raises(ConnectionLost):
        await task
    assert calls.closed
    with pytest.raises(ConnectionLost):
        await calls.call("Reset", {"type": "Soft"}, 5)


@pytest.mark.gen_test
async def test_on_finished_is_called_once_per_sent_call_however_it_ends():
    wire = Wire()
    finished: list[str] = []
    calls = OutgoingCalls(wire.send, on_finished=finished.append)
    answered = asyncio.create_task(calls.call("Reset", {"type": "Soft"}, 5, "a"))
    await wire.next_call()
    assert finished == []  # still pending
    calls.resolve(frames.CallResult("a", {"status": "Accepted"}))
    await answered
    assert finished == ["a"]
    with pytest.raises(TimeoutError):
        await calls.call("ClearCache", {}, 0.05, "b")
    assert finished == ["a", "b"]
    assert (await wire.next_call())[1] == "b"
    closed = asyncio.create_task(calls.call("Reset", {"type": "Hard"}, 5, "c"))
    assert (await wire.next_call())[1] == "c"
    calls.close()
    with pytest.raises(ConnectionLost):
        await closed
    assert finished == ["a", "b", "c"]
    with pytest.raises(ConnectionLost):
        await calls.call("Reset", {"type": "Soft"}, 5, "d")  # never sent: not reported
    assert finished == ["a", "b", "c"]
