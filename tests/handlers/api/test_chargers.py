"""``GET /ocpp/chargers/`` and ``GET /ocpp/chargers/<cid>/``."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
import websockets
from ocpp.v16 import call as ocpp_call

from ocppj.frames import pack_result
from tests.charge_points import ocpp_charge_point, raw_charger
from tests.handlers.api.support import assert_error, call, data

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.gen_test
async def test_no_chargers(http_url, auth_headers):
    response = await call(http_url, "/ocpp/chargers/", headers=auth_headers)
    assert response.code == 200
    assert data(response) == {"total": 0, "page": 1, "per_page": 50, "items": []}


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
        "page": 1,
        "per_page": 50,
        "items": [
            {
                "id": "CP1",
                "name": "Front door",
                "connected": False,
                "offline_since": None,  # never heard of
                "connectors": {
                    "1": {
                        "status": "Available",
                        "error_code": "NoError",
                        "info": None,
                        "vendor_id": None,
                        "vendor_error_code": None,
                        "ts": "2026-03-01T12:00:00.000Z",
                        "stale": True,
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
                "tariff": None,
                "timezone": None,
                "site": None,
                "max_current_a": None,
                "profiles_rejected": False,
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
        assert cp1["connectors"]["1"]["stale"] is False and cp1["offline_since"] is None
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
    assert detail["connectors"]["1"]["stale"] is True  # ... kept, but nobody vouches for it
    assert detail["offline_since"] is not None


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


async def make_chargers(services, count: int) -> None:
    """``count`` chargers SIM0001.. with boot info (vendor ACME for odd numbers)."""
    docs = [
        {"_id": f"SIM{n:04d}", "name": f"Bay {n}",
         "boot": {"vendor": "ACME" if n % 2 else "Kempower", "model": "X-1", "serial": f"S{n}"}}
        for n in range(1, count + 1)
    ]  # fmt: skip
    for doc in docs:
        charger_id = doc.pop("_id")
        await services.chargers.create(charger_id, {"name": doc["name"]}, NOW)
        await services.chargers.record_boot(charger_id, doc["boot"], NOW)


@pytest.mark.gen_test(timeout=60)
async def test_the_list_pages_with_a_true_total(http_url, auth_headers, services):
    await make_chargers(services, 7)
    first = data(await call(http_url, "/ocpp/chargers/?per_page=3", headers=auth_headers))
    assert (first["total"], first["page"], first["per_page"]) == (7, 1, 3)
    assert [c["id"] for c in first["items"]] == ["SIM0001", "SIM0002", "SIM0003"]
    last = data(await call(http_url, "/ocpp/chargers/?per_page=3&page=3", headers=auth_headers))
    assert [c["id"] for c in last["items"]] == ["SIM0007"] and last["total"] == 7
    beyond = data(await call(http_url, "/ocpp/chargers/?per_page=3&page=9", headers=auth_headers))
    assert (beyond["items"], beyond["total"]) == ([], 7)


@pytest.mark.parametrize(
    ("q", "ids"),
    [("sim000", ["SIM0001", "SIM0002", "SIM0003"]), ("acme", ["SIM0001", "SIM0003"]),
     ("KEMP", ["SIM0002"]), ("x-1", ["SIM0001", "SIM0002", "SIM0003"]),
     ("1", ["SIM0001", "SIM0002", "SIM0003"]),  # the model X-1 has a word "1"
     ("s2", ["SIM0002"]), ("bay 3", ["SIM0003"]), ("3", ["SIM0003"]), ("zzz", [])],
)  # fmt: skip
@pytest.mark.gen_test(timeout=60)
async def test_q_searches_id_name_vendor_model_and_serial(q, ids, http_url, auth_headers, services):
    await make_chargers(services, 3)
    body = data(await call(http_url, f"/ocpp/chargers/?q={quote(q)}", headers=auth_headers))
    assert ([c["id"] for c in body["items"]], body["total"]) == (ids, len(ids))


@pytest.mark.gen_test(timeout=60)
async def test_status_filters_connection_and_connector_status(
    http_url, ws_url, auth_headers, services
):
    await services.chargers.create("OLD", {"connectors": {"1": {"status": "Charging"}}}, NOW)
    async with (
        ocpp_charge_point(ws_url("/A/"), "A") as a,
        ocpp_charge_point(ws_url("/B/"), "B") as b,
    ):
        for cp, status in ((a, "Charging"), (b, "Faulted")):
            await cp.call(
                ocpp_call.BootNotification(charge_point_model="M", charge_point_vendor="V")
            )
            await cp.call(ocpp_call.StatusNotification(connector_id=0, error_code="NoError",
                                                       status="Available"))  # fmt: skip
            await cp.call(ocpp_call.StatusNotification(connector_id=1, error_code="NoError",
                                                       status=status))  # fmt: skip

        async def ids(status: str) -> list[str]:
            body = data(await call(http_url, f"/ocpp/chargers/?status={status}",
                                   headers=auth_headers))  # fmt: skip
            assert body["total"] == len(body["items"])
            return [c["id"] for c in body["items"]]

        assert await ids("online") == ["A", "B"]
        assert await ids("offline") == ["OLD"]
        assert await ids("Charging") == ["A"]  # OLD's Charging is stale: it is offline
        assert await ids("Faulted") == ["B"]
        assert await ids("Available") == ["A", "B"]  # any connector (0 is the charger)
        await b.call(ocpp_call.StatusNotification(connector_id=1, error_code="NoError",
                                                  status="Charging"))  # fmt: skip
        assert await ids("Charging") == ["A", "B"]
        assert await ids("Faulted") == []
        doc = await services.chargers.get("B")
        assert doc["statuses"] == ["Available", "Charging"]
    response = await call(http_url, "/ocpp/chargers/?status=Busy", headers=auth_headers)
    assert assert_error(response, 400, "invalid_parameter", "status")


@pytest.mark.gen_test(timeout=60)
async def test_patch_changes_exactly_the_given_fields(http_url, auth_headers, services, db):
    await services.chargers.create("CP1", {"name": "Old", "config": {"a": 1}}, NOW)
    body = {"name": " Front door ", "require_rfid": True, "latitude": 25.5, "longitude": -100.25,
            "config": {"max_kw": 22, "tags": ["x"]}}  # fmt: skip
    response = await call(http_url, "/ocpp/chargers/CP1/", method="PATCH", json=body,
                          headers=auth_headers)  # fmt: skip
    assert response.code == 200
    shown = data(response)
    assert (shown["name"], shown["require_rfid"], shown["latitude"], shown["longitude"]) == (
        "Front door", True, 25.5, -100.25)  # fmt: skip
    assert shown["config"] == {"max_kw": 22, "tags": ["x"]}
    stored = await db.chargers.find_one({"_id": "CP1"})
    assert (stored["name"], stored["require_rfid"], stored["config"]) == (
        "Front door", True, {"max_kw": 22, "tags": ["x"]})  # fmt: skip
    assert "front door" in stored["search"]  # found by its new name
    clear = {"latitude": None, "longitude": None}
    cleared = await call(
        http_url, "/ocpp/chargers/CP1/", method="PATCH", json=clear, headers=auth_headers
    )
    assert cleared.code == 200
    stored = await db.chargers.find_one({"_id": "CP1"})
    assert (stored["latitude"], stored["longitude"], stored["name"]) == (None, None, "Front door")


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [({"latitude": 91, "longitude": 0}, "latitude", "must be between -90 and 90"),
     ({"latitude": 10}, "longitude", "give both coordinates, or neither"),
     ({"require_rfid": "maybe"}, "require_rfid", "must be true or false"),
     ({"name": "x" * 101}, "name", "longer than 100 characters"),
     ({"name": None}, "name", "must not be null"),
     ({"config": [1]}, "config", "must be a JSON object"),
     ({"config": {"$where": 1}}, "config",
      "key \"$where\" at $ must not start with '$' or contain '.' or NUL"),
     ({"colour": "red"}, "colour",
      "unknown field (known: name, require_rfid, latitude, longitude, config, tariff, "
      "timezone, site, max_current_a)")],
)  # fmt: skip
@pytest.mark.gen_test(timeout=30)
async def test_patch_refuses_a_bad_field_by_name(body, field, message, http_url, auth_headers,
                                                 services, db):  # fmt: skip
    await services.chargers.create("CP1", {"name": "Keep"}, NOW)
    before = await db.chargers.find_one({"_id": "CP1"})
    response = await call(http_url, "/ocpp/chargers/CP1/", method="PATCH", json=body,
                          headers=auth_headers)  # fmt: skip
    assert assert_error(response, 400, "invalid_field", field)["detail"]["message"] == message
    assert await db.chargers.find_one({"_id": "CP1"}) == before


@pytest.mark.gen_test(timeout=30)
async def test_patch_or_delete_of_an_unknown_charger_is_404(http_url, auth_headers):
    for method, body in (("PATCH", {"name": "x"}), ("DELETE", None)):
        response = await call(http_url, "/ocpp/chargers/nope/", method=method, json=body,
                              headers=auth_headers)  # fmt: skip
        assert assert_error(response, 404, "not_found")["detail"] == "no charger 'nope'"


@pytest.mark.gen_test(timeout=30)
async def test_delete_purges_the_charger_and_disconnects_it(
    http_url, ws_url, auth_headers, services, db
):
    await services.chargers.create("KEEP", {}, NOW)
    async with raw_charger(ws_url("/CP1/")) as cp:
        await cp.boot()
        reply = await cp.call("s", "StartTransaction", {"connectorId": 1, "idTag": "T",
                              "meterStart": 0, "timestamp": "2026-01-01T00:00:00Z"})  # fmt: skip
        mv = {
            "connectorId": 1,
            "transactionId": reply[2]["transactionId"],
            "meterValue": [{"timestamp": "2026-01-01T00:01:00Z", "sampledValue": [{"value": "5"}]}],
        }
        await cp.call("m", "MeterValues", mv)
        response = await call(http_url, "/ocpp/chargers/CP1/", method="DELETE",
                              headers=auth_headers)  # fmt: skip
        assert response.code == 200
        body = data(response)
        with pytest.raises(websockets.ConnectionClosed):  # closed by the server: "deleted"
            await cp.recv(timeout=5)
        assert cp.ws.close_code == 1000
    assert body["deleted"] == "CP1"
    purged = body["purged"]
    assert (purged["chargers"], purged["transactions"], purged["meter_values"]) == (1, 1, 1)
    assert purged["messages"] >= 3  # boot, start, meter values (and maybe more)
    assert await db.chargers.find_one({"_id": "CP1"}) is None
    assert await db.transactions.count_documents({"charger": "CP1"}) == 0
    assert await db.meter_values.count_documents({"meta.charger": "CP1"}) == 0
    assert await db.chargers.find_one({"_id": "KEEP"}) is not None


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/ocpp/api/nothing"), ("GET", "/ocpp/api/transactions/x/"),
     ("POST", "/ocpp/api/rfid/T1/extra/"), ("GET", "/ocpp/chargers/CP1/nothing/"),
     ("DELETE", "/ocpp/chargers/CP1/action/x")],
)  # fmt: skip
@pytest.mark.gen_test(timeout=30)
async def test_unknown_api_paths_are_json_404(method, path, http_url, auth_headers):
    body = {} if method == "POST" else None
    response = await call(http_url, path, method=method, json=body, headers=auth_headers)
    assert assert_error(response, 404, "not_found") == {
        "error": "not_found", "detail": f"no API endpoint {path}"
    }  # fmt: skip
    # Without credentials: the API's 401, in JSON too, never an HTML page.
    response = await call(http_url, path, method=method, json=body, headers={})
    assert assert_error(response, 401, "unauthorized")["detail"].startswith("a valid API token")
