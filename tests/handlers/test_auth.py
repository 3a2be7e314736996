"""Logging in and out; API authentication by token, Basic and cookie."""

from __future__ import annotations

import base64
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
