"""``GET /ocpp/chargers/`` and ``GET /ocpp/chargers/<cid>/``."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from ocpp.v16 import call as ocpp_call

from ocppj.frames import pack_result
from tests.charge_points import ocpp_charge_point, raw_charger
from tests.handlers.test_api_support import assert_error, call, data

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.gen_test
async def test_no_chargers(http_url, auth_headers):
    response = await call(http_url, "/ocpp/chargers/", headers=auth_headers)
    assert response.code == 200
    assert data(response) == {"total": 0, "items": []}


@pytest.mark.gen_test
async def test_an_offline_charger_exactly(http_url, auth_headers, services, web_settings):
    await services.chargers.create(
        "CP1",
        {"name": "Front door", "require_rfid": True, "latitude": 25.5, "longitude": -100.25,
         "connected": True,  # a stale flag: the registry is the truth
         "connectors": {"1": {"status": "Available", "error_code": "NoError", "info": None,
                              "vendor_id": None, "vendor_error_code": None, "ts": NOW,
                              "received": NOW}},
         "last_heartbeat": NOW},
        NOW,
    )  # fmt: skip
    response = await call(http_url, "/ocpp/chargers/", headers=auth_headers)
    assert data(response) == {
        "total": 1,
        "items": [
            {
                "id": "CP1",
                "name": "Front door",
                "connected": False,
                "connectors": {
                    "1": {
                        "status": "Available",
                        "error_code": "NoError",
                        "info": None,
                        "vendor_id": None,
                        "vendor_error_code": None,
                        "ts": "2026-03-01T12:00:00.000Z",
                    },
                },
                "active_transactions": [],
                "last_heartbeat": "2026-03-01T12:00:00.000Z",
                "last_seen": None,
                "last_meter_values": None,
                "boot": None,
                "require_rfid": True,
                "latitude": 25.5,
                "longitude": -100.25,
                "landing_page": f"{web_settings.public_url}/ocpp/c/CP1/",
                "log_page": f"{web_settings.public_url}/ocpp/log/CP1/",
            }
        ],
    }


@pytest.mark.gen_test(timeout=30)
async def test_a_connected_charger_shows_its_live_state(http_url, ws_url, auth_headers, services):
    await services.chargers.create("CP0", {}, NOW)
    async with ocpp_charge_point(ws_url("/ocpp/CP1/"), "CP1") as cp:
        await cp.call(ocpp_call.BootNotification(charge_point_model="M1", charge_point_vendor="V1"))
        await cp.call(
            ocpp_call.StatusNotification(connector_id=1, error_code="NoError", status="Charging")
        )
        start = await cp.call(
            ocpp_call.StartTransaction(
                connector_id=1, id_tag="tag1", meter_start=100, timestamp="2026-03-01T12:00:00Z"
            )
        )
        await cp.call(
            ocpp_call.MeterValues(connector_id=1, transaction_id=start.transaction_id,
                                  meter_value=[{"timestamp": "2026-03-01T12:01:00Z",
                                                "sampledValue": [{"value": "150"}]}])
        )  # fmt: skip
        items = data(await call(http_url, "/ocpp/chargers/", headers=auth_headers))["items"]
        assert [(c["id"], c["connected"]) for c in items] == [("CP0", False), ("CP1", True)]
        cp1 = items[1]
        assert cp1["connectors"]["1"]["status"] == "Charging"
        assert cp1["connectors"]["1"]["error_code"] == "NoError"
        assert cp1["boot"]["vendor"] == "V1" and cp1["boot"]["model"] == "M1"
        assert cp1["last_meter_values"]["transactionId"] == start.transaction_id
        assert cp1["last_meter_values"]["meterValue"][0]["sampledValue"] == [{"value": "150"}]
        [tx] = cp1["active_transactions"]
        assert tx["id"] == start.transaction_id
        assert (tx["connector"], tx["id_tag"], tx["status"]) == (1, "tag1", "open")
        assert tx["start"] == "2026-03-01T12:00:00.000Z" and tx["meter_start"] == 100
    # Disconnected: the registry no longer has it.
    for _ in range(100):
        detail = data(await call(http_url, "/ocpp/chargers/CP1/", headers=auth_headers))
        if not detail["connected"]:
            break
        await asyncio.sleep(0.02)
    assert detail["connected"] is False
    assert detail["connectors"]["1"]["status"] == "Charging"  # the last status reported


@pytest.mark.gen_test(timeout=30)
async def test_detail_has_the_message_log_newest_first(http_url, ws_url, auth_headers):
    boot = {"chargePointVendor": "V", "chargePointModel": "M"}
    async with raw_charger(ws_url("/CP1/")) as cp:
        boot_reply = await cp.boot()
        hb_reply = await cp.call("hb1", "Heartbeat", {})
    response = await call(http_url, "/ocpp/chargers/CP1/", headers=auth_headers)
    body = data(response)
    assert body["id"] == "CP1" and body["config"] == {} and body["last_path"] == "/CP1/"
    assert body["created"].endswith("Z") and body["updated"].endswith("Z")
    # One entry per exchange: the charger's CALL and, in ``reply``, our answer.
    heartbeat, booting = body["messages"]
    assert booting == {
        "ts": booting["ts"], "direction": "in", "action": "BootNotification",
        "unique_id": "boot", "frame": json.dumps([2, "boot", "BootNotification", boot]),
        "reply": {"ts": booting["reply"]["ts"], "frame": pack_result("boot", boot_reply[2])},
    }  # fmt: skip
    assert heartbeat == {
        "ts": heartbeat["ts"], "direction": "in", "action": "Heartbeat", "unique_id": "hb1",
        "frame": '[2, "hb1", "Heartbeat", {}]',
        "reply": {"ts": heartbeat["reply"]["ts"],
                  "frame": pack_result("hb1", hb_reply[2])},
    }  # fmt: skip
    stamps = [booting["ts"], booting["reply"]["ts"], heartbeat["ts"], heartbeat["reply"]["ts"]]
    assert stamps == sorted(stamps) and all(ts.endswith("Z") for ts in stamps)
    assert body["last_heartbeat"] is not None

    limited = data(await call(http_url, "/ocpp/chargers/CP1/?log_limit=1", headers=auth_headers))
    assert [m["unique_id"] for m in limited["messages"]] == ["hb1"]


@pytest.mark.parametrize(
    ("query", "message"),
    [("log_limit=0", "must be at least 1"), ("log_limit=501", "must be at most 500"),
     ("log_limit=ten", "must be an integer")],
)  # fmt: skip
@pytest.mark.gen_test
async def test_bad_log_limit_is_400(query, message, http_url, auth_headers, services):
    await services.chargers.create("CP1", {}, NOW)
    response = await call(http_url, f"/ocpp/chargers/CP1/?{query}", headers=auth_headers)
    body = assert_error(response, 400, "invalid_parameter", "log_limit")
    assert body["detail"]["message"] == message


@pytest.mark.gen_test
async def test_unknown_charger_is_404(http_url, auth_headers):
    response = await call(http_url, "/ocpp/chargers/nope/", headers=auth_headers)
    assert assert_error(response, 404, "not_found") == {
        "error": "not_found", "detail": "no charger 'nope'"
    }  # fmt: skip


@pytest.mark.parametrize("cid", ["<b>x</b>", "<script>alert(1)</script>", "été 1", "a&b?c#d"])
@pytest.mark.gen_test
async def test_odd_ids_round_trip_as_data(cid, http_url, auth_headers, services, web_settings):
    await services.chargers.create(cid, {"name": f"<i>{cid}</i>"}, NOW)
    escaped = quote(cid, safe="")
    response = await call(http_url, f"/ocpp/chargers/{escaped}/", headers=auth_headers)
    body = data(response)  # checks Content-Type: application/json
    assert (body["id"], body["name"]) == (cid, f"<i>{cid}</i>")
    assert body["landing_page"] == f"{web_settings.public_url}/ocpp/c/{escaped}/"
    assert "<" not in body["landing_page"]
    listed = data(await call(http_url, "/ocpp/chargers/", headers=auth_headers))
    assert [item["id"] for item in listed["items"]] == [cid]
