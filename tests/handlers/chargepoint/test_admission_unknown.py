"""``allow_unknown_chargers`` off: unknown ids get 404 before the upgrade, are listed with
path, IP and attempts, and an operator accepts (or dismisses) them in the admin."""

from __future__ import annotations

import pytest

from handlers.routes import make_app
from models.unknown_chargers import UnknownChargerRepo
from ocppj.timeutil import utcnow
from tests.charge_points import raw_charger
from tests.conftest import COOKIE_SECRET
from tests.handlers.admin.test_index import admin_browser, page_text
from tests.handlers.chargepoint.test_admission_basic import refused

UNKNOWN = "/ocpp/admin/security/unknown/"


@pytest.fixture
def app(services, registry, web_settings):
    """The application refusing unknown charger ids."""
    return make_app(
        services, registry, web=web_settings, cookie_secret=COOKIE_SECRET,
        ping_interval=None, ping_timeout=None, allow_unknown_chargers=False,
    )  # fmt: skip


@pytest.mark.gen_test
async def test_unknown_id_gets_404_and_is_listed(ws_url, db):
    response = await refused(ws_url("/site/NEW~1/"))
    assert response.status_code == 404
    assert response.body == b"unknown charger"
    await refused(ws_url("/other/NEW~1/"))
    assert await db.chargers.count_documents({}) == 0
    entry = await db.unknown_chargers.find_one({"_id": "NEW~1"})
    assert entry["attempts"] == 2
    assert entry["path"] == "/other/NEW~1/"
    assert entry["ip"] == "127.0.0.1"
    assert entry["first_seen"] <= entry["last_seen"]
    assert await db.security_events.count_documents({}) == 0


@pytest.mark.gen_test
async def test_known_charger_still_connects(ws_url, services):
    await services.chargers.create("K1", {}, utcnow())
    async with raw_charger(ws_url("/K1/")) as cp:
        assert (await cp.boot())[0] == 3


@pytest.mark.gen_test
async def test_operator_accepts_an_unknown_charger(ws_url, http_url, db, admin_user):
    await refused(ws_url("/NEW~1/"))
    browser = await admin_browser(http_url, admin_user)
    page = page_text(await browser.get(UNKNOWN))
    assert "<code>NEW~1</code>" in page
    assert 'action="/ocpp/admin/security/unknown/NEW~1/accept"' in page
    response = await browser.post(UNKNOWN + "NEW~1/accept")
    assert response.code == 302
    assert response.headers["Location"] == "/ocpp/admin/chargers/NEW~1/security/"
    doc = await db.chargers.find_one({"_id": "NEW~1"})
    assert doc["name"] == "NEW~1" and doc["connected"] is False
    assert await db.unknown_chargers.count_documents({}) == 0
    flash = page_text(await browser.get("/ocpp/admin/chargers/NEW~1/security/"))
    assert "Charger NEW~1 accepted" in flash
    async with raw_charger(ws_url("/NEW~1/")) as cp:
        assert (await cp.boot())[0] == 3


@pytest.mark.gen_test
async def test_operator_dismisses_an_entry(ws_url, http_url, db, admin_user):
    await refused(ws_url("/GONE/"))
    browser = await admin_browser(http_url, admin_user)
    response = await browser.post(UNKNOWN + "GONE/dismiss")
    assert (response.code, response.headers["Location"]) == (302, UNKNOWN)
    assert await db.unknown_chargers.count_documents({}) == 0
    assert await db.chargers.count_documents({}) == 0
    assert "No unknown charger" in page_text(await browser.get(UNKNOWN))


@pytest.mark.gen_test
async def test_accept_and_dismiss_of_unlisted_ids_are_404(http_url, admin_user, db):
    browser = await admin_browser(http_url, admin_user)
    assert (await browser.post(UNKNOWN + "NOPE/accept")).code == 404
    assert (await browser.post(UNKNOWN + "NOPE/dismiss")).code == 404
    assert await db.chargers.count_documents({}) == 0


@pytest.mark.gen_test
async def test_unknown_list_is_bounded(db):
    repo = UnknownChargerRepo(db, max_entries=2)
    now = utcnow()
    assert await repo.record("A", "/A/", "1.1.1.1", now)
    assert await repo.record("B", "/B/", "1.1.1.1", now)
    assert not await repo.record("C", "/C/", "1.1.1.1", now)
    assert await repo.record("A", "/x/A/", "2.2.2.2", now)  # known ids are still counted
    assert await repo.count() == 2
    assert (await repo.get("A"))["attempts"] == 2
    assert [entry["_id"] for entry in await repo.list()] in (["A", "B"], ["B", "A"])
