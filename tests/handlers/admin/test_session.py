"""The admin session page (figures, charts, commands, Stop), the live figures of open
sessions in the list, and the meter readings chart and CSV export; the charger is the
independent ``ocpp`` library."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action

from handlers.base import WebSettings
from tests.charge_points import ocpp_charge_point
from tests.handlers.admin.test_data import T0, add_readings
from tests.handlers.admin.test_index import admin_browser, page_text


@pytest.fixture
def web_settings(http_port):
    """A short action timeout."""
    return WebSettings(public_url=f"http://127.0.0.1:{http_port}", action_timeout=2.0)


class Charger(ChargePoint):
    """Accepts RemoteStopTransaction and CancelReservation, recording them."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.stops: list[dict] = []
        self.cancels: list[dict] = []

    @on(Action.remote_stop_transaction)
    def on_stop(self, **payload):
        self.stops.append(payload)
        return call_result.RemoteStopTransaction(status="Accepted")

    @on(Action.cancel_reservation)
    def on_cancel(self, **payload):
        self.cancels.append(payload)
        return call_result.CancelReservation(status="Accepted")


def stamp(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


async def charging(cp) -> int:
    """Boot, start a session on connector 1 (meter 1000 Wh), send two MeterValues with
    power and energy; the transaction id."""
    await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
    start = await cp.call(call.StartTransaction(
        connector_id=1, id_tag="TAG1", meter_start=1000, timestamp=stamp(-120),
    ))  # fmt: skip
    tx_id = start.transaction_id
    for n, (power, energy) in enumerate([("7.2", "1200"), ("11", "1500")]):
        await cp.call(call.MeterValues(connector_id=1, transaction_id=tx_id, meter_value=[{
            "timestamp": stamp(-60 + 30 * n),
            "sampledValue": [
                {"value": power, "measurand": "Power.Active.Import", "unit": "kW"},
                {"value": energy, "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                {"value": "16", "measurand": "Current.Import", "unit": "A", "phase": "L1"},
                {"value": "15", "measurand": "Current.Import", "unit": "A", "phase": "L2"},
            ],
        }]))  # fmt: skip
    return tx_id


def charts_of(page: str) -> list[dict]:
    """The chart data embedded in the page."""
    blob = re.search(r'<script type="application/json" id="chart-data">(.*?)</script>', page, re.S)
    return json.loads(blob[1])


@pytest.mark.gen_test(timeout=30)
async def test_session_page_charts_and_stop_reaching_the_charger(
    http_url, ws_url, services, admin_user, db
):
    browser = await admin_browser(http_url, admin_user)
    async with ocpp_charge_point(ws_url("/CP1/"), "CP1", Charger) as cp:
        tx_id = await charging(cp)
        response = await browser.get(f"/ocpp/admin/sessions/{tx_id}/")
        assert response.code == 200
        page = page_text(response)
        assert f'data-transaction="{tx_id}" data-open="true"' in page
        assert '<a id="tag-link" href="/ocpp/admin/rfid/TAG1/"><code>TAG1</code></a>' in page
        assert '<td id="energy">0.500 kWh</td>' in page
        assert '<td id="power">11.0 kW</td>' in page
        charts = {chart["key"]: chart for chart in charts_of(page)}
        assert list(charts) == ["power", "energy", "current"]
        assert [p[1] for p in charts["power"]["series"][0]["points"]] == [7.2, 11.0]
        assert [p[1] for p in charts["energy"]["series"][0]["points"]] == [0.2, 0.5]
        assert [s["name"] for s in charts["current"]["series"]] == ["L1", "L2"]
        assert 'id="stop"' in page

        await services.chargers.flush()  # the list reads the chargers' last MeterValues
        listed = page_text(await browser.get("/ocpp/admin/sessions/"))
        row = listed.split(f'<tr data-transaction="{tx_id}">')[1].split("</tr>")[0]
        assert '<td class="num">0.500 <span class="muted">so far</span></td>' in row
        assert '<td class="num power">11.00</td>' in row
        assert re.search(r'<td class="num duration">2 min \d\d s</td>', row)

        response = await browser.post(f"/ocpp/admin/sessions/{tx_id}/stop")
        assert cp.stops == [{"transaction_id": tx_id}]
    assert response.code == 200
    page = page_text(response)
    assert '<span id="stop-status">accepted</span>' in page
    command = await db.commands.find_one({"action": "RemoteStopTransaction"})
    assert command["payload"] == {"transactionId": tx_id}
    assert command["requested_by"] == "admin"
    table = page.split('id="commands"')[1].split("</table>")[0]
    assert f'<tr data-command="{command["_id"]}">' in table and "RemoteStopTransaction" in table


async def add_session(db, tx_id: int, open_: bool) -> None:
    doc = {"_id": tx_id, "kind": "session", "charger": "CP9", "connector": 1, "id_tag": "T",
           "start_ts": T0, "meter_start": 0, "open": open_, "anomalies": []}  # fmt: skip
    if not open_:
        doc.update(stop_ts=T0 + timedelta(minutes=1), energy_wh=10.0, meter_stop=10)
    await db.transactions.insert_one(doc)


@pytest.mark.gen_test
async def test_stop_without_the_charger_or_of_a_closed_session(http_url, admin_user, db):
    await add_session(db, 41, True)
    await add_session(db, 42, False)
    browser = await admin_browser(http_url, admin_user)
    page = page_text(await browser.get("/ocpp/admin/sessions/41/"))
    assert "The charger is not connected" in page and 'id="no-readings"' in page
    response = await browser.post("/ocpp/admin/sessions/41/stop")
    assert response.code == 409
    assert '<span id="stop-status">not_connected</span>' in page_text(response)
    assert (await db.commands.find_one({}))["status"] == "not_connected"
    response = await browser.post("/ocpp/admin/sessions/42/stop")
    assert response.code == 409
    page = page_text(response)
    assert '<span id="stop-status">refused</span>' in page and 'id="stop"' not in page
    assert await db.commands.count_documents({}) == 1
    for path in ("/ocpp/admin/sessions/43/", "/ocpp/admin/sessions/x1/"):
        assert (await browser.get(path)).code == 404
    assert (await browser.post("/ocpp/admin/sessions/43/stop")).code == 404


@pytest.mark.gen_test
async def test_meter_readings_chart_and_csv_of_the_filter(http_url, db, admin_user):
    await add_readings(db)
    browser = await admin_browser(http_url, admin_user)
    page = page_text(await browser.get("/ocpp/admin/meter-values/", {"transaction": "8"}))
    [power] = charts_of(page)
    assert power["series"] == [{"name": "L1", "points": [
        [int((T0 + timedelta(hours=1, seconds=n)).timestamp() * 1000), 7.0 + n / 1000]
        for n in range(5)
    ]}]  # fmt: skip
    page = page_text(await browser.get("/ocpp/admin/meter-values/", {"transaction": "7"}))
    [energy] = charts_of(page)
    assert energy["label"] == "Energy register"  # the meter itself, not since a start
    assert energy["series"][0]["points"][-1][1] == 0.104
    link = unescape(re.search(r'<a href="([^"]+)" id="csv"', page)[1])
    assert link == "/ocpp/admin/meter-values.csv?transaction=7"

    query = {"charger": "CP1", "connector": "1", "from": "2024-01-01T00:00:03"}
    response = await browser.get("/ocpp/admin/meter-values.csv", query)
    assert response.code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(response.body.decode())))
    assert rows[0] == ["ts", "charger", "connector", "transaction", "measurand", "phase",
                       "value", "unit", "context", "location", "raw"]  # fmt: skip
    assert len(rows) == 1 + 102  # every page of the filter, not only the first 100
    assert rows[1] == ["2024-01-01T00:01:44.000Z", "CP1", "1", "7",
                       "Energy.Active.Import.Register", "", "104.0", "Wh", "Sample.Periodic",
                       "Outlet", ""]  # fmt: skip
    assert rows[-1][0] == "2024-01-01T00:00:03.000Z"
    response = await browser.get("/ocpp/admin/meter-values.csv", {"measurand": "Voltage"})
    assert response.code == 400
