"""Framing, error codes and validation on the charger route (OCPP_RULES 1-9)."""

from __future__ import annotations

import asyncio

import pytest

from tests.charge_points import raw_charger
from tests.meter_rows import stored_rows

BOOT = {"chargePointVendor": "V", "chargePointModel": "M"}


async def booted(url):
    """A raw charger that has booted."""
    cm = raw_charger(url)
    cp = await cm.__aenter__()
    reply = await cp.boot()
    assert reply[0] == 3 and reply[2]["status"] == "Accepted"
    return cm, cp


@pytest.mark.gen_test
@pytest.mark.parametrize(
    "text",
    ["not json", "{}", "[]", '"text"', "[2, ", "null", "42"],
)
async def test_unreadable_frames_get_formation_violation_with_id_minus_one(ws_url, text):
    async with raw_charger(ws_url()) as cp:
        await cp.send(text)
        reply = await cp.recv()
        assert reply[:3] == [4, "-1", "FormationViolation"]
        assert len(reply) == 5 and reply[4] == {}
        assert text not in reply[3] or text in ("{}", "[]")
        # the socket stays open and serves the next frame
        assert (await cp.boot())[0] == 3


@pytest.mark.gen_test
@pytest.mark.parametrize(
    "frame",
    [
        [2, 17, "Heartbeat", {}],
        [2, None, "Heartbeat", {}],
        [2, "x" * 37, "Heartbeat", {}],
        [2, "", "Heartbeat", {}],
        [2],
    ],
)
async def test_bad_message_ids_get_a_callerror(ws_url, frame):
    async with raw_charger(ws_url()) as cp:
        await cp.send(frame)
        reply = await cp.recv()
        assert reply == [
            4, "-1", "FormationViolation", "message id must be a string of 1 to 36 characters", {}
        ]  # fmt: skip


@pytest.mark.gen_test
async def test_id_of_36_characters_is_fine(ws_url):
    async with raw_charger(ws_url()) as cp:
        reply = await cp.call("x" * 36, "BootNotification", BOOT)
        assert reply[:2] == [3, "x" * 36]


@pytest.mark.gen_test
@pytest.mark.parametrize(
    ("frame", "description"),
    [
        ([2, "a", "Heartbeat"], "a CALL has 4 elements"),
        ([2, "a", "Heartbeat", {}, 5], "a CALL has 4 elements"),
        ([2, "a", 5, {}], "action must be a string"),
        ([2, "a", "Heartbeat", []], "payload must be an object"),
    ],
)
async def test_malformed_calls_echo_the_id(ws_url, frame, description):
    async with raw_charger(ws_url()) as cp:
        await cp.send(frame)
        assert await cp.recv() == [4, "a", "FormationViolation", description, {}]


@pytest.mark.gen_test
async def test_unknown_message_type_is_ignored(ws_url):
    async with raw_charger(ws_url()) as cp:
        await cp.send([5, "a", "Heartbeat", {}])
        await cp.send([True, "b"])
        await cp.send([3, "nobody-asked", {}])  # a reply to no call of ours: ignored too
        reply = await cp.boot()
        assert reply[:2] == [3, "boot"]


@pytest.mark.gen_test
async def test_unknown_action_is_not_implemented(ws_url):
    async with raw_charger(ws_url()) as cp:
        await cp.boot()
        reply = await cp.call("u1", "FlyToTheMoon", {})
        assert reply == [4, "u1", "NotImplemented", "unknown action", {}]


@pytest.mark.gen_test
async def test_central_system_action_from_charger_is_not_supported(ws_url):
    async with raw_charger(ws_url()) as cp:
        await cp.boot()
        reply = await cp.call("r1", "Reset", {"type": "Hard"})
        assert reply == [
            4, "r1", "NotSupported", "Reset is sent by a Central System, not to it", {}
        ]  # fmt: skip


@pytest.mark.gen_test
@pytest.mark.parametrize(
    ("action", "payload", "code", "description"),
    [
        ("BootNotification", {"chargePointModel": "M"}, "OccurenceConstraintViolation",
         "missing required field chargePointVendor"),
        ("BootNotification", {**BOOT, "colour": "red"}, "OccurenceConstraintViolation",
         "unexpected field colour"),
        ("BootNotification", {**BOOT, "chargePointVendor": 5}, "TypeConstraintViolation",
         "chargePointVendor: expected string"),
        ("BootNotification", {**BOOT, "chargePointVendor": "v" * 21},
         "PropertyConstraintViolation", "chargePointVendor: longer than 20 characters"),
        ("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Asleep"},
         "PropertyConstraintViolation", "status: not one of Available, Preparing, Charging, "
         "SuspendedEVSE, SuspendedEV, Finishing, Reserved, Unavailable, Faulted"),
        ("StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": "0",
                              "timestamp": "2026-01-01T00:00:00Z"},
         "TypeConstraintViolation", "meterStart: expected integer"),
        ("StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 0,
                              "timestamp": "yesterday"},
         "PropertyConstraintViolation", "timestamp: not a valid date-time"),
        ("StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 0,
                              "timestamp": "2026-13-01T00:00:00Z"},
         "PropertyConstraintViolation", "timestamp: not a valid date-time"),
        ("MeterValues", {"connectorId": 1, "meterValue": [
            {"timestamp": "2026-01-01T00:00:00Z", "sampledValue": [{"value": "1", "unit": "X"}]}]},
         "PropertyConstraintViolation", "meterValue[0].sampledValue[0].unit: not one of"),
        ("MeterValues", {"connectorId": 1, "meterValue": []},
         "OccurenceConstraintViolation", "meterValue: minItems 1"),
    ],
)  # fmt: skip
async def test_schema_violations_map_to_rule_9_codes(ws_url, action, payload, code, description):
    cm, cp = await booted(ws_url())
    try:
        reply = await cp.call("v1", action, payload)
        assert reply[:3] == [4, "v1", code]
        assert reply[3].startswith(description)
        assert reply[4] == {}
    finally:
        await cm.__aexit__(None, None, None)


@pytest.mark.gen_test
async def test_celsius_and_celcius_are_both_valid(ws_url):
    cm, cp = await booted(ws_url())
    try:
        for n, unit in enumerate(["Celsius", "Celcius"]):
            payload = {"connectorId": 1, "meterValue": [{"timestamp": "2026-01-01T00:00:00Z",
                       "sampledValue": [{"value": "21.5", "measurand": "Temperature",
                                         "unit": unit}]}]}  # fmt: skip
            assert await cp.call(f"t{n}", "MeterValues", payload) == [3, f"t{n}", {}]
    finally:
        await cm.__aexit__(None, None, None)


@pytest.mark.gen_test
async def test_repeated_call_id_gets_the_same_reply_and_does_nothing_twice(ws_url, db):
    cm, cp = await booted(ws_url())
    try:
        start = {"connectorId": 1, "idTag": "T", "meterStart": 0,
                 "timestamp": "2026-01-01T00:00:00Z"}  # fmt: skip
        first = await cp.call("s1", "StartTransaction", start)
        again = await cp.call("s1", "StartTransaction", start)
        assert again == first
        assert await db.transactions.count_documents({}) == 1
    finally:
        await cm.__aexit__(None, None, None)


@pytest.mark.gen_test
async def test_a_reused_call_id_with_other_content_is_a_new_call(ws_url, services, db):
    """The attack seen: Heartbeat then StopTransaction, both with id dup-1: the stop got
    the Heartbeat's cached reply and was lost. Only the same action and payload again is
    a resend (rule 4)."""
    cm, cp = await booted(ws_url())
    try:
        start = {"connectorId": 1, "idTag": "T", "meterStart": 0,
                 "timestamp": "2026-01-01T00:00:00Z"}  # fmt: skip
        tx = (await cp.call("s1", "StartTransaction", start))[2]["transactionId"]
        beat = await cp.call("dup-1", "Heartbeat", {})
        assert beat[:2] == [3, "dup-1"] and "currentTime" in beat[2]
        stop = {"transactionId": tx, "meterStop": 700, "timestamp": "2026-01-01T01:00:00Z"}
        assert await cp.call("dup-1", "StopTransaction", stop) == [3, "dup-1", {}]
        closed = await db.transactions.find_one({"_id": tx})
        assert (closed["open"], closed["energy_wh"]) == (False, 700)
        # Same id and action, other payload: new as well.
        mv = {"connectorId": 1, "meterValue": [{"timestamp": "2026-01-01T02:00:00Z",
                                                "sampledValue": [{"value": "1"}]}]}  # fmt: skip
        assert await cp.call("dup-2", "MeterValues", mv) == [3, "dup-2", {}]
        mv["connectorId"] = 2
        assert await cp.call("dup-2", "MeterValues", mv) == [3, "dup-2", {}]
        assert await cp.call("dup-2", "MeterValues", mv) == [3, "dup-2", {}]  # a resend
    finally:
        await cm.__aexit__(None, None, None)
    await services.flush()
    stored = await stored_rows(db)
    assert sorted(d["meta"]["connector"] for d in stored) == [1, 2]


@pytest.mark.gen_test
async def test_a_resend_is_told_by_its_json_not_by_its_text(ws_url, services, db):
    """Key order and spacing do not make a new CALL; a value of another JSON type does
    (``1`` is not ``1.0``): the last CALL is compared only when its id comes again."""
    cm, cp = await booted(ws_url())
    try:
        reading = '{"timestamp": "2026-01-01T02:00:00Z", "sampledValue": [{"value": "1"}]}'
        first = '[2, "r1", "MeterValues", {"connectorId": 1, "meterValue": [READING]}]'
        await cp.send(first.replace("READING", reading))
        assert await cp.recv() == [3, "r1", {}]
        again = '[2,"r1","MeterValues",{"meterValue":[READING],  "connectorId":1}]'
        await cp.send(again.replace("READING", reading))
        assert await cp.recv() == [3, "r1", {}]  # the same reply again, nothing stored
        await cp.send(first.replace('"connectorId": 1', '"connectorId": 1.0').replace(
            "READING", reading))  # fmt: skip
        # 1.0 is another JSON value: a new CALL, validated (connectorId is an integer).
        reply = await cp.recv()
        assert reply[:3] == [4, "r1", "TypeConstraintViolation"]
    finally:
        await cm.__aexit__(None, None, None)
    await services.flush()
    assert await db.meter_values.count_documents({}) == 1
    logged = await db.messages.find({"unique_id": "r1"}).sort("ts", 1).to_list()
    assert [d["reply"]["frame"][:9] for d in logged] == ['[3,"r1",{', '[3,"r1",{', '[4,"r1","']


@pytest.mark.gen_test
async def test_new_charger_must_boot_first(ws_url, db):
    async with raw_charger(ws_url("/NEW1/")) as cp:
        reply = await cp.call("h1", "Heartbeat", {})
        assert reply == [4, "h1", "SecurityError", "send BootNotification first", {}]
        assert (await cp.boot())[0] == 3
        assert (await cp.call("h2", "Heartbeat", {}))[:2] == [3, "h2"]


@pytest.mark.gen_test
async def test_known_charger_is_served_before_boot_after_a_reconnect(ws_url):
    async with raw_charger(ws_url("/K1/")) as cp:
        await cp.boot()
    async with raw_charger(ws_url("/K1/")) as cp:
        reply = await cp.call("h1", "Heartbeat", {})
        assert reply[:2] == [3, "h1"] and "currentTime" in reply[2]


@pytest.mark.gen_test
async def test_security_event_is_always_confirmed_and_stored(ws_url, db):
    cm, cp = await booted(ws_url("/S1/"))
    try:
        payload = {"type": "FirmwareUpdated", "timestamp": "2026-01-01T00:00:00Z",
                   "techInfo": "v2"}  # fmt: skip
        assert await cp.call("e1", "SecurityEventNotification", payload) == [3, "e1", {}]
    finally:
        await cm.__aexit__(None, None, None)
    event = await db.security_events.find_one({"charger": "S1"})
    assert (event["type"], event["tech_info"]) == ("FirmwareUpdated", "v2")
    assert event["source"] == "charger"


@pytest.mark.gen_test
async def test_every_charger_action_answers_a_valid_reply(ws_url, schemas):
    """Each charger-initiated action with a valid sample payload gets a schema-valid CALLRESULT."""
    from tests.ocpp_samples import VALID

    cm, cp = await booted(ws_url("/ALL/"))
    try:
        actions = ["Authorize", "BootNotification", "DataTransfer",
                   "DiagnosticsStatusNotification", "FirmwareStatusNotification", "Heartbeat",
                   "LogStatusNotification", "MeterValues", "SecurityEventNotification",
                   "SignCertificate", "SignedFirmwareStatusNotification", "StartTransaction",
                   "StatusNotification", "StopTransaction"]  # fmt: skip
        for n, action in enumerate(actions):
            for m, payload in enumerate(VALID[action]):
                reply = await cp.call(f"{n}-{m}", action, payload)
                assert reply[0] == 3, (action, reply)
                schemas.validate(action + "Response", reply[2])
    finally:
        await cm.__aexit__(None, None, None)


@pytest.mark.gen_test
async def test_data_transfer_answers_unknown_vendor(ws_url):
    cm, cp = await booted(ws_url())
    try:
        reply = await cp.call("d1", "DataTransfer", {"vendorId": "com.example", "data": "x"})
        assert reply == [3, "d1", {"status": "UnknownVendorId"}]
    finally:
        await cm.__aexit__(None, None, None)


@pytest.mark.gen_test
async def test_late_status_does_not_overwrite_a_newer_one(ws_url, services, db):
    cm, cp = await booted(ws_url("/ST1/"))
    try:
        newer = {"connectorId": 1, "errorCode": "NoError", "status": "Charging",
                 "timestamp": "2026-01-01T10:00:00Z"}  # fmt: skip
        older = {**newer, "status": "Available", "timestamp": "2026-01-01T09:00:00Z"}
        assert (await cp.call("n", "StatusNotification", newer))[0] == 3
        assert (await cp.call("o", "StatusNotification", older))[0] == 3
    finally:
        await cm.__aexit__(None, None, None)
    await asyncio.sleep(0.05)
    await services.flush()
    doc = await db.chargers.find_one({"_id": "ST1"})
    assert doc["connectors"]["1"]["status"] == "Charging"
