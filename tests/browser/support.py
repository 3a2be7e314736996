"""What the browser tests share: the real server (server.py) started on a free loopback
port with its own embedded database, headless Chromium through chromedriver, and an API
GET with the admin's credentials. Fixtures are in ``conftest.py``; each test module gets
its own server (module scope). Screenshots go to tests/artifacts/ (ignored by git).
CI sets CSMS_REQUIRE_BROWSER=1 so a missing browser fails instead of skipping.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from models.embedded import free_port

ROOT = Path(__file__).resolve().parent.parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PASSWORD = "browser-test-pw"


def browser_available() -> bool:
    """Chromium and chromedriver are installed."""
    return all(shutil.which(path) or os.path.exists(path) for path in (CHROMIUM, CHROMEDRIVER))


@contextlib.contextmanager
def running_server(data: Path, *extra: str) -> Iterator[str]:
    """server.py with ``extra`` flags on a free port; yields its base URL, then stops it
    by its pid (SIGTERM)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "server.py"), "--port", str(port), "--data-dir", str(data),
         "--admin-password", PASSWORD, "--ping-interval", "0",
         "--tile-url", f"http://127.0.0.1:{port}/static/css/none/{{z}}/{{x}}/{{y}}.png",
         *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        for _ in range(10):
            line = process.stdout.readline()
            if not line or "CSMS listening" in line:
                break
        assert "CSMS listening" in line, process.stderr.read()
        yield f"http://127.0.0.1:{port}"
    finally:
        os.kill(process.pid, signal.SIGTERM)
        process.wait(20)


def api_get(server: str, path: str) -> dict:
    """GET a JSON API path with HTTP Basic credentials."""
    return api_send(server, "GET", path)


def api_send(server: str, method: str, path: str, body: dict | None = None) -> dict:
    """A JSON API request with the admin's Basic credentials; the JSON answer."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(server + path, data=data, method=method)
    token = base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


class LoopThread(threading.Thread):
    """Chargers on their own event loop beside the browser: ``_main`` runs there; if it
    fails, the error is kept for the test and the ``unblock`` events are set so that no
    test waits for a step that will never come."""

    unblock: tuple[str, ...] = ()

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by the test
            self.error = exc
            for name in self.unblock:
                getattr(self, name).set()

    async def _main(self) -> None:
        raise NotImplementedError


def log_in(browser, server: str, path: str) -> None:
    """Open ``path``; on the login page it leads to, log in as the admin and wait to be
    back on ``path``."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 15)
    browser.get(server + path)
    wait.until(expected_conditions.url_contains("/ocpp/login"))
    browser.find_element(By.NAME, "username").send_keys("admin")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait.until(lambda d: d.current_url.split("?")[0].endswith(path))
