"""``POST /ocpp/chargers/<cid>/action/``: operations on a live charger over the REST API."""

from __future__ import annotations

import asyncio

import pytest
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call
from ocpp.v16 import call_result as result
from ocpp.v16.enums import Action

from handlers.base import WebSettings
from ocppj.timeutil import utcnow
from tests.charge_points import ocpp_charge_point, raw_charger
from tests.handlers.api.support import assert_error, data
from tests.handlers.api.support import call as api


@pytest.fixture
def web_settings(http_port):
    """A short action timeout so the 504 test is quick."""
    return WebSettings(public_url=f"http://127.0.0.1:{http_port}", action_timeout=1.0)


class Charger(ChargePoint):
    """Records what the Central System asked and answers like a real charger."""

    received: list

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.received = []

    @on(Action.reset)
    def reset(self, type):
        self.received.append(("Reset", {"type": type}))
        return result.Reset(status="Accepted")

    @on(Action.remote_stop_transaction)
    def remote_stop(self, transaction_id):
        self.received.append(("RemoteStopTransaction", {"transactionId": transaction_id}))
        return result.RemoteStopTransaction(status="Accepted")


async def post_action(http_url, path, headers, body):
    """POST a JSON body to an action endpoint."""
    return await api(http_url, path, method="POST", headers=headers, json=body)


async def booted_with_session(cp):
    await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
    start = await cp.call(call.StartTransaction(
        connector_id=2, id_tag="T", meter_start=0, timestamp="2026-01-01T00:00:00Z"))  # fmt: skip
    return start.transaction_id


@pytest.mark.gen_test(timeout=30)
async def test_remote_stop_targets_the_open_transaction(ws_url, http_url, auth_headers, db):
    async with ocpp_charge_point(ws_url("/CP1/"), "CP1", Charger) as cp:
        tx = await booted_with_session(cp)
        response = await post_action(
            http_url, "/ocpp/chargers/CP1/action/", auth_headers, {"action": "remote_stop"}
        )
        body = data(response)
        assert response.code == 200
        assert body["status"] == "accepted"
        assert body["reply"] == {"status": "Accepted"}
        assert cp.received == [("RemoteStopTransaction", {"transactionId": tx})]
    command = await db.commands.find_one({"_id": body["command_id"]})
    assert (command["charger"], command["action"]) == ("CP1", "RemoteStopTransaction")
    assert command["payload"] == {"transactionId": tx}
    assert command["status"] == "accepted"
    assert command["requested_by"] == "admin"


@pytest.mark.gen_test(timeout=30)
async def test_reset_sends_the_type(ws_url, http_url, auth_headers):
    async with ocpp_charge_point(ws_url("/CP1/"), "CP1", Charger) as cp:
        await booted_with_session(cp)
        response = await post_action(
            http_url,
            "/ocpp/chargers/CP1/action/",
            auth_headers,
            {"action": "reset", "type": "Soft"},
        )
        assert response.code == 200 and data(response)["status"] == "accepted"
        assert cp.received == [("Reset", {"type": "Soft"})]


@pytest.mark.gen_test(timeout=30)
async def test_reset_without_a_type_is_soft_as_the_original_api_sent_it(
    ws_url, http_url, auth_headers, db
):
    async with ocpp_charge_point(ws_url("/CP1/"), "CP1", Charger) as cp:
        await booted_with_session(cp)
        response = await post_action(
            http_url, "/ocpp/chargers/CP1/action/", auth_headers, {"action": "reset"}
        )
        assert response.code == 200 and data(response)["status"] == "accepted"
        assert data(response)["request"] == {"type": "Soft"}
        assert cp.received == [("Reset", {"type": "Soft"})]
    command = await db.commands.find_one({"_id": data(response)["command_id"]})
    assert command["payload"] == {"type": "Soft"}


@pytest.mark.parametrize("body", [{}, {"action": None}, {"action": ""}])
@pytest.mark.gen_test(timeout=30)
async def test_a_missing_action_is_named_as_required(body, http_url, auth_headers, services):
    await services.chargers.create("CP1", {}, utcnow())
    response = await post_action(http_url, "/ocpp/chargers/CP1/action/", auth_headers, body)
    assert assert_error(response, 400, "invalid_field", "action") == {
        "error": "invalid_field", "detail": {"field": "action", "message": "is required"}
    }  # fmt: skip


@pytest.mark.gen_test(timeout=30)
async def test_bad_parameters_are_400_and_nothing_is_sent(ws_url, http_url, auth_headers, db):
    async with ocpp_charge_point(ws_url("/CP1/"), "CP1", Charger) as cp:
        await booted_with_session(cp)
        bad_type = await post_action(
            http_url,
            "/ocpp/chargers/CP1/action/",
            auth_headers,
            {"action": "reset", "type": "Medium"},
        )
        assert_error(bad_type, 400, "invalid_field", "type")
        unknown = await post_action(
            http_url, "/ocpp/chargers/CP1/action/", auth_headers, {"action": "fly"}
        )
        assert_error(unknown, 400, "invalid_field", "action")
        malformed = await api(http_url, "/ocpp/chargers/CP1/action/", method="POST",
                              headers=auth_headers, body=b"{nope",
                              )  # fmt: skip
        assert malformed.code in (400, 415)
        assert cp.received == []
    assert await db.commands.count_documents({}) == 0


@pytest.mark.gen_test(timeout=30)
async def test_unknown_charger_is_404_and_offline_charger_is_409(http_url, auth_headers, db):
    missing = await post_action(
        http_url, "/ocpp/chargers/NOPE/action/", auth_headers, {"action": "reset", "type": "Hard"}
    )
    assert_error(missing, 404, "not_found")
    await db.chargers.insert_one({"_id": "OFF", "name": "OFF", "connectors": {}})
    offline = await post_action(
        http_url, "/ocpp/chargers/OFF/action/", auth_headers, {"action": "reset", "type": "Hard"}
    )
    assert offline.code == 409
    assert data(offline)["status"] == "not_connected"


@pytest.mark.gen_test(timeout=30)
async def test_silent_charger_is_504_with_the_stored_command(ws_url, http_url, auth_headers, db):
    async with raw_charger(ws_url("/MUTE/")) as cp:
        await cp.boot()
        response = await post_action(
            http_url,
            "/ocpp/chargers/MUTE/action/",
            auth_headers,
            {"action": "reset", "type": "Hard"},
        )
        frame = await cp.recv()
        assert frame[0] == 2 and frame[2:] == ["Reset", {"type": "Hard"}]
    assert response.code == 504
    body = data(response)
    assert body["status"] == "timeout"
    command = await db.commands.find_one({"_id": body["command_id"]})
    assert command["status"] == "timeout" and command["_id"] == frame[1]
    await asyncio.sleep(0)
