"""Admin security pages: set and rotate a charger's key (shown once, stored hashed), choose
its profile (lowering it needs a confirmation), security events listed and filtered."""

from __future__ import annotations

import re

import pytest
from tornado.httpclient import AsyncHTTPClient

from auth.charger_keys import TEXT_ALPHABET, verify_key
from handlers.chargepoint.admission import FAILED_LOGIN
from ocppj.timeutil import utcnow
from tests.charge_points import raw_charger
from tests.handlers.admin.test_index import admin_browser, page_text
from tests.handlers.chargepoint.test_admission_basic import basic, refused

SECURITY = "/ocpp/admin/security/"
CHARGER = "/ocpp/admin/chargers/Bay~1/security/"


def form(profile: str, **extra: str) -> dict[str, str]:
    """A submission of the charger security form."""
    return {"profile": profile, "key_form": "hex", **extra}


def shown_key(page: str, element: str = "key-hex") -> str:
    """The key shown on the page after it was made."""
    return re.search(r'<code id="' + element + r'">([^<]*)</code>', page)[1]


@pytest.fixture
def charger(io_loop, services):
    """A charger without security settings (ids that need escaping cannot connect: 400)."""
    io_loop.run_sync(lambda: services.chargers.create("Bay~1", {}, utcnow()))
    return "Bay~1"


@pytest.mark.gen_test
async def test_pages_need_a_login(http_url, charger):
    for path in (SECURITY, SECURITY + "unknown/", CHARGER):
        response = await AsyncHTTPClient().fetch(
            http_url(path), follow_redirects=False, raise_error=False
        )
        assert response.code == 302
        assert response.headers["Location"].startswith("/ocpp/login?next=")


@pytest.mark.gen_test
async def test_charger_page_links_to_its_security(http_url, admin_user, charger):
    browser = await admin_browser(http_url, admin_user)
    page = page_text(await browser.get("/ocpp/admin/chargers/Bay~1/"))
    assert f'href="{CHARGER}" id="security-link"' in page
    page = page_text(await browser.get(CHARGER))
    assert '<code id="charger-id">Bay~1</code>' in page
    assert '<td id="profile">0</td>' in page and '<td id="key-state">none</td>' in page
    assert 'id="new-key"' not in page
    assert 'id="no-tls"' in page  # this app serves no TLS


@pytest.mark.gen_test
async def test_profile_1_makes_a_key_shown_once_and_stored_hashed(
    http_url, ws_url, admin_user, charger, db
):
    browser = await admin_browser(http_url, admin_user)
    response = await browser.post(CHARGER, form("1"))
    assert response.code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = page_text(response)
    key = shown_key(page)
    assert re.fullmatch(r"[0-9a-f]{40}", key)
    assert 'id="key-text"' not in page
    doc = await db.chargers.find_one({"_id": charger})
    security = doc["security"]
    assert security["profile"] == 1 and security["key_form"] == "hex"
    assert security["key_hash"].startswith("hmac-sha256$")
    assert verify_key(security["key_hash"], key.encode())
    assert key not in str(doc) and bytes.fromhex(key) not in repr(doc).encode()
    again = page_text(await browser.get(CHARGER))
    assert key not in again and 'id="new-key"' not in again
    assert '<td id="profile">1</td>' in again
    [event] = await db.security_events.find({"type": "SecuritySettingsChanged"}).to_list()
    assert event["tech_info"] == "profile 0 -> 1, new key by admin"
    assert (event["source"], event["user"]) == ("csms", "admin")
    async with raw_charger(ws_url("/Bay~1/"), additional_headers=basic(charger, key)) as cp:
        assert (await cp.boot())[0] == 3


@pytest.mark.gen_test
async def test_rotation_replaces_the_key(http_url, ws_url, admin_user, charger, db):
    browser = await admin_browser(http_url, admin_user)
    old = shown_key(page_text(await browser.post(CHARGER, form("1"))))
    saved = await browser.post(CHARGER, form("1"))  # same profile, no rotation: no new key
    assert saved.code == 302 and saved.headers["Location"] == CHARGER
    response = await browser.post(CHARGER, form("1", rotate="on", key_form="text"))
    text = shown_key(page_text(response), "key-text")
    assert len(text) == 20 and set(text) <= set(TEXT_ALPHABET)
    assert shown_key(page_text(response)) == text.encode().hex()
    security = (await db.chargers.find_one({"_id": charger}))["security"]
    assert security["key_form"] == "text"
    assert not verify_key(security["key_hash"], old.encode())
    assert (await refused(ws_url("/Bay~1/"), basic(charger, old))).status_code == 401
    async with raw_charger(ws_url("/Bay~1/"), additional_headers=basic(charger, text)):
        pass


@pytest.mark.gen_test
async def test_lowering_the_profile_needs_a_confirmation(http_url, admin_user, charger, db):
    browser = await admin_browser(http_url, admin_user)
    key = shown_key(page_text(await browser.post(CHARGER, form("2"))))
    response = await browser.post(CHARGER, form("0"))
    assert response.code == 400
    assert "lowering the profile from 2 to 0" in page_text(response)
    assert (await db.chargers.find_one({"_id": charger}))["security"]["profile"] == 2
    response = await browser.post(CHARGER, form("0", confirm_downgrade="on"))
    assert response.code == 302
    security = (await db.chargers.find_one({"_id": charger}))["security"]
    assert security["profile"] == 0
    assert verify_key(security["key_hash"], key.encode())  # kept for going back up
    assert "Saved." in page_text(await browser.get(CHARGER))


@pytest.mark.gen_test
@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [({"profile": "4", "key_form": "hex"}, "profile", "choose profile 0, 1, 2 or 3"),
     ({"profile": "", "key_form": "hex"}, "profile", "choose profile 0, 1, 2 or 3"),
     ({"profile": "3", "key_form": "hex"}, "profile",
      "profile 3 needs a certificate from us first: let the charger send SignCertificate"
      " (ExtendedTriggerMessage SignChargePointCertificate)"),
     ({"profile": "1", "key_form": "base64"}, "key_form", "choose hex or text")],
)  # fmt: skip
async def test_invalid_submissions_change_nothing(
    http_url, admin_user, charger, db, fields, field, message
):
    browser = await admin_browser(http_url, admin_user)
    response = await browser.post(CHARGER, fields)
    assert response.code == 400
    assert f'id="{field}-error" role="alert">{field}: {message}' in page_text(response)
    assert "security" not in await db.chargers.find_one({"_id": charger})


@pytest.mark.gen_test
async def test_forms_need_the_xsrf_token_and_an_existing_charger(http_url, admin_user, charger):
    browser = await admin_browser(http_url, admin_user)
    assert (await browser.post(CHARGER, form("1"), xsrf=False)).code == 403
    assert (await browser.get("/ocpp/admin/chargers/NOPE/security/")).code == 404
    assert (await browser.post("/ocpp/admin/chargers/NOPE/security/", form("1"))).code == 404


@pytest.mark.gen_test
async def test_failed_logins_are_listed_with_ip_and_reason(
    http_url, ws_url, admin_user, charger, services
):
    browser = await admin_browser(http_url, admin_user)
    await browser.post(CHARGER, form("1"))
    await refused(ws_url("/Bay~1/"), basic(charger, "0" * 40))
    await services.security_events.record("CP9", "TamperDetectionActivated", utcnow(), "lid",
                                          source="charger")  # fmt: skip
    page = page_text(await browser.get(SECURITY))
    rows = page.split('<table class="admin-table" id="events">')[1].split("</table>")[0]
    assert FAILED_LOGIN in rows and "wrong_key" in rows and "127.0.0.1" in rows
    assert "<code>Bay~1</code>" in rows
    assert "TamperDetectionActivated" in rows
    only_csms = page_text(await browser.get(SECURITY, {"source": "csms"}))
    assert "TamperDetectionActivated" not in only_csms and FAILED_LOGIN in only_csms
    only_cp9 = page_text(await browser.get(SECURITY, {"charger": "CP9"}))
    assert "TamperDetectionActivated" in only_cp9 and FAILED_LOGIN not in only_cp9
    charger_page = page_text(await browser.get(CHARGER))
    assert "wrong key" in charger_page
    assert 'id="unknown-link"' in page
    assert "registered when they connect" in page


@pytest.mark.gen_test
async def test_the_settings_table_tells_what_profile_0_means_and_the_new_limits(
    http_url, admin_user
):
    browser = await admin_browser(http_url, admin_user)
    page = page_text(await browser.get(SECURITY))
    assert ('<td id="default-profile">0 (no credentials: anyone who knows an id can connect'
            " as it)</td>") in page  # fmt: skip
    assert "100 at once per IP, then 1.0/s" in page
    assert "1000 at once in all, then 10.0/s" in page
    assert "at most 10000, then HTTP 503; 1000 per IP" in page
