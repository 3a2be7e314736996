"""The operator's journey in headless Chromium against the real server (server.py).

Logs in, watches a charger connected by an independent ``ocpp`` charge point turn
"Charging" without a reload, drags the map marker and saves the coordinates, and
opens the landing page. Fixtures: ``conftest.py``; the server: ``support.py``.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
import websockets
from ocpp.v16 import ChargePoint, call
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.support import ARTIFACTS, PASSWORD, LoopThread, api_get

CHARGER = "BROWSER-1"


class ChargerThread(LoopThread):
    """An ``ocpp`` charge point on its own event loop; steps are released by events."""

    unblock = ("available", "charging")

    def __init__(self, url: str):
        super().__init__()
        self.url = url
        self.available = threading.Event()
        self.go_charging = threading.Event()
        self.charging = threading.Event()
        self.finish = threading.Event()

    async def _wait(self, event: threading.Event) -> None:
        await asyncio.to_thread(event.wait, 30)

    async def _main(self) -> None:
        async with websockets.connect(self.url, subprotocols=["ocpp1.6"]) as ws:
            cp = ChargePoint(CHARGER, ws)
            task = asyncio.create_task(cp.start())
            await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
            await cp.call(
                call.StatusNotification(connector_id=1, error_code="NoError", status="Available")
            )
            self.available.set()
            await self._wait(self.go_charging)
            await cp.call(
                call.StatusNotification(connector_id=1, error_code="NoError", status="Charging")
            )
            self.charging.set()
            await self._wait(self.finish)
            task.cancel()


def test_operator_journey(server, browser):
    wait = WebDriverWait(browser, 15)
    port = server.rsplit(":", 1)[1]
    charger = ChargerThread(f"ws://127.0.0.1:{port}/site/{CHARGER}/")
    charger.start()
    try:
        # Log in.
        browser.get(server + "/ocpp/")
        wait.until(expected_conditions.url_contains("/ocpp/login"))
        browser.find_element(By.NAME, "username").send_keys("admin")
        browser.find_element(By.NAME, "password").send_keys(PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        wait.until(lambda d: d.current_url.rstrip("/").endswith("/ocpp"))
        assert charger.available.wait(15) and charger.error is None, charger.error

        # The dashboard shows the charger; it turns Charging without a reload.
        browser.get(server + "/ocpp/")
        status = f'[data-charger="{CHARGER}"] [data-connector="1"] .status'
        wait.until(expected_conditions.text_to_be_present_in_element(
            (By.CSS_SELECTOR, status), "Available"))  # fmt: skip
        browser.execute_script("window.__sameDocument = true;")
        browser.save_screenshot(str(ARTIFACTS / "1-dashboard-available.png"))
        charger.go_charging.set()
        assert charger.charging.wait(15) and charger.error is None, charger.error
        wait.until(expected_conditions.text_to_be_present_in_element(
            (By.CSS_SELECTOR, status), "Charging"))  # fmt: skip
        assert browser.execute_script("return window.__sameDocument === true;")
        browser.save_screenshot(str(ARTIFACTS / "2-dashboard-charging.png"))

        # Drag the map marker and save the coordinates.
        browser.get(f"{server}/ocpp/admin/chargers/{CHARGER}/")
        marker = wait.until(expected_conditions.presence_of_element_located(
            (By.CSS_SELECTOR, "#map .leaflet-marker-icon")))  # fmt: skip
        browser.execute_script(
            "arguments[0].scrollIntoView({block: 'center'});", browser.find_element(By.ID, "map")
        )
        latitude = browser.find_element(By.NAME, "latitude")
        longitude = browser.find_element(By.NAME, "longitude")
        before = (latitude.get_attribute("value"), longitude.get_attribute("value"))
        ActionChains(browser).drag_and_drop_by_offset(marker, 80, 60).perform()
        wait.until(lambda d: (latitude.get_attribute("value"),
                              longitude.get_attribute("value")) != before)  # fmt: skip
        chosen = (float(latitude.get_attribute("value")), float(longitude.get_attribute("value")))
        assert chosen[0] < 25.6866 and chosen[1] > -100.3161  # dragged south-east of Monterrey
        browser.save_screenshot(str(ARTIFACTS / "3-map-dragged.png"))
        browser.find_element(By.ID, "save").click()
        wait.until(lambda d: api_get(server, f"/ocpp/chargers/{CHARGER}/").get("latitude"))
        stored = api_get(server, f"/ocpp/chargers/{CHARGER}/")
        assert (stored["latitude"], stored["longitude"]) == pytest.approx(chosen, abs=1e-6)

        # The public landing page, with its QR code.
        browser.get(f"{server}/ocpp/c/{CHARGER}/")
        assert CHARGER in browser.find_element(By.TAG_NAME, "h1").text
        assert browser.find_elements(By.CSS_SELECTOR, ".qr img, .qr svg")
        browser.save_screenshot(str(ARTIFACTS / "4-landing.png"))
        # Every page worked under the Content-Security-Policy: nothing was refused.
        refused = [entry["message"] for entry in browser.get_log("browser")
                   if "Content Security Policy" in entry["message"]]  # fmt: skip
        assert refused == []
    finally:
        charger.finish.set()
        charger.join(10)
