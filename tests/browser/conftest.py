"""Fixtures of the browser tests: a server per test module and one headless Chromium."""

from __future__ import annotations

import os

import pytest

from tests.browser.support import (
    ARTIFACTS,
    CHROMEDRIVER,
    CHROMIUM,
    browser_available,
    running_server,
)


def pytest_collection_modifyitems(config, items):
    """Without Chromium the browser tests skip, unless CSMS_REQUIRE_BROWSER is set."""
    if browser_available():
        return
    if os.environ.get("CSMS_REQUIRE_BROWSER"):
        raise RuntimeError("Chromium and chromedriver are required (CSMS_REQUIRE_BROWSER is set)")
    skip = pytest.mark.skip(reason="Chromium/chromedriver not installed")
    for item in items:
        if "tests/browser/" in item.nodeid:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """server.py on a free loopback port with its own embedded database."""
    with running_server(tmp_path_factory.mktemp("browser-data")) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium through chromedriver (no downloads, no background networking)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-quic",
                "--window-size=1280,900"):  # fmt: skip
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()
