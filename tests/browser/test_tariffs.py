"""Tariffs in headless Chromium against the real server: the landing page tells a driver
the price in words and, while a session runs, what it costs so far; the operator's
dashboard shows the running cost; once stopped, the session's row shows its cost.

The charger is an independent ``ocpp`` charge point on its own thread.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta

from ocpp.v16 import ChargePoint, call
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.support import ARTIFACTS, PASSWORD, LoopThread, api_get, api_send

CHARGER = "TARIFF-1"
TARIFF = {"id": "T1", "currency": "EUR", "energy_per_kwh": "0.35", "idle_per_hour": "6.00",
          "idle_grace_minutes": 15, "session_fee": "1.00", "tax_percent": "19",
          "tax_included": True}  # fmt: skip


def stamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


class Session(LoopThread):
    """Boot, start a session 30 minutes ago, report 7.5 kWh, stop when told."""

    unblock = ("booted", "running", "stopped")

    def __init__(self, url: str):
        super().__init__()
        self.url = url
        self.booted = threading.Event()
        self.go = threading.Event()
        self.running = threading.Event()
        self.stop_now = threading.Event()
        self.stopped = threading.Event()

    async def _main(self) -> None:
        import websockets

        async with websockets.connect(self.url, subprotocols=["ocpp1.6"]) as ws:
            cp = ChargePoint(CHARGER, ws)
            task = asyncio.create_task(cp.start())
            await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
            self.booted.set()
            await asyncio.to_thread(self.go.wait, 30)
            begin = datetime.now(UTC) - timedelta(minutes=30)
            await cp.call(call.StatusNotification(connector_id=1, error_code="NoError",
                                                  status="Charging"))  # fmt: skip
            begin_tx = call.StartTransaction(connector_id=1, id_tag="DRIVER1", meter_start=1000,
                                             timestamp=stamp(begin))  # fmt: skip
            started = await cp.call(begin_tx)
            self.transaction = started.transaction_id
            reading = {"timestamp": stamp(begin + timedelta(minutes=20)),
                       "sampledValue": [{"value": "8.5", "unit": "kWh"}]}  # fmt: skip
            await cp.call(call.MeterValues(connector_id=1, transaction_id=self.transaction,
                                           meter_value=[reading]))  # fmt: skip
            self.running.set()
            await asyncio.to_thread(self.stop_now.wait, 30)
            await cp.call(call.StopTransaction(transaction_id=self.transaction, meter_stop=11000,
                                               timestamp=stamp(datetime.now(UTC))))  # fmt: skip
            self.stopped.set()
            task.cancel()


def test_landing_page_price_and_running_cost(server, browser):
    wait = WebDriverWait(browser, 15)
    port = server.rsplit(":", 1)[1]
    api_send(server, "POST", "/ocpp/api/tariffs/", TARIFF)
    charger = Session(f"ws://127.0.0.1:{port}/{CHARGER}")
    charger.start()
    try:
        assert charger.booted.wait(15) and charger.error is None, charger.error
        api_send(server, "PATCH", f"/ocpp/chargers/{CHARGER}/", {"tariff": "T1"})
        charger.go.set()
        assert charger.running.wait(15) and charger.error is None, charger.error

        # The driver's page: the price before plugging in, the cost so far.
        browser.get(f"{server}/ocpp/c/{CHARGER}/")
        words = browser.find_element(By.ID, "price-words").text
        assert words == ("0.35 EUR/kWh + 6.00 EUR per hour idle after 15 min + 1.00 EUR per "
                         "session, VAT included")  # fmt: skip
        # 7.5 kWh so far x 0.35 = 2.625 -> 2.63, + 1.00 session fee
        running = browser.find_element(By.CSS_SELECTOR, ".session-row .running-cost").text
        assert running == "3.63 EUR so far"
        browser.save_screenshot(str(ARTIFACTS / "tariffs-1-landing-running.png"))

        # The operator's dashboard shows the same running cost.
        browser.get(server + "/ocpp/")
        wait.until(expected_conditions.url_contains("/ocpp/login"))
        browser.find_element(By.NAME, "username").send_keys("admin")
        browser.find_element(By.NAME, "password").send_keys(PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        wait.until(lambda d: d.current_url.rstrip("/").endswith("/ocpp"))
        cost = f'[data-charger="{CHARGER}"] .session .cost'
        wait.until(expected_conditions.text_to_be_present_in_element(
            (By.CSS_SELECTOR, cost), "3.63 EUR so far"))  # fmt: skip
        browser.save_screenshot(str(ARTIFACTS / "tariffs-2-dashboard-running.png"))

        # Stopped: 10 kWh x 0.35 = 3.50 + 1.00 = 4.50, VAT 19 % inside: 0.72
        charger.stop_now.set()
        assert charger.stopped.wait(15) and charger.error is None, charger.error
        stored = api_get(server, f"/ocpp/api/transactions/{charger.transaction}/")
        assert (stored["cost"]["total"], stored["cost"]["tax"]) == ("4.50", "0.72")
        browser.get(f"{server}/ocpp/c/{CHARGER}/")
        assert browser.find_element(By.CSS_SELECTOR, ".session-row .cost").text == "4.50 EUR"
        assert not browser.find_elements(By.CSS_SELECTOR, ".running-cost")
        browser.save_screenshot(str(ARTIFACTS / "tariffs-3-landing-stopped.png"))
        refused = [entry["message"] for entry in browser.get_log("browser")
                   if "Content Security Policy" in entry["message"]]  # fmt: skip
        assert refused == []
    finally:
        charger.stop_now.set()
        charger.go.set()
        charger.join(10)
