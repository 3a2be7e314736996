"""With TLS beside a plain port (--tls-port): pages go to https, chargers keep plain ws,
and a login cookie issued over https is no login on the plain port."""

from __future__ import annotations

import re
import shutil
from urllib.parse import quote

import pytest
from tornado.httpclient import AsyncHTTPClient
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port

from handlers.base import SECURE_USER_COOKIE, WebSettings
from handlers.routes import make_app
from tests.charge_points import raw_charger
from tests.conftest import COOKIE_SECRET

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")


@pytest.fixture
def tls_socket():
    """The TLS port beside pytest-tornado's plain one (its https_server shares that port)."""
    sock, port = bind_unused_port()
    yield sock, port
    sock.close()


@pytest.fixture
def https_port(tls_socket):
    return tls_socket[1]


@pytest.fixture
def https_server(io_loop, app, ssl_options, tls_socket):
    server = HTTPServer(app, ssl_options=ssl_options)
    server.add_socket(tls_socket[0])
    yield server
    server.stop()
    io_loop.run_sync(server.close_all_connections)


@pytest.fixture
def web_settings(request, http_port, https_port):
    """The plain port announces the TLS port, unless the test is marked ``no_redirect``."""
    redirect = not request.node.name.endswith("_no_redirect")
    return WebSettings(public_url=f"http://127.0.0.1:{http_port}",
                       https_port=https_port if redirect else None)  # fmt: skip


@pytest.fixture
def app(services, registry, web_settings):
    return make_app(
        services, registry, web=web_settings, cookie_secret=COOKIE_SECRET,
        ping_interval=None, ping_timeout=None, tls=True,
    )  # fmt: skip


async def fetch(url, tls=None, **kwargs):
    options = {"ssl_options": tls} if tls else {}
    return await AsyncHTTPClient().fetch(
        url, follow_redirects=False, raise_error=False, **options, **kwargs
    )


async def https_login(base, tls, username, password):
    """Log in over https; return the Set-Cookie header of the login cookie."""
    form = await fetch(base + "/ocpp/login", tls)
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', form.body.decode()).group(1)
    cookies = "; ".join(c.split(";")[0] for c in form.headers.get_list("Set-Cookie"))
    body = f"_xsrf={xsrf}&username={username}&password={quote(password)}&next=/ocpp/"
    response = await fetch(base + "/ocpp/login", tls, method="POST", body=body,
                           headers={"Cookie": cookies})  # fmt: skip
    assert response.code == 302
    return next(c for c in response.headers.get_list("Set-Cookie")
                if c.startswith(SECURE_USER_COOKIE + "="))  # fmt: skip


@pytest.mark.gen_test(timeout=20)
async def test_pages_on_the_plain_port_go_to_https(http_server, http_port, https_server,
                                                   https_port):  # fmt: skip
    plain = f"http://127.0.0.1:{http_port}"
    for path in ("/ocpp/login?next=%2Focpp%2F", "/ocpp/admin/", "/ocpp/api/transactions/"):
        response = await fetch(plain + path)
        assert response.code == 301, path
        assert response.headers["Location"] == f"https://127.0.0.1:{https_port}{path}"
    posted = await fetch(plain + "/ocpp/login", method="POST", body="username=a&password=b")
    assert posted.code == 403  # a password is never taken over plain HTTP


@pytest.mark.gen_test(timeout=20)
async def test_chargers_keep_plain_ws_beside_tls(http_server, http_port, https_server):
    async with raw_charger(f"ws://127.0.0.1:{http_port}/PLAIN1/") as cp:
        reply = await cp.boot()
    assert reply[2]["status"] == "Accepted"


@pytest.mark.gen_test(timeout=20)
async def test_a_cookie_issued_over_https_is_no_login_on_the_plain_port_no_redirect(
    http_server, http_port, https_server, https_port, client_tls, admin_user
):
    base = f"https://127.0.0.1:{https_port}"
    set_cookie = await https_login(base, client_tls, *admin_user)
    attributes = [part.strip().lower() for part in set_cookie.split(";")]
    assert "secure" in attributes and "path=/" in attributes
    assert not any(part.startswith("domain=") for part in attributes)
    pair = set_cookie.split(";")[0]
    value = pair.partition("=")[2]
    over_tls = await fetch(base + "/ocpp/api/transactions/", client_tls, headers={"Cookie": pair})
    assert over_tls.code == 200
    plain = f"http://127.0.0.1:{http_port}/ocpp/api/transactions/"
    for cookie in (pair, f"csms_user={value}"):  # as issued, and renamed to the plain name
        response = await fetch(plain, headers={"Cookie": cookie})
        assert response.code == 401, cookie
