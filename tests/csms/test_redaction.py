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
    logged = await db.messages.find({"charger": "K1"}).to_list()
    assert logged and not any(KEY in m["frame"] for m in logged)
    command = await db.commands.find_one({"_id": frame[1]})
    assert command["payload"] == {"key": "AuthorizationKey", "value": REDACTED}
