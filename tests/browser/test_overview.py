"""The fleet at a glance in headless Chromium against the real server: chargers (the
independent ``ocpp`` library) boot; the dashboard's overview counts change live when one
reports Faulted; a search finds a charger by its vendor; the fleet map shows one marker
per located charger; the dashboard and the landing page fit a phone (375 px)."""

from __future__ import annotations

import asyncio
import threading

import websockets
from ocpp.v16 import ChargePoint, call
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.support import ARTIFACTS, PASSWORD, LoopThread, api_send

CHARGERS = {"OV-ACME-1": "Acme", "OV-ACME-2": "Acme", "OV-VOLTIX-1": "Voltix"}
FAULTY = "OV-ACME-2"
POSITIONS = {"OV-ACME-1": (25.68, -100.31), "OV-VOLTIX-1": (25.70, -100.35)}


class Fleet(LoopThread):
    """Three chargers that boot and report Available; ``fault`` makes one report Faulted;
    they stay connected until ``leave``."""

    unblock = ("ready",)

    def __init__(self, port: str):
        super().__init__()
        self.port = port
        self.ready = threading.Event()
        self.fault = threading.Event()
        self.faulted = threading.Event()
        self.leave = threading.Event()

    async def _main(self) -> None:
        sockets, points, tasks = [], {}, []
        try:
            for cid, vendor in CHARGERS.items():
                ws = await websockets.connect(
                    f"ws://127.0.0.1:{self.port}/{cid}", subprotocols=["ocpp1.6"]
                )
                sockets.append(ws)
                cp = points[cid] = ChargePoint(cid, ws)
                tasks.append(asyncio.create_task(cp.start()))
                await cp.call(call.BootNotification(charge_point_model="Wallbox",
                                                    charge_point_vendor=vendor))  # fmt: skip
                await cp.call(call.StatusNotification(connector_id=1, error_code="NoError",
                                                      status="Available"))  # fmt: skip
            self.ready.set()
            if not await asyncio.to_thread(self.fault.wait, 60):
                raise TimeoutError("the test never asked for the fault")
            await points[FAULTY].call(call.StatusNotification(
                connector_id=1, error_code="GroundFailure", status="Faulted"))  # fmt: skip
            self.faulted.set()
            await asyncio.to_thread(self.leave.wait, 120)
        finally:
            for task in tasks:
                task.cancel()
            for ws in sockets:
                await ws.close()


def count(browser, key: str) -> str:
    """The text of one overview count on the dashboard."""
    return browser.find_element(By.CSS_SELECTOR, f'[data-count="{key}"]').text


def no_horizontal_scroll(browser) -> bool:
    """The page is no wider than the window."""
    return browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth"
    )


def test_overview_counts_live_search_map_and_phone_width(server, browser):
    wait = WebDriverWait(browser, 20)
    fleet = Fleet(server.rsplit(":", 1)[1])
    fleet.start()
    try:
        assert fleet.ready.wait(20) and fleet.error is None, fleet.error
        for cid, (lat, lng) in POSITIONS.items():
            api_send(server, "PATCH", f"/ocpp/chargers/{cid}/", {"latitude": lat, "longitude": lng})

        browser.get(server + "/ocpp/")
        wait.until(expected_conditions.url_contains("/ocpp/login"))
        browser.find_element(By.NAME, "username").send_keys("admin")
        browser.find_element(By.NAME, "password").send_keys(PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        wait.until(expected_conditions.presence_of_element_located((By.ID, "overview")))
        wait.until(lambda b: b.find_element(By.ID, "live-state").get_attribute("data-live")
                   == "open")  # fmt: skip
        assert (count(browser, "online"), count(browser, "faulted")) == ("3", "0")
        browser.save_screenshot(str(ARTIFACTS / "overview-1-dashboard.png"))

        # A charger faults: the counts change without a reload, and its card says so.
        fleet.fault.set()
        assert fleet.faulted.wait(20), fleet.error
        wait.until(lambda b: count(b, "faulted") == "1")
        assert count(browser, "online") == "3"
        card = browser.find_element(By.CSS_SELECTOR, f'article[data-charger="{FAULTY}"]')
        wait.until(lambda b: "Faulted" in card.find_element(By.CSS_SELECTOR, ".status").text)
        assert "GroundFailure" in card.text
        browser.save_screenshot(str(ARTIFACTS / "overview-2-dashboard-faulted.png"))
        # The next load puts it first: what needs attention comes first.
        browser.get(server + "/ocpp/")
        first = browser.find_element(By.CSS_SELECTOR, "article[data-charger]")
        assert first.get_attribute("data-charger") == FAULTY

        # Search by vendor.
        box = browser.find_element(By.NAME, "q")
        box.send_keys("voltix")
        box.submit()
        wait.until(expected_conditions.url_contains("q=voltix"))
        shown = [
            a.get_attribute("data-charger")
            for a in browser.find_elements(By.CSS_SELECTOR, "article[data-charger]")
        ]
        assert shown == ["OV-VOLTIX-1"]  # fmt: skip
        assert browser.find_element(By.ID, "total").text.startswith("1 charger")

        # The fleet map: one marker per located charger.
        browser.find_element(By.LINK_TEXT, "Map").click()
        element = wait.until(expected_conditions.presence_of_element_located((By.ID, "fleet-map")))
        wait.until(lambda b: element.get_attribute("data-markers") == str(len(POSITIONS)))
        ids = browser.execute_async_script(
            "var done = arguments[arguments.length - 1];"
            "fetch('/ocpp/map/markers.json').then(function (r) { return r.json(); })"
            ".then(function (b) { done(b.markers.map(function (m) { return m[0]; })); });"
        )
        assert sorted(ids) == sorted(POSITIONS)  # the markers drawn are the located ones
        drawn = browser.execute_script(
            "return document.querySelectorAll('#fleet-map canvas').length"
        )
        assert drawn >= 1  # the circle markers are drawn on one canvas
        assert "2 of 3 chargers located" in browser.find_element(By.ID, "map-count").text
        browser.save_screenshot(str(ARTIFACTS / "overview-3-map.png"))

        # A phone: the landing page and the dashboard fit 375 px without sideways scroll.
        browser.set_window_size(375, 812)
        try:
            browser.get(server + f"/ocpp/c/{FAULTY}/")
            wait.until(expected_conditions.presence_of_element_located((By.CLASS_NAME, "landing")))
            assert no_horizontal_scroll(browser)
            browser.save_screenshot(str(ARTIFACTS / "overview-4-landing-phone.png"))
            browser.get(server + "/ocpp/")
            wait.until(expected_conditions.presence_of_element_located((By.ID, "overview")))
            assert no_horizontal_scroll(browser)
            browser.save_screenshot(str(ARTIFACTS / "overview-5-dashboard-phone.png"))
            browser.get(server + "/ocpp/map/")
            wait.until(expected_conditions.presence_of_element_located((By.ID, "fleet-map")))
            assert no_horizontal_scroll(browser)
            browser.save_screenshot(str(ARTIFACTS / "overview-6-map-phone.png"))
        finally:
            browser.set_window_size(1280, 900)
    finally:
        fleet.leave.set()
        fleet.join(20)
    assert fleet.error is None, fleet.error
