"""The ``--pages`` phase of ``scripts/bench.py``: the operator's pages at fleet size.

A fresh server; ``--pages-chargers`` charger documents in its database (the load
generator's ``BENCH#####`` chargers and seeded ``SEED#####`` ones, with vendors,
models, serials and positions), of which ``--chargers`` connect through the load
generator at ``--rate`` CALL/s. While that load runs, one logged-in operator asks for:

* the dashboard (``GET /ocpp/``): time to the whole HTML and its size (the first,
  cold request apart: it loads the fleet overview);
* the charger list (a later dashboard page) and a search (``?q=<vendor>``);
* the fleet map's markers (``/ocpp/map/markers.json``);
* the live stream of the dashboard for ``--pages-stream`` seconds: bytes per second.

The pages are timed while the chargers send ``--pages-rate`` CALL/s; the stream is then
measured in a second load at ``--rate`` CALL/s (the embedded database falls behind
above ~600 CALL/s of the charging mix, see the README, and every page waits for it).

Times are medians (and maxima) of ``--pages-repeat`` requests, in ms.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import http.cookiejar
import json
import statistics
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from models.chargers import new_charger, search_terms  # noqa: E402
from models.db import connect  # noqa: E402
from models.embedded import EmbeddedDatabase  # noqa: E402
from models.users import UserRepo  # noqa: E402
from ocppj.timeutil import utcnow  # noqa: E402

USER = ("bench", "bench pages password")
VENDORS = ("Acme", "Voltix", "Ampera", "Kilowatt", "Ionic")
SEARCH = "voltix"
TARGETS = {"dashboard_ms": 300, "dashboard_kb": 200, "list_ms": 200, "search_ms": 200,
           "stream_kb_per_s": 50}  # fmt: skip


async def _seed(uri: str, total: int, connected: int) -> None:
    """Charger documents up to ``total`` (the first ``connected`` ids are the load
    generator's) and the bench user."""
    client, db = await connect(uri)
    try:
        await UserRepo(db).create(*USER)
        now, docs = utcnow(), []
        for n in range(total):
            cid = f"BENCH{n:05d}" if n < connected else f"SEED{n:05d}"
            doc = new_charger(cid, now)
            doc["boot"] = {"vendor": VENDORS[n % len(VENDORS)], "model": f"M{n % 7}",
                           "serial": f"SN-{n:06d}"}  # fmt: skip
            doc["search"] = search_terms(doc)
            doc["latitude"] = 25.5 + (n % 100) / 200
            doc["longitude"] = -100.5 + (n // 100) / 200
            status = "Faulted" if n % 97 == 0 else "Available"
            doc["connectors"] = {"1": {"status": status, "error_code": "NoError", "ts": now}}
            doc["statuses"] = [status]
            docs.append(doc)
        for n in range(0, len(docs), 500):
            await db.chargers.insert_many(docs[n : n + 500])
    finally:
        await client.close()


class Browser:
    """One logged-in operator (cookies kept), timing whole responses."""

    def __init__(self, base: str):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def login(self) -> None:
        """Get the login form's XSRF cookie, post the credentials."""
        self.opener.open(self.base + "/ocpp/login", timeout=30).read()
        xsrf = next(c.value for c in self.jar if c.name == "_xsrf")
        body = urllib.parse.urlencode(
            {"username": USER[0], "password": USER[1], "_xsrf": xsrf, "next": "/ocpp/"}
        ).encode()
        self.opener.open(self.base + "/ocpp/login", body, timeout=30).read()

    def get(self, path: str) -> tuple[float, int]:
        """(ms to the whole body, body bytes) of one GET."""
        began = time.perf_counter()
        with self.opener.open(self.base + path, timeout=120) as response:
            body = response.read()
        return (time.perf_counter() - began) * 1000, len(body)

    def cookie_header(self) -> str:
        """The cookies as one Cookie header."""
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)


def _timed(browser: Browser, path: str, repeat: int) -> dict[str, Any]:
    browser.get(path)  # warm: the first request of a path loads what it needs
    runs = [browser.get(path) for _ in range(repeat)]
    times = [ms for ms, _ in runs]
    return {"median_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1),
            "bytes": runs[-1][1]}  # fmt: skip


def stream_rate(host: str, port: int, cookie: str, seconds: float) -> dict[str, Any]:
    """Bytes per second of the dashboard's live stream, after its snapshot."""
    conn = http.client.HTTPConnection(host, port, timeout=seconds + 30)
    conn.request("GET", "/ocpp/live/events", headers={"Cookie": cookie,
                                                     "Accept": "text/event-stream"})  # fmt: skip
    response = conn.getresponse()
    total, events, stop = 0, 0, threading.Event()
    first = response.fp.readline()  # "retry: 3000"
    while response.fp.readline().strip():  # the blank line after it
        pass
    snapshot = len(response.fp.readline())  # the snapshot's data line
    timer = threading.Timer(seconds, stop.set)
    timer.start()
    began = time.monotonic()
    try:
        while not stop.is_set():
            line = response.fp.readline()
            if not line:
                break
            total += len(line)
            events += line.startswith(b"data: ")
    finally:
        timer.cancel()
        conn.close()
    took = max(time.monotonic() - began, 1e-9)
    return {"bytes_per_s": round(total / took), "events_per_s": round(events / took, 1),
            "snapshot_bytes": snapshot + len(first)}  # fmt: skip


def seed(data_dir: Path, args: Any) -> None:
    """The chargers and the bench user in the embedded database of ``data_dir``, before
    the server starts on it (it then loads its fleet overview with them)."""
    database = EmbeddedDatabase(data_dir)
    uri = database.start()
    try:
        asyncio.run(_seed(uri, max(args.pages_chargers, args.chargers), args.chargers))
    finally:
        database.stop()


def wait_connected(base: str, connected: int, timeout: float) -> float:
    """Seconds until ``connected`` chargers are online (the API's count), at most
    ``timeout``."""
    token = base64.b64encode(f"{USER[0]}:{USER[1]}".encode()).decode()
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        request = urllib.request.Request(base + "/ocpp/chargers/?status=online&per_page=1")
        request.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                if json.loads(response.read())["total"] >= connected:
                    break
        except OSError:
            pass
        time.sleep(0.5)
    return round(time.monotonic() - began, 1)


def _stage(figures: dict[str, Any], name: str, measure) -> None:
    """One figure; a failure (a timeout under load) is reported, not fatal."""
    try:
        figures[name] = measure()
    except OSError as exc:
        figures[name] = {"error": str(exc) or type(exc).__name__}


def measure(port: int, args: Any, start_load) -> dict[str, Any]:
    """Two loads of the ``--chargers`` connected chargers (``start_load(rate)`` returns a
    handle with ``wait()``): at ``--pages-rate`` CALL/s the pages are timed, at
    ``--rate`` the live stream is measured; the figures and whether they meet the
    targets."""
    host, base = "127.0.0.1", f"http://127.0.0.1:{port}"
    browser = Browser(base)
    browser.login()
    figures: dict[str, Any] = {}
    load = start_load(args.pages_rate)
    figures["ramp_s"] = wait_connected(base, args.chargers, 300)
    _stage(figures, "dashboard_cold_ms", lambda: round(browser.get("/ocpp/")[0], 1))
    for name, path in (("dashboard", "/ocpp/"), ("list", "/ocpp/?page=50"),
                       ("search", f"/ocpp/?q={SEARCH}")):  # fmt: skip
        _stage(figures, name, lambda path=path: _timed(browser, path, args.pages_repeat))
    repeat = max(1, args.pages_repeat // 2)
    _stage(figures, "markers", lambda: _timed(browser, "/ocpp/map/markers.json", repeat))
    figures["pages_load"] = _summary(load)
    load = start_load(args.rate)
    figures["stream_ramp_s"] = wait_connected(base, args.chargers, 300)
    time.sleep(args.warmup)
    cookie = browser.cookie_header()
    _stage(figures, "stream", lambda: stream_rate(host, port, cookie, args.pages_stream))
    print(json.dumps(figures), file=sys.stderr, flush=True)  # kept if the load then fails
    figures["stream_load"] = _summary(load)
    figures["chargers_in_db"] = max(args.pages_chargers, args.chargers)
    figures["connected"] = args.chargers

    def below(name: str, key: str, limit: float, scale: float = 1.0) -> bool:
        value = figures.get(name, {}).get(key)
        return value is not None and value / scale < limit

    figures["passed"] = {
        "dashboard_ms": below("dashboard", "median_ms", TARGETS["dashboard_ms"]),
        "dashboard_kb": below("dashboard", "bytes", TARGETS["dashboard_kb"], 1000),
        "list_ms": below("list", "median_ms", TARGETS["list_ms"]),
        "search_ms": below("search", "median_ms", TARGETS["search_ms"]),
        "stream_kb_per_s": below("stream", "bytes_per_s", TARGETS["stream_kb_per_s"], 1000),
    }
    return figures


def _summary(load: Any) -> dict[str, Any]:
    """The load's rate and errors; its failure (e.g. chargers that could not connect on
    a busy machine) is reported beside the page figures, which are kept."""
    try:
        result = load.wait()
    except Exception as exc:  # BenchError of the runner
        return {"error": str(exc)}
    return {key: result.get(key) for key in ("offered_rate", "calls_per_s", "errors")}
