"""The price and the costs on the public landing page and the dashboard (rendered
against the embedded database; the browser test is tests/browser/test_tariffs.py)."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from csms.tariffs import check_terms
from handlers import pages
from models.meter_values import measurements
from ocppj.measurands import ENERGY_REGISTER
from tests.handlers.test_pages import cookie_of, get, meter, session

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
TERMS = check_terms({"currency": "EUR", "energy_per_kwh": "0.35", "session_fee": "1.00",
                     "tax_percent": "19", "periods": [
                         {"days": [0, 1, 2, 3, 4], "from": "07:00", "to": "20:00",
                          "energy_per_kwh": "0.45"}]})  # fmt: skip
BILLED = {"id": "T1", "version": 1, "terms": TERMS, "source": "charger", "timezone": "UTC"}


def rows(page):
    return [re.sub(r"\s+", " ", row).strip()
            for row in re.findall(r'<tr class="session-row">(.*?)</tr>', page, re.S)]  # fmt: skip


@pytest.mark.gen_test(timeout=20)
async def test_landing_page_price_in_words_and_costs(http_url, services, db, monkeypatch):
    # The page's clock is pinned: the rate in words and the cost so far depend on it.
    clock = [datetime(2026, 12, 2, 10, 0, tzinfo=UTC)]  # a Wednesday, 11:00 in Berlin
    monkeypatch.setattr(pages, "utcnow", lambda: clock[0])
    await services.tariffs.store("T1", TERMS, NOW, 0)
    await db.chargers.insert_one({"_id": "CP1", "name": "Garage", "tariff": "T1",
                                  "timezone": "Europe/Berlin"})  # fmt: skip
    closed = session(1, 1, 0, 2000, cost={"currency": "EUR", "total": "1.70"})
    running = session(2, 2, 0, open_=True, tariff=BILLED)
    running["start_ts"] = clock[0] - timedelta(hours=1)
    await db.transactions.insert_many([closed, running])
    # No readings yet: nothing delivered, the session fee so far.
    page = (await get(http_url, "/ocpp/c/CP1/")).body.decode()
    words = re.search(r'<strong id="price-words">(.*?)</strong>', page).group(1)
    assert words == "0.45 EUR/kWh + 1.00 EUR per session, VAT included"
    assert "<li>Mon-Fri 07:00-20:00: 0.45 EUR/kWh</li>" in page
    # The fee and VAT hold in every period: said once, after the rates of each time.
    assert "<li>Other times: 0.35 EUR/kWh</li>" in page
    assert "<li>At all times: 1.00 EUR per session, VAT included</li>" in page
    assert "<li>Times are Europe/Berlin time.</li>" in page
    assert rows(page)[1].endswith('<td class="cost">1.70 EUR</td>')
    running_cost = '<td class="cost"><span class="running-cost">1.00 EUR so far</span></td>'
    assert rows(page)[0].endswith(f'<td class="energy">0.00 so far</td> {running_cost}')
    # A reading: the energy and the cost so far follow it (4 kWh x 0.45 + 1.00 fee).
    await db.meter_values.insert_many(measurements([meter(2, ENERGY_REGISTER, 5000.0, 60)]))
    page = (await get(http_url, "/ocpp/c/CP1/")).body.decode()
    assert '<td class="energy">4.00 so far</td>' in rows(page)[0]
    assert '<span class="running-cost">2.80 EUR so far</span>' in rows(page)[0]
    # 19:30 UTC is 20:30 in Berlin: the charger's price now is the evening one, while
    # the running session is billed in the zone it started under (UTC, still 07-20).
    clock[0] = datetime(2026, 12, 2, 19, 30, tzinfo=UTC)
    page = (await get(http_url, "/ocpp/c/CP1/")).body.decode()
    words = re.search(r'<strong id="price-words">(.*?)</strong>', page).group(1)
    assert words == "0.35 EUR/kWh + 1.00 EUR per session, VAT included"
    assert '<span class="running-cost">2.80 EUR so far</span>' in rows(page)[0]


@pytest.mark.gen_test(timeout=20)
async def test_a_charger_without_tariff_shows_no_price(http_url, db):
    await db.chargers.insert_one({"_id": "CP1", "name": "Garage"})
    page = (await get(http_url, "/ocpp/c/CP1/")).body.decode()
    assert 'id="price-words"' not in page


@pytest.mark.gen_test(timeout=20)
async def test_dashboard_shows_the_running_cost(http_url, admin_user, services, db):
    cookie = await cookie_of(http_url, admin_user)
    await services.chargers.create("CP1", {"name": "Garage"}, NOW)
    flat = check_terms({"currency": "EUR", "energy_per_kwh": "0.40"})
    await db.transactions.insert_one(session(7, 1, 0, open_=True, tariff={**BILLED, "terms": flat}))
    await db.meter_values.insert_many(measurements([meter(7, ENERGY_REGISTER, 8500.0, 60)]))
    page = (await get(http_url, "/ocpp/", cookie)).body.decode()
    # 7.5 kWh x 0.40 = 3.00
    assert '<span class="cost">3.00 EUR so far · </span>' in page
    state = json.loads(html.unescape(re.search(r'data-state="([^"]*)"', page).group(1)))
    assert state["chargers"][0]["sessions"][0]["cost"] == "3.00 EUR"
