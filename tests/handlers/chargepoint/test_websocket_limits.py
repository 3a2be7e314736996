"""Limits on the charger route against the real server (OCPP_RULES 23): message rate
(CALLERROR, throttling, close 1008), connection cap (503), browser Origins (403), idle
timeout, header read timeout."""

from __future__ import annotations

import asyncio
import time

import pytest
import websockets
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port
from websockets.exceptions import ConnectionClosed

from handlers.chargepoint.limits import LimitSettings
from ocppj.timeutil import utcnow
from tests.charge_points import raw_charger
from tests.handlers.chargepoint.test_admission_basic import add_charger, basic, refused

METER_VALUES = {
    "connectorId": 1,
    "meterValue": [{"timestamp": "2025-01-01T00:00:00Z", "sampledValue": [{"value": "10"}]}],
}


async def closed_with(cp, timeout: float = 5.0) -> int:
    """Wait until the server closes the socket; its close code."""
    with pytest.raises(ConnectionClosed):
        while True:
            await asyncio.wait_for(cp.ws.recv(), timeout)
    return cp.ws.close_code


@pytest.mark.gen_test
@pytest.mark.parametrize(
    "limits", [LimitSettings(message_rate=0.2, message_burst=3, rate_close_after=3)]
)
async def test_calls_over_the_rate_get_generic_error_then_the_socket_closes(limits, ws_url, db):
    async with raw_charger(ws_url("/RL1/")) as cp:
        assert (await cp.boot())[0] == 3
        assert (await cp.call("h1", "Heartbeat", {}))[0] == 3
        assert (await cp.call("h2", "Heartbeat", {}))[0] == 3
        reply = await cp.call("h3", "Heartbeat", {})
        assert reply == [4, "h3", "GenericError", "message rate exceeded; retry later",
                         {"rate": 0.2, "burst": 3}]  # fmt: skip
        await cp.send("not json")  # dropped without an answer while over the rate
        assert (await cp.call("h4", "Heartbeat", {}))[2] == "GenericError"
        await cp.send([2, "h5", "Heartbeat", {}])  # the 4th refusal within the window
        assert await closed_with(cp) == 1008
        assert cp.ws.close_reason == "message rate exceeded"
    for _ in range(50):
        event = await db.security_events.find_one({"type": "MessageRateExceeded"})
        if event:
            break
        await asyncio.sleep(0.02)
    assert (event["charger"], event["source"], event["ip"]) == ("RL1", "csms", "127.0.0.1")
    assert event["tech_info"] == "4 frames over the rate; connection closed"
    # Refused frames are not stored: the log has the boot and two heartbeats, each answered.
    await asyncio.sleep(0.1)
    logged = await db.messages.find({"charger": "RL1"}).sort([("ts", 1), ("_id", 1)]).to_list()
    assert [(m["unique_id"], m["reply"]["frame"][:len(m["unique_id"]) + 6]) for m in logged] == [
        ("boot", '[3,"boot",'), ("h1", '[3,"h1",'), ("h2", '[3,"h2",'),
    ]  # fmt: skip


@pytest.mark.gen_test
@pytest.mark.parametrize("limits", [LimitSettings(message_rate=5, message_burst=2)])
async def test_transaction_data_over_the_rate_is_delayed_not_refused(limits, ws_url):
    async with raw_charger(ws_url("/RL2/")) as cp:
        await cp.boot()
        assert await cp.call("m1", "MeterValues", METER_VALUES) == [3, "m1", {}]
        started = time.perf_counter()
        for number in range(2, 5):
            reply = await cp.call(f"m{number}", "MeterValues", METER_VALUES)
            assert reply == [3, f"m{number}", {}]
        assert time.perf_counter() - started >= 0.5  # three frames at 5/s


@pytest.mark.gen_test
@pytest.mark.parametrize("limits", [LimitSettings(message_rate=0)])
async def test_rate_limit_off_with_zero(limits, ws_url):
    async with raw_charger(ws_url("/RL3/")) as cp:
        await cp.boot()
        for number in range(150):
            assert (await cp.call(f"h{number}", "Heartbeat", {}))[0] == 3


@pytest.mark.gen_test
@pytest.mark.parametrize("limits", [LimitSettings(max_connections=2)])
async def test_connection_cap_answers_503_and_frees_slots(limits, ws_url, services):
    await add_charger(services, "AUTH", 1)
    for _ in range(5):  # refused logins give their slot back
        assert (await refused(ws_url("/AUTH/"), basic("AUTH", "x" * 16))).status_code == 401
    async with raw_charger(ws_url("/C1/")):
        async with raw_charger(ws_url("/C2/")) as second:
            response = await refused(ws_url("/C3/"))
            assert response.status_code == 503
            assert response.headers["Retry-After"] == "30"
            await second.ws.close()
            for _ in range(100):  # the server sees the close a moment later
                try:
                    async with raw_charger(ws_url("/C3/")) as third:
                        assert (await third.boot())[0] == 3
                        break
                except websockets.InvalidStatus:
                    await asyncio.sleep(0.02)
            else:
                pytest.fail("the slot of the closed connection was never freed")


@pytest.mark.gen_test
async def test_browser_origins_are_refused_before_the_upgrade(ws_url, http_port, db):
    for origin in ("https://evil.example", f"http://127.0.0.1:{http_port}", "null"):
        response = await refused(ws_url("/O1/"), origin=origin)
        assert response.status_code == 403
        assert response.body == b"browser origins may not connect to the charger route"
    assert await db.chargers.count_documents({}) == 0
    async with raw_charger(ws_url("/O1/")) as cp:  # no Origin: a charger
        assert (await cp.boot())[0] == 3


@pytest.mark.gen_test
@pytest.mark.parametrize("limits", [LimitSettings(charger_origins=("http://gateway.local",))])
async def test_configured_charger_origin_is_accepted(limits, ws_url):
    async with raw_charger(ws_url("/O2/"), origin="http://gateway.local") as cp:
        assert (await cp.boot())[0] == 3
    assert (await refused(ws_url("/O2/"), origin="http://other.local")).status_code == 403


@pytest.mark.gen_test
@pytest.mark.parametrize("limits", [LimitSettings(idle_timeout=0.5)])
async def test_idle_charger_is_closed_and_an_active_one_is_not(limits, ws_url, services):
    async with raw_charger(ws_url("/I1/")) as cp:
        await cp.boot()
        for number in range(5):  # a frame every 0.2 s keeps it open past the timeout
            await asyncio.sleep(0.2)
            assert (await cp.call(f"h{number}", "Heartbeat", {}))[0] == 3
        started = time.perf_counter()
        assert await closed_with(cp, 3) == 1001
        assert cp.ws.close_reason == "idle timeout"
        assert 0.4 <= time.perf_counter() - started < 1.5


def test_default_idle_timeout_is_three_heartbeats_and_a_minute(services):
    assert LimitSettings().idle_seconds(services.settings.heartbeat_interval) == 3 * 120 + 60


@pytest.mark.gen_test
async def test_header_timeout_drops_a_slow_client(app):
    """The listen() arguments the server uses: headers not complete in time -> closed."""
    sock, port = bind_unused_port()
    server = HTTPServer(app, **LimitSettings(header_timeout=0.3).http_server_kwargs())
    server.add_sockets([sock])
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /CP1/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n")
        await writer.drain()
        started = time.perf_counter()
        assert await asyncio.wait_for(reader.read(), 3) == b""  # closed without an answer
        assert time.perf_counter() - started < 1.5
        writer.close()
    finally:
        server.stop()
        await server.close_all_connections()


@pytest.mark.gen_test
@pytest.mark.parametrize("limits", [LimitSettings(auth_failures=2)])
async def test_limits_setting_also_shapes_the_failure_limit(limits, ws_url, services):
    await services.chargers.create("P1", {"security": {"profile": 1}}, utcnow())
    for status in (401, 401, 429):
        assert (await refused(ws_url("/P1/"), basic("P1", "x" * 16))).status_code == status


# Issue 21: one IP took every charger slot under the connection cap.
@pytest.mark.gen_test
@pytest.mark.parametrize("limits", [LimitSettings(max_connections=10, max_connections_per_ip=2)])
async def test_one_ip_cannot_take_every_charger_slot(limits, ws_url, db):
    async with raw_charger(ws_url("/A1/")), raw_charger(ws_url("/A2/")):
        response = await refused(ws_url("/A3/"))
        assert response.status_code == 503
        assert response.body == b"too many connections from this address; retry later"
        assert response.headers["Retry-After"] == "30"
        # Another address still gets a slot.
        async with raw_charger(ws_url("/B1/"), local_addr=("127.0.0.2", 0)) as other:
            assert (await other.boot())[0] == 3
    assert await db.chargers.find_one({"_id": "A3"}) is None


# Issue 21: one 64 KB MeterValues frame became 4,600 documents.
def meter_values(count: int, first: int = 0) -> dict:
    """A MeterValues payload with ``count`` distinct sampled values (one reading a second:
    values alike in time, measurand, phase, location and context are one reading)."""
    return {"connectorId": 1, "meterValue": [
        {"timestamp": f"2025-01-01T00:{n // 60:02d}:{n % 60:02d}Z", "sampledValue": [
            {"value": str(n)}]} for n in range(first, first + count)]}  # fmt: skip


@pytest.mark.gen_test
@pytest.mark.parametrize("limits", [LimitSettings(max_sampled_values=10)])
async def test_a_frame_over_the_sampled_value_cap_gets_occurrence_error(limits, ws_url, db,
                                                                        services):  # fmt: skip
    async with raw_charger(ws_url("/MV1/")) as cp:
        await cp.boot()
        assert await cp.call("m1", "MeterValues", meter_values(11)) == [
            4,
            "m1",
            "OccurenceConstraintViolation",
            "at most 10 sampled values in one frame",
            {"sampledValues": 11, "limit": 10},
        ]
        assert await cp.call("m2", "MeterValues", meter_values(10)) == [3, "m2", {}]
    await services.flush()
    assert await db.meter_values.count_documents({}) == 10


@pytest.mark.gen_test
@pytest.mark.parametrize("limits", [LimitSettings(sample_rate=20.0, sample_burst=10)])
async def test_sampled_values_count_against_their_own_rate_and_are_delayed(limits, ws_url, db,
                                                                           services):  # fmt: skip
    async with raw_charger(ws_url("/MV2/")) as cp:
        await cp.boot()
        assert await cp.call("m1", "MeterValues", meter_values(10)) == [3, "m1", {}]
        # The values' burst is spent: the next frame waits ~0.5 s (10 values at 20/s),
        # then it is answered and stored: delayed, never refused.
        await cp.send([2, "m2", "MeterValues", meter_values(10, first=10)])
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.shield(reply := asyncio.ensure_future(cp.recv())), 0.2)
        assert await asyncio.wait_for(reply, 3) == [3, "m2", {}]
    await services.flush()
    assert await db.meter_values.count_documents({}) == 20


# Issue 21: on profile 0 a connection with the charger's id alone replaced its socket.
@pytest.mark.gen_test
async def test_replacing_a_charger_during_a_transaction_is_a_security_event(ws_url, db):
    async with raw_charger(ws_url("/RP1/")) as real:
        await real.boot()
        start = await real.call("s", "StartTransaction", {
            "connectorId": 1, "idTag": "TAG", "meterStart": 0,
            "timestamp": "2025-01-01T00:00:00Z"})  # fmt: skip
        transaction = start[2]["transactionId"]
        real_port = real.ws.local_address[1]
        async with raw_charger(ws_url("/RP1/"), local_addr=("127.0.0.3", 0)) as intruder:
            assert await closed_with(real) == 4000
            intruder_port = intruder.ws.local_address[1]
            for _ in range(100):
                event = await db.security_events.find_one({"charger": "RP1"})
                if event:
                    break
                await asyncio.sleep(0.02)
    assert event["type"] == "ConnectionReplacedDuringTransaction"
    assert (event["source"], event["ip"], event["transaction"]) == ("csms", "127.0.0.3",
                                                                    transaction)  # fmt: skip
    assert event["peer"] == f"127.0.0.3:{intruder_port}"
    assert event["replaced_peer"] == f"127.0.0.1:{real_port}"
    assert event["tech_info"] == (
        f"connection from 127.0.0.3:{intruder_port} without credentials replaced"
        f" 127.0.0.1:{real_port} while transaction {transaction} was open"
    )


@pytest.mark.gen_test
async def test_replacing_a_charger_without_a_transaction_records_nothing(ws_url, db):
    async with raw_charger(ws_url("/RP2/")) as real:
        await real.boot()
        async with raw_charger(ws_url("/RP2/")) as second:
            assert await closed_with(real) == 4000
            assert (await second.call("h", "Heartbeat", {}))[0] == 3
    assert await db.security_events.count_documents({}) == 0
