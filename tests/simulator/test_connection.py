"""The charge point's end of the connection: exact frames with a scripted Central System,
credentials and subprotocol, and the delays between reconnection attempts."""

from __future__ import annotations

import asyncio
import base64
import random

import pytest

from simulator import ChargePointSimulator
from simulator.connection import Backoff
from tests.simulator.helpers import FakeCentralSystem, sim_config, started, wait_for


@pytest.mark.gen_test(timeout=30)
async def test_a_call_crossing_our_boot_is_answered_while_the_boot_waits():
    crossed = {}

    async def crossing(cs, ws):
        boot = await cs.recv(ws)
        await cs.send(ws, [2, "cs-1", "GetConfiguration", {"key": ["NumberOfConnectors"]}])
        crossed["reply"] = await cs.recv(ws)  # our BootNotification is still unanswered
        await cs.send(ws, cs.reply_to(boot))
        await cs.answer_everything(ws)

    fake = FakeCentralSystem(crossing)
    async with fake.serving():
        sim = ChargePointSimulator(sim_config(fake.port, "X1/", duration=0.3, kwh_min=1, kwh_max=1))
        await asyncio.wait_for(sim._run_session(), 10)

    key = {"key": "NumberOfConnectors", "readonly": True, "value": "1"}
    assert crossed["reply"] == [3, "cs-1", {"configurationKey": [key]}]
    assert sim.state.status == "finished"
    calls = [frame for frame in fake.received if frame[0] == 2]
    actions = [frame[2] for frame in calls]
    samples = actions.count("MeterValues")
    assert actions == [
        "BootNotification", "StatusNotification", "StatusNotification", "StatusNotification",
        "StartTransaction", "StatusNotification", *["MeterValues"] * samples,
        "StopTransaction", "StatusNotification", "StatusNotification",
    ]  # fmt: skip
    assert all(len(frame[1]) == 36 for frame in calls)  # uuid message ids
    assert len({frame[1] for frame in calls}) == len(calls)
    meter = calls[6][3]
    assert meter["connectorId"] == 1 and meter["transactionId"] == 7
    [reading] = meter["meterValue"]
    assert reading["timestamp"].endswith("Z")
    assert [(s["measurand"], s["unit"], s["location"]) for s in reading["sampledValue"]] == [
        ("Energy.Active.Import.Register", "Wh", "Outlet"), ("Power.Active.Import", "W", "Outlet"),
        ("Current.Import", "A", "Outlet"), ("Voltage", "V", "Outlet"), ("SoC", "Percent", "EV"),
    ]  # fmt: skip
    stop = calls[-3][3]
    assert stop["transactionId"] == 7 and stop["meterStop"] == 1000
    last = calls[-4][3]["meterValue"][0]["sampledValue"]
    assert (last[0]["value"], last[1]["value"], last[2]["value"]) == ("1000", "0", "0")


@pytest.mark.gen_test(timeout=30)
async def test_bad_frames_from_the_central_system_get_the_right_call_errors():
    replies = {}
    probes = [
        ("not json", "-1"),
        ('[2, "cs-2", "FancyAction", {}]', "cs-2"),
        ('[2, "cs-3", "Reset", {}]', "cs-3"),
        ('[2, "cs-4", "BootNotification", {"chargePointVendor": "a", "chargePointModel": "b"}]',
         "cs-4"),
        ('[2, "cs-5", "Reset", {"type": "Warm"}]', "cs-5"),
        ('[9, "cs-6"]', None),
        ('[3, "nobody", {}]', None),
        ('[2, "cs-7", "GetConfiguration", {"key": ["Nope"]}]', "cs-7"),
    ]  # fmt: skip

    async def probe(cs, ws):
        boot = await cs.recv(ws)
        await cs.send(ws, cs.reply_to(boot))
        for text, _ in probes:
            await ws.send(text)
        while len(replies) < 6:
            frame = await cs.recv(ws)
            if frame[0] == 2:
                await cs.send(ws, cs.reply_to(frame))
            else:
                replies[frame[1]] = frame
        await cs.answer_everything(ws)

    fake = FakeCentralSystem(probe)
    async with (
        fake.serving(),
        started(ChargePointSimulator(sim_config(fake.port, "X2/", auto_start=False))),
    ):
        assert await wait_for(lambda: len(replies) == 6, 5)
    assert replies == {
        "-1": [4, "-1", "FormationViolation", "frame is not valid JSON", {}],
        "cs-2": [4, "cs-2", "NotImplemented", "unknown action", {}],
        "cs-3": [4, "cs-3", "OccurenceConstraintViolation", "missing required field type", {}],
        "cs-4": [4, "cs-4", "NotSupported",
                 "BootNotification is not supported by this charge point", {}],
        "cs-5": [4, "cs-5", "PropertyConstraintViolation", "type: not one of Hard, Soft", {}],
        "cs-7": [3, "cs-7", {"configurationKey": [], "unknownKey": ["Nope"]}],
    }  # fmt: skip


@pytest.mark.gen_test(timeout=30)
@pytest.mark.parametrize(("username", "expected_user"), [(None, "X3"), ("someone", "someone")])
async def test_http_basic_credentials_and_subprotocol(username, expected_user):
    seen = {}

    async def check(cs, ws):
        seen["auth"] = ws.request.headers.get("Authorization")
        seen["subprotocol"] = ws.subprotocol
        seen["path"] = ws.request.path
        await cs.answer_everything(ws)

    fake = FakeCentralSystem(check)
    async with fake.serving():
        config = sim_config(
            fake.port, "a/b/X3/", auto_start=False, username=username, password="0123456789abcdef"
        )
        async with started(ChargePointSimulator(config)):
            pass
    token = base64.b64encode(f"{expected_user}:0123456789abcdef".encode()).decode()
    assert seen == {"auth": f"Basic {token}", "subprotocol": "ocpp1.6", "path": "/a/b/X3/"}


@pytest.mark.gen_test(timeout=30)
async def test_no_credentials_without_a_password():
    seen = {}

    async def check(cs, ws):
        seen["auth"] = ws.request.headers.get("Authorization")
        await cs.answer_everything(ws)

    fake = FakeCentralSystem(check)
    async with fake.serving():
        async with started(ChargePointSimulator(sim_config(fake.port, "X4/", auto_start=False))):
            pass
    assert seen == {"auth": None}


def test_backoff_doubles_to_the_cap_with_jitter_from_the_given_rng():
    bases = (1, 2, 4, 8, 16, 30, 30, 30)
    backoff = Backoff(1.0, 30.0, random.Random(7))
    delays = [backoff.next() for _ in bases]
    draws = random.Random(7)
    assert delays == [base * (1 - 0.25 * draws.random()) for base in bases]
    assert all(0.75 * base < delay <= base for delay, base in zip(delays, bases, strict=True))
    backoff.reset()
    assert backoff.next() == 1.0 * (1 - 0.25 * draws.random())
    # The same seed gives the same delays; each simulator has its own rng, so a fleet
    # cut off at once spreads its reconnections out.
    again = Backoff(1.0, 30.0, random.Random(7))
    assert [again.next() for _ in bases] == delays


@pytest.mark.parametrize(
    ("status", "retried"),
    [(429, True), (503, True), (500, True), (401, False), (404, False), (400, False)],
)
def test_a_busy_or_rate_limiting_server_is_retried_a_refusing_one_is_not(status, retried):
    # 429: the Central System limits how fast new chargers register (per IP and in all),
    # so a fleet started at once must come back later, not end.
    from websockets.datastructures import Headers
    from websockets.exceptions import InvalidStatus
    from websockets.http11 import Response

    from simulator.connection import Offline, _connect_error

    config = sim_config(8000, "RATE1/")
    refusal = InvalidStatus(Response(status, "", Headers(), b"too many new chargers"))
    error = _connect_error(config, refusal)
    assert isinstance(error, Offline) is retried
    assert str(error) == (
        f"ws://127.0.0.1:8000/RATE1/ refused the WebSocket upgrade: HTTP {status}"
        + (" (check username and password)" if status == 401 else "")
        + ": too many new chargers"
    )
