"""The API tokens page and what a token's role, expiry, revocation and owner mean at the
API: created in the UI and shown once, capped by roles, revoked -> 401."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from ocppj.timeutil import utcnow
from tests.handlers.admin.test_index import admin_browser, field_value, page_text
from tests.handlers.admin.test_users import browser_of
from tests.handlers.api.support import assert_error, call, data

TOKENS = "/ocpp/admin/tokens/"
TAG = {"id_tag": "T1", "status": "accepted"}
ROOT_CERT = {"action": "install_certificate", "certificate_type": "CentralSystemRootCertificate",
             "certificate": "PEM"}  # fmt: skip
ADMIN_ACTIONS = (
    ROOT_CERT,
    {"action": "ChangeConfiguration", "key": " authorizationKey", "value": "00"},
    {"action": "change_configuration", "key": "SecurityProfile", "value": "2"},
)


def bearer(token: str) -> dict[str, str]:
    """The Authorization header of a token."""
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.gen_test(timeout=30)
async def test_a_token_created_in_the_ui_works_until_revoked(http_url, services, admin_user):
    admin = await admin_browser(http_url, admin_user)
    response = await admin.post(TOKENS, {"label": "ci", "role": "operator", "expires_days": "30"})
    assert response.code == 201
    token = field_value(page_text(response), "token")
    assert token.startswith("csms_")
    [stored] = await services.tokens.list("admin")
    assert (stored["label"], stored["role"], stored["revoked"]) == ("ci", "operator", None)
    assert timedelta(days=30) - (stored["expires"] - stored["created"]) == timedelta(0)
    listing = page_text(await admin.get(TOKENS))
    assert token not in listing and "<td>ci</td>" in listing

    assert (await call(http_url, "/ocpp/api/rfid/", headers=bearer(token))).code == 200
    created = await call(http_url, "/ocpp/api/rfid/", method="POST", headers=bearer(token),
                         json=TAG)  # fmt: skip
    assert created.code == 201
    refused = await call(http_url, "/ocpp/api/alert-channels/", headers=bearer(token))
    body = assert_error(refused, 403, "forbidden")
    assert body["detail"] == "GET /ocpp/api/alert-channels/ requires admin"
    assert (await services.tokens.list("admin"))[0]["last_used"] is not None

    revoke = await admin.post(f"{TOKENS}{stored['_id']}/revoke")
    assert (revoke.code, revoke.headers["Location"]) == (302, TOKENS)
    assert_error(await call(http_url, "/ocpp/api/rfid/", headers=bearer(token)), 401,
                 "unauthorized")  # fmt: skip
    assert (await services.tokens.get(str(stored["_id"])))["revoked"] is not None
    assert 'class="revoke"' not in page_text(await admin.get(TOKENS))


@pytest.mark.gen_test
async def test_a_viewer_token_only_reads_and_an_expired_one_is_401(http_url, services, admin_user):
    viewer = await services.tokens.create("admin", "read", "viewer")
    assert (await call(http_url, "/ocpp/api/rfid/", headers=bearer(viewer))).code == 200
    refused = await call(http_url, "/ocpp/api/rfid/", method="POST", headers=bearer(viewer),
                         json=TAG)  # fmt: skip
    assert data(refused) == {
        "error": "forbidden",
        "detail": "POST /ocpp/api/rfid/ requires operator",
    }
    assert refused.code == 403
    now = utcnow()
    old = await services.tokens.create("admin", "old", "admin", expires=now, now=now)
    assert_error(await call(http_url, "/ocpp/api/rfid/", headers=bearer(old)), 401, "unauthorized")


@pytest.mark.gen_test
async def test_the_owners_role_and_status_cap_their_tokens(http_url, services, admin_user):
    await services.users.create("ops", "ops-pass-1", "operator")
    token = await services.tokens.create("ops", "ci", "operator")
    await services.users.set_role("ops", "viewer")
    refused = await call(http_url, "/ocpp/api/rfid/", method="POST", headers=bearer(token),
                         json=TAG)  # fmt: skip
    assert_error(refused, 403, "forbidden")
    await services.users.set_disabled("ops", True)
    assert_error(await call(http_url, "/ocpp/api/rfid/", headers=bearer(token)), 401,
                 "unauthorized")  # fmt: skip


@pytest.mark.gen_test(timeout=30)
async def test_an_operator_manages_only_their_own_tokens(http_url, services, admin_user):
    others = await services.tokens.create("admin", "admin's", "admin")
    await services.users.create("ops", "ops-pass-1", "operator")
    ops = await browser_of(http_url, "ops", "ops-pass-1")
    page = page_text(await ops.get(TOKENS))
    assert 'id="no-tokens"' in page and "admin&#39;s" not in page
    assert '<option value="admin"' not in page
    too_high = await ops.post(TOKENS, {"label": "mine", "role": "admin", "expires_days": "x"})
    assert too_high.code == 400
    page = page_text(too_high)
    assert "at most your own role (operator)" in page
    assert field_value(page, "label") == "mine" and field_value(page, "expires_days") == "x"
    created = await ops.post(TOKENS, {"label": "mine", "role": "viewer", "expires_days": ""})
    assert created.code == 201
    [mine] = await services.tokens.list("ops")
    assert (mine["role"], mine["expires"]) == ("viewer", None)
    admin_token = (await services.tokens.list("admin"))[0]
    assert (await ops.post(f"{TOKENS}{admin_token['_id']}/revoke")).code == 404
    assert (await call(http_url, "/ocpp/api/rfid/", headers=bearer(others))).code == 200
    assert (await ops.post(f"{TOKENS}{mine['_id']}/revoke")).code == 302
    admin = await admin_browser(http_url, admin_user)
    listing = page_text(await admin.get(TOKENS))
    assert len(re.findall(r"<tr data-token=", listing)) == 2  # an admin sees everyone's


@pytest.mark.gen_test(timeout=30)
async def test_certificates_and_security_keys_of_a_charger_need_an_admin(
    http_url, services, admin_user, db
):
    await db.chargers.insert_one({"_id": "CP1", "name": "CP1", "connectors": {}, "boot": None})
    operator = await services.tokens.create("admin", "ops", "operator")
    admin = await services.tokens.create("admin", "all", "admin")
    action = "/ocpp/chargers/CP1/action/"
    for body in ADMIN_ACTIONS:
        refused = await call(http_url, action, method="POST", headers=bearer(operator), json=body)
        assert data(refused) == {"error": "forbidden", "detail": f"POST {action} requires admin"}
        allowed = await call(http_url, action, method="POST", headers=bearer(admin), json=body)
        assert allowed.code == 409, allowed.body  # not connected: past the role check
    body = {"action": "change_configuration", "key": "HeartbeatInterval", "value": "60"}
    response = await call(http_url, action, method="POST", headers=bearer(operator), json=body)
    assert response.code == 409

    await services.users.create("ops", "ops-pass-1", "operator")
    ops = await browser_of(http_url, "ops", "ops-pass-1")
    page = await ops.post("/ocpp/admin/chargers/CP1/operations/change_configuration",
                          {"key": "AuthorizationKey", "value": "00"})  # fmt: skip
    assert page.code == 403
    assert "Your role (operator) may not make this change: it requires admin." in page_text(page)
    heartbeat = await ops.post("/ocpp/admin/chargers/CP1/operations/change_configuration",
                               {"key": "HeartbeatInterval", "value": "60"})  # fmt: skip
    assert heartbeat.code == 409
