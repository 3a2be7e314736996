"""Sessions and the views of what we store, in headless Chromium against the real server:
a charger (the independent ``ocpp`` library) starts a transaction and sends MeterValues
with power and energy; the session page charts those points; a reservation cancelled
from the reservations view reaches the charger; the meter readings page charts the
filter and exports it as CSV. Screenshots of every page involved."""

from __future__ import annotations

import asyncio
import csv
import io
import threading
from datetime import UTC, datetime, timedelta

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.support import ARTIFACTS, PASSWORD, LoopThread, api_send

CHARGER = "SESS-1"
TAG = "DRIVER9"
# (seconds before now, kW, Wh register, A on L1, A on L2)
READINGS = [(90, "3.7", "1100", "16", "15"), (60, "7.4", "1150", "32", "31"),
            (30, "11", "1230", "16", "16")]  # fmt: skip


def stamp(ago: float) -> str:
    moment = datetime.now(UTC) - timedelta(seconds=ago)
    return moment.isoformat().replace("+00:00", "Z")


class Station(ChargePoint):
    """Accepts ReserveNow and CancelReservation, recording the cancels."""

    cancels: list[dict]

    @on(Action.reserve_now)
    def on_reserve(self, **payload):
        return call_result.ReserveNow(status="Accepted")

    @on(Action.cancel_reservation)
    def on_cancel(self, **payload):
        self.cancels.append(payload)
        return call_result.CancelReservation(status="Accepted")


class Charging(LoopThread):
    """Boot, start a session two minutes ago on connector 1, send ``READINGS``; stay
    connected (answering the server) until ``finish``."""

    unblock = ("running",)

    def __init__(self, url: str):
        super().__init__()
        self.url = url
        self.running = threading.Event()
        self.finish = threading.Event()
        self.cancels: list[dict] = []
        self.transaction: int | None = None

    async def _main(self) -> None:
        import websockets

        async with websockets.connect(self.url, subprotocols=["ocpp1.6"]) as ws:
            cp = Station(CHARGER, ws)
            cp.cancels = self.cancels
            task = asyncio.create_task(cp.start())
            await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
            started = await cp.call(call.StartTransaction(
                connector_id=1, id_tag=TAG, meter_start=1000, timestamp=stamp(120),
            ))  # fmt: skip
            self.transaction = started.transaction_id
            for ago, kw, wh, l1, l2 in READINGS:
                await cp.call(call.MeterValues(
                    connector_id=1, transaction_id=self.transaction, meter_value=[{
                        "timestamp": stamp(ago), "sampledValue": [
                            {"value": kw, "measurand": "Power.Active.Import", "unit": "kW"},
                            {"value": wh, "measurand": "Energy.Active.Import.Register"},
                            {"value": l1, "measurand": "Current.Import", "unit": "A",
                             "phase": "L1"},
                            {"value": l2, "measurand": "Current.Import", "unit": "A",
                             "phase": "L2"},
                        ]}],
                ))  # fmt: skip
            self.running.set()
            await asyncio.to_thread(self.finish.wait, 60)
            task.cancel()


def log_in(browser, server: str, wait) -> None:
    browser.get(server + "/ocpp/admin/sessions/")
    wait.until(expected_conditions.url_contains("/ocpp/login"))
    browser.find_element(By.NAME, "username").send_keys("admin")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait.until(expected_conditions.presence_of_element_located((By.ID, "sessions")))


def chart(browser, key: str):
    """The drawn chart ``key``: (figure, {series name: polyline})."""
    figure = browser.find_element(By.CSS_SELECTOR, f'figure[data-chart="{key}"]')
    lines = figure.find_elements(By.CSS_SELECTOR, "polyline[data-series]")
    return figure, {line.get_attribute("data-series"): line for line in lines}


def fetch_text(browser, path: str) -> str:
    """GET ``path`` with the browser's login cookie; the body as text."""
    script = ("var done = arguments[1]; fetch(arguments[0], {credentials: 'same-origin'})"
              ".then(function (r) { return r.text(); }).then(done);")  # fmt: skip
    return browser.execute_async_script(script, path)


def test_session_chart_reservation_cancel_and_meter_csv(server, browser):
    wait = WebDriverWait(browser, 15)
    port = server.rsplit(":", 1)[1]
    api_send(server, "POST", "/ocpp/api/rfid/", {"id_tag": TAG})
    charger = Charging(f"ws://127.0.0.1:{port}/{CHARGER}")
    charger.start()
    try:
        assert charger.running.wait(20) and charger.error is None, charger.error
        tx = charger.transaction
        log_in(browser, server, wait)
        # The list reads the charger's last MeterValues, written within 2 s.
        power = f'tr[data-transaction="{tx}"] .power'
        wait.until(lambda d: d.refresh() or d.find_element(By.CSS_SELECTOR, power).text)
        assert browser.find_element(By.CSS_SELECTOR, power).text == "11.00"
        row = browser.find_element(By.CSS_SELECTOR, f'tr[data-transaction="{tx}"]')
        assert row.find_elements(By.TAG_NAME, "td")[7].text == "0.230 so far"
        browser.save_screenshot(str(ARTIFACTS / "sessions-1-list.png"))

        # The session page draws the readings: one line per phase, every point.
        row.find_element(By.CSS_SELECTOR, "a.session-link").click()
        wait.until(expected_conditions.presence_of_element_located(
            (By.CSS_SELECTOR, 'figure[data-chart="power"]')))  # fmt: skip
        assert browser.find_element(By.ID, "session-charts").get_attribute("data-charts") == "3"
        figure, lines = chart(browser, "power")
        assert figure.get_attribute("data-points") == "3" and list(lines) == ["total"]
        assert len(lines["total"].get_attribute("points").split()) == 3
        legend = figure.find_element(By.CSS_SELECTOR, "figcaption").text
        assert "Power (kW)" in legend and "11.0 kW" in legend
        figure, lines = chart(browser, "energy")
        assert lines["total"].get_attribute("data-points") == "3"
        assert "0.23 kWh" in figure.text
        figure, lines = chart(browser, "current")
        assert sorted(lines) == ["L1", "L2"] and figure.get_attribute("data-points") == "6"
        assert browser.find_element(By.ID, "tag-link").text == TAG
        assert browser.find_element(By.ID, "power").text == "11.0 kW"
        assert browser.find_element(By.ID, "stop").is_displayed()
        browser.save_screenshot(str(ARTIFACTS / "sessions-2-session-page.png"))
        browser.execute_script("arguments[0].scrollIntoView()", figure)
        browser.save_screenshot(str(ARTIFACTS / "sessions-2-session-charts.png"))

        # A reservation, cancelled from the view: the charger gets CancelReservation.
        expiry = (datetime.now(UTC) + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
        reserved = api_send(server, "POST", f"/ocpp/chargers/{CHARGER}/action/", {
            "action": "reserve_now", "connector_id": 2, "expiry_date": expiry, "id_tag": TAG,
        })  # fmt: skip
        assert reserved["status"] == "accepted", reserved
        rid = reserved["request"]["reservationId"]
        browser.find_element(By.LINK_TEXT, "Views").click()
        wait.until(expected_conditions.presence_of_element_located((By.ID, "views")))
        browser.save_screenshot(str(ARTIFACTS / "sessions-3-views.png"))
        browser.find_element(By.LINK_TEXT, "Reservations").click()
        row = wait.until(expected_conditions.presence_of_element_located(
            (By.CSS_SELECTOR, f'tr[data-reservation="{rid}"]')))  # fmt: skip
        assert "accepted" in row.text and TAG in row.text
        browser.save_screenshot(str(ARTIFACTS / "sessions-4-reservations.png"))
        row.find_element(By.CSS_SELECTOR, "form.cancel button").click()
        wait.until(expected_conditions.alert_is_present()).accept()
        flash = wait.until(expected_conditions.presence_of_element_located((By.ID, "flash")))
        assert flash.text == f"Cancel reservation {rid}: accepted. The charger accepted."
        assert charger.cancels == [{"reservation_id": rid}]
        row = browser.find_element(By.CSS_SELECTOR, f'tr[data-reservation="{rid}"]')
        assert "cancelled" in row.text and not row.find_elements(By.CSS_SELECTOR, "form")
        browser.save_screenshot(str(ARTIFACTS / "sessions-5-reservation-cancelled.png"))

        # The other views, each with its rows or its empty state.
        for name, table in (("Charging profiles", None), ("Commands", "commands"),
                            ("Security events", None)):  # fmt: skip
            browser.find_element(By.LINK_TEXT, name).click()
            wait.until(expected_conditions.presence_of_element_located((By.ID, "filters")))
            if table:
                rows = browser.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr")
                assert [r.find_elements(By.TAG_NAME, "td")[2].text for r in rows] == [
                    "CancelReservation", "ReserveNow"]  # fmt: skip
            else:
                assert browser.find_element(By.ID, "empty").text
            slug = name.lower().replace(" ", "-")
            browser.save_screenshot(str(ARTIFACTS / f"sessions-6-view-{slug}.png"))

        # Meter readings of the session: a chart of the filter and its CSV export.
        browser.get(f"{server}/ocpp/admin/meter-values/?transaction={tx}")
        figure = wait.until(expected_conditions.presence_of_element_located(
            (By.CSS_SELECTOR, 'figure[data-chart="power"]')))  # fmt: skip
        assert figure.get_attribute("data-points") == "3"
        browser.save_screenshot(str(ARTIFACTS / "sessions-7-meter-readings.png"))
        link = browser.find_element(By.ID, "csv").get_attribute("href")
        assert link == f"{server}/ocpp/admin/meter-values.csv?transaction={tx}"
        rows = list(csv.DictReader(io.StringIO(fetch_text(browser, link))))
        assert len(rows) == 12
        power = [r["value"] for r in rows if r["measurand"] == "Power.Active.Import"]
        assert power == ["11000.0", "7400.0", "3700.0"]  # newest first, in W
        assert {(r["charger"], r["transaction"]) for r in rows} == {(CHARGER, str(tx))}
        phases = sorted(r["phase"] for r in rows if r["measurand"] == "Current.Import")
        assert phases == ["L1", "L1", "L1", "L2", "L2", "L2"]
    finally:
        charger.finish.set()
        charger.join(20)
    assert charger.error is None, charger.error
