"""A charger's AuthorizationKey sent with ChangeConfiguration never reaches a log."""

from __future__ import annotations

import orjson
import pytest

from csms import remote
from ocppj.redaction import REDACTED, redact_frame, redact_payload, redact_reply, redact_reply_frame
from tests.charge_points import raw_charger

KEY = "0123456789abcdef0123"


def test_only_secret_keys_are_redacted():
    secret = {"key": "AuthorizationKey", "value": KEY}
    assert redact_payload("ChangeConfiguration", secret) == {"key": "AuthorizationKey",
                                                             "value": REDACTED}  # fmt: skip
    plain = {"key": "HeartbeatInterval", "value": "60"}
    assert redact_payload("ChangeConfiguration", plain) is plain
    frame = f'[2,"1","ChangeConfiguration",{{"key":"AuthorizationKey","value":"{KEY}"}}]'
    assert KEY not in redact_frame("ChangeConfiguration", frame)
    assert redact_frame("Heartbeat", frame) == frame


@pytest.mark.gen_test(timeout=20)
async def test_key_reaches_the_charger_but_not_the_logs(ws_url, services, registry, db):
    async with raw_charger(ws_url("/K1/")) as cp:
        await cp.boot()
        task = services.spawn(
            remote.perform(services, registry, "K1", "change_configuration",
                           {"key": "AuthorizationKey", "value": KEY})
        )  # fmt: skip
        frame = await cp.recv()
        assert frame[2:] == ["ChangeConfiguration", {"key": "AuthorizationKey", "value": KEY}]
        await cp.send([3, frame[1], {"status": "Accepted"}])
        outcome = await task
    assert outcome.status == "accepted"
    assert outcome.as_dict()["request"]["value"] == REDACTED
    await services.flush()
    logged = await db.messages.find({"charger": "K1"}).sort([("ts", 1), ("_id", 1)]).to_list()
    assert not any(KEY in str(m) for m in logged)
    change = logged[-1]
    assert change == {
        "_id": change["_id"], "ts": change["ts"], "charger": "K1", "direction": "out",
        "action": "ChangeConfiguration", "unique_id": frame[1],
        "frame": f'[2,"{frame[1]}","ChangeConfiguration",'
                 f'{{"key":"AuthorizationKey","value":"{REDACTED}"}}]',
        "reply": {"ts": change["reply"]["ts"],
                  "frame": f'[3, "{frame[1]}", {{"status": "Accepted"}}]'},
    }  # fmt: skip
    command = await db.commands.find_one({"_id": frame[1]})
    assert command["payload"] == {"key": "AuthorizationKey", "value": REDACTED}


def test_a_reported_key_is_redacted_in_the_reply_and_its_frame():
    reply = {"configurationKey": [
        {"key": "AuthorizationKey", "readonly": False, "value": KEY},
        {"key": "HeartbeatInterval", "readonly": False, "value": "60"},
        {"key": "AuthorizationKey", "readonly": True},  # no value: nothing to hide
    ]}  # fmt: skip
    assert redact_reply("GetConfiguration", reply)["configurationKey"] == [
        {"key": "AuthorizationKey", "readonly": False, "value": REDACTED},
        {"key": "HeartbeatInterval", "readonly": False, "value": "60"},
        {"key": "AuthorizationKey", "readonly": True},
    ]
    assert KEY in str(reply)  # the charger's own payload is left alone (a copy is made)
    plain = {"configurationKey": [{"key": "HeartbeatInterval", "readonly": False}]}
    assert redact_reply("GetConfiguration", plain) is plain
    assert redact_reply("ChangeConfiguration", reply) is reply
    frame = orjson.dumps([3, "9", reply]).decode()
    assert KEY not in redact_reply_frame("GetConfiguration", frame)
    assert redact_reply_frame("GetConfiguration", "[3, not json") == "[3, not json"


@pytest.mark.gen_test(timeout=20)
async def test_a_key_the_charger_reports_is_stored_and_shown_redacted(
    ws_url, services, registry, db
):
    # The attack: GetConfiguration answered with the AuthorizationKey in clear was kept in
    # the frame log, the command, the charger's configuration and the operator's page.
    async with raw_charger(ws_url("/K2/")) as cp:
        await cp.boot()
        task = services.spawn(remote.perform(services, registry, "K2", "get_configuration", {}))
        frame = await cp.recv()
        assert frame[2] == "GetConfiguration"
        await cp.send([3, frame[1], {"configurationKey": [
            {"key": "AuthorizationKey", "readonly": False, "value": KEY},
            {"key": "HeartbeatInterval", "readonly": False, "value": "60"},
        ]}])  # fmt: skip
        outcome = await task
    assert outcome.status == "accepted"
    assert KEY not in str(outcome.as_dict())
    await services.flush()
    logged = await db.messages.find({"charger": "K2"}).to_list()
    assert logged and not any(KEY in str(m) for m in logged)
    command = await db.commands.find_one({"_id": frame[1]})
    assert KEY not in str(command)
    charger = await db.chargers.find_one({"_id": "K2"})
    assert {i["key"]: i["value"] for i in charger["ocpp_config"]["keys"]} == {
        "AuthorizationKey": REDACTED, "HeartbeatInterval": "60"}  # fmt: skip


@pytest.mark.gen_test(timeout=20)
async def test_a_key_set_by_the_operator_is_not_kept_in_the_configuration(
    ws_url, services, registry, db
):
    async with raw_charger(ws_url("/K3/")) as cp:
        await cp.boot()
        task = services.spawn(
            remote.perform(services, registry, "K3", "change_configuration",
                           {"key": "AuthorizationKey", "value": KEY})
        )  # fmt: skip
        frame = await cp.recv()
        await cp.send([3, frame[1], {"status": "Accepted"}])
        assert (await task).status == "accepted"
    charger = await db.chargers.find_one({"_id": "K3"})
    assert KEY not in str(charger)
    assert charger["ocpp_config"]["keys"] == [
        {"key": "AuthorizationKey", "readonly": False, "value": REDACTED}]  # fmt: skip
