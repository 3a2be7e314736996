"""Admin pages of sites: list and create (bad input keeps what was typed), the site
page with its chart and shares, a charger's site from the charger page and the site."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.handlers.admin.test_index import admin_browser, field_value, page_text

LIST = "/ocpp/admin/sites/"
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def site_form(**changes) -> dict:
    form = {"id": "S1", "name": "Garage <B>", "limit_a": "32", "limit_w": "", "phases": "3",
            "voltage": "230", "reserve_a": "2", "parent": "", "tariff": "",
            "timezone": "UTC"}  # fmt: skip
    form.update(changes)
    return form


@pytest.mark.gen_test(timeout=30)
async def test_create_a_site_and_see_it_listed(http_url, services, admin_user):
    browser = await admin_browser(http_url, admin_user)
    response = await browser.post(LIST, site_form())
    assert response.code == 302 and response.headers["Location"] == "/ocpp/admin/sites/S1/"
    stored = await services.sites.get("S1")
    assert {k: stored[k] for k in ("name", "limit_a", "limit_w", "phases", "voltage",
                                   "reserve_a", "parent", "tariff", "timezone")} == {
        "name": "Garage <B>", "limit_a": 32, "limit_w": None, "phases": 3, "voltage": 230,
        "reserve_a": 2, "parent": None, "tariff": None, "timezone": "UTC",
    }  # fmt: skip
    page = page_text(await browser.get(LIST))
    row = page.split('id="sites"')[1].split("</tr>")[1]
    assert '<a href="/ocpp/admin/sites/S1/"><code>S1</code></a>' in row
    assert "<td>Garage &lt;B&gt;</td>" in row and '<td class="num">30.0</td>' in row
    site = page_text(await browser.get("/ocpp/admin/sites/S1/"))
    assert 'id="site-chart" data-url="/ocpp/api/sites/S1/allocations/?limit=300"' in site
    assert '<span id="limit">30.0</span> A per phase' in site


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [({"id": ""}, "id", "is required: a string"),
     ({"limit_a": "lots"}, "limit_a", "must be a number"),
     ({"limit_a": "", "limit_w": ""}, "limit_a", "give limit_a (amps per phase) or limit_w"),
     ({"timezone": "Mars/Base"}, "timezone", "unknown time zone &#x27;Mars/Base&#x27;"),
     ({"parent": "S0"}, "parent", "no site &#x27;S0&#x27;")],
)  # fmt: skip
@pytest.mark.gen_test(timeout=30)
async def test_bad_input_keeps_what_was_typed(http_url, services, admin_user, changes, field,
                                              message):  # fmt: skip
    browser = await admin_browser(http_url, admin_user)
    response = await browser.post(LIST, site_form(**changes))
    assert response.code == 400
    page = page_text(response)
    assert f'id="{field}-error" role="alert">{field}: {message}' in page
    assert field_value(page, "name") == "Garage &lt;B&gt;"
    assert field_value(page, "limit_a") == site_form(**changes)["limit_a"]
    assert await services.sites.all() == []


@pytest.mark.gen_test(timeout=30)
async def test_a_charger_joins_a_site_and_the_pages_say_so(http_url, services, admin_user):
    browser = await admin_browser(http_url, admin_user)
    await browser.post(LIST, site_form())
    await services.chargers.create("CP1", {}, NOW)
    added = await browser.post("/ocpp/admin/sites/S1/add", {"charger": "CP1"})
    assert added.code == 302
    assert (await services.chargers.get("CP1"))["site"] == "S1"
    site = page_text(await browser.get("/ocpp/admin/sites/S1/"))
    assert (
        '<td><a href="/ocpp/admin/chargers/CP1/">CP1</a></td>'
        in site.split('id="site-chargers"')[1]
    )
    charger = page_text(await browser.get("/ocpp/admin/chargers/CP1/"))
    assert '<a id="charger-site" href="/ocpp/admin/sites/S1/">S1</a>' in charger
    # From the charger page: leave the site, with a rating of its own.
    left = await browser.post("/ocpp/admin/chargers/CP1/site", {"site": "", "max_current_a": "16"})
    assert left.code == 302 and left.headers["Location"] == "/ocpp/admin/chargers/CP1/"
    doc = await services.chargers.get("CP1")
    assert (doc["site"], doc["max_current_a"]) == (None, 16.0)
    unknown = await browser.post("/ocpp/admin/chargers/CP1/site", {"site": "S9"})
    assert unknown.code == 302
    assert (await services.chargers.get("CP1"))["site"] is None
    # A new limit from the site page.
    saved = await browser.post("/ocpp/admin/sites/S1/", {**site_form(), "limit_a": "16"})
    assert saved.code == 302
    assert (await services.sites.get("S1"))["limit_a"] == 16
    gone = await browser.post("/ocpp/admin/sites/S1/delete", {})
    assert gone.code == 302 and await services.sites.get("S1") is None
