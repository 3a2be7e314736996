"""The users page: invite (a one-time link), set the password through it, change role,
reset password, disable; the last enabled admin is kept; operators are refused."""

from __future__ import annotations

import re

import pytest

from auth.passwords import token_digest
from tests.handlers.admin.test_index import AdminBrowser, admin_browser, field_value, page_text
from tests.handlers.test_auth import login

USERS = "/ocpp/admin/users/"


def link_token(page: str) -> str:
    """The one-time token of the set-password link shown on the page."""
    return field_value(page, "link").rsplit("/", 1)[1]


async def browser_of(http_url, username: str, password: str) -> AdminBrowser:
    """A logged-in browser of another user."""
    response, cookies = await login(http_url, username, password)
    assert response.code == 302, response.body
    return AdminBrowser(http_url, cookies)


@pytest.mark.gen_test(timeout=30)
async def test_invite_then_set_password_logs_in(http_url, services, admin_user):
    admin = await admin_browser(http_url, admin_user)
    response = await admin.post(USERS, {"username": "olga", "role": "operator"})
    assert response.code == 201
    page = page_text(response)
    token = link_token(page)
    assert f"{http_url('/ocpp/set-password/')}{token}" in page
    stored = await services.users.get("olga")
    assert (stored["role"], stored["password_hash"], stored["invited_by"]) == (
        "operator", None, "admin",
    )  # fmt: skip
    assert stored["invite"]["token_hash"] == token_digest(token)
    assert token not in page_text(await admin.get(USERS))  # shown once

    guest = AdminBrowser(http_url, "")
    form = await guest.get(f"/ocpp/set-password/{token}")
    assert form.code == 200 and "Welcome, <strong>olga</strong> (operator)" in page_text(form)
    guest.jar["_xsrf"] = re.search(r'name="_xsrf" value="([^"]+)"', page_text(form))[1]
    short = await guest.post(f"/ocpp/set-password/{token}", {"password": "x", "confirm": "x"})
    assert short.code == 400 and "at least 8 characters" in page_text(short)
    differ = {"password": "olga-pass-1", "confirm": "olga-pass-2"}
    assert (await guest.post(f"/ocpp/set-password/{token}", differ)).code == 400
    same = {"password": "olga-pass-1", "confirm": "olga-pass-1"}
    done = await guest.post(f"/ocpp/set-password/{token}", same)
    assert (done.code, done.headers["Location"]) == (302, "/ocpp/")
    dashboard = await guest.get("/ocpp/")
    assert dashboard.code == 200 and '<span class="who">olga</span>' in page_text(dashboard)
    again = await guest.get(f"/ocpp/set-password/{token}")
    assert again.code == 404 and 'id="link-invalid"' in page_text(again)
    assert "invite" not in await services.users.get("olga")
    await browser_of(http_url, "olga", "olga-pass-1")


@pytest.mark.gen_test
async def test_invite_form_keeps_what_was_typed(http_url, services, admin_user):
    admin = await admin_browser(http_url, admin_user)
    response = await admin.post(USERS, {"username": "bad name!", "role": "viewer"})
    assert response.code == 400
    page = page_text(response)
    assert field_value(page, "username") == "bad name!"
    assert '<option value="viewer" selected>' in page
    assert "only letters A-Z a-z, digits and . _ @ -" in page
    taken = await admin.post(USERS, {"username": "admin", "role": "viewer"})
    assert taken.code == 400 and "exists already" in page_text(taken)
    assert await services.users.count() == 1


@pytest.mark.gen_test(timeout=30)
async def test_role_change_disable_and_reset_take_effect_at_the_next_request(
    http_url, services, admin_user
):
    await services.users.create("vic", "vic-pass-1", "operator")
    vic = await browser_of(http_url, "vic", "vic-pass-1")
    tag = {"id_tag": "T1", "status": "accepted", "max_active_transactions": "1"}
    assert (await vic.post("/ocpp/admin/rfid/", tag)).code == 302
    admin = await admin_browser(http_url, admin_user)
    response = await admin.post(USERS + "vic/role", {"role": "viewer"})
    assert (response.code, response.headers["Location"]) == (302, USERS)
    assert 'id="flash">vic is now viewer.</p>' in page_text(await admin.get(USERS))
    refused = await vic.post("/ocpp/admin/rfid/", {"id_tag": "T2"})
    assert refused.code == 403
    assert "Your role (viewer) may not make this change: it requires operator." in page_text(
        refused
    )
    assert (await vic.get("/ocpp/admin/rfid/")).code == 200

    assert (await admin.post(USERS + "vic/disable", {"disabled": "1"})).code == 302
    assert (await vic.get("/ocpp/admin/rfid/")).code == 302  # to the login: session ended
    response, _ = await login(http_url, "vic", "vic-pass-1")
    assert response.code == 400
    assert (await admin.post(USERS + "vic/disable", {})).code == 302
    vic = await browser_of(http_url, "vic", "vic-pass-1")

    reset = await admin.post(USERS + "vic/reset")
    assert reset.code == 200 and link_token(page_text(reset))
    assert (await vic.get("/ocpp/admin/rfid/")).code == 302
    assert (await login(http_url, "vic", "vic-pass-1"))[0].code == 400
    assert (await admin.post(USERS + "nobody/reset")).code == 404


@pytest.mark.gen_test
async def test_the_last_enabled_admin_cannot_be_demoted_or_disabled(http_url, services, admin_user):
    admin = await admin_browser(http_url, admin_user)
    for path, fields in ((USERS + "admin/role", {"role": "operator"}),
                         (USERS + "admin/disable", {"disabled": "1"})):  # fmt: skip
        response = await admin.post(path, fields)
        assert response.code == 400
        assert "admin is the last enabled admin: make another user admin first." in page_text(
            response
        )
    assert (await services.users.get("admin"))["role"] == "admin"
    assert not (await services.users.get("admin"))["disabled"]


@pytest.mark.gen_test
async def test_an_operator_is_refused_the_users_page_and_sees_no_link(
    http_url, services, admin_user
):
    await services.users.create("ops", "ops-pass-1", "operator")
    ops = await browser_of(http_url, "ops", "ops-pass-1")
    response = await ops.get(USERS)
    assert response.code == 403
    assert "Your role (operator) may not open this page: it requires admin." in page_text(response)
    assert 'href="/ocpp/admin/users/"' not in page_text(await ops.get("/ocpp/admin/rfid/"))
    assert 'href="/ocpp/admin/users/"' in page_text(
        await (await admin_browser(http_url, admin_user)).get("/ocpp/admin/rfid/")
    )
