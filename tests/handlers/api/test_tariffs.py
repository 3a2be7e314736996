"""The tariff API, the tariff of chargers and tags, session costs and the cost reports;
every response is checked against the OpenAPI document too."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from handlers.api.openapi import build_openapi
from tests.charge_points import raw_charger
from tests.csms.charger_helpers import reading, start, stop
from tests.handlers.api.support import assert_error, call, data
from tests.handlers.api.test_openapi import assert_documented

TARIFFS = "/ocpp/api/tariffs/"
CONTRACT = {
    "id": "T1", "currency": "EUR", "energy_per_kwh": "0.35", "time_per_hour": "0",
    "idle_per_hour": "6.00", "idle_grace_minutes": 15, "session_fee": "1.00",
    "min_total": None, "max_total": None, "tax_percent": "19", "tax_included": True,
    "periods": [{"days": [0, 1, 2, 3, 4], "from": "07:00", "to": "20:00",
                 "energy_per_kwh": "0.45"}],
}  # fmt: skip


@pytest.fixture
def doc():
    return build_openapi()


async def request(http_url, headers, doc, path, template, method="GET", json=None):
    response = await call(http_url, path, method=method, json=json, headers=headers)
    if response.code != 204 and response.headers.get("Content-Type", "").startswith("app"):
        assert_documented(doc, template, method.lower(), response)
    return response


@pytest.mark.gen_test
async def test_create_read_change_and_list(http_url, auth_headers, doc, db):
    h = auth_headers
    response = await request(http_url, h, doc, TARIFFS, TARIFFS, "POST", CONTRACT)
    assert response.code == 201
    assert response.headers["Location"] == "/ocpp/api/tariffs/T1/"
    created = data(response)
    expected = {**CONTRACT, "version": 1, "in_words": "0.35 EUR/kWh + 6.00 EUR per hour idle after "
                "15 min + 1.00 EUR per session, VAT included",
                "periods_in_words": ["Mon-Fri 07:00-20:00: 0.45 EUR/kWh + 6.00 EUR per hour "
                                     "idle after 15 min"],
                "deleted": None}  # fmt: skip
    assert {k: v for k, v in created.items() if k != "created"} == expected
    stored = await db.tariffs.find_one({"tariff": "T1"})
    assert (stored["version"], stored["terms"]["session_fee"]) == (1, "1.00")
    one = f"{TARIFFS}T1/"
    assert data(await request(http_url, h, doc, one, f"{TARIFFS}{{tariff}}/")) == created
    response = await request(http_url, h, doc, one, f"{TARIFFS}{{tariff}}/", "PATCH",
                             {"energy_per_kwh": "0.39"})  # fmt: skip
    changed = data(response)
    assert (changed["version"], changed["energy_per_kwh"], changed["session_fee"]) == (
        2, "0.39", "1.00")  # fmt: skip
    versions = data(await request(http_url, h, doc, f"{one}versions/",
                                  f"{TARIFFS}{{tariff}}/versions/"))  # fmt: skip
    assert [(v["version"], v["energy_per_kwh"]) for v in versions["items"]] == [
        (2, "0.39"), (1, "0.35")]  # fmt: skip
    listed = data(await request(http_url, h, doc, TARIFFS, TARIFFS))
    assert (listed["total"], listed["items"][0]["version"]) == (1, 2)
    response = await request(http_url, h, doc, TARIFFS, TARIFFS, "POST", CONTRACT)
    assert_error(response, 409, "already_exists", "id")


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"energy_per_kwh": "-0.35"}, "energy_per_kwh"), ({"currency": "EURO"}, "currency"),
     ({"periods": [*CONTRACT["periods"], {"days": [4], "from": "19:00", "to": "21:00",
                                          "energy_per_kwh": "0.5"}]}, "periods[1]"),
     ({"session_fee": 1.5}, "session_fee"), ({"id": "a b"}, "id"), ({"id": None}, "id"),
     ({"tax_percent": "120"}, "tax_percent"), ({"wat": 1}, "wat")],
)  # fmt: skip
@pytest.mark.gen_test
async def test_bad_tariffs_are_400_naming_the_field(changes, field, http_url, auth_headers, doc):
    response = await request(http_url, auth_headers, doc, TARIFFS, TARIFFS, "POST",
                             {**CONTRACT, **changes})  # fmt: skip
    assert_error(response, 400, "invalid_field", field)


@pytest.mark.gen_test
async def test_delete_is_refused_while_in_use(http_url, auth_headers, doc, services, db):
    h = auth_headers
    one, template = f"{TARIFFS}T1/", f"{TARIFFS}{{tariff}}/"
    await request(http_url, h, doc, TARIFFS, TARIFFS, "POST", CONTRACT)
    await services.chargers.create("CP9", {}, datetime.now(UTC))
    response = await request(http_url, h, doc, "/ocpp/chargers/CP9/", "/ocpp/chargers/{cid}/",
                             "PATCH", {"tariff": "T1", "timezone": "Europe/Berlin"})  # fmt: skip
    assert (data(response)["tariff"], data(response)["timezone"]) == ("T1", "Europe/Berlin")
    await services.rfid.upsert("FLEET1", tariff="T1")
    await db.sites.insert_one({"_id": "S1", "tariff": "T1"})
    response = await request(http_url, h, doc, one, template, "DELETE")
    body = assert_error(response, 409, "in_use", "id")
    assert body["detail"]["message"] == "in use by chargers CP9; rfid_tags FLEET1; sites S1"
    await services.chargers.update("CP9", {"tariff": None})
    await services.rfid.upsert("FLEET1")
    await db.sites.delete_one({"_id": "S1"})
    assert (await request(http_url, h, doc, one, template, "DELETE")).code == 204
    assert_error(await request(http_url, h, doc, one, template), 404, "not_found")
    # Its versions stay (sessions were billed with them); the id may be created again.
    assert await db.tariffs.count_documents({"tariff": "T1"}) == 1
    response = await request(http_url, h, doc, TARIFFS, TARIFFS, "POST", CONTRACT)
    assert data(response)["version"] == 2


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [({"tariff": "NOPE"}, "tariff", "no tariff 'NOPE'"),
     ({"timezone": "Mars/Olympus"}, "timezone", "must be an IANA time zone such as Europe/Berlin"),
     ({"timezone": "../etc/passwd"}, "timezone", "must be an IANA time zone such as Europe/Berlin"),
     ({"tariff": 5}, "tariff", "must be a string")],
)  # fmt: skip
@pytest.mark.gen_test
async def test_charger_tariff_and_time_zone_are_checked(body, field, message, http_url,
                                                        auth_headers, services):  # fmt: skip
    await services.chargers.create("CP9", {}, datetime.now(UTC))
    response = await call(http_url, "/ocpp/chargers/CP9/", method="PATCH", json=body,
                          headers=auth_headers)  # fmt: skip
    assert assert_error(response, 400, "invalid_field", field)["detail"]["message"] == message
    assert (await services.chargers.get("CP9")).get("tariff") is None


@pytest.mark.gen_test
async def test_an_rfid_tag_takes_a_tariff(http_url, auth_headers, doc, services):
    h = auth_headers
    response = await call(http_url, "/ocpp/api/rfid/", method="POST", headers=h,
                          json={"id_tag": "F1", "tariff": "T1"})  # fmt: skip
    assert_error(response, 400, "invalid_field", "tariff")
    await request(http_url, h, doc, TARIFFS, TARIFFS, "POST", CONTRACT)
    response = await request(http_url, h, doc, "/ocpp/api/rfid/", "/ocpp/api/rfid/", "POST",
                             {"id_tag": "F1", "tariff": "T1"})  # fmt: skip
    assert data(response)["tariff"] == "T1"
    response = await request(http_url, h, doc, "/ocpp/api/rfid/F1/", "/ocpp/api/rfid/{tag}/",
                             "PATCH", {"tariff": None})  # fmt: skip
    assert data(response)["tariff"] is None


async def priced_sessions(services, ws_url, db):
    """Two chargers, two tags: three closed sessions and one open one."""
    from csms.tariffs import check_terms

    now = datetime.now(UTC)
    terms = check_terms({"currency": "EUR", "energy_per_kwh": "0.30", "session_fee": "0.50"})
    await services.tariffs.store("T1", terms, now, 0)
    await db.chargers.insert_many([{"_id": "CP1", "tariff": "T1"}, {"_id": "CP2", "tariff": "T1"}])
    ids = []
    for cid, tag, day, wh in [("CP1", "A", "2026-01-05", 10000), ("CP1", "B", "2026-02-05", 20000),
                              ("CP2", "A", "2026-02-06", 5000)]:  # fmt: skip
        async with raw_charger(ws_url(f"/{cid}/")) as cp:
            await cp.boot()
            begin = start(ts=f"{day}T10:00:00Z", meter=0, tag=tag)
            tx = (await cp.call("a", "StartTransaction", begin))[2]["transactionId"]
            await cp.call("b", "StopTransaction", stop(tx, wh, ts=f"{day}T11:00:00Z"))
            ids.append(tx)
    return ids


@pytest.mark.gen_test(timeout=30)
async def test_transactions_carry_their_cost(http_url, ws_url, auth_headers, doc, services, db):
    ids = await priced_sessions(services, ws_url, db)
    h = auth_headers
    one = await request(http_url, h, doc, f"/ocpp/api/transactions/{ids[0]}/",
                        "/ocpp/api/transactions/{tx_id}/")  # fmt: skip
    # 10 kWh x 0.30 = 3.00 + 0.50
    assert data(one)["cost"] == {"currency": "EUR", "energy": "3.00", "time": "0.00",
                                 "idle": "0.00", "fee": "0.50", "adjustment": "0.00",
                                 "tax": "0.00", "tax_included": True, "total": "3.50",
                                 "tariff": "T1", "version": 1}  # fmt: skip
    assert "running_cost" not in data(one)
    listed = data(await request(http_url, h, doc, "/ocpp/api/transactions/",
                                "/ocpp/api/transactions/"))  # fmt: skip
    assert [item["cost"]["total"] for item in listed["items"]] == ["2.00", "6.50", "3.50"]
    assert_error(await call(http_url, "/ocpp/api/transactions/999/", headers=h), 404, "not_found")
    response = await call(http_url, "/ocpp/api/transactions.csv", headers=h)
    rows = list(csv.DictReader(io.StringIO(response.body.decode())))
    found = [(r["cost_total"], r["cost_energy"], r["tariff"], r["tariff_version"]) for r in rows]
    assert found == [("2.00", "1.50", "T1", "1"), ("6.50", "6.00", "T1", "1"),
                     ("3.50", "3.00", "T1", "1")]  # fmt: skip


@pytest.mark.gen_test(timeout=30)
async def test_an_open_session_shows_its_running_cost(http_url, ws_url, auth_headers, doc,
                                                      services, db):  # fmt: skip
    from csms.tariffs import check_terms

    terms = check_terms({"currency": "EUR", "energy_per_kwh": "0.40"})
    await services.tariffs.store("T1", terms, datetime.now(UTC), 0)
    await db.chargers.insert_one({"_id": "CP1", "tariff": "T1"})
    begin = datetime.now(UTC) - timedelta(minutes=30)
    stamp = begin.strftime("%Y-%m-%dT%H:%M:%SZ")
    later = (begin + timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    async with raw_charger(ws_url("/CP1/")) as cp:
        await cp.boot()
        tx = (await cp.call("a", "StartTransaction", start(ts=stamp, meter=1000)))[2]
        tx = tx["transactionId"]
        mv = {"connectorId": 1, "transactionId": tx, "meterValue": [reading(later, "8500")]}
        await cp.call("m", "MeterValues", mv)
        body = data(await request(http_url, auth_headers, doc, f"/ocpp/api/transactions/{tx}/",
                                  "/ocpp/api/transactions/{tx_id}/"))  # fmt: skip
    # 7.5 kWh so far x 0.40 = 3.00
    assert body["cost"] is None
    assert (body["running_cost"]["energy"], body["running_cost"]["total"]) == ("3.00", "3.00")


@pytest.mark.parametrize(
    ("query", "expected"),
    [("group=month", [("2026-01", "1", "10000.0", "3.50"), ("2026-02", "2", "25000.0", "8.50")]),
     ("group=tag", [("A", "2", "15000.0", "5.50"), ("B", "1", "20000.0", "6.50")]),
     ("group=charger", [("CP1", "2", "30000.0", "10.00"), ("CP2", "1", "5000.0", "2.00")]),
     ("group=charger&from=2026-02-01&to=2026-02-05",
      [("CP1", "1", "20000.0", "6.50")])],
)  # fmt: skip
@pytest.mark.gen_test(timeout=30)
async def test_cost_reports(query, expected, http_url, ws_url, auth_headers, doc, services, db):
    await priced_sessions(services, ws_url, db)
    response = await call(http_url, f"/ocpp/api/reports/sessions.csv?{query}",
                          headers=auth_headers)  # fmt: skip
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(response.body.decode())))
    assert [(r["group"], r["sessions"], r["energy_wh"], r["total"]) for r in rows] == expected
    assert {r["currency"] for r in rows} == {"EUR"}
    response = await request(http_url, auth_headers, doc,
                             f"/ocpp/api/reports/sessions.json?{query}",
                             "/ocpp/api/reports/sessions.json")  # fmt: skip
    items = data(response)["items"]
    assert [(i["group"], str(i["sessions"]), str(i["energy_wh"]), i["total"]) for i in items] == (
        expected
    )


@pytest.mark.gen_test
async def test_a_bad_report_group_is_400(http_url, auth_headers):
    for path in ("/ocpp/api/reports/sessions.csv", "/ocpp/api/reports/sessions.json"):
        response = await call(http_url, f"{path}?group=year", headers=auth_headers)
        assert_error(response, 400, "invalid_parameter", "group")
