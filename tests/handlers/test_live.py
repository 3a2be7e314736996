"""Server-sent events of the live dashboard: login, snapshot, bus events, keep-alive,
unsubscribe on disconnect, bounded lifetime."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from ocpp.v16 import call

from handlers.base import LiveSettings
from handlers.routes import make_app
from models.meter_values import measurements
from ocppj.timeutil import parse_datetime
from tests.charge_points import ocpp_charge_point, raw_charger
from tests.conftest import COOKIE_SECRET
from tests.handlers.test_pages import as_datetimes, cookie_of, get, meter, session

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
KEEPALIVE = 0.3


@pytest.fixture
def live_max_age():
    """How long one event stream may last (seconds)."""
    return 30.0


@pytest.fixture
def app(services, registry, web_settings, live_max_age):
    """The application with a short keep-alive interval."""
    return make_app(
        services, registry, web=web_settings, cookie_secret=COOKIE_SECRET,
        ping_interval=None, ping_timeout=None,
        live=LiveSettings(keepalive=KEEPALIVE, max_age=live_max_age),
    )  # fmt: skip


class EventStream:
    """A raw HTTP/1.0 client of ``/ocpp/live/events`` (no chunked encoding to undo)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer
        self.status = 0
        self.headers: dict[str, str] = {}

    @classmethod
    async def open(cls, port: int, cookie: str, path: str = "/ocpp/live/events") -> EventStream:
        """Connect, send the request, read the response head."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n"
            f"Accept: text/event-stream\r\nCookie: {cookie}\r\n\r\n".encode()
        )
        await writer.drain()
        stream = cls(reader, writer)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        status_line, *lines = head.decode().split("\r\n")
        stream.status = int(status_line.split()[1])
        for line in lines:
            if line:
                name, _, value = line.partition(":")
                stream.headers[name.strip().lower()] = value.strip()
        return stream

    async def block(self, timeout: float = 5.0) -> str:
        """The next event block (text up to the blank line), "" at end of stream."""
        try:
            raw = await asyncio.wait_for(self.reader.readuntil(b"\n\n"), timeout)
        except asyncio.IncompleteReadError as exc:
            assert exc.partial == b""
            return ""
        return raw.decode()[:-2]

    async def event(self, timeout: float = 5.0) -> dict:
        """The next ``data:`` event, parsed (comments and retry lines skipped)."""
        while True:
            block = await self.block(timeout)
            assert block, "the stream ended"
            if block.startswith("data: "):
                assert "\n" not in block
                return json.loads(block[len("data: ") :])

    async def event_of(self, kind: str, timeout: float = 5.0) -> dict:
        """The next event of type ``kind``."""
        while True:
            event = await self.event(timeout)
            if event["type"] == kind:
                return event

    def close(self) -> None:
        """Drop the connection."""
        self.writer.close()


@contextlib.asynccontextmanager
async def event_stream(http_port, cookie, path: str = "/ocpp/live/events"):
    """An open event stream (of ``path``: a query chooses the dashboard page)."""
    stream = await EventStream.open(http_port, cookie, path)
    try:
        yield stream
    finally:
        stream.close()


async def wait_for(condition, timeout: float = 5.0) -> None:
    """Poll a condition in a test (never in the product)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


@pytest.mark.gen_test
async def test_events_require_login(http_url):
    response = await get(http_url, "/ocpp/live/events")
    assert response.code == 302
    assert response.headers["Location"] == "/ocpp/login?next=%2Focpp%2Flive%2Fevents"


@pytest.mark.gen_test(timeout=30)
async def test_status_notification_arrives_as_an_event(
    http_url, ws_url, http_port, admin_user, services
):
    cookie = await cookie_of(http_url, admin_user)
    await services.chargers.create("CP-LIVE", {}, NOW)  # on the page the stream shows
    async with event_stream(http_port, cookie) as stream:
        assert stream.status == 200
        assert stream.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert stream.headers["cache-control"] == "no-cache, no-store"
        assert await stream.block() == "retry: 3000"
        snapshot = await stream.event()
        assert (snapshot["type"], snapshot["total"]) == ("snapshot", 1)
        assert await stream.event() == {
            "type": "overview", "total": 1, "online": 0, "faulted": 0, "offline": 1,
            "charging": 0, "unavailable": 0, "available": 0, "power_w": 0.0,
            "energy_today_wh": 0.0,
        }  # fmt: skip

        async with ocpp_charge_point(ws_url("/ocpp/CP-LIVE"), "CP-LIVE") as cp:
            assert await stream.event() == {"type": "connected", "charger": "CP-LIVE",
                                            "created": False}  # fmt: skip
            await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
            assert await stream.event_of("boot") == {"type": "boot", "charger": "CP-LIVE",
                                                     "vendor": "V", "model": "M"}  # fmt: skip
            await cp.call(
                call.StatusNotification(connector_id=1, error_code="NoError", status="Charging")
            )
            assert await stream.event_of("status") == {
                "type": "status", "charger": "CP-LIVE", "connector": 1, "status": "Charging",
                "error_code": "NoError",
            }  # fmt: skip
            counts = await stream.event_of("overview")  # coalesced: at most once a second
            while counts["charging"] != 1:
                counts = await stream.event_of("overview")
            assert (counts["online"], counts["offline"]) == (1, 0)
        gone = await stream.event_of("disconnected")
        assert set(gone) == {"type", "charger", "ts"}
        assert (gone["type"], gone["charger"]) == ("disconnected", "CP-LIVE")
        doc = await services.chargers.get("CP-LIVE")
        assert parse_datetime(gone["ts"]) == doc["disconnected_at"]


@pytest.mark.gen_test(timeout=30)
async def test_snapshot_holds_the_dashboard_state_with_session_series(
    http_url, ws_url, http_port, admin_user, services, db
):
    cookie = await cookie_of(http_url, admin_user)
    await services.chargers.create("CP1", {"name": "Garage <1>"}, NOW)
    connectors = {"1": {"status": "Charging", "error_code": "NoError", "ts": NOW}}
    await services.chargers.update("CP1", {"connectors": connectors, "last_heartbeat": NOW})
    await db.transactions.insert_one(session(7, 1, 0, open_=True))
    power = meter(7, "Power.Active.Import", 3600.0, 30)
    await db.meter_values.insert_many(
        measurements([power, meter(7, "Energy.Active.Import.Register", 1250.0, 30)])
    )
    async with event_stream(http_port, cookie) as stream:
        snapshot = await stream.event()
    assert as_datetimes(snapshot) == {
        "type": "snapshot",
        "total": 1,
        "chargers": [
            {
                "id": "CP1", "name": "Garage <1>", "connected": False, "offline_since": None,
                "state": "offline",
                "vendor": None, "model": None, "last_heartbeat": NOW, "last_seen": None,
                "connectors": [{"id": 1, "status": "Charging", "error_code": "NoError",
                                "info": None, "ts": NOW, "stale": True}],
                "sessions": [
                    {"transaction": 7, "connector": 1, "id_tag": "TAG", "start_ts": NOW,
                     "meter_start": 1000, "power_w": 3600.0, "energy_wh": 250.0,
                     "power": [[NOW + timedelta(seconds=30), 3600.0]],
                     "energy": [[NOW + timedelta(seconds=30), 250.0]], "cost": ""},
                ],
            }
        ],
    }  # fmt: skip


@pytest.mark.gen_test(timeout=30)
async def test_session_events_carry_what_the_charts_need(
    http_url, ws_url, http_port, admin_user, services
):
    cookie = await cookie_of(http_url, admin_user)
    await services.chargers.create("CP-TX", {}, NOW)  # on the page the stream shows
    async with raw_charger(ws_url("/CP-TX")) as cp, event_stream(http_port, cookie) as stream:
        await cp.boot()
        await stream.event_of("boot")
        start = {"connectorId": 1, "idTag": "TAG1", "meterStart": 5000,
                 "timestamp": "2025-03-01T12:00:00Z"}  # fmt: skip
        reply = await cp.call("t1", "StartTransaction", start)
        tx = reply[2]["transactionId"]
        assert as_datetimes(await stream.event()) == {
            "type": "transaction_started", "charger": "CP-TX", "transaction": tx, "connector": 1,
            "id_tag": "TAG1", "status": "Accepted", "meter_start": 5000, "start_ts": NOW,
        }  # fmt: skip
        values = {"connectorId": 1, "transactionId": tx, "meterValue": [{
            "timestamp": "2025-03-01T12:01:00Z", "sampledValue": [
                {"value": "5.75", "measurand": "Energy.Active.Import.Register", "unit": "kWh"},
                {"value": "11000", "measurand": "Power.Active.Import", "unit": "W"}]}]}  # fmt: skip
        assert await cp.call("mv1", "MeterValues", values) == [3, "mv1", {}]
        assert await stream.event() == {
            "type": "meter", "charger": "CP-TX", "connector": 1, "transaction": tx,
            "energy_wh": 5750.0, "power_w": 11000.0,
        }  # fmt: skip
        stop = {"transactionId": tx, "meterStop": 6000, "timestamp": "2025-03-01T12:30:00Z"}
        await cp.call("t2", "StopTransaction", stop)
        assert await stream.event() == {
            "type": "transaction_stopped", "charger": "CP-TX", "transaction": tx,
            "connector": 1, "energy_wh": 1000,
        }  # fmt: skip


@pytest.mark.gen_test(timeout=30)
async def test_keep_alive_comments_and_unsubscribe_when_the_client_leaves(
    http_url, http_port, admin_user, services
):
    cookie = await cookie_of(http_url, admin_user)
    before = len(services.bus._queues)  # the fleet overview's own subscription
    stream = await EventStream.open(http_port, cookie)
    await stream.event_of("overview")
    assert len(services.bus._queues) == before + 1
    assert await stream.block(timeout=KEEPALIVE * 5) == ": keep-alive"
    assert await stream.block(timeout=KEEPALIVE * 5) == ": keep-alive"
    stream.close()
    await wait_for(lambda: len(services.bus._queues) == before)


@pytest.mark.gen_test(timeout=30)
async def test_two_browsers_each_get_every_event(http_url, http_port, admin_user, services):
    cookie = await cookie_of(http_url, admin_user)
    await services.chargers.create("CP1", {}, NOW)
    async with event_stream(http_port, cookie) as one, event_stream(http_port, cookie) as two:
        await one.event_of("overview")
        await two.event_of("overview")
        for n in range(3):
            services.bus.publish("status", "CP1", connector=n, status="Available", error_code="x")
        services.bus.publish("status", "CP2", connector=1, status="Faulted", error_code="x")
        for stream in (one, two):
            got = [(await stream.event_of("status"))["connector"] for _ in range(3)]
            assert got == [0, 1, 2]


@pytest.mark.parametrize("live_max_age", [1.0])
@pytest.mark.gen_test(timeout=30)
async def test_a_stream_ends_after_its_maximum_age(
    http_url, http_port, admin_user, services, live_max_age
):
    cookie = await cookie_of(http_url, admin_user)
    before = len(services.bus._queues)
    stream = await EventStream.open(http_port, cookie)
    await stream.event_of("overview")
    started = asyncio.get_running_loop().time()
    blocks = []
    while block := await stream.block(timeout=5):
        blocks.append(block)
    assert live_max_age - 0.2 <= asyncio.get_running_loop().time() - started <= 3
    assert set(blocks) == {": keep-alive"}
    stream.close()
    await wait_for(lambda: len(services.bus._queues) == before)


@pytest.mark.gen_test(timeout=30)
async def test_open_streams_do_not_hold_up_a_server_shutdown(
    http_url, http_port, http_server, admin_user, services
):
    cookie = await cookie_of(http_url, admin_user)
    before = len(services.bus._queues)
    stream = await EventStream.open(http_port, cookie)
    await stream.event_of("overview")
    http_server.stop()
    await asyncio.wait_for(http_server.close_all_connections(), 3)
    assert await stream.block() == ""
    stream.close()
    await wait_for(lambda: len(services.bus._queues) == before)


@pytest.mark.gen_test(timeout=30)
async def test_the_snapshot_is_the_page_the_dashboard_shows(
    http_url, http_port, admin_user, services
):
    cookie = await cookie_of(http_url, admin_user)
    for name in ("ALPHA-1", "ALPHA-2", "BETA-1"):
        await services.chargers.create(name, {}, NOW)
    async with event_stream(http_port, cookie, "/ocpp/live/events?q=alpha") as stream:
        snapshot = await stream.event()
    assert snapshot["total"] == 2
    assert [c["id"] for c in snapshot["chargers"]] == ["ALPHA-1", "ALPHA-2"]


@pytest.mark.gen_test(timeout=30)
async def test_the_stream_sends_only_the_page_in_view_and_coalesced_counts(
    http_url, http_port, admin_user, services
):
    cookie = await cookie_of(http_url, admin_user)
    for name in ("ALPHA-1", "BETA-1"):
        await services.chargers.create(name, {}, NOW)
    async with event_stream(http_port, cookie, "/ocpp/live/events?q=alpha") as stream:
        assert [c["id"] for c in (await stream.event())["chargers"]] == ["ALPHA-1"]
        assert (await stream.event())["type"] == "overview"
        for _ in range(20):  # BETA-1 is not on the page: none of its events come
            services.bus.publish("status", "BETA-1", connector=1, status="Faulted", error_code="x")
        services.bus.publish("status", "ALPHA-1", connector=1, status="Faulted", error_code="x")
        services.bus.publish("connected", "NEW-1", created=True)  # announced by the page
        got = [await stream.event() for _ in range(3)]
    assert [(e["type"], e["charger"]) for e in got[:2]] == [
        ("status", "ALPHA-1"), ("connected", "NEW-1"),
    ]  # fmt: skip
    # One overview for the 22 events (at most one a second), with the counts they made.
    assert got[2]["type"] == "overview"
