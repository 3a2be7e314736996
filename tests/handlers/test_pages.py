"""Dashboard, public landing pages, QR images: rendered against the embedded database."""

from __future__ import annotations

import asyncio
import html
import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from tornado.httpclient import AsyncHTTPClient

from handlers import qrcodes
from models.chargers import new_charger
from models.meter_values import measurements
from tests.charge_points import raw_charger
from tests.handlers.test_auth import login

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
EVIL = "<script>alert(1)</script>"
EVIL_PATH = "%3Cscript%3Ealert%281%29%3C%2Fscript%3E"
EVIL_TEXT = "&lt;script&gt;alert(1)&lt;/script&gt;"


async def get(http_url, path, cookie=None, **kwargs):
    """GET without following redirects or raising."""
    headers = {"Cookie": cookie} if cookie else {}
    return await AsyncHTTPClient().fetch(
        http_url(path), headers=headers, follow_redirects=False, raise_error=False, **kwargs
    )


async def cookie_of(http_url, admin_user):
    """The login cookie header of the admin user."""
    _, cookie = await login(http_url, *admin_user)
    return cookie


def session(tx_id, connector, start_min, energy_wh=None, open_=False, **extra):
    """A transaction document as the domain stores it."""
    start = NOW + timedelta(minutes=start_min)
    return {
        "_id": tx_id, "kind": "session", "charger": "CP1", "connector": connector,
        "id_tag": "TAG", "id_tag_key": "TAG", "id_tag_info": {"status": "Accepted"},
        "start_ts": start, "meter_start": 1000, "open": open_,
        "stop_ts": None if open_ else start + timedelta(minutes=30),
        "meter_stop": None if open_ else 1000 + (energy_wh or 0),
        "stop_reason": None if open_ else "Local", "energy_wh": energy_wh, "anomalies": [], **extra,
    }  # fmt: skip


def meter(tx_id, measurand, value, seconds, phase=None):
    """A meter_values document."""
    return {
        "ts": NOW + timedelta(seconds=seconds), "value": value,
        "meta": {"charger": "CP1", "connector": 1, "transaction": tx_id, "measurand": measurand,
                 "phase": phase, "unit": "W" if measurand.startswith("Power") else "Wh",
                 "context": "Sample.Periodic", "location": "Outlet"},
    }  # fmt: skip


def as_datetimes(value):
    """JSON with every RFC 3339 timestamp string parsed back to a datetime."""
    if isinstance(value, list):
        return [as_datetimes(item) for item in value]
    if isinstance(value, dict):
        return {key: as_datetimes(item) for key, item in value.items()}
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT[0-9:.]+(Z|[+-]\d\d:\d\d)", value):
        return datetime.fromisoformat(value)
    return value


# ---- dashboard ---------------------------------------------------------------------------


@pytest.mark.gen_test
async def test_dashboard_requires_login(http_url):
    response = await get(http_url, "/ocpp/")
    assert response.code == 302
    assert response.headers["Location"] == "/ocpp/login?next=%2Focpp%2F"


@pytest.mark.gen_test(timeout=20)
async def test_dashboard_shows_a_connected_charger_and_its_connectors(
    http_url, ws_url, admin_user, services
):
    cookie = await cookie_of(http_url, admin_user)
    async with raw_charger(ws_url("/ocpp/CP-DASH")) as cp:
        await cp.boot()
        status = {"connectorId": 1, "errorCode": "NoError", "status": "Charging"}
        assert await cp.call("s1", "StatusNotification", status) == [3, "s1", {}]
        fault = {"connectorId": 2, "errorCode": "GroundFailure", "status": "Faulted"}
        assert await cp.call("s2", "StatusNotification", fault) == [3, "s2", {}]
        response = await get(http_url, "/ocpp/", cookie)
    assert response.code == 200
    page = response.body.decode()
    assert (
        '<article class="card charger state-faulted" data-charger="CP-DASH" '
        'data-attention="faulted">'
    ) in page
    assert '<span class="conn online">connected</span>' in page
    assert '<span class="model">V M</span>' in page
    assert re.search(
        r'<li class="connector" data-connector="1" data-status="Charging">\s*'
        r'<span class="connector-label">Connector 1'
        r'</span>\s*<span class="status status-Charging">Charging</span>',
        page,
    )
    assert re.search(
        r'data-connector="2" data-status="Faulted">\s*<span class="connector-label">Connector 2'
        r'</span>\s*<span class="status status-Faulted">Faulted</span>\s*'
        r'<span class="last-status muted" hidden>last reported: Faulted</span>\s*'
        r'<span class="error-code">GroundFailure</span>',
        page,
    )
    assert '<a class="log-link" href="/ocpp/log/CP-DASH/">Log</a>' in page
    assert "/static/js/dashboard.js?v=" in page and "/static/js/charts.js?v=" in page

    # Once the charger has gone, the dashboard says so: its statuses are kept, but stale.
    for _ in range(100):
        page = (await get(http_url, "/ocpp/", cookie)).body.decode()
        if '<span class="conn offline">offline</span>' in page:
            break
        await asyncio.sleep(0.02)
    assert '<span class="conn offline">offline</span>' in page
    assert (
        '<article class="card charger is-offline state-offline" data-charger="CP-DASH" '
        'data-attention="offline">'
    ) in page
    assert re.search(
        r'<li class="connector is-stale" data-connector="1" data-status="Charging">\s*'
        r'<span class="connector-label">Connector 1</span>\s*'
        r'<span class="status status-Offline">Offline</span>\s*'
        r'<span class="last-status muted">last reported: Charging</span>',
        page,
    )
    assert "status-Charging" not in page
    assert re.search(r'<p class="muted offline-since">Offline since <span class="since">'
                     r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ" data-local>'
                     r'\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC</time></span></p>', page)  # fmt: skip


@pytest.mark.gen_test(timeout=20)
async def test_dashboard_shows_active_sessions_with_power_and_energy(
    http_url, ws_url, admin_user, services, db
):
    cookie = await cookie_of(http_url, admin_user)
    await services.chargers.create("CP1", {}, NOW)
    await db.transactions.insert_one(session(7, 1, 0, open_=True))
    async with raw_charger(ws_url("/CP1/")) as cp:
        await cp.boot()
        await check_session_with_power(http_url, cookie, db)
    for _ in range(100):  # offline: no frozen power figure, but since when it is offline
        page = (await get(http_url, "/ocpp/", cookie)).body.decode()
        if "is-offline" in page:
            break
        await asyncio.sleep(0.02)
    assert re.search(
        r'<div class="session" data-transaction="7">\s*<p class="session-line">Session #7 · '
        r'<span class="energy">1.50 kWh</span> · <span class="power">charger offline since '
        r'<time datetime="[^"]+" data-local>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC</time></span></p>',
        page,
    )
    assert "7.2 kW" not in page


async def check_session_with_power(http_url, cookie, db) -> None:
    """The connected charger's session on the dashboard: power, energy and their series."""
    await db.meter_values.insert_many(
        measurements(
            [
                meter(7, "Power.Active.Import", 7000.0, 60),
                meter(7, "Power.Active.Import", 7200.0, 120),
                meter(7, "Power.Active.Import", 2400.0, 120, phase="L1"),  # not the whole meter
                meter(7, "Energy.Active.Import.Register", 1900.0, 60),
                meter(7, "Energy.Active.Import.Register", 2500.0, 120),
            ]
        )
    )
    response = await get(http_url, "/ocpp/", cookie)
    page = response.body.decode()
    assert re.search(
        r'<div class="session" data-transaction="7">\s*<p class="session-line">Session #7 · '
        r'<span class="energy">1.50 kWh</span> · <span class="power">7.2 kW</span></p>',
        page,
    )
    state = json.loads(html.unescape(re.search(r'data-state="([^"]*)"', page).group(1)))
    [charger] = state["chargers"]  # the sessions only: the cards are in the HTML
    assert set(charger) == {"id", "sessions"}
    # The latest readings only: the live stream's snapshot brings the chart series.
    assert as_datetimes(charger["sessions"]) == [
        {
            "transaction": 7, "connector": 1, "id_tag": "TAG", "start_ts": NOW,
            "meter_start": 1000, "power_w": 7200.0, "energy_wh": 1500.0,
            "power": [[NOW + timedelta(minutes=2), 7200.0]],
            "energy": [[NOW + timedelta(minutes=2), 1500.0]],
            "cost": "",
        }
    ]  # fmt: skip


@pytest.mark.gen_test(timeout=20)
async def test_dashboard_shows_an_html_charger_id_as_text(http_url, admin_user, services):
    cookie = await cookie_of(http_url, admin_user)
    await services.chargers.create(EVIL, {"name": '"><img src=x onerror=alert(2)>'}, NOW)
    await services.chargers.update(
        EVIL, {"connectors": {"1": {"status": "Available", "error_code": "NoError", "ts": NOW}}}
    )
    page = (await get(http_url, "/ocpp/", cookie)).body.decode()
    assert "<script>alert" not in page and "<img src=x" not in page
    assert f'data-charger="{EVIL_TEXT}"' in page
    assert f'<code class="charger-id">{EVIL_TEXT}</code>' in page
    assert f'href="/ocpp/c/{EVIL_PATH}/">&quot;&gt;&lt;img src=x onerror=alert(2)&gt;</a>' in page
    assert f'href="/ocpp/log/{EVIL_PATH}/"' in page
    # The embedded state is an escaped attribute that decodes to the exact id.
    state = html.unescape(re.search(r'data-state="([^"]*)"', page).group(1))
    assert '"id":"<script>alert(1)</script>"' in state


# ---- landing page ------------------------------------------------------------------------


@pytest.mark.gen_test(timeout=20)
async def test_landing_page_is_public_with_energy_total_and_sessions(http_url, services, db):
    await services.chargers.create("CP1", {"name": "Garage charger"}, NOW)
    await services.chargers.update(
        "CP1",
        {"connectors": {"1": {"status": "Charging", "error_code": "NoError", "ts": NOW},
                        "2": {"status": "Available", "error_code": "NoError", "ts": NOW}}},
    )  # fmt: skip
    await db.transactions.insert_many(
        [
            session(1, 1, 0, energy_wh=1234),
            session(2, 2, 60, energy_wh=5000.5),
            session(3, 1, 120, open_=True),
            {**session(4, None, 0, energy_wh=None), "kind": "orphan_stop", "start_ts": None},
            {**session(5, 1, 0, energy_wh=999), "charger": "OTHER"},
        ]
    )
    response = await get(http_url, "/ocpp/c/CP1/")
    assert response.code == 200
    page = response.body.decode()
    assert '<h1 class="charger-name">Garage charger</h1>' in page
    assert '<span class="conn offline">offline</span>' in page
    # Offline: the last statuses are shown as such, never as "Charging" now.
    assert re.search(r'data-connector="1">\s*<span class="connector-label">Connector 1</span>\s*'
                     r'<span class="status status-Offline">Offline</span> '
                     r'<span class="last-status muted">last reported: Charging</span>',
                     page)  # fmt: skip
    assert "status-Charging" not in page
    assert '<strong id="energy-total">6.23 kWh</strong>' in page
    assert '<td><time datetime="2025-03-01T14:00:00Z" data-local>2025-03-01 14:00:00 UTC' in page
    rows = [  # dates as rendered (format.js shows them in the reader's time zone)
        re.sub(
            r'<time datetime="[^"]+" data-local>(.*?)</time>', r"\1", re.sub(r"\s+", " ", row)
        ).strip()
        for row in re.findall(r'<tr class="session-row">(.*?)</tr>', page, re.S)
    ]
    # Numbered by row, never by transaction id (ids are predictable: issue 21).
    assert rows == [
        '<td class="row">1</td> <td>1</td> <td>2025-03-01 14:00:00 UTC</td> '
        '<td>open (charger offline)</td> <td class="energy">0.00 so far</td> '
        '<td class="cost"></td>',
        '<td class="row">2</td> <td>2</td> <td>2025-03-01 13:00:00 UTC</td> '
        '<td>2025-03-01 13:30:00 UTC</td> <td class="energy">5.00</td> <td class="cost"></td>',
        '<td class="row">3</td> <td>1</td> <td>2025-03-01 12:00:00 UTC</td> '
        '<td>2025-03-01 12:30:00 UTC</td> <td class="energy">1.23</td> <td class="cost"></td>',
        '<td class="row">4</td> <td></td> <td></td> <td>2025-03-01 12:30:00 UTC</td> '
        '<td class="energy"></td> <td class="cost"></td>',
    ]
    assert "data-transaction" not in page and "#3" not in page
    assert "TAG" not in page  # drivers' tags are not public
    assert (
        '<img src="/ocpp/c/CP1/qr.svg" alt="QR code linking to the landing page of Garage charger"'
        ' width="180" height="180">' in page
    )
    assert f'<a href="{http_url("/ocpp/c/CP1/")}">' in page


@pytest.mark.gen_test
async def test_landing_page_of_an_unknown_charger_is_404(http_url):
    response = await get(http_url, "/ocpp/c/nobody/")
    assert response.code == 404
    assert "404 Not Found" in response.body.decode()
    assert (await get(http_url, "/ocpp/c/nobody/qr.svg")).code == 404


@pytest.mark.gen_test(timeout=20)
async def test_landing_page_shows_an_html_charger_id_as_text(http_url, services):
    await services.chargers.create(EVIL, {}, NOW)
    response = await get(http_url, f"/ocpp/c/{EVIL_PATH}/")
    assert response.code == 200
    page = response.body.decode()
    assert "<script>alert" not in page
    assert f'<h1 class="charger-name">{EVIL_TEXT}</h1>' in page
    assert f"<title>{EVIL_TEXT} · Charger</title>" in page
    assert (
        f'<img src="/ocpp/c/{EVIL_PATH}/qr.svg" alt="QR code linking to the landing page of '
        f'{EVIL_TEXT}"' in page
    )
    assert (await get(http_url, f"/ocpp/c/{EVIL_PATH}/qr.svg")).code == 200


@pytest.mark.gen_test(timeout=20)
async def test_landing_page_paginates_sessions(http_url, services, db):
    await services.chargers.create("CP1", {}, NOW)
    await db.transactions.insert_many([session(700 + i, 1, i, energy_wh=100) for i in range(1, 56)])
    first = (await get(http_url, "/ocpp/c/CP1/")).body.decode()
    assert len(re.findall(r'<tr class="session-row">', first)) == 50
    assert '<strong id="energy-total">5.50 kWh</strong>' in first
    assert '<a rel="next" href="?page=2">' in first and 'rel="prev"' not in first
    second = (await get(http_url, "/ocpp/c/CP1/?page=2")).body.decode()
    rows = re.findall(r'<tr class="session-row">\s*<td class="row">(\d+)</td>', second)
    assert rows == ["51", "52", "53", "54", "55"]  # row numbers go on across pages
    assert not re.search(r">\s*#?7\d\d\s*<", second)  # no transaction id (701-755)
    assert '<a rel="prev" href="?page=1">' in second and 'rel="next"' not in second
    assert (await get(http_url, "/ocpp/c/CP1/?page=3")).code == 404
    assert (await get(http_url, "/ocpp/c/CP1/?page=0")).code == 400


# ---- QR image ----------------------------------------------------------------------------


@pytest.mark.gen_test(timeout=20)
async def test_qr_image_is_public_svg_of_the_landing_url(http_url, services):
    await services.chargers.create("CP 1", {}, NOW)
    response = await get(http_url, "/ocpp/c/CP%201/qr.svg")
    assert response.code == 200
    assert response.headers["Content-Type"] == "image/svg+xml; charset=utf-8"
    assert ET.fromstring(response.body).tag == "{http://www.w3.org/2000/svg}svg"
    url = http_url("/ocpp/c/CP%201/")
    # Made on the first request and stored, so it is drawn once.
    assert response.body.decode() == qrcodes.qr_svg(url)
    assert (await services.chargers.get("CP 1"))["qr"] == {"url": url, "svg": qrcodes.qr_svg(url)}

    # A stored code of the current URL is served as stored.
    await services.chargers.update("CP 1", {"qr": {"url": url, "svg": "<svg>stored</svg>"}})
    assert (await get(http_url, "/ocpp/c/CP%201/qr.svg")).body == b"<svg>stored</svg>"
    assert (await qrcodes.ensure_qr(services, "CP 1", http_url("")))["svg"] == "<svg>stored</svg>"

    # A stored code of an old public URL is replaced.
    await services.chargers.update("CP 1", {"qr": {"url": "http://old/", "svg": "<svg/>"}})
    assert (await get(http_url, "/ocpp/c/CP%201/qr.svg")).body.decode() == qrcodes.qr_svg(url)
    assert (await services.chargers.get("CP 1"))["qr"]["url"] == url


@pytest.mark.gen_test(timeout=60)
async def test_dashboard_pages_and_filters_chargers(http_url, admin_user, services, db):
    cookie = await cookie_of(http_url, admin_user)
    await db.chargers.insert_many(
        [{**new_charger(f"SIM{n:03d}", NOW), "search": [f"sim{n:03d}"]} for n in range(1, 66)]
    )
    first = (await get(http_url, "/ocpp/", cookie)).body.decode()
    assert re.findall(r'data-charger="(SIM\d+)"', first) == [f"SIM{n:03d}" for n in range(1, 61)]
    assert '<span class="muted" id="total">65 chargers · page 1 of 2</span>' in first
    assert '<a rel="next" href="/ocpp/?page=2">Next &rarr;</a>' in first
    second = (await get(http_url, "/ocpp/?page=2", cookie)).body.decode()
    assert re.findall(r'data-charger="(SIM\d+)"', second) == [f"SIM{n:03d}" for n in range(61, 66)]
    assert 'data-events="/ocpp/live/events?page=2"' in second
    found = (await get(http_url, "/ocpp/?q=sim06", cookie)).body.decode()
    assert re.findall(r'data-charger="(SIM\d+)"', found) == [f"SIM{n:03d}" for n in range(60, 66)]
    assert 'value="sim06"' in found and "6 chargers" in found
    assert 'data-events="/ocpp/live/events?q=sim06"' in found
    none = (await get(http_url, "/ocpp/?status=Charging", cookie)).body.decode()
    assert "No charger matches." in none and '<option value="Charging" selected>' in none
