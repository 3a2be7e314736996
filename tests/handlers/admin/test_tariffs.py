"""Admin tariffs: add, edit (a new version), delete; errors keep what was typed."""

from __future__ import annotations

import html

import pytest

from tests.handlers.admin.test_index import admin_browser, field_value, page_text

LIST = "/ocpp/admin/tariffs/"
PERIODS = '[{"days": [0,1,2,3,4], "from": "07:00", "to": "20:00", "energy_per_kwh": "0.45"}]'


def tariff_form(**changes) -> dict:
    form = {"id": "T1", "currency": "EUR", "energy_per_kwh": "0.35", "time_per_hour": "",
            "idle_per_hour": "6.00", "idle_grace_minutes": "15", "session_fee": "1.00",
            "min_total": "", "max_total": "", "tax_percent": "19", "tax_included": "on",
            "periods": PERIODS}  # fmt: skip
    form.update(changes)
    return form


@pytest.mark.gen_test
async def test_add_a_tariff_stores_exact_terms(http_url, services, admin_user):
    browser = await admin_browser(http_url, admin_user)
    response = await browser.post(LIST, tariff_form())
    assert (response.code, response.headers["Location"]) == (302, LIST)
    doc = await services.tariffs.current("T1")
    assert (doc["version"], doc["terms"]) == (1, {
        "currency": "EUR", "energy_per_kwh": "0.35", "time_per_hour": "0", "idle_per_hour": "6.00",
        "idle_grace_minutes": 15, "session_fee": "1.00", "min_total": None, "max_total": None,
        "tax_percent": "19", "tax_included": True,
        "periods": [{"days": [0, 1, 2, 3, 4], "from": "07:00", "to": "20:00",
                     "energy_per_kwh": "0.45"}]})  # fmt: skip
    page = page_text(await browser.get(LIST))
    assert 'id="flash">Tariff T1 added.</p>' in page
    assert ('<td class="price">0.35 EUR/kWh + 6.00 EUR per hour idle after 15 min + 1.00 EUR '
            "per session, VAT included</td>") in page  # fmt: skip
    assert (
        "<div>Mon-Fri 07:00-20:00: 0.45 EUR/kWh + 6.00 EUR per hour idle after 15 min</div>" in page
    )
    # The same id again is refused, and the form keeps what was typed.
    response = await browser.post(LIST, tariff_form(energy_per_kwh="0.50"))
    page = page_text(response)
    assert response.code == 400 and "id: this tariff exists already" in page
    assert field_value(page, "energy_per_kwh") == "0.50"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [({"energy_per_kwh": "-1"}, "energy_per_kwh", "must not be negative"),
     ({"currency": "XXX"}, "currency", "must be an ISO 4217 code such as EUR"),
     ({"periods": "[{"}, "periods", "not valid JSON"),
     ({"periods": '[{"days": [1], "from": "08:00", "to": "07:00", "energy_per_kwh": "1"}]'},
      "periods", "periods[0].to: must be later than 'from' (split a night in two)"),
     ({"idle_grace_minutes": "ten"}, "idle_grace_minutes", "must be an integer"),
     ({"id": "a/b"}, "id", "1-48 letters")],
)  # fmt: skip
@pytest.mark.gen_test
async def test_bad_fields_are_named_and_kept(changes, field, message, http_url, services,
                                             admin_user):  # fmt: skip
    browser = await admin_browser(http_url, admin_user)
    response = await browser.post(LIST, tariff_form(**changes))
    page = page_text(response)
    assert response.code == 400
    shown = html.escape(message)
    assert f'<span class="field-error" id="{field}-error" role="alert">{field}: {shown}' in page
    if field != "periods":
        assert field_value(page, field) == changes[field]
    assert await services.tariffs.latest("T1") is None


@pytest.mark.gen_test
async def test_edit_stores_a_new_version_and_delete_waits_until_unused(
    http_url, services, admin_user, db
):
    browser = await admin_browser(http_url, admin_user)
    await browser.post(LIST, tariff_form())
    page = page_text(await browser.get(f"{LIST}T1/"))
    assert field_value(page, "energy_per_kwh") == "0.35"
    response = await browser.post(f"{LIST}T1/", tariff_form(energy_per_kwh="0.39", tax_included=""))
    assert (response.code, response.headers["Location"]) == (302, f"{LIST}T1/")
    doc = await services.tariffs.current("T1")
    assert (doc["version"], doc["terms"]["energy_per_kwh"], doc["terms"]["tax_included"]) == (
        2, "0.39", False)  # fmt: skip
    assert (await services.tariffs.version("T1", 1))["terms"]["energy_per_kwh"] == "0.35"
    await db.chargers.insert_one({"_id": "CP1", "tariff": "T1"})
    page = page_text(await browser.get(f"{LIST}T1/"))
    assert "Tariff T1 saved as version 2." in page
    assert '<p id="in-use">In use by chargers CP1; ' in page and "delete-tariff" not in page
    response = await browser.post(f"{LIST}T1/delete")
    assert await services.tariffs.current("T1") is not None
    await db.chargers.delete_one({"_id": "CP1"})
    response = await browser.post(f"{LIST}T1/delete")
    assert (response.code, response.headers["Location"]) == (302, LIST)
    assert await services.tariffs.current("T1") is None
    assert (await browser.get(f"{LIST}T1/")).code == 404


@pytest.mark.gen_test
async def test_editing_a_tag_in_the_admin_keeps_its_tariff(http_url, services, admin_user):
    browser = await admin_browser(http_url, admin_user)
    await browser.post(LIST, tariff_form(id="FLEET"))
    await services.rfid.upsert("CARD1", tariff="FLEET")
    fields = {"label": "Van", "status": "accepted", "expiry": "", "parent_id_tag": "",
              "max_active_transactions": "1"}  # fmt: skip
    assert (await browser.post("/ocpp/admin/rfid/CARD1/", fields)).code == 302
    tag = await services.rfid.get("CARD1")
    assert (tag["label"], tag["tariff"]) == ("Van", "FLEET")


@pytest.mark.gen_test
async def test_admin_sessions_show_the_cost_and_its_tariff(http_url, admin_user, db):
    from datetime import UTC, datetime

    browser = await admin_browser(http_url, admin_user)
    start = datetime(2026, 1, 1, 10, tzinfo=UTC)
    await db.transactions.insert_one(
        {"_id": 5, "kind": "session", "charger": "CP1", "connector": 1, "id_tag": "A",
         "start_ts": start, "stop_ts": start, "open": False, "energy_wh": 1000,
         "anomalies": [], "cost": {"currency": "EUR", "total": "1.35", "tariff": "T1",
                                   "version": 3}}
    )  # fmt: skip
    page = page_text(await browser.get("/ocpp/admin/sessions/"))
    assert '<td class="num cost">1.35 EUR <span class="muted">(T1 v3)</span></td>' in page


@pytest.mark.gen_test
async def test_a_chargers_tariff_and_time_zone_in_the_admin(http_url, services, admin_user):
    from datetime import UTC, datetime

    browser = await admin_browser(http_url, admin_user)
    await browser.post(LIST, tariff_form())
    await services.chargers.create("CP1", {}, datetime.now(UTC))
    path = "/ocpp/admin/chargers/CP1/"
    page = page_text(await browser.get(path))
    assert '<option value="T1" >T1</option>' in page
    form = {"name": "CP1", "config": "{}", "latitude": "", "longitude": "", "tariff": "T9",
            "timezone": "Mars/Base"}  # fmt: skip
    response = await browser.post(path, form)
    page = page_text(response)
    assert response.code == 400
    assert f'role="alert">tariff: {html.escape("no tariff " + repr("T9"))}</span>' in page
    assert "timezone: must be an IANA time zone such as Europe/Berlin" in page
    assert field_value(page, "timezone") == "Mars/Base"
    response = await browser.post(path, {**form, "tariff": "T1", "timezone": "Europe/Berlin"})
    assert response.code == 302
    charger = await services.chargers.get("CP1")
    assert (charger["tariff"], charger["timezone"]) == ("T1", "Europe/Berlin")
    page = page_text(await browser.get(path))
    assert '<option value="T1" selected>T1</option>' in page
    assert (await browser.post(path, {**form, "tariff": "", "timezone": ""})).code == 302
    charger = await services.chargers.get("CP1")
    assert (charger["tariff"], charger["timezone"]) == (None, None)
