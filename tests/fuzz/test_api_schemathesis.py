"""schemathesis against our OpenAPI 3.1 document: no operation answers with a 5xx.

schemathesis's own pytest integration (``from_fixture``) does not run on pytest 9
(it sets ``Function._nodeid``, gone in pytest 9), so each operation's hypothesis
strategy (``APIOperation.as_strategy``) is driven by ``@given`` here instead. The
in-process test server (the ``app`` fixture, a fresh database) is served
from a background thread running the test's IOLoop, so schemathesis's
synchronous ``requests`` calls reach it. The document is fetched from
``GET /ocpp/api/openapi.json`` with the Bearer token of ``auth_headers``, and
every operation in it gets ``API_FUZZ_EXAMPLES`` generated requests (default
50) of valid data and as many of invalid data, all authenticated. Operations on
one charger run a third and fourth time with the id of a connected charger that
accepts whatever it is asked, so they get past "not connected". Only "no 5xx"
is asserted; the document's other promises have their own tests
(tests/handlers/api/test_openapi.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tests.charge_points import raw_charger

CHARGER = "API1"
EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "50"))


@pytest.fixture
def live_url(io_loop, http_server, http_port, auth_headers, ws_url):
    """The test server's base URL while its IOLoop runs in a background thread.

    Everything that needs the loop (the token, a connected charger) is set up before
    the thread starts; the loop is stopped and the thread joined before teardown.
    """
    charger = {}

    async def answer_calls(cp):
        """Accept every CALL the server sends (schemas needing more fail there, quickly)."""
        with contextlib.suppress(Exception):
            async for message in cp.ws:
                frame = json.loads(message)
                if frame[0] == 2:
                    await cp.ws.send(json.dumps([3, frame[1], {"status": "Accepted"}]))

    async def connect_charger():
        context = raw_charger(ws_url(f"/ocpp/{CHARGER}/"))
        cp = await context.__aenter__()
        await cp.boot()
        charger["context"] = context
        charger["task"] = asyncio.ensure_future(answer_calls(cp))

    async def disconnect_charger():
        charger["task"].cancel()
        await charger["context"].__aexit__(None, None, None)

    io_loop.run_sync(connect_charger)
    thread = threading.Thread(target=io_loop.start, name="test-ioloop", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{http_port}"
    finally:
        io_loop.add_callback(io_loop.stop)
        thread.join(30)
        assert not thread.is_alive(), "the test IOLoop did not stop"
        io_loop.run_sync(disconnect_charger)


@pytest.fixture
def api_schema(live_url, auth_headers):
    """Our OpenAPI document, as the server serves it."""
    response = requests.get(f"{live_url}/ocpp/api/openapi.json", headers=auth_headers, timeout=30)
    assert response.status_code == 200, response.text
    document = response.json()
    assert document["openapi"].startswith("3.1")
    return schemathesis.openapi.from_dict(document)


def fuzz_operation(
    operation, mode: GenerationMode, live_url: str, auth_headers: dict, **fixed
) -> int:
    """Run ``EXAMPLES`` generated requests of one operation; return how many ran."""
    ran = 0

    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, print_blob=True,
        suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    @given(case=operation.as_strategy(generation_mode=mode, **fixed))
    def run(case):
        nonlocal ran
        ran += 1
        response = case.call(base_url=live_url, headers=auth_headers, timeout=30)
        case.validate_response(response, checks=[not_a_server_error])

    run()
    return ran


def test_no_operation_answers_5xx(api_schema, live_url, auth_headers):
    failures, counts, operations = [], {}, set()
    for result in api_schema.get_all_operations():
        operation = result.ok()  # an Err (an operation schemathesis cannot read) fails here
        operations.add(operation.label)
        runs = [(mode, {}) for mode in GenerationMode]
        if "{cid}" in operation.path:
            runs += [(mode, {"path_parameters": {"cid": CHARGER}}) for mode in GenerationMode]
        for mode, fixed in runs:
            label = f"{operation.label} {mode.value}{' ' + CHARGER if fixed else ''}"
            try:
                counts[label] = fuzz_operation(operation, mode, live_url, auth_headers, **fixed)
            except Exception as exc:  # every operation runs; the failures are listed at the end
                failures.append(f"{label}: {exc}")
    print(f"\nschemathesis: {sum(counts.values())} generated requests over "
          f"{len(operations)} operations: {counts}")  # fmt: skip
    assert len(operations) >= 13, f"operations missing from the document: {sorted(counts)}"
    assert failures == [], "\n\n".join(failures)


def test_the_loop_thread_serves_requests(live_url, auth_headers):
    """The harness itself: a plain authenticated request is answered while the loop runs."""
    response = requests.get(f"{live_url}/ocpp/api/rfid/", headers=auth_headers, timeout=30)
    assert response.status_code == 200
    assert response.json() is not None


# Found by schemathesis: an integer beyond 64 bits reached MongoDB when the command was
# stored (OverflowError, HTTP 500); fixed by the 64-bit check in ocppj.validation.
def test_action_with_an_integer_beyond_64_bits_is_a_400(live_url, auth_headers):
    body = {"action": "get_composite_schedule", "connector_id": 1, "duration": 2**64}
    response = requests.post(
        f"{live_url}/ocpp/chargers/{CHARGER}/action/", json=body, headers=auth_headers, timeout=30
    )
    assert response.status_code == 400, response.text
    assert "duration" in response.text


# Found by schemathesis: format_datetime used strftime("%Y"), which does not pad years
# before 1000 ("365-01-27T..."), and parsing that back raised ValueError (HTTP 500).
def test_action_with_a_date_before_year_1000_is_no_500(live_url, auth_headers):
    body = {"action": "reserve_now", "connector_id": 1, "id_tag": "T1",
            "expiry_date": "0365-01-26T23:03:14Z"}  # fmt: skip
    response = requests.post(
        f"{live_url}/ocpp/chargers/{CHARGER}/action/", json=body, headers=auth_headers, timeout=30
    )
    assert response.status_code < 500, response.text


def test_action_with_a_date_outside_the_calendar_is_a_400(live_url, auth_headers):
    body = {"action": "reserve_now", "connector_id": 1, "id_tag": "T1",
            "expiry_date": "0001-01-01T00:00:00+01:00"}  # fmt: skip
    response = requests.post(
        f"{live_url}/ocpp/chargers/{CHARGER}/action/", json=body, headers=auth_headers, timeout=30
    )
    assert response.status_code == 400, response.text
