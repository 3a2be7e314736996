"""Logging in and out; API authentication by token, Basic and cookie."""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import quote

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from handlers.auth import safe_next


@pytest.mark.parametrize(
    ("target", "expected"),
    [("/ocpp/admin/", "/ocpp/admin/"), ("https://evil.example/", "/ocpp/"),
     ("//evil.example/", "/ocpp/"), (None, "/ocpp/"), ("javascript:alert(1)", "/ocpp/"),
     ("/\\evil.example/", "/ocpp/"), ("/\\/evil.example/", "/ocpp/"),
     ("/ocpp/\r\nSet-Cookie: x=1", "/ocpp/"), ("/ocpp/\x00", "/ocpp/"),
     ("/ocpp/\t", "/ocpp/"), ("ocpp/", "/ocpp/"), ("/ocpp/?a=b#c", "/ocpp/?a=b#c")],
)  # fmt: skip
def test_only_local_redirects_after_login(target, expected):
    assert safe_next(target) == expected


async def login(http_url, username, password, follow=False, target="/ocpp/admin/"):
    """Log in through the form; return (response, cookie header)."""
    client = AsyncHTTPClient()
    form = await client.fetch(http_url("/ocpp/login"))
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', form.body.decode()).group(1)
    cookies = "; ".join(c.split(";")[0] for c in form.headers.get_list("Set-Cookie"))
    body = f"_xsrf={xsrf}&username={username}&password={password}&next={quote(target)}"
    response = await client.fetch(
        http_url("/ocpp/login"), method="POST", body=body, headers={"Cookie": cookies},
        follow_redirects=follow, raise_error=False,
    )  # fmt: skip
    login_cookie = [c.split(";")[0] for c in response.headers.get_list("Set-Cookie")]
    return response, "; ".join([cookies, *login_cookie])


@pytest.mark.gen_test
async def test_login_sets_a_cookie_and_redirects(http_url, admin_user):
    response, cookies = await login(http_url, *admin_user)
    assert response.code == 302
    assert response.headers["Location"] == "/ocpp/admin/"
    assert "csms_user=" in cookies


@pytest.mark.gen_test
@pytest.mark.parametrize("target", ["/\\evil.example/", "/ocpp/\r\nX-Injected: 1"])
async def test_login_never_redirects_off_site_nor_fails_on_crlf(http_url, admin_user, target):
    response, _ = await login(http_url, *admin_user, target=target)
    assert response.code == 302
    assert response.headers["Location"] == "/ocpp/"
    assert "X-Injected" not in response.headers


@pytest.mark.gen_test
async def test_wrong_password_rerenders_with_the_typed_name(http_url, admin_user):
    response, _ = await login(http_url, "admin", "nope")
    assert response.code == 400
    page = response.body.decode()
    assert "Wrong username or password." in page
    assert 'value="admin"' in page


@pytest.mark.gen_test
async def test_login_without_xsrf_is_refused(http_url, admin_user):
    with pytest.raises(HTTPClientError) as info:
        await AsyncHTTPClient().fetch(
            http_url("/ocpp/login"), method="POST", body="username=admin&password=x"
        )
    assert info.value.code == 403


def basic(username, password):
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@pytest.mark.gen_test
async def test_ensure_admin_creates_the_first_user_once(services, capsys):
    from server import ensure_admin

    await ensure_admin(services, None)
    printed = capsys.readouterr().out
    password = printed.strip().rsplit(": ", 1)[1]
    assert await services.users.authenticate("admin", password) is not None
    await ensure_admin(services, "other")
    assert capsys.readouterr().out == ""
    assert await services.users.count() == 1


@pytest.mark.gen_test
async def test_failed_logins_per_user_end_in_429_keeping_the_typed_name(http_url, admin_user):
    for _ in range(10):  # WebSettings.login_failures_per_user
        response, _ = await login(http_url, "admin", "guess")
        assert response.code == 400
    response, _ = await login(http_url, "admin", admin_user[1])  # even the right password
    assert response.code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 300
    page = response.body.decode()
    assert "Too many failed logins." in page
    assert 'name="username" value="admin"' in page
    assert admin_user[1] not in page and 'type="password" autocomplete' in page


@pytest.mark.gen_test
async def test_failed_logins_per_ip_end_in_429_for_every_name(http_url, admin_user):
    for number in range(20):  # WebSettings.login_failures_per_ip, each name new
        response, _ = await login(http_url, f"user{number}", "guess")
        assert response.code == 400
    response, _ = await login(http_url, "someone-else", "guess")
    assert response.code == 429


@pytest.mark.gen_test
async def test_failed_basic_logins_share_the_limit(http_url, admin_user):
    client = AsyncHTTPClient()
    url = http_url("/ocpp/api/chargers/")
    for _ in range(10):
        response = await client.fetch(
            url, headers={"Authorization": basic("admin", "guess")}, raise_error=False
        )
        assert response.code == 401
    response = await client.fetch(
        url, headers={"Authorization": basic(*admin_user)}, raise_error=False
    )
    assert response.code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert json.loads(response.body)["error"] == "too_many_failed_logins"
    response, _ = await login(http_url, *admin_user)  # the form counts the same failures
    assert response.code == 429


async def dashboard(http_url, cookies):
    return await AsyncHTTPClient().fetch(
        http_url("/ocpp/admin/chargers/"), headers={"Cookie": cookies},
        follow_redirects=False, raise_error=False,
    )  # fmt: skip


@pytest.mark.gen_test
async def test_logout_ends_every_copy_of_the_cookie(http_url, admin_user):
    _, cookies = await login(http_url, *admin_user)
    _, second = await login(http_url, *admin_user)  # another browser
    assert (await dashboard(http_url, cookies)).code == 200
    xsrf = re.search(r"_xsrf=([^;]+)", cookies).group(1)
    response = await AsyncHTTPClient().fetch(
        http_url("/ocpp/logout"), method="POST", body=f"_xsrf={xsrf}",
        headers={"Cookie": cookies}, follow_redirects=False, raise_error=False,
    )  # fmt: skip
    assert response.code == 302
    for stolen in (cookies, second):  # replayed after logout
        response = await dashboard(http_url, stolen)
        assert response.code == 302 and "/ocpp/login" in response.headers["Location"]
    api = await AsyncHTTPClient().fetch(
        http_url("/ocpp/api/chargers/"), headers={"Cookie": cookies}, raise_error=False
    )
    assert api.code == 401


@pytest.mark.gen_test
async def test_a_password_reset_ends_the_cookie(http_url, admin_user, services):
    _, cookies = await login(http_url, *admin_user)
    assert (await dashboard(http_url, cookies)).code == 200
    await services.users.set_password(admin_user[0], "a new password")
    response = await dashboard(http_url, cookies)
    assert response.code == 302 and "/ocpp/login" in response.headers["Location"]


@pytest.mark.gen_test
async def test_a_cookie_of_the_old_format_is_not_a_login(app, http_url, admin_user):
    from tornado.web import create_signed_value

    old = create_signed_value(app.settings["cookie_secret"], "csms_user", "admin").decode()
    response = await dashboard(http_url, f"csms_user={old}")
    assert response.code == 302
