"""Sites of load management in the API: create, read, list, change, delete; a charger's
site by PATCH; bad input names the field; a limit lowered by PATCH reaches the chargers."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import pytest
import websockets
from ocpp.v16 import call as ocpp_call

from csms.tariffs import check_terms
from handlers.api.openapi import build_openapi
from tests.charge_points import OCPP16
from tests.csms.test_load_management import Board, Charger, start, until
from tests.handlers.api.support import assert_error, call, data
from tests.handlers.api.test_openapi import assert_documented

SITES = "/ocpp/api/sites/"
GARAGE = {"id": "S1", "name": "Garage", "limit_a": 32, "phases": 3, "voltage": 230}


async def create(http_url, headers, body):
    return await call(http_url, SITES, method="POST", json=body, headers=headers)


@pytest.mark.gen_test
async def test_create_read_list_change_and_delete(http_url, auth_headers, services, db):
    response = await create(http_url, auth_headers, GARAGE)
    assert response.code == 201
    assert response.headers["Location"] == "/ocpp/api/sites/S1/"
    created = data(response)
    assert {k: created[k] for k in ("id", "name", "limit_a", "limit_w", "phases", "voltage",
                                    "reserve_a", "parent", "tariff", "timezone", "capacity_a",
                                    "chargers", "children", "allocated_a", "measured_a",
                                    "shares")} == {
        "id": "S1", "name": "Garage", "limit_a": 32, "limit_w": None, "phases": 3,
        "voltage": 230, "reserve_a": 0, "parent": None, "tariff": None, "timezone": "UTC",
        "capacity_a": 32.0, "chargers": [], "children": [], "allocated_a": 0.0,
        "measured_a": None, "shares": [],
    }  # fmt: skip
    stored = await db.sites.find_one({"_id": "S1"})
    assert stored["limit_a"] == 32 and stored["timezone"] == "UTC" and stored["tariff"] is None
    await services.tariffs.store("T-night", check_terms({"currency": "EUR"}), stored["created"], 0)
    circuit = {"id": "C1", "limit_w": 7360, "phases": 1, "parent": "S1", "reserve_a": 2,
               "tariff": "T-night", "timezone": "Europe/Berlin"}  # fmt: skip
    child = data(await create(http_url, auth_headers, circuit))
    assert (child["name"], child["capacity_a"], child["tariff"], child["timezone"]) == (
        "C1",
        30.0,
        "T-night",
        "Europe/Berlin",
    )
    listed = data(await call(http_url, SITES, headers=auth_headers))
    assert [item["id"] for item in listed["items"]] == ["C1", "S1"] and listed["total"] == 2
    # A charger joins by PATCH of the charger; the site lists it.
    await services.chargers.create("CP1", {}, stored["created"])
    patched = await call(http_url, "/ocpp/chargers/CP1/", method="PATCH", json={"site": "S1"},
                         headers=auth_headers)  # fmt: skip
    assert data(patched)["site"] == "S1"
    detail = data(await call(http_url, f"{SITES}S1/", headers=auth_headers))
    assert detail["chargers"] == ["CP1"] and detail["children"] == ["C1"]
    # PATCH: a watt limit replaces the amps.
    changed = data(await call(http_url, f"{SITES}S1/", method="PATCH",
                              json={"limit_w": 11040, "name": "Garage 2"},
                              headers=auth_headers))  # fmt: skip
    assert (changed["limit_a"], changed["limit_w"], changed["capacity_a"], changed["name"]) == (
        None,
        11040,
        16.0,
        "Garage 2",
    )
    # A site with circuits is not deleted; once they are gone it is, and its chargers leave.
    refused = await call(http_url, f"{SITES}S1/", method="DELETE", headers=auth_headers)
    assert_error(refused, 409, "has_children")
    assert (await call(http_url, f"{SITES}C1/", method="DELETE", headers=auth_headers)).code == 200
    deleted = await call(http_url, f"{SITES}S1/", method="DELETE", headers=auth_headers)
    assert data(deleted) == {"deleted": "S1", "chargers": ["CP1"]}
    assert (await db.chargers.find_one({"_id": "CP1"}))["site"] is None
    gone = await call(http_url, f"{SITES}S1/", headers=auth_headers)
    assert gone.code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [({**GARAGE, "id": ""}, "id"),
     ({**GARAGE, "id": "a/b"}, "id"),
     ({"id": "S9"}, "limit_a"),
     ({**GARAGE, "limit_a": -1}, "limit_a"),
     ({**GARAGE, "limit_a": "32"}, "limit_a"),
     ({**GARAGE, "limit_w": 22000}, "limit_w"),
     ({**GARAGE, "phases": 2}, "phases"),
     ({**GARAGE, "voltage": 5}, "voltage"),
     ({**GARAGE, "reserve_a": True}, "reserve_a"),
     ({**GARAGE, "parent": "nowhere"}, "parent"),
     ({**GARAGE, "timezone": "Mars/Olympus"}, "timezone"),
     ({**GARAGE, "tariff": 5}, "tariff"),
     ({**GARAGE, "colour": "red"}, "colour")],
)  # fmt: skip
@pytest.mark.gen_test
async def test_bad_fields_are_400_naming_the_field(http_url, auth_headers, db, body, field):
    response = await create(http_url, auth_headers, body)
    assert assert_error(response, 400, "invalid_field", field)
    assert await db.sites.count_documents({}) == 0


@pytest.mark.gen_test
async def test_a_site_names_only_an_existing_tariff(http_url, auth_headers, services, db):
    unknown = await create(http_url, auth_headers, {**GARAGE, "tariff": "T404"})
    body = assert_error(unknown, 400, "invalid_field", "tariff")
    assert body["detail"]["message"] == "no tariff 'T404'"
    assert await db.sites.count_documents({}) == 0
    assert (await create(http_url, auth_headers, GARAGE)).code == 201
    patched = await call(http_url, f"{SITES}S1/", method="PATCH", json={"tariff": "T404"},
                         headers=auth_headers)  # fmt: skip
    assert_error(patched, 400, "invalid_field", "tariff")
    now = (await services.sites.get("S1"))["created"]
    await services.tariffs.store("T1", check_terms({"currency": "EUR"}), now, 0)
    patched = await call(http_url, f"{SITES}S1/", method="PATCH", json={"tariff": "T1"},
                         headers=auth_headers)  # fmt: skip
    assert data(patched)["tariff"] == "T1"
    assert (await db.sites.find_one({"_id": "S1"}))["tariff"] == "T1"
    # The tariff a site uses is not deleted.
    refused = await call(http_url, "/ocpp/api/tariffs/T1/", method="DELETE", headers=auth_headers)
    assert assert_error(refused, 409, "in_use", "id")["detail"]["message"] == "in use by sites S1"


@pytest.mark.gen_test
async def test_conflicts_cycles_unknown_sites_and_anonymous(http_url, auth_headers, services):
    assert (await create(http_url, auth_headers, GARAGE)).code == 201
    assert_error(await create(http_url, auth_headers, GARAGE), 409, "already_exists")
    await create(http_url, auth_headers, {"id": "C1", "limit_a": 16, "parent": "S1"})
    cycle = await call(http_url, f"{SITES}S1/", method="PATCH", json={"parent": "C1"},
                       headers=auth_headers)  # fmt: skip
    assert_error(cycle, 400, "invalid_field", "parent")
    await services.chargers.create("CP1", {}, (await services.sites.get("S1"))["created"])
    unknown = await call(http_url, "/ocpp/chargers/CP1/", method="PATCH",
                         json={"site": "S404"}, headers=auth_headers)  # fmt: skip
    assert_error(unknown, 400, "invalid_field", "site")
    assert (await services.chargers.get("CP1")).get("site") is None
    for method, path in (("GET", SITES), ("GET", f"{SITES}S1/"), ("DELETE", f"{SITES}S1/")):
        assert (await call(http_url, path, method=method)).code == 401


@pytest.mark.gen_test(timeout=60)
async def test_patching_the_limit_lowers_the_chargers(http_url, ws_url, auth_headers, services):
    board = Board(32)
    await create(http_url, auth_headers, GARAGE)
    async with contextlib.AsyncExitStack() as stack:
        cps = {}
        for cid in "AB":
            ws = await stack.enter_async_context(
                websockets.connect(ws_url(f"/{cid}"), subprotocols=OCPP16)
            )
            cps[cid] = cp = Charger(cid, ws)
            cp.board = board
            task = asyncio.create_task(cp.start())
            stack.callback(task.cancel)
            await cp.call(
                ocpp_call.BootNotification(charge_point_model="M", charge_point_vendor="V")
            )
            await call(http_url, f"/ocpp/chargers/{cid}/", method="PATCH", json={"site": "S1"},
                       headers=auth_headers)  # fmt: skip
            await start(cp, board)
        await until(lambda: board.limit_of("A") == 16 and board.limit_of("B") == 16)
        patched = await call(http_url, f"{SITES}S1/", method="PATCH", json={"limit_a": 16},
                             headers=auth_headers)  # fmt: skip
        assert data(patched)["limit_a"] == 16
        await until(lambda: board.limit_of("A") == 8 and board.limit_of("B") == 8)
        await services.load.idle()
        detail = data(await call(http_url, f"{SITES}S1/", headers=auth_headers))
        assert detail["allocated_a"] == 16.0
        assert sorted((s["charger"], s["limit_a"]) for s in detail["shares"]) == [
            ("A", 8.0), ("B", 8.0)
        ]  # fmt: skip
        history = data(await call(http_url, f"{SITES}S1/allocations/", headers=auth_headers))
        assert history["items"][-1]["allocated_a"] == 16.0
        assert all(item["allocated_a"] <= item["capacity_a"] for item in history["items"])
        assert board.violations == []


@pytest.mark.gen_test(timeout=30)
async def test_responses_fit_the_openapi_document(http_url, auth_headers, services):
    doc = build_openapi()
    h = auth_headers
    await services.chargers.create("CP1", {}, datetime(2026, 1, 1, tzinfo=UTC))
    checks = [
        (SITES, "/ocpp/api/sites/", "post", GARAGE),
        (SITES, "/ocpp/api/sites/", "post", GARAGE),
        (SITES, "/ocpp/api/sites/", "post", {"id": "X"}),
        (SITES, "/ocpp/api/sites/", "post", {"id": "C1", "limit_w": 7000, "parent": "S1"}),
        (SITES, "/ocpp/api/sites/", "get", None),
        ("/ocpp/chargers/CP1/", "/ocpp/chargers/{cid}/", "patch", {"site": "S1"}),
        ("/ocpp/chargers/CP1/", "/ocpp/chargers/{cid}/", "get", None),
        (f"{SITES}S1/", "/ocpp/api/sites/{site}/", "get", None),
        (f"{SITES}S9/", "/ocpp/api/sites/{site}/", "get", None),
        (f"{SITES}S1/", "/ocpp/api/sites/{site}/", "patch", {"limit_a": 16}),
        (f"{SITES}S1/", "/ocpp/api/sites/{site}/", "patch", {"phases": 2}),
        (f"{SITES}S1/allocations/", "/ocpp/api/sites/{site}/allocations/", "get", None),
        (f"{SITES}S1/allocations/?limit=0", "/ocpp/api/sites/{site}/allocations/", "get", None),
        (f"{SITES}S1/", "/ocpp/api/sites/{site}/", "delete", None),
        (f"{SITES}C1/", "/ocpp/api/sites/{site}/", "delete", None),
        (f"{SITES}S1/", "/ocpp/api/sites/{site}/", "delete", None),
    ]  # fmt: skip
    statuses = []
    for url, path, method, body in checks:
        response = await call(http_url, url, method=method.upper(), json=body, headers=h)
        assert_documented(doc, path, method, response)
        statuses.append(response.code)
    assert statuses == [201, 409, 400, 201, 200, 200, 200, 200, 404, 200, 400, 200, 400, 409,
                        200, 200]  # fmt: skip
