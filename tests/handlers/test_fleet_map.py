"""The fleet map page and its compact markers (handlers/fleet_map.py), and the dashboard's
overview counts."""

from __future__ import annotations

import json

import pytest

from tests.csms.test_fleet import seed
from tests.handlers.test_pages import cookie_of, get


@pytest.mark.gen_test
async def test_map_and_markers_require_login(http_url):
    for path in ("/ocpp/map/", "/ocpp/map/markers.json"):
        response = await get(http_url, path)
        assert response.code == 302
        assert response.headers["Location"].startswith("/ocpp/login?next=")


@pytest.mark.gen_test
async def test_markers_are_the_located_chargers(http_url, admin_user, db):
    await seed(db)
    cookie = await cookie_of(http_url, admin_user)
    response = await get(http_url, "/ocpp/map/markers.json", cookie)
    assert response.code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert json.loads(response.body) == {
        "fields": ["id", "lat", "lng", "state", "kw", "name"],
        "markers": [
            ["A-AVAIL", 25.1, -100.1, "available", 0.0, ""],
            ["C-FAULT", 25.2, -100.2, "faulted", 0.0, ""],
        ],
    }
    page = (await get(http_url, "/ocpp/map/", cookie)).body.decode()
    assert '<p class="muted" id="map-count">2 of 5 chargers located</p>' in page
    assert 'data-markers-url="/ocpp/map/markers.json"' in page
    assert 'data-tile-url="https://tile.openstreetmap.org/{z}/{x}/{y}.png"' in page
    assert '<script src="/vendor/leaflet/leaflet.js"></script>' in page
    assert 'id="no-located"' not in page
    assert '<a href="/ocpp/map/">Map</a>' in page


@pytest.mark.gen_test
async def test_without_located_chargers_the_map_says_how_to_set_them(http_url, admin_user):
    cookie = await cookie_of(http_url, admin_user)
    page = (await get(http_url, "/ocpp/map/", cookie)).body.decode()
    assert "0 of 0 chargers located" in page
    assert 'id="no-located"' in page and "latitude and longitude" in page


@pytest.mark.gen_test
async def test_dashboard_overview_counts_link_to_their_filters(http_url, admin_user, db):
    await seed(db)
    cookie = await cookie_of(http_url, admin_user)
    page = (await get(http_url, "/ocpp/", cookie)).body.decode()
    for key, count in (("online", 4), ("offline", 1), ("charging", 1), ("faulted", 1),
                       ("unavailable", 1)):  # fmt: skip
        assert (f'<a class="tile tile-{key}" href="/ocpp/?status={key}"><span class="n" '
                f'data-count="{key}">{count}</span>') in page  # fmt: skip
    assert '<span class="n" data-count="power_w">0.0</span>' in page
    assert '<span class="n" data-count="energy_today_wh">0.00</span>' in page
    order = [page.index(f'data-charger="{cid}"') for cid in ("C-FAULT", "D-OFF", "B-CHARGE")]
    assert order == sorted(order)
    faulted = (await get(http_url, "/ocpp/?status=faulted", cookie)).body.decode()
    assert 'data-charger="C-FAULT"' in faulted and 'data-charger="B-CHARGE"' not in faulted
    assert '<a class="tile tile-faulted is-chosen"' in faulted


@pytest.mark.gen_test
async def test_an_empty_dashboard_says_how_to_connect_a_charger(http_url, admin_user):
    cookie = await cookie_of(http_url, admin_user)
    page = (await get(http_url, "/ocpp/", cookie)).body.decode()
    assert "No charger is known yet." in page
    assert "/ocpp/&lt;charger id&gt;</code>" in page
