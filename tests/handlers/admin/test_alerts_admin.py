"""Admin alert pages: history with filters, acknowledgement, closing a stale session, the
rules form and the webhook form (which keeps what was typed), and the dashboard's list."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ocppj.timeutil import utcnow
from tests.handlers.admin.test_index import admin_browser, page_text

LIST = "/ocpp/admin/alerts/"
SETTINGS = "/ocpp/admin/alerts/settings/"


@pytest.mark.gen_test
async def test_history_filters_and_acknowledge(http_url, services, admin_user, db):
    now = utcnow()
    await services.alerts.raise_alert(
        "connector_faulted", "CP1", {"error_code": "GroundFailure"}, now
    )
    await services.alerts.raise_alert("clock_skew", "CP2", {"skew_seconds": 900}, now)
    await services.alerts.clear_alert("clock_skew", "CP2", now)
    browser = await admin_browser(http_url, admin_user)
    page = page_text(await browser.get(LIST))
    assert page.count('<tr data-alert="') == 2
    page = page_text(await browser.get(LIST + "?state=open"))
    assert page.count('<tr data-alert="') == 1 and 'data-rule="connector_faulted"' in page
    assert "GroundFailure" in page
    page = page_text(await browser.get(LIST + "?rule=clock_skew&charger=CP2"))
    assert page.count('<tr data-alert="') == 1 and 'class="alert-closed"' in page
    bad = await browser.get(LIST + "?state=sideways")
    assert bad.code == 400
    alert = await db.alerts.find_one({"rule": "connector_faulted"})
    response = await browser.post(f"{LIST}{alert['_id']}/ack", {"note": "crew on the way"})
    assert response.code == 302
    stored = await db.alerts.find_one({"_id": alert["_id"]})
    assert (stored["acknowledged"]["by"], stored["acknowledged"]["note"]) == (
        "admin", "crew on the way",
    )  # fmt: skip
    page = page_text(await browser.get(LIST))
    assert "admin: crew on the way" in page and 'id="flash">Alert acknowledged.</p>' in page


@pytest.mark.gen_test
async def test_stale_transaction_has_a_close_button(http_url, services, admin_user, db):
    begun = utcnow() - timedelta(hours=30)
    await db.transactions.insert_one({
        "_id": 7, "kind": "session", "charger": "CP1", "connector": 1, "id_tag": "T",
        "id_tag_key": "T", "start_ts": begun, "meter_start": 100, "open": True, "stop_ts": None,
        "anomalies": [], "created": begun,
    })  # fmt: skip
    await services.alerts.sweep()
    browser = await admin_browser(http_url, admin_user)
    page = page_text(await browser.get(LIST))
    assert 'action="/ocpp/admin/transactions/7/close"' in page
    assert (await browser.post("/ocpp/admin/transactions/7/close", {})).code == 302
    doc = await db.transactions.find_one({"_id": 7})
    assert (doc["open"], doc["closed_by"], doc["stop_reason"]) == (False, "closed_by_operator",
                                                                   "Other")  # fmt: skip


@pytest.mark.gen_test
async def test_rules_form_saves_and_refuses_bad_numbers(http_url, services, admin_user, db):
    browser = await admin_browser(http_url, admin_user)
    page = page_text(await browser.get(SETTINGS))
    assert 'name="charger_offline.minutes" value="10"' in page
    form = {
        f"{rule['rule']}.{name}": str(value)
        for rule in services.alerts.rule_views()
        for name, value in rule.items()
        if name not in ("rule", "title", "enabled")
    }
    form.update({"form": "rules", "charger_offline.enabled": "1", "charger_offline.minutes": "3"})
    assert (await browser.post(SETTINGS, form)).code == 302
    assert services.alerts.rules["charger_offline"]["minutes"] == 3
    assert services.alerts.rules["clock_skew"]["enabled"] is False  # its box was not ticked
    assert (await db.alert_rules.find_one({"_id": "clock_skew"}))["enabled"] is False
    bad = await browser.post(SETTINGS, {**form, "no_energy.minutes": "soon"})
    assert bad.code == 400 and "no_energy.minutes: must be a number" in page_text(bad)


@pytest.mark.gen_test
async def test_webhook_form_keeps_what_was_typed(http_url, services, admin_user, db):
    browser = await admin_browser(http_url, admin_user)
    typed = {"form": "webhook", "url": "ftp://ops.example/hook", "secret": "", "name": "pager"}
    bad = await browser.post(SETTINGS, typed)
    page = page_text(bad)
    assert bad.code == 400 and "webhook.url: must be an http:// or https:// URL" in page
    assert 'value="ftp://ops.example/hook"' in page and 'value="pager"' in page
    good = {**typed, "url": "https://ops.example/hook", "secret": "abc"}
    assert (await browser.post(SETTINGS, good)).code == 302
    [channel] = await db.alert_channels.find().to_list()
    assert (channel["url"], channel["secret"], channel["name"]) == ("https://ops.example/hook",
                                                                    "abc", "pager")  # fmt: skip
    page = page_text(await browser.get(SETTINGS))
    assert "https://ops.example/hook" in page and "abc" not in page.split('id="channels"')[1]


@pytest.mark.gen_test
async def test_dashboard_lists_open_alerts(http_url, services, admin_user):
    await services.alerts.raise_alert("connector_faulted", "CP1", {"error_code": "GroundFailure"},
                                      utcnow())  # fmt: skip
    browser = await admin_browser(http_url, admin_user)
    page = page_text(await browser.get("/ocpp/"))
    section = page.split('id="open-alerts"')[1].split("</section>")[0]
    assert "Connector faulted" in section and "<code>CP1</code>" in section
    assert "GroundFailure" in section
