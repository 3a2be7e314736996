"""Alerts in headless Chromium against the real server: a charger (the independent
``ocpp`` library) reports a Faulted connector, the dashboard shows the open alert, the
history page lists it and the operator acknowledges it with a note."""

from __future__ import annotations

import asyncio

import websockets
from ocpp.v16 import ChargePoint, call
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.support import ARTIFACTS, PASSWORD, api_get

CHARGER = "ALERT-1"


async def faulted_charger(url: str) -> None:
    """Boot, report connector 1 Faulted (GroundFailure), leave."""
    async with websockets.connect(url, subprotocols=["ocpp1.6"]) as ws:
        cp = ChargePoint(CHARGER, ws)
        task = asyncio.create_task(cp.start())
        await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        await cp.call(call.StatusNotification(
            connector_id=1, error_code="GroundFailure", status="Faulted", info="RCD tripped",
        ))  # fmt: skip
        task.cancel()


def test_open_alert_on_the_dashboard_and_in_the_history(server, browser):
    wait = WebDriverWait(browser, 15)
    port = server.rsplit(":", 1)[1]
    asyncio.run(faulted_charger(f"ws://127.0.0.1:{port}/{CHARGER}"))
    [alert] = api_get(server, "/ocpp/api/alerts/?open=true")["items"]
    assert (alert["rule"], alert["charger"]) == ("connector_faulted", CHARGER)

    browser.get(server + "/ocpp/")
    wait.until(expected_conditions.url_contains("/ocpp/login"))
    browser.find_element(By.NAME, "username").send_keys("admin")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    section = wait.until(expected_conditions.presence_of_element_located((By.ID, "open-alerts")))
    assert "Connector faulted" in section.text and CHARGER in section.text
    assert "GroundFailure" in section.text
    browser.save_screenshot(str(ARTIFACTS / "alerts-1-dashboard.png"))

    browser.find_element(By.LINK_TEXT, "Alerts").click()
    table = wait.until(expected_conditions.presence_of_element_located((By.ID, "alerts")))
    row = table.find_element(By.CSS_SELECTOR, f'tr[data-alert="{alert["id"]}"]')
    assert "open" in row.text and CHARGER in row.text
    row.find_element(By.NAME, "note").send_keys("electrician booked")
    row.find_element(By.CSS_SELECTOR, "form.ack button").click()
    flash = wait.until(expected_conditions.presence_of_element_located((By.ID, "flash")))
    assert flash.text == "Alert acknowledged."
    row = browser.find_element(By.CSS_SELECTOR, f'tr[data-alert="{alert["id"]}"]')
    assert "admin: electrician booked" in row.text
    browser.save_screenshot(str(ARTIFACTS / "alerts-2-history.png"))
    [acked] = api_get(server, "/ocpp/api/alerts/?open=true")["items"]
    assert acked["acknowledged"]["note"] == "electrician booked"
