"""Fixtures for the benchmark package scripts/bench/."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request

import pytest

from tests.scripts.bench.helpers import SCRIPTS, free_port


@pytest.fixture
def bench_path(monkeypatch):
    """scripts/ on sys.path: the package scripts/bench/ imports as ``bench.<module>``, as
    scripts/bench.py imports it."""
    monkeypatch.syspath_prepend(str(SCRIPTS))


@pytest.fixture
def ceiling_port():
    """scripts/bench/ceiling.py on a free port, stopped by its pid."""
    port = free_port()
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy
    server = subprocess.Popen(
        [sys.executable, str(SCRIPTS / "bench" / "ceiling.py"), "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with opener.open(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "the ceiling server did not start"
                time.sleep(0.1)
        yield port
    finally:
        server.terminate()
        server.wait(10)
