"""The permissive sink at ``/ws/sink/`` (handlers.chargepoint.sink, OCPP_RULES 10): every CALL
is answered ``{}``, nothing is validated or stored, anything else is ignored.

A first look (invalid payloads, unknown actions, no charger stored) is in test_websocket.py."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.exceptions import InvalidStatus

from csms.logfiles import FrameLog
from handlers.chargepoint.limits import LimitSettings
from tests.charge_points import raw_charger


@pytest.mark.gen_test
@pytest.mark.parametrize("path", ["/ws/sink", "/ws/sink/"])
async def test_both_sink_paths_answer_calls_with_ocpp16(ws_url, db, path):
    async with raw_charger(ws_url(path)) as cp:
        assert cp.ws.subprotocol == "ocpp1.6"
        assert await cp.call("a", "StartTransaction", {"connectorId": "x"}) == [3, "a", {}]
    assert await db.chargers.count_documents({}) == 0
    assert await db.transactions.count_documents({}) == 0


@pytest.mark.gen_test
@pytest.mark.parametrize("offered", [None, ["ocpp2.0.1"]])
async def test_without_ocpp16_on_offer_the_sink_takes_no_subprotocol(ws_url, offered):
    async with raw_charger(ws_url("/ws/sink/"), subprotocols=offered) as cp:
        assert cp.ws.subprotocol is None
        assert await cp.call("b", "Heartbeat", {}) == [3, "b", {}]


@pytest.mark.gen_test
async def test_only_calls_are_answered_and_ids_become_strings(ws_url):
    async with raw_charger(ws_url("/ws/sink/")) as cp:
        for ignored in ([2], [3, "r", {}], [4, "e", "GenericError", "", {}], {"a": 1}, "[2,",
                        "null", [5, "x"]):  # fmt: skip
            await cp.send(ignored)
        await cp.send([2, 17, "Heartbeat", {}])
        assert await cp.recv() == [3, "17", {}]  # the first reply: nothing else was answered
        await cp.send([2, "short"])  # a CALL without action or payload still gets its reply
        assert await cp.recv() == [3, "short", {}]


@pytest.mark.gen_test
async def test_a_binary_call_is_answered_too(ws_url):
    async with raw_charger(ws_url("/ws/sink/")) as cp:
        await cp.send(b'[2, "bin", "Heartbeat", {}]')
        assert await cp.recv() == [3, "bin", {}]


@pytest.mark.gen_test
async def test_incoming_frames_go_to_the_sinks_own_log_not_the_frame_log(
    ws_url, services, tmp_path
):
    # The attack: sink traffic rotated every charger frame out of the frame log.
    services.frame_log = FrameLog(tmp_path / "frames.log", interval=0.01)
    services.sink_log = FrameLog(tmp_path / "sink.log", interval=0.01)
    try:
        async with raw_charger(ws_url("/ws/sink/")) as cp:
            assert await cp.call("f1", "Heartbeat", {}) == [3, "f1", {}]
            await cp.send(b'[2,"f2","Heartbeat",{}]')
            assert await cp.recv() == [3, "f2", {}]
    finally:
        services.frame_log.close()
        services.sink_log.close()
        services.frame_log = services.sink_log = None
    records = [json.loads(line) for line in (tmp_path / "sink.log").read_text().splitlines()]
    assert [(r["charger"], r["dir"], r["frame"]) for r in records] == [
        ("sink", "in", '[2, "f1", "Heartbeat", {}]'),
        ("sink", "in", 'b\'[2,"f2","Heartbeat",{}]\''),
    ]
    assert (tmp_path / "frames.log").read_text() == ""


@pytest.fixture
def limits():
    """The sink's limits in these tests: tiny, so they are reached."""
    return LimitSettings(sink_max_connections=3, sink_max_connections_per_ip=2)


@pytest.mark.gen_test
async def test_sink_connections_are_capped_per_ip(ws_url):
    async with raw_charger(ws_url("/ws/sink/")), raw_charger(ws_url("/ws/sink")):
        with pytest.raises(InvalidStatus) as info:
            async with raw_charger(ws_url("/ws/sink/")):
                pass
        assert info.value.response.status_code == 503
        assert info.value.response.body == b"too many sink connections; retry later"
        # Chargers are not affected by the sink's cap.
        async with raw_charger(ws_url("/CP1/")) as cp:
            assert (await cp.boot())[0] == 3
    async with raw_charger(ws_url("/ws/sink/")) as cp:  # the slots were given back
        assert await cp.call("x", "Heartbeat", {}) == [3, "x", {}]


@pytest.mark.gen_test
@pytest.mark.parametrize("limits", [LimitSettings(sink_message_rate=1.0, sink_message_burst=2)])
async def test_sink_frames_over_the_rate_wait(ws_url, limits):
    async with raw_charger(ws_url("/ws/sink/")) as cp:
        assert await cp.call("1", "Heartbeat", {}) == [3, "1", {}]
        assert await cp.call("2", "Heartbeat", {}) == [3, "2", {}]
        await cp.send([2, "3", "Heartbeat", {}])  # the burst is spent: a second's wait
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.shield(reply := asyncio.ensure_future(cp.recv())), 0.2)
        assert await asyncio.wait_for(reply, 3) == [3, "3", {}]
