"""The charger WebSocket: ids from paths, subprotocols, duplicates, binary and oversized frames."""

from __future__ import annotations

import asyncio

import pytest
import websockets
from tornado.httpclient import AsyncHTTPClient, HTTPClientError
from websockets.exceptions import ConnectionClosed, InvalidStatus

from handlers import qrcodes
from handlers.chargepoint.websocket import charger_id_from_path
from tests.charge_points import raw_charger

ONLY = "the charger id must not contain"
ALLOWED = ": only letters A-Z a-z, digits and - . _ ~ are allowed"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/CP1", "CP1"),
        ("/CP1/", "CP1"),
        ("/foo/bar/CP1/", "CP1"),
        ("//CP1//", "CP1"),
        ("/ocpp/CP-1_a.b~c/", "CP-1_a.b~c"),
        ("/x/%43P1/", "CP1"),
        ("/" + "a" * 48 + "/", "a" * 48),
    ],
)
def test_charger_id_is_the_last_decoded_segment(path, expected):
    assert charger_id_from_path(path) == (expected, "")


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/", "the path must end with the charger id"),
        ("/%20/", "the charger id is empty"),
        ("/" + "a" * 49 + "/", "the charger id is longer than 48 characters"),
        ("/a%3Ab/", "the charger id must not contain ':'"),
        ("/a:b/", "the charger id must not contain ':'"),
        ("/a%00b/", "the charger id must not contain control characters"),
        ("/a%0Ab/", "the charger id must not contain control characters"),
        ("/a%FFb/", "the charger id is not valid UTF-8"),
        ("/SEC1%20/", ONLY + " ' '" + ALLOWED),
        ("/SEC1%E2%80%8B/", ONLY + " '\\u200b'" + ALLOWED),
        ("/%EF%BC%B3EC1/", ONLY + " '\\uff33'" + ALLOWED),
        ("/%E2%80%AEevil/", ONLY + " '\\u202e'" + ALLOWED),
        ("/x/a%2Fb/", ONLY + " '/'" + ALLOWED),
        ("/x/a*b/", ONLY + " '*'" + ALLOWED),
        ("/x/a%25b/", ONLY + " '%'" + ALLOWED),
        ("/x/%2E/", "the charger id must not be '.' or '..'"),
        ("/x/%2E%2E/", "the charger id must not be '.' or '..'"),
    ],
)
def test_bad_charger_ids_are_refused(path, why):
    assert charger_id_from_path(path) == (None, why)


# The ids of the attack (issue 21): each one was registered as a charger.
LOOKALIKES = ["SEC1%20", "SEC1%E2%80%8B", "%EF%BC%B3EC1", "%E2%80%AEevil", "%2E", "%2E%2E"]


@pytest.mark.gen_test
@pytest.mark.parametrize("segment", LOOKALIKES)
async def test_lookalike_ids_get_400_and_no_charger(segment, http_server, http_port, db):
    # A raw request: clients normalise "." and ".." away before sending.
    reader, writer = await asyncio.open_connection("127.0.0.1", http_port)
    writer.write(f"GET /ocpp/{segment} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n".encode())  # fmt: skip
    status = await asyncio.wait_for(reader.readline(), 5)
    writer.close()
    assert status == b"HTTP/1.1 400 Bad Request\r\n"
    assert await db.chargers.count_documents({}) == 0


@pytest.mark.gen_test
async def test_bad_id_gets_400_before_the_upgrade(ws_url, db):
    with pytest.raises(InvalidStatus) as info:
        async with websockets.connect(ws_url("/a%3Ab/"), subprotocols=["ocpp1.6"]):
            pass
    assert info.value.response.status_code == 400
    assert b"must not contain ':'" in info.value.response.body
    assert await db.chargers.count_documents({}) == 0


@pytest.mark.gen_test
async def test_unknown_id_creates_charger_with_last_path(ws_url, db):
    async with raw_charger(ws_url("/foo/bar/CP7/")) as cp:
        assert cp.ws.subprotocol == "ocpp1.6"
        reply = await cp.boot()
        assert reply[0] == 3
    doc = await db.chargers.find_one({"_id": "CP7"})
    assert doc["last_path"] == "/foo/bar/CP7/"
    assert doc["name"] == "CP7"
    assert doc["require_rfid"] is False
    assert doc["config"] == {}


@pytest.mark.gen_test
async def test_ocpp16_is_chosen_from_a_list(ws_url):
    async with raw_charger(ws_url("/CP1/"), subprotocols=["ocpp0.1", "ocpp1.6"]) as cp:
        assert cp.ws.subprotocol == "ocpp1.6"


@pytest.mark.gen_test
async def test_no_subprotocol_header_is_accepted(ws_url):
    async with websockets.connect(ws_url("/CP1/")) as ws:
        assert ws.subprotocol is None
        await ws.send('[2,"1","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]')
        reply = await asyncio.wait_for(ws.recv(), 5)
        assert reply.startswith('[3,"1",{"status":"Accepted"')


@pytest.mark.gen_test
async def test_only_other_subprotocols_handshake_then_close(ws_url):
    async with websockets.connect(ws_url("/CP1/"), subprotocols=["ocpp2.0.1"]) as ws:
        assert ws.subprotocol is None
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
        assert ws.close_code == 1002


@pytest.mark.gen_test
async def test_second_connection_replaces_the_first(ws_url, registry, db):
    async with raw_charger(ws_url("/CP1/")) as first:
        await first.boot()
        old = registry.get("CP1")
        async with raw_charger(ws_url("/other/CP1/")) as second:
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(first.ws.recv(), 5)
            assert first.ws.close_code == 4000
            await asyncio.sleep(0.1)  # the old socket's close has run by now
            current = registry.get("CP1")
            assert current is not None and current is not old
            reply = await second.call("h1", "Heartbeat", {})
            assert reply[:2] == [3, "h1"]
        doc = await db.chargers.find_one({"_id": "CP1"})
        assert doc["last_path"] == "/other/CP1/"


@pytest.mark.gen_test
async def test_binary_frame_closes_with_1003(ws_url):
    async with raw_charger(ws_url("/CP1/")) as cp:
        await cp.ws.send(b"\x00\x01")
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(cp.ws.recv(), 5)
        assert cp.ws.close_code == 1003


@pytest.mark.gen_test
async def test_oversized_frame_closes_with_1009(ws_url):
    async with raw_charger(ws_url("/CP1/"), max_size=None) as cp:
        await cp.boot()
        big = '[2,"1","DataTransfer",{"vendorId":"V","data":"' + "x" * 70_000 + '"}]'
        await cp.ws.send(big)
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(cp.ws.recv(), 5)
        assert cp.ws.close_code == 1009


@pytest.mark.gen_test
async def test_plain_http_never_reaches_the_charger_handler(http_url, db):
    with pytest.raises(HTTPClientError) as info:
        await AsyncHTTPClient().fetch(http_url("/CP1/"))
    assert info.value.code == 404
    assert await db.chargers.count_documents({}) == 0


@pytest.mark.gen_test
async def test_sink_answers_every_call_without_validation(ws_url, db):
    async with raw_charger(ws_url("/ws/sink/")) as cp:
        assert await cp.call("a", "BootNotification", {"bogus": 1}) == [3, "a", {}]
        assert await cp.call("b", "NoSuchAction", {}) == [3, "b", {}]
        await cp.send("not json")
        await cp.send([3, "x", {}])
        assert await cp.call("c", "Heartbeat", {}) == [3, "c", {}]
    assert await db.chargers.count_documents({}) == 0


@pytest.mark.gen_test
async def test_disconnect_marks_charger_offline(ws_url, registry, services, db):
    async with raw_charger(ws_url("/CP1/")) as cp:
        await cp.boot()
        assert "CP1" in registry
        await services.flush()
        assert (await db.chargers.find_one({"_id": "CP1"}))["connected"] is True
    for _ in range(100):
        await services.flush()
        if not (await db.chargers.find_one({"_id": "CP1"}))["connected"]:
            break
        await asyncio.sleep(0.02)
    assert (await db.chargers.find_one({"_id": "CP1"}))["connected"] is False
    assert "CP1" not in registry


@pytest.mark.gen_test
async def test_abrupt_disconnect_loses_no_transaction(ws_url, registry, db):
    start = ('[2,"s1","StartTransaction",{"connectorId":1,"idTag":"T","meterStart":5,'
             '"timestamp":"2026-01-01T00:00:00Z"}]')  # fmt: skip
    async with raw_charger(ws_url("/AB1/")) as cp:
        await cp.boot()
        await cp.ws.send(start)
        cp.ws.transport.abort()  # TCP gone without a close frame
    for _ in range(100):
        if "AB1" not in registry:
            break
        await asyncio.sleep(0.02)
    assert "AB1" not in registry
    # The charger did not see the reply, so it resends after reconnecting: same id, one record.
    async with raw_charger(ws_url("/AB1/")) as cp:
        reply = await cp.call(
            "s2",
            "StartTransaction",
            {"connectorId": 1, "idTag": "T", "meterStart": 5, "timestamp": "2026-01-01T00:00:00Z"},
        )
    assert reply == [3, "s2", {"transactionId": 1, "idTagInfo": {"status": "Accepted"}}]
    assert await db.transactions.count_documents({}) == 1


@pytest.mark.gen_test(timeout=20)
async def test_auto_registration_draws_no_qr_code_until_it_is_asked_for(
    ws_url, http_url, services, web_settings, db
):
    # Registering draws nothing (a storm of new chargers must not stall the loop with
    # QR codes); the first request of the image draws it and stores it, once.
    async with raw_charger(ws_url("/QR1/")) as cp:
        await cp.boot()
    doc = await db.chargers.find_one({"_id": "QR1"})
    assert doc["boot"] and "qr" not in doc
    url = f"{web_settings.public_url}/ocpp/c/QR1/"
    client = AsyncHTTPClient()
    first = await client.fetch(http_url("/ocpp/c/QR1/qr.svg"))
    assert first.code == 200
    assert first.body.decode() == qrcodes.qr_svg(url)
    stored = (await db.chargers.find_one({"_id": "QR1"}))["qr"]
    assert stored == {"url": url, "svg": qrcodes.qr_svg(url)}
    # Served as stored from then on (a marker proves it is not drawn again).
    await db.chargers.update_one({"_id": "QR1"}, {"$set": {"qr.svg": "<svg>kept</svg>"}})
    assert (await client.fetch(http_url("/ocpp/c/QR1/qr.svg"))).body == b"<svg>kept</svg>"


@pytest.mark.gen_test
async def test_replaced_socket_does_not_mark_the_charger_offline(ws_url, services, db):
    async with raw_charger(ws_url("/R1/")) as first:
        await first.boot()
        async with raw_charger(ws_url("/R1/")) as second:
            await second.boot()
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(first.ws.recv(), 5)
            await asyncio.sleep(0.2)  # the old socket's close has been recorded by now
            await services.flush()
            assert (await db.chargers.find_one({"_id": "R1"}))["connected"] is True


async def _abandoned_handshake(port: int, charger: str) -> None:
    """An upgrade request for ``charger`` whose client hangs up at once (a charger that
    gave up waiting for a slow handshake)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET /ocpp/{charger}/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n".encode()
    )
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    del reader


@pytest.mark.gen_test(timeout=30)
async def test_a_second_connection_given_up_while_registering_leaves_the_first_online(
    ws_url, http_port, services, registry, db, app
):
    events = services.bus.subscribe()
    cap = app.settings["gate"].cap
    async with raw_charger(ws_url("/ocpp/TWICE/")) as cp:
        boot = {"chargePointVendor": "V", "chargePointModel": "M"}
        assert (await cp.call("b", "BootNotification", boot))[0] == 3
        live_at = (await db.chargers.find_one({"_id": "TWICE"}))["connected_at"]
        for _ in range(5):
            await _abandoned_handshake(http_port, "TWICE")
        # Each given-up connection is either skipped before any database work (its socket
        # was seen closed when its turn came) or registered and then handed back: the
        # server is done with them all once only the live one holds a slot.
        async with asyncio.timeout(10):
            while len(cap) > 1:  # noqa: ASYNC110 (released by the server)
                await asyncio.sleep(0.02)
        connected = 0
        while not events.empty():
            connected += events.get_nowait()["type"] == "connected"
        assert 1 <= connected <= 6

        async def state():
            doc = await db.chargers.find_one({"_id": "TWICE"})
            return doc["connected"], doc["connected_at"]

        async with asyncio.timeout(10):
            # A state the server's tasks write; without the hand-back it stays False.
            while await state() != (True, live_at):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        # The live connection still answers, and its close is what marks it offline.
        assert (await cp.call("h", "Heartbeat", {}))[0] == 3
        assert "TWICE" in registry
    async with asyncio.timeout(10):
        while (await state())[0]:  # noqa: ASYNC110 (written by the server)
            await asyncio.sleep(0.05)
