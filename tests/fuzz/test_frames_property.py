"""Property-based tests: arbitrary and mutated frames on the charger route (hypothesis).

One charger connection to the in-process test server receives every generated
frame (``tests.fuzz.frames``), each followed by a Heartbeat. The properties:
the connection stays open, except for the documented closes (binary: 1003,
over 64 KiB: 1009, after which the charger reconnects); every CALL gets exactly
one reply, a CALLRESULT or a five-element CALLERROR with a correctly spelled 1.6
code, never InternalError (that is our code failing); a frame whose id cannot be read
is answered with id "-1" and FormationViolation, without echoing it; frames of
unknown message types and well-formed replies nobody asked for get no answer;
and the Heartbeat after each frame is still answered with currentTime.

The application's per-connection message rate is raised for this module (the
``app`` fixture below): the fuzzer sends a few hundred frames a second.

``FUZZ_EXAMPLES`` sets the number of generated frames (default 500).
"""

from __future__ import annotations

import asyncio
import collections
import json
import os

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from csms.services import CsmsSettings
from handlers.chargepoint.gate import ChargerGate
from handlers.chargepoint.limits import LimitSettings
from tests.charge_points import raw_charger
from tests.fuzz.frames import FRAMES, MAX_FRAME, Frame, expected, reply_problems

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "500"))
REPLY_TIMEOUT = 10.0


class Link:
    """The fuzzing charger's connection, reopened (and booted) after a documented close."""

    def __init__(self, url: str):
        self.url = url
        self.ws: ClientConnection | None = None
        self.sent = 0
        self.kinds: collections.Counter[str] = collections.Counter()
        self.replies: collections.Counter[str] = collections.Counter()
        self.reconnects = 0
        self.internal_errors: list[str] = []  # frames our code failed on

    async def open(self) -> None:
        """Connect and boot."""
        self.ws = await connect(
            self.url, subprotocols=["ocpp1.6"], max_size=None, ping_interval=None,
            compression=None, proxy=None,
        )  # fmt: skip
        boot = {"chargePointVendor": "Fuzz", "chargePointModel": "F1"}
        await self.ws.send(json.dumps([2, "boot", "BootNotification", boot]))
        reply = orjson.loads(await self.ws.recv())
        assert reply[:2] == [3, "boot"] and reply[2]["status"] == "Accepted", reply

    async def close(self) -> None:
        """Close the connection."""
        if self.ws is not None:
            await self.ws.close()
            self.ws = None

    async def _next(self) -> list:
        """The next frame from the server; its own CALLs are acknowledged and skipped."""
        assert self.ws is not None
        while True:
            reply = orjson.loads(await _wait(self.ws.recv()))
            if isinstance(reply, list) and reply and reply[0] == 2:
                await self.ws.send(json.dumps([3, reply[1], {}]))
                continue
            return reply

    async def exchange(self, frame: Frame) -> list[str]:
        """Send ``frame`` and a Heartbeat; every way the replies break the rules."""
        if self.ws is None:
            await self.open()
            self.reconnects += 1
        assert self.ws is not None
        self.sent += 1
        self.kinds[frame.note.split(",")[0].split(" ")[0]] += 1
        data = frame.with_id(f"fz{self.sent:010d}")
        want = expected(data)
        await self.ws.send(data)
        if want.close is not None:
            return await self._closed_with(want.close)
        beat = f"hb{self.sent:010d}"
        await self.ws.send(json.dumps([2, beat, "Heartbeat", {}]))
        replies = []
        try:
            while True:
                reply = await self._next()
                if isinstance(reply, list) and len(reply) > 1 and reply[1] == beat:
                    break
                replies.append(reply)
        except ConnectionClosed as exc:
            self.ws = None
            return [f"the connection closed ({exc}) after {frame.note}: {str(data)[:200]!r}"]
        except TimeoutError:
            self.ws = None  # in an unknown state: the next example starts afresh
            return [f"no Heartbeat reply within {REPLY_TIMEOUT} s after {frame.note}"]
        problems = []
        if reply_problems(reply, expected(f'[2,"{beat}","Heartbeat",{{}}]')) or not (
            reply[0] == 3 and isinstance(reply[2].get("currentTime"), str)
        ):
            problems.append(f"Heartbeat answered {reply!r}")
        if not want.least <= len(replies) <= want.most:
            problems.append(f"{len(replies)} replies, expected {want.least}-{want.most}: {replies}")
        for got in replies:
            wrong = reply_problems(got, want)
            problems.extend(wrong)
            if wrong:
                continue
            self.replies[f"4:{got[2]}" if got[0] == 4 else "3"] += 1
            if got[0] == 4 and got[2] == "InternalError":
                self.internal_errors.append(str(data))
                problems.append("InternalError: the Central System failed on this frame")
            if want.reply_id == "-1" and len(data) > 8 and data in orjson.dumps(got).decode():
                problems.append("the unreadable frame was echoed back (P4 4.2.3)")
        return problems

    async def _closed_with(self, code: int) -> list[str]:
        assert self.ws is not None
        try:
            while True:
                await _wait(self.ws.recv())
        except ConnectionClosed:
            pass
        except TimeoutError:
            return [f"the connection was not closed with {code}"]
        got, self.ws = self.ws.close_code, None
        return [] if got == code else [f"closed with {got}, expected {code}"]


async def _wait(awaitable):
    return await asyncio.wait_for(awaitable, REPLY_TIMEOUT)


@pytest.fixture
def app(app):
    """The test application with a message rate no fuzzer reaches: the fuzzer sends a few
    hundred frames a second on one connection, and the limiter has tests of its own."""
    app.settings["gate"] = ChargerGate.build(
        LimitSettings(message_rate=1e6, message_burst=1_000_000)
    )
    return app


@pytest.fixture
def link(io_loop, ws_url):
    """The fuzzing charger (one per test, shared by all examples); prints what it sent."""
    fuzzer = Link(ws_url("/ocpp/FUZZ1/"))
    yield fuzzer
    io_loop.run_sync(fuzzer.close)
    print(
        f"\nframes fuzz: {fuzzer.sent} frames sent ({dict(fuzzer.kinds)}), "
        f"replies {dict(fuzzer.replies)}, reconnects after 1003/1009: {fuzzer.reconnects - 1}"
    )
    for frame in fuzzer.internal_errors:
        print("InternalError for", frame[:300])


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)  # fmt: skip
@given(frame=FRAMES)
@example(frame=Frame(b"\x00\x01", "binary"))
@example(frame=Frame('[2,"@ID@","DataTransfer",{"vendorId":"V","data":"' + "x" * MAX_FRAME + '"}]',
                     "oversized"))  # fmt: skip
@example(frame=Frame("not json", "text"))
@example(frame=Frame("", "text"))
@example(frame=Frame('[2,"@ID@","Heartbeat",{}', "truncated"))
@example(frame=Frame('{"2":"@ID@"}', "value"))
@example(frame=Frame('[2,"@ID@","StartTransaction",{"connectorId":1,"idTag":"A",'
                     '"meterStart":18446744073709551615,"timestamp":"2024-05-01T12:30:00Z"}]',
                     "mutated StartTransaction, u64 meterStart"))  # fmt: skip
@example(
    frame=Frame(
        '[2,"@ID@","StatusNotification",{"connectorId":9223372036854775808,'
        '"errorCode":"NoError","status":"Available"}]',
        "mutated StatusNotification",
    )
)
@example(frame=Frame('[2,"@ID@","MeterValues",{"connectorId":1,"meterValue":[{"timestamp":'
                     '"2024-05-01T12:30:00Z","sampledValue":[{"value":"1e999"}]}]}]',
                     "mutated MeterValues, infinite value"))  # fmt: skip
@example(frame=Frame('[2,"' + "x" * 37 + '","Heartbeat",{}]', "mutated Heartbeat, bad id"))
@example(frame=Frame('[5,"@ID@","Heartbeat",{}]', "type 5"))
def test_every_frame_is_answered_by_the_rules_and_the_next_one_served(io_loop, link, frame):
    problems = io_loop.run_sync(lambda: link.exchange(frame), timeout=60)
    assert problems == [], f"{frame.note}: {problems}"


INT64_OVERFLOW = [
    ("StartTransaction", {"connectorId": 1, "idTag": "A", "meterStart": 2**63,
                          "timestamp": "2024-05-01T12:30:00Z"}, "meterStart"),
    ("StartTransaction", {"connectorId": 1, "idTag": "A", "meterStart": 5, "reservationId": 2**63,
                          "timestamp": "2024-05-01T12:30:00Z"}, "reservationId"),
    ("StopTransaction", {"transactionId": 2**64 - 1, "meterStop": 5,
                         "timestamp": "2024-05-01T12:30:00Z"}, "transactionId"),
    ("MeterValues", {"connectorId": 1, "transactionId": 2**63, "meterValue": [
        {"timestamp": "2024-05-01T12:30:00Z", "sampledValue": [{"value": "1"}]}]}, "transactionId"),
]  # fmt: skip


# Found by this fuzzer: integers beyond 64 bits passed the schemas (no maximum) and failed in
# BSON encoding (InternalError, OCPP_RULES 15); fixed in ocppj.validation.
@pytest.mark.parametrize(("action", "payload", "field"), INT64_OVERFLOW)
@pytest.mark.gen_test
async def test_integer_beyond_64_bits_is_a_property_constraint_violation(
    ws_url, action, payload, field
):
    async with raw_charger(ws_url("/ocpp/BIGINT1/")) as cp:
        await cp.boot()
        reply = await cp.call("big", action, payload)
        assert (await cp.call("hb", "Heartbeat", {}))[:2] == [3, "hb"]
    assert reply[:3] == [4, "big", "PropertyConstraintViolation"], reply
    assert field in reply[3]


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
@pytest.mark.gen_test
async def test_date_time_outside_the_calendar_is_a_property_constraint_violation(ws_url, stamp):
    async with raw_charger(ws_url("/ocpp/DATE1/")) as cp:
        await cp.boot()
        payload = {"connectorId": 1, "idTag": "A", "meterStart": 5, "timestamp": stamp}
        reply = await cp.call("date", "StartTransaction", payload)
    assert reply[:3] == [4, "date", "PropertyConstraintViolation"], reply
    assert "timestamp" in reply[3]


# Found by this fuzzer: MeterValues with connectorId 2**63 was answered {} and queued, and the
# next batch insert raised OverflowError and dropped the whole batch: every other charger's
# meter values of that flush. Fixed in ocppj.validation and models.batch.
@pytest.mark.parametrize("settings", [CsmsSettings(heartbeat_interval=120, flush_interval=3600)])
@pytest.mark.gen_test
async def test_one_bad_meter_values_frame_costs_no_other_charger_its_data(ws_url, services, db):
    reading = [{"timestamp": "2024-05-01T12:30:00Z", "sampledValue": [{"value": "1234"}]}]
    async with (
        raw_charger(ws_url("/ocpp/GOOD1/")) as good,
        raw_charger(ws_url("/ocpp/EVIL1/")) as evil,
    ):
        await good.boot()
        await evil.boot()
        assert (await good.call("m1", "MeterValues", {"connectorId": 1, "meterValue": reading}))[
            0
        ] == 3
        bad = await evil.call("m2", "MeterValues", {"connectorId": 2**63, "meterValue": reading})
    await services.meter_values.flush()  # the flush the timer would have done
    assert await db.meter_values.count_documents({"meta.charger": "GOOD1"}) == 1
    assert bad[:3] == [4, "m2", "PropertyConstraintViolation"], bad
