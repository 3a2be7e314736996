"""Self-healing transactions: zombies closed by a connector reported Available (also after
a reboot), the late StopTransaction that replaces the estimate, and the operator's close
of a stale session through the API."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ocppj.timeutil import format_datetime, utcnow
from tests.charge_points import raw_charger
from tests.csms.charger_helpers import booted_charger, reading, start, stop
from tests.handlers.api.support import call, data


@pytest.fixture
def charger(ws_url):
    """Factory: a booted raw charger as an async context manager."""
    return booted_charger(ws_url)


def at(minutes: float) -> str:
    return format_datetime(utcnow() + timedelta(minutes=minutes))


def available(ts: str, connector: int = 1) -> dict:
    return {"connectorId": connector, "status": "Available", "errorCode": "NoError",
            "timestamp": ts}  # fmt: skip


async def charging(cp, register: str = "1500") -> int:
    """Start a session (meterStart 1000) and send one register reading; its id."""
    reply = await cp.call("s", "StartTransaction", start(ts=at(-10), meter=1000))
    tx = reply[2]["transactionId"]
    values = {"connectorId": 1, "transactionId": tx, "meterValue": [reading(at(-5), register)]}
    assert await cp.call("m", "MeterValues", values) == [3, "m", {}]
    return tx


@pytest.mark.gen_test
async def test_available_connector_closes_its_open_transaction(charger, db):
    async with charger() as cp:
        tx = await charging(cp)
        assert await cp.call("a", "StatusNotification", available(at(0))) == [3, "a", {}]
        doc = await db.transactions.find_one({"_id": tx})  # stored before the reply
    assert doc["open"] is False
    assert (doc["stop_reason"], doc["energy_wh"], doc["last_register_wh"]) == ("Other", 500, 1500)
    assert (doc["estimated"], doc["closed_by"], doc["stop_ts"]) == (True, "closed_by_status", None)
    assert doc["anomalies"][0]["kind"] == "closed_by_status"
    assert doc["anomalies"][0]["estimated_energy"] == 500
    assert await db.anomalies.count_documents({"kind": "closed_by_status", "transaction": tx}) == 1


@pytest.mark.gen_test
async def test_a_status_from_before_the_start_closes_nothing(charger, db):
    async with charger() as cp:
        tx = await charging(cp)
        assert await cp.call("a", "StatusNotification", available(at(-20))) == [3, "a", {}]
    assert (await db.transactions.find_one({"_id": tx}))["open"] is True


@pytest.mark.gen_test
async def test_reboot_with_an_open_transaction(ws_url, db):
    async with raw_charger(ws_url("/CP1/")) as cp:
        assert (await cp.boot())[0] == 3
        tx = await charging(cp, "1200")
    async with raw_charger(ws_url("/CP1/")) as cp:  # rebooted: boots, connector free
        assert (await cp.boot())[0] == 3
        assert await cp.call("a", "StatusNotification", available(at(0))) == [3, "a", {}]
    doc = await db.transactions.find_one({"_id": tx})
    assert (doc["open"], doc["closed_by"], doc["energy_wh"]) == (False, "closed_by_status", 200)


@pytest.mark.gen_test
async def test_late_stop_after_a_self_heal_replaces_the_estimate_and_says_so(charger, db):
    async with charger() as cp:
        tx = await charging(cp)
        await cp.call("a", "StatusNotification", available(at(0)))
        late = stop(tx, 1800, ts=at(-1), reason="PowerLoss")
        assert await cp.call("late", "StopTransaction", late) == [3, "late", {}]
        doc = await db.transactions.find_one({"_id": tx})
        assert (doc["energy_wh"], doc["meter_stop"], doc["stop_reason"]) == (800, 1800, "PowerLoss")
        assert doc["stop_ts"] is not None
        kinds = [a["kind"] for a in doc["anomalies"]]
        assert kinds == ["closed_by_status", "late_stop_after_closed_by_status"]
        assert doc["anomalies"][1]["estimated_energy"] == 500
        assert doc["anomalies"][1]["replaced_estimate"] is True
        again = stop(tx, 9999, ts=at(0))
        assert await cp.call("again", "StopTransaction", again) == [3, "again", {}]
        assert (await db.transactions.find_one({"_id": tx}))["meter_stop"] == 1800


@pytest.mark.gen_test
async def test_operator_closes_a_stale_transaction_through_the_api(
    charger, http_url, auth_headers, db
):
    async with charger() as cp:
        tx = await charging(cp, "1300")
        path = f"/ocpp/api/transactions/{tx}/close"
        response = await call(http_url, path, method="POST", headers=auth_headers, json={})
        assert response.code == 200, response.body
        body = data(response)
        assert (body["id"], body["status"], body["energy_wh"]) == (tx, "closed", 300)
        assert body["anomalies"] == ["closed_by_operator"]
        doc = await db.transactions.find_one({"_id": tx})
        assert doc["anomalies"][0]["by"] == "admin"
        again = await call(http_url, path, method="POST", headers=auth_headers, json={})
        assert again.code == 409
        missing = "/ocpp/api/transactions/999/close"
        assert (await call(http_url, missing, method="POST", headers=auth_headers)).code == 404
        assert (await call(http_url, path, method="POST")).code == 401
