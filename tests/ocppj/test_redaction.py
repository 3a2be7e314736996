"""A charger's AuthorizationKey sent with ChangeConfiguration never reaches a log."""

from __future__ import annotations

import pytest

from csms import remote
from ocppj.redaction import REDACTED, redact_frame, redact_payload
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
