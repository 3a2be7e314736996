"""Admin views of what we store: reservations (Cancel through the registry), charging
profiles, commands and security events; filters, pages, empty states."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from urllib.parse import unquote

import pytest
from ocpp.v16 import call

from models.commands import new_command
from ocppj.timeutil import utcnow
from tests.charge_points import ocpp_charge_point
from tests.handlers.admin.test_index import admin_browser, page_text
from tests.handlers.admin.test_session import Charger

T0 = datetime(2026, 2, 1, tzinfo=UTC)


async def add_reservation(db, rid: int, charger: str, status: str = "accepted", **extra):
    expiry = utcnow() + timedelta(hours=1)
    await db.reservations.insert_one({
        "_id": rid, "charger": charger, "connector": 1, "id_tag": "TAG1", "status": status,
        "expiry": expiry, "ts": T0 + timedelta(minutes=rid), **extra,
    })  # fmt: skip


def row_ids(page: str, attribute: str) -> list[str]:
    """The ``data-<attribute>`` values of the table rows, in order."""
    return re.findall(rf'<tr data-{attribute}="([^"]+)">', page)


def flash(page: str) -> str:
    return unescape(re.search(r'id="flash">([^<]*)<', page)[1])


@pytest.mark.gen_test(timeout=30)
async def test_reservations_filtered_and_cancel_reaching_the_charger(
    http_url, ws_url, admin_user, db
):
    await add_reservation(db, 1, "CP1")
    await add_reservation(db, 2, "CP1", "cancelled")
    await add_reservation(db, 3, "CP2", "used", transaction_id=77)
    browser = await admin_browser(http_url, admin_user)
    page = page_text(await browser.get("/ocpp/admin/reservations/"))
    assert row_ids(page, "reservation") == ["3", "2", "1"]
    assert '<a href="/ocpp/admin/sessions/77/">session 77</a>' in page
    assert page.count('class="inline cancel"') == 1  # only the accepted, unexpired one
    page = page_text(await browser.get("/ocpp/admin/reservations/", {"status": "cancelled"}))
    assert row_ids(page, "reservation") == ["2"]
    page = page_text(await browser.get("/ocpp/admin/reservations/", {"charger": "CP2"}))
    assert row_ids(page, "reservation") == ["3"]

    response = await browser.post("/ocpp/admin/reservations/1/cancel")
    assert response.code == 302
    assert unquote(response.headers["Location"]) == "/ocpp/admin/reservations/?charger=CP1"
    page = page_text(await browser.get(response.headers["Location"]))
    assert flash(page).startswith("Cancel reservation 1: not_connected.")
    assert (await db.reservations.find_one({"_id": 1}))["status"] == "accepted"

    async with ocpp_charge_point(ws_url("/CP1/"), "CP1", Charger) as cp:
        await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        response = await browser.post("/ocpp/admin/reservations/1/cancel")
        assert cp.cancels == [{"reservation_id": 1}]
    page = page_text(await browser.get(response.headers["Location"]))
    assert flash(page) == "Cancel reservation 1: accepted. The charger accepted."
    assert (await db.reservations.find_one({"_id": 1}))["status"] == "cancelled"
    assert 'class="inline cancel"' not in page
    assert (await browser.post("/ocpp/admin/reservations/99/cancel")).code == 404


@pytest.mark.gen_test
async def test_profiles_commands_and_security_events(http_url, services, admin_user, db):
    profile = {"chargingProfileId": 5, "stackLevel": 1, "chargingProfilePurpose": "TxProfile",
               "chargingProfileKind": "Absolute", "transactionId": 9,
               "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [
                   {"startPeriod": 0, "limit": 16}, {"startPeriod": 600, "limit": 8}]}}  # fmt: skip
    await services.charging_profiles.install("CP1", 1, profile, T0)
    maximum = {"chargingProfileId": 6, "stackLevel": 0,
               "chargingProfilePurpose": "ChargePointMaxProfile",
               "chargingProfileKind": "Absolute", "chargingSchedule": {
                   "chargingRateUnit": "W", "chargingSchedulePeriod": [
                       {"startPeriod": 0, "limit": 22000}]}}  # fmt: skip
    await services.charging_profiles.install("CP2", 0, maximum, T0)
    for n in range(55):
        status = "accepted" if n % 2 else "timeout"
        doc = new_command(f"cmd{n:02d}", "CP1" if n < 50 else "CP2", "Reset", {}, T0
                          + timedelta(seconds=n), status=status)  # fmt: skip
        await services.commands.insert(doc)
    await services.security_events.record("CP1", "InvalidFirmwareSignature", T0, "sig")
    await services.security_events.record("CP2", "TamperDetectionActivated", T0, "lid")
    browser = await admin_browser(http_url, admin_user)

    page = page_text(await browser.get("/ocpp/admin/charging-profiles/"))
    assert row_ids(page, "profile") == ["5", "6"]
    assert "from 0 s: 16 A; from 600 s: 8 A" in page
    assert '<a href="/ocpp/admin/sessions/9/">9</a>' in page
    page = page_text(await browser.get("/ocpp/admin/charging-profiles/",
                                       {"purpose": "ChargePointMaxProfile"}))  # fmt: skip
    assert row_ids(page, "profile") == ["6"] and "(whole charger)" in page
    response = await browser.get("/ocpp/admin/charging-profiles/", {"purpose": "Nope"})
    assert response.code == 400 and 'id="purpose-error"' in page_text(response)

    page = page_text(await browser.get("/ocpp/admin/commands/"))
    ids = row_ids(page, "command")
    assert ids[:2] == ["cmd54", "cmd53"] and len(ids) == 50
    assert "page 1 of 2 · 55 in all" in page
    page = page_text(await browser.get("/ocpp/admin/commands/",
                                       {"charger": "CP2", "status": "timeout"}))  # fmt: skip
    assert row_ids(page, "command") == ["cmd54", "cmd52", "cmd50"]
    page = page_text(await browser.get("/ocpp/admin/commands/", {"action": "Nope"}))
    assert 'id="empty">Nothing matches this filter.' in page

    page = page_text(await browser.get("/ocpp/admin/security-events/", {"charger": "CP2"}))
    table = page.split('id="security-events"')[1]
    assert "TamperDetectionActivated" in table and "InvalidFirmwareSignature" not in table


@pytest.mark.gen_test
@pytest.mark.parametrize(
    ("path", "hint"),
    [("/ocpp/admin/reservations/", "Reserve a connector"),
     ("/ocpp/admin/charging-profiles/", "Set charging profile"),
     ("/ocpp/admin/commands/", "No command was sent yet."),
     ("/ocpp/admin/security-events/", "SecurityEventNotification")],
)  # fmt: skip
async def test_empty_views_say_what_to_do(http_url, admin_user, path, hint):
    browser = await admin_browser(http_url, admin_user)
    response = await browser.get(path)
    assert response.code == 200
    page = page_text(response)
    assert 'id="empty">' in page and hint in page
    assert '<a href="/ocpp/admin/security/unknown/">Unknown chargers</a>' in page


@pytest.mark.gen_test
async def test_views_index_links_every_view(http_url, admin_user):
    browser = await admin_browser(http_url, admin_user)
    page = page_text(await browser.get("/ocpp/admin/views/"))
    links = re.findall(r'<li><a href="([^"]+)">', page.split('id="views"')[1])
    assert links == ["/ocpp/admin/reservations/", "/ocpp/admin/charging-profiles/",
                     "/ocpp/admin/commands/", "/ocpp/admin/security-events/",
                     "/ocpp/admin/security/unknown/", "/ocpp/admin/sessions/"]  # fmt: skip
    assert '<a href="/ocpp/admin/views/">Views</a>' in page
