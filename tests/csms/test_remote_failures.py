"""When a remote operation does not simply succeed: bad parameters, no connection, timeout,
CALLERROR, an invalid reply, a disconnect while waiting, and calls that must queue."""

from __future__ import annotations

import asyncio
import json

import pytest
from ocpp.exceptions import NotSupportedError
from ocpp.routing import on
from ocpp.v16 import call_result
from ocpp.v16.enums import Action

from csms.registry import ConnectionRegistry
from csms.remote import ParameterError, perform
from models.commands import CommandRepo
from tests.charge_points import raw_charger
from tests.csms.test_remote import CLOSE, RecordingChargePoint, booted


@pytest.fixture
def registry(services):
    """The registry with the commands repository (overrides the conftest fixture)."""
    return ConnectionRegistry(services.schemas, CommandRepo(services.db))


@pytest.mark.parametrize(
    ("name", "params", "field"),
    [
        ("reset", {"type": "Medium"}, "type"),
        ("change_availability", {"connector_id": 1}, "type"),
        ("reset", {"type": "Soft", "bogus": 1}, "bogus"),
        ("launch_rocket", {}, "action"),
        (None, {}, "action"),
        ("remote_start", {"connector_id": 1}, "id_tag"),
        ("remote_start", {"id_tag": "x" * 21}, "id_tag"),
        ("unlock_connector", {"connector_id": 0}, "connector_id"),
        ("unlock_connector", {"connector_id": "one"}, "connector_id"),
        ("unlock_connector", {"connector_id": True}, "connector_id"),
        ("reserve_now", {"connector_id": 1, "id_tag": "T", "expiry_date": "tomorrow"},
         "expiry_date"),
        ("get_configuration", {"key": [1]}, "key"),
        ("set_charging_profile", {"connector_id": 1, "charging_profile": "{not json"},
         "charging_profile"),
        ("get_diagnostics", {"location": "ftp://x/y", "retries": -1}, "retries"),
    ],
)  # fmt: skip
@pytest.mark.gen_test(timeout=20)
async def test_bad_parameters_send_and_store_nothing(
    ws_url, services, registry, db, name, params, field
):
    async with booted(ws_url) as cp:
        with pytest.raises(ParameterError) as raised:
            await perform(services, registry, "CP1", name, params)
    assert raised.value.field == field
    assert str(raised.value).startswith(f"{field}: ")
    assert cp.frames == []
    assert await db.commands.count_documents({}) == 0


@pytest.mark.gen_test(timeout=20)
async def test_not_connected_is_stored(services, registry, db):
    outcome = await perform(services, registry, "CP404", "reset", {"type": "Soft"})
    assert outcome.status == "not_connected"
    assert outcome.sent is False
    doc = await db.commands.find_one({"_id": outcome.command_id})
    assert (doc["charger"], doc["action"], doc["status"]) == ("CP404", "Reset", "not_connected")
    assert doc["payload"] == {"type": "Soft"}
    assert doc["sent_ts"] is None
    assert doc["finished_ts"] is not None


@pytest.mark.gen_test(timeout=20)
async def test_timeout_then_the_next_call_works(ws_url, services, registry, db):
    async with booted(ws_url) as cp:
        cp.delays["Reset"] = 0.8
        outcome = await perform(services, registry, "CP1", "reset", {"type": "Soft"}, timeout=0.3)
        assert outcome.status == "timeout"
        assert outcome.sent is True
        assert outcome.description == "no reply in 0.3 s"
        later = await perform(services, registry, "CP1", "clear_cache", {}, timeout=5)
        assert later.status == "accepted"
    doc = await db.commands.find_one({"_id": outcome.command_id})
    assert doc["status"] == "timeout"
    assert doc["sent_ts"] is not None
    assert doc["reply"] is None
    assert cp.frames[0] == [2, outcome.command_id, "Reset", {"type": "Soft"}]


@pytest.mark.gen_test(timeout=20)
async def test_callerror_reply(ws_url, services, registry, db):
    async with booted(ws_url) as cp:
        cp.replies["Reset"] = NotSupportedError("no resets here")
        outcome = await perform(services, registry, "CP1", "reset", {"type": "Hard"})
    assert outcome.status == "error"
    assert outcome.error_code == "NotSupported"
    assert outcome.description == "no resets here"
    doc = await db.commands.find_one({"_id": outcome.command_id})
    assert doc["status"] == "error"
    assert doc["error_code"] == "NotSupported"
    assert doc["description"] == "no resets here"
    assert doc["reply"] is None


class SloppyChargePoint(RecordingChargePoint):
    """Answers Reset with a status the schema does not allow."""

    @on(Action.reset, skip_schema_validation=True)
    async def on_reset(self, **_):
        return call_result.Reset(status="Maybe")


@pytest.mark.gen_test(timeout=20)
async def test_invalid_reply_payload(ws_url, services, registry, db):
    async with booted(ws_url, cls=SloppyChargePoint) as cp:
        outcome = await perform(services, registry, "CP1", "reset", {"type": "Hard"})
    assert outcome.status == "error"
    assert outcome.error_code == "PropertyConstraintViolation"
    assert outcome.description == "invalid reply: status: not one of Accepted, Rejected"
    assert cp.frames[-1] == [2, outcome.command_id, "Reset", {"type": "Hard"}]
    doc = await db.commands.find_one({"_id": outcome.command_id})
    assert doc["status"] == "error"
    assert doc["reply"] == {"status": "Maybe"}
    assert doc["charger_status"] is None
    assert doc["error_code"] == "PropertyConstraintViolation"


@pytest.mark.gen_test(timeout=20)
async def test_disconnect_while_waiting(ws_url, services, registry, db):
    async with booted(ws_url) as cp:
        cp.replies["Reset"] = CLOSE
        outcome = await perform(services, registry, "CP1", "reset", {"type": "Soft"}, timeout=5)
    assert outcome.status == "disconnected"
    assert outcome.sent is True
    doc = await db.commands.find_one({"_id": outcome.command_id})
    assert doc["status"] == "disconnected"
    assert doc["sent_ts"] is not None
    after = await perform(services, registry, "CP1", "reset", {"type": "Soft"})
    assert after.status == "not_connected"


@pytest.mark.gen_test(timeout=20)
async def test_two_concurrent_requests_are_serialized_and_both_answered(
    ws_url, services, registry, db
):
    async with booted(ws_url) as cp:
        cp.delays["Reset"] = 0.2
        reset, cache = await asyncio.gather(
            perform(services, registry, "CP1", "reset", {"type": "Soft"}),
            perform(services, registry, "CP1", "clear_cache", {}),
        )
    assert (reset.status, cache.status) == ("accepted", "accepted")
    assert reset.command_id != cache.command_id
    # Either may win the turn; the other goes out only after the first reply.
    first, second = (reset, cache) if cp.frames[0][1] == reset.command_id else (cache, reset)
    assert [frame[1] for frame in cp.frames] == [first.command_id, second.command_id]
    assert cp.most_answering == 1
    await services.flush()
    ids = [reset.command_id, cache.command_id]
    logged = await db.messages.find({"unique_id": {"$in": ids}}).sort("_id", 1).to_list()
    # One exchange per call (CALL and reply); the second CALL left after the first reply.
    order = [(m["direction"], m["unique_id"], json.loads(m["reply"]["frame"])) for m in logged]
    assert order == [
        ("out", first.command_id, [3, first.command_id, {"status": "Accepted"}]),
        ("out", second.command_id, [3, second.command_id, {"status": "Accepted"}]),
    ]
    assert logged[0]["reply"]["ts"] <= logged[1]["ts"]


@pytest.mark.gen_test(timeout=20)
async def test_second_call_is_not_on_the_wire_before_the_first_reply(
    ws_url, services, registry, db
):
    async with raw_charger(ws_url("/CP1")) as cp:
        assert (await cp.boot())[2]["status"] == "Accepted"
        both = asyncio.gather(
            perform(services, registry, "CP1", "reset", {"type": "Soft"}),
            perform(services, registry, "CP1", "clear_cache", {}),
        )
        call1 = await cp.recv()
        with pytest.raises(TimeoutError):
            await cp.recv(timeout=0.3)  # nothing else while the first is outstanding
        await cp.send([3, call1[1], {"status": "Accepted"}])
        call2 = await cp.recv()
        assert {call1[2], call2[2]} == {"Reset", "ClearCache"}
        await cp.send([3, call2[1], {"status": "Rejected"}])
        outcomes = {outcome.command_id: outcome.status for outcome in await both}
    assert outcomes == {call1[1]: "accepted", call2[1]: "rejected"}


@pytest.mark.gen_test(timeout=20)
async def test_a_call_that_never_got_its_turn_times_out_unsent(ws_url, services, registry, db):
    async with raw_charger(ws_url("/CP1")) as cp:
        await cp.boot()
        first = asyncio.ensure_future(
            perform(services, registry, "CP1", "reset", {"type": "Soft"}, timeout=2)
        )
        await cp.recv()  # the Reset, never answered
        queued = await perform(services, registry, "CP1", "clear_cache", {}, timeout=0.2)
        assert queued.status == "timeout"
        assert queued.sent is False
        assert queued.description.startswith("not sent")
        assert (await first).status == "timeout"
    doc = await db.commands.find_one({"_id": queued.command_id})
    assert (doc["status"], doc["sent_ts"]) == ("timeout", None)
