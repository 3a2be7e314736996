"""Admin sessions and meter readings: filters, pagination, the CSV link, the scope hint."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest

from models.meter_values import measurements
from tests.handlers.admin.test_index import admin_browser, field_value, page_text

T0 = datetime(2024, 1, 1, tzinfo=UTC)


async def add_sessions(db) -> None:
    """55 closed sessions of CP1 one minute apart from T0; 3 open ones of CP2 the next day."""
    docs = [
        {"_id": n + 1, "kind": "session", "charger": "CP1", "connector": 1, "id_tag": "T1",
         "start_ts": T0 + timedelta(minutes=n), "stop_ts": T0 + timedelta(minutes=n, seconds=30),
         "meter_start": 0, "meter_stop": 1000 * n + 345, "energy_wh": 1000 * n + 345,
         "open": False, "stop_reason": "Local", "anomalies": []}
        for n in range(55)
    ]  # fmt: skip
    docs += [
        {"_id": 100 + n, "kind": "session", "charger": "CP2", "connector": n + 1, "id_tag": "T2",
         "start_ts": T0 + timedelta(days=1, hours=n), "meter_start": 0, "open": True,
         "anomalies": [{"kind": "meter_backwards"}] if n == 0 else []}
        for n in range(3)
    ]  # fmt: skip
    await db.transactions.insert_many(docs)


def session_ids(page: str) -> list[int]:
    """The transaction ids in the sessions table, in order."""
    table = page.split('id="sessions"')[1].split("</tbody>")[0]
    return [int(n) for n in re.findall(r'<tr data-transaction="(\d+)">', table)]


def links(page: str, rel: str) -> str | None:
    """The href of the pager link ``rel`` (unescaped)."""
    match = re.search(rf'<a rel="{rel}" href="([^"]+)"', page)
    return None if match is None else unescape(match.group(1))


@pytest.mark.gen_test
async def test_sessions_newest_first_with_pagination(http_url, db, admin_user):
    await add_sessions(db)
    browser = await admin_browser(http_url, admin_user)
    page = page_text(await browser.get("/ocpp/admin/sessions/", {"charger": "CP1"}))
    assert session_ids(page) == list(range(55, 5, -1))
    assert "page 1 of 2 · 55 in all" in page
    assert links(page, "prev") is None
    assert links(page, "next") == "/ocpp/admin/sessions/?charger=CP1&page=2"
    page = page_text(await browser.get(links(page, "next")))
    assert session_ids(page) == [5, 4, 3, 2, 1]
    assert links(page, "prev") == "/ocpp/admin/sessions/?charger=CP1"
    assert links(page, "next") is None
    row = page.split('<tr data-transaction="1">')[1].split("</tr>")[0]
    assert '<td class="num">0.345</td>' in row
    assert '<td class="num duration">30 s</td>' in row
    assert '<a class="session-link" href="/ocpp/admin/sessions/1/">Details</a>' in row
    assert "<td>2024-01-01 00:00:00 UTC</td>" in row and "<td>2024-01-01 00:00:30 UTC</td>" in row
    page = page_text(await browser.get("/ocpp/admin/sessions/"))
    assert "page 1 of 2 · 58 in all" in page
    assert session_ids(page)[:3] == [102, 101, 100]
    assert '<span class="status status-Charging">open</span>' in page
    assert '<span class="error">meter_backwards</span>' in page


@pytest.mark.gen_test
async def test_sessions_time_filters_and_csv_link(http_url, db, admin_user):
    await add_sessions(db)
    browser = await admin_browser(http_url, admin_user)
    query = {"charger": "CP1", "from": "2024-01-01T00:10", "to": "2024-01-01T00:20"}
    page = page_text(await browser.get("/ocpp/admin/sessions/", query))
    assert session_ids(page) == list(range(20, 10, -1))
    assert field_value(page, "from") == "2024-01-01T00:10"
    assert field_value(page, "charger") == "CP1"
    csv = unescape(re.search(r'<a href="([^"]+)" id="csv"', page).group(1))
    assert csv == (
        "/ocpp/api/transactions.csv?charger=CP1&from=2024-01-01T00%3A10%3A00.000Z"
        "&to=2024-01-01T00%3A20%3A00.000Z"
    )
    # A bare "to" date includes that whole day.
    page = page_text(await browser.get("/ocpp/admin/sessions/", {"to": "2024-01-01"}))
    assert "55 in all" in page
    page = page_text(await browser.get("/ocpp/admin/sessions/", {"from": "2024-01-02"}))
    assert session_ids(page) == [102, 101, 100]


@pytest.mark.gen_test
async def test_csv_link_gives_the_same_sessions(http_url, db, admin_user):
    await add_sessions(db)
    browser = await admin_browser(http_url, admin_user)
    query = {"charger": "CP1", "from": "2024-01-01T00:10", "to": "2024-01-01T00:20"}
    page = page_text(await browser.get("/ocpp/admin/sessions/", query))
    csv = unescape(re.search(r'<a href="([^"]+)" id="csv"', page).group(1))
    response = await browser.get(csv)
    assert response.code == 200
    rows = response.body.decode().strip().splitlines()[1:]
    assert sorted(int(row.split(",")[0]) for row in rows) == list(range(11, 21))


@pytest.mark.gen_test
@pytest.mark.parametrize(
    ("query", "field", "error"),
    [({"from": "yesterday"}, "from", "must be a date"),
     ({"to": "9999-12-31"}, "to", "must be a date before 9999-12-31"),
     ({"from": "9999-12-31T23:00-05:00"}, "from", "must be between the years 1 and 9999"),
     ({"from": "2024-01-02", "to": "2024-01-01T10:00"}, "to", "must be after &#x27;from&#x27;"),
     ({"page": "0"}, "page", "must be at least 1"),
     ({"charger": "C" * 49}, "charger", "at most 48 characters")],
)  # fmt: skip
async def test_invalid_session_filters(http_url, db, admin_user, query, field, error):
    await add_sessions(db)
    browser = await admin_browser(http_url, admin_user)
    response = await browser.get("/ocpp/admin/sessions/", query)
    assert response.code == 400
    page = page_text(response)
    assert f'id="{field}-error" role="alert">{field}: {error}' in page
    assert 'id="sessions"' not in page and 'id="csv"' not in page
    if field != "page":
        assert field_value(page, field) == query[field]


async def add_readings(db) -> None:
    """105 energy readings of CP1 tx 7 connector 1, 5 power readings of CP1 connector 2 tx 8,
    2 readings of CP2."""
    docs = [
        {"ts": T0 + timedelta(seconds=n), "value": float(n),
         "meta": {"charger": "CP1", "connector": 1, "transaction": 7,
                  "measurand": "Energy.Active.Import.Register", "phase": None, "unit": "Wh",
                  "context": "Sample.Periodic", "location": "Outlet"}}
        for n in range(105)
    ]  # fmt: skip
    docs += [
        {"ts": T0 + timedelta(hours=1, seconds=n), "value": 7000.0 + n,
         "meta": {"charger": "CP1", "connector": 2, "transaction": 8,
                  "measurand": "Power.Active.Import", "phase": "L1", "unit": "W",
                  "context": "Sample.Periodic", "location": None}}
        for n in range(5)
    ]  # fmt: skip
    docs += [
        {"ts": T0 + timedelta(seconds=n), "value": 1.0,
         "meta": {"charger": "CP2", "connector": 1, "transaction": None,
                  "measurand": "Voltage", "phase": None, "unit": "V", "context": None,
                  "location": None}}
        for n in range(2)
    ]  # fmt: skip
    await db.meter_values.insert_many(measurements(docs))


def reading_values(page: str) -> list[str]:
    """The Value column of the readings table."""
    table = page.split('id="readings"')[1].split("</tbody>")[0]
    rows = table.split("<tr>")[2:]
    return [re.findall(r'<td class="num">([^<]*)</td>', row)[2] for row in rows]


@pytest.mark.gen_test
async def test_meter_values_need_a_charger_or_a_transaction(http_url, db, admin_user):
    await add_readings(db)
    browser = await admin_browser(http_url, admin_user)
    for query in ({}, {"measurand": "Voltage"}, {"connector": "1"}):
        response = await browser.get("/ocpp/admin/meter-values/", query)
        assert response.code == 200
        page = page_text(response)
        assert 'id="hint">Choose a charger or a transaction' in page
        assert 'id="readings"' not in page


@pytest.mark.gen_test
async def test_meter_values_filters_and_pagination(http_url, db, admin_user):
    await add_readings(db)
    browser = await admin_browser(http_url, admin_user)
    path = "/ocpp/admin/meter-values/"
    page = page_text(await browser.get(path, {"charger": "CP1", "connector": "1"}))
    assert "page 1 of 2 · 105 in all" in page
    assert reading_values(page)[:2] == ["104.0", "103.0"] and len(reading_values(page)) == 100
    assert links(page, "next") == f"{path}?charger=CP1&connector=1&page=2"
    page = page_text(await browser.get(links(page, "next")))
    assert reading_values(page) == ["4.0", "3.0", "2.0", "1.0", "0.0"]
    row = page.split('id="readings"')[1].split("<tr>")[2]
    assert "<td><code>CP1</code></td>" in row and "<td>Energy.Active.Import.Register</td>" in row
    assert "<td>Wh</td>" in row and "<td>Sample.Periodic</td>" in row and "<td>Outlet</td>" in row

    page = page_text(await browser.get(path, {"transaction": "8"}))
    assert reading_values(page) == ["7004.0", "7003.0", "7002.0", "7001.0", "7000.0"]
    assert "<td>L1</td>" in page
    query = {"charger": "CP1", "measurand": "Power.Active.Import",
             "from": "2024-01-01T01:00:01", "to": "2024-01-01T01:00:03"}  # fmt: skip
    page = page_text(await browser.get(path, query))
    assert reading_values(page) == ["7002.0", "7001.0"]
    assert field_value(page, "measurand") == "Power.Active.Import"
    page = page_text(await browser.get(path, {"charger": "CP2"}))
    assert reading_values(page) == ["1.0", "1.0"]
    page = page_text(await browser.get(path, {"charger": "NONE"}))
    assert "No reading matches." in page


@pytest.mark.gen_test
@pytest.mark.parametrize(
    ("query", "field"),
    [({"charger": "CP1", "connector": "one"}, "connector"),
     ({"transaction": "-1"}, "transaction"),
     ({"charger": "CP1", "to": "31/12/2024"}, "to")],
)  # fmt: skip
async def test_invalid_meter_value_filters(http_url, db, admin_user, query, field):
    browser = await admin_browser(http_url, admin_user)
    response = await browser.get("/ocpp/admin/meter-values/", query)
    assert response.code == 400
    page = page_text(response)
    assert f'id="{field}-error"' in page
    assert field_value(page, field) == query[field]
    assert 'id="readings"' not in page and 'id="hint"' not in page
