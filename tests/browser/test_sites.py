"""Load management in headless Chromium against the real server (server.py): a site of
20 simulated chargers (the simulator library) on one 100 A limit, its page with the
live chart and every charger's share; screenshots in tests/artifacts/sites-*.png."""

from __future__ import annotations

import asyncio
import threading

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from simulator import ChargePointSimulator, SimulatorConfig
from tests.browser.support import (
    ARTIFACTS,
    PASSWORD,
    LoopThread,
    api_get,
    api_send,
    running_server,
)

CHARGERS = [f"SITE-{n:02d}" for n in range(1, 21)]
LIMIT_A = 100


@pytest.fixture(scope="module")
def site_server(tmp_path_factory):
    """The server with a short hold, so measured draw is given back within seconds."""
    with running_server(tmp_path_factory.mktemp("sites-data"), "--load-hold-seconds", "5") as url:
        yield url


class Fleet(LoopThread):
    """20 simulated charge points on their own event loop until ``done`` is set."""

    unblock = ("ready",)

    def __init__(self, port: int):
        super().__init__()
        self.port = port
        self.done = threading.Event()
        self.ready = threading.Event()

    async def _main(self) -> None:
        sims = [
            ChargePointSimulator(
                SimulatorConfig(
                    host="127.0.0.1",
                    ws_port=self.port,
                    cp_path=f"{cid}/",
                    interval=2.0,
                    duration=900,
                    kwh_min=0.8,
                    kwh_max=5.0,
                    phases=3,
                    seed=n,
                    repeat=False,
                )
            )
            for n, cid in enumerate(CHARGERS)
        ]
        for sim in sims:
            sim.start()
            await asyncio.sleep(0.05)  # arrival order: SITE-01 first
        self.ready.set()
        await asyncio.to_thread(self.done.wait, 120)
        await asyncio.gather(*(sim.stop(5) for sim in sims))


def test_a_site_of_20_chargers_shares_its_limit_live(site_server, browser):
    server = site_server
    # The page redraws its figures live and reloads after a save: an element found just
    # before that is stale, and is looked up again.
    wait = WebDriverWait(browser, 30, ignored_exceptions=(StaleElementReferenceException,))
    garage = {"id": "GARAGE", "name": "Garage", "limit_a": LIMIT_A, "phases": 3, "voltage": 230}
    site = api_send(server, "POST", "/ocpp/api/sites/", garage)
    assert site["capacity_a"] == LIMIT_A
    fleet = Fleet(int(server.rsplit(":", 1)[1]))
    fleet.start()
    try:
        assert fleet.ready.wait(30) and fleet.error is None, fleet.error
        wait.until(lambda _: len(api_get(server, "/ocpp/chargers/?per_page=50")["items"]) == 20)
        for cid in CHARGERS:
            assert api_send(server, "PATCH", f"/ocpp/chargers/{cid}/", {"site": "GARAGE"})[
                "site"] == "GARAGE"  # fmt: skip

        def settled(_):
            detail = api_get(server, "/ocpp/api/sites/GARAGE/")
            return len(detail["shares"]) == 20 and detail["measured_a"] is not None and detail

        detail = wait.until(settled)
        limits = [share["limit_a"] for share in detail["shares"]]
        assert sum(limits) <= LIMIT_A and all(v == 0 or v >= 6 for v in limits)
        # 100 A fits 16 at the minimum of 6 A: the newest four sessions wait. Arrival is
        # the session's start time (the charger's clock), then its id: under load the ids
        # (given as StartTransactions arrive) need not follow the start times.
        sessions = api_get(server, "/ocpp/api/transactions/?per_page=50")["items"]
        arrival = {tx["id"]: (tx["start"], tx["id"]) for tx in sessions}
        by_arrival = sorted(detail["shares"], key=lambda share: arrival[share["transaction"]])
        assert [share["limit_a"] > 0 for share in by_arrival] == [True] * 16 + [False] * 4

        # Log in and open the site page: figures, chart and shares come live.
        browser.get(server + "/ocpp/admin/sites/GARAGE/")
        wait.until(expected_conditions.url_contains("/ocpp/login"))
        browser.find_element(By.NAME, "username").send_keys("admin")
        browser.find_element(By.NAME, "password").send_keys(PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        wait.until(lambda d: "/ocpp/admin/sites/GARAGE/" in d.current_url)
        wait.until(expected_conditions.presence_of_element_located(
            (By.CSS_SELECTOR, "#site-chart svg path.series.allocated")))  # fmt: skip
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#shares-body tr")) == 20)
        wait.until(lambda d: int(d.find_element(By.ID, "site-chart").get_attribute(
            "data-points") or 0) >= 3)  # fmt: skip
        allocated = float(browser.find_element(By.ID, "allocated").text)
        assert 0 < allocated <= LIMIT_A
        assert browser.find_element(By.ID, "limit").text == "100.0"
        assert browser.find_elements(By.CSS_SELECTOR, "#site-chart path.series.measured")

        def measured(d):
            text = d.find_element(By.ID, "measured").text
            return text.replace(".", "", 1).isdigit() and float(text)

        # The cars started before the site was theirs; once the profiles are in, the
        # simulated cars draw what they are given, or less.
        WebDriverWait(browser, 60, ignored_exceptions=(StaleElementReferenceException,)).until(
            lambda d: 0 < (measured(d) or 0) <= LIMIT_A
        )
        browser.save_screenshot(str(ARTIFACTS / "sites-1-site-page.png"))
        # Lower the limit on the page: every share follows, the chart with it.
        field = browser.find_element(By.CSS_SELECTOR, "#site-form input[name=limit_a]")
        field.clear()
        field.send_keys("48")
        browser.find_element(By.CSS_SELECTOR, "#site-form button[type=submit]").click()
        wait.until(lambda d: d.find_element(By.ID, "limit").text == "48.0")

        def lowered(_):
            shares = api_get(server, "/ocpp/api/sites/GARAGE/")["shares"]
            total = sum(s["limit_a"] for s in shares)
            return total <= 48 and len([s for s in shares if s["limit_a"] > 0]) == 8

        wait.until(lowered)
        wait.until(lambda d: float(d.find_element(By.ID, "allocated").text) <= 48)
        browser.execute_script("window.scrollTo(0, 0);")
        browser.save_screenshot(str(ARTIFACTS / "sites-2-limit-lowered.png"))
        logs = [
            entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"
        ]
        logs = [message for message in logs if "favicon.ico" not in message]
        assert logs == []
    finally:
        fleet.done.set()
        fleet.join(30)
