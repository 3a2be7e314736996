"""The admin as a whole: login required on every page, every page renders, 404s; and the
``AdminBrowser`` the other admin tests use (login cookie, XSRF, flash cookies)."""

from __future__ import annotations

import re
from http.cookies import SimpleCookie
from urllib.parse import quote, urlencode

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPResponse

from ocppj.timeutil import utcnow
from tests.handlers.test_auth import login


class AdminBrowser:
    """A logged-in operator: keeps cookies across requests and sends the XSRF token."""

    def __init__(self, http_url, cookies: str):
        self.http_url = http_url
        self.jar: dict[str, str] = {}
        for part in cookies.split("; "):
            name, _, value = part.partition("=")
            self.jar[name] = value

    @property
    def xsrf(self) -> str:
        """The XSRF token (the cookie value is a valid form value too)."""
        return self.jar["_xsrf"]

    def _headers(self) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{name}={value}" for name, value in self.jar.items())}

    def _keep(self, response: HTTPResponse) -> HTTPResponse:
        for header in response.headers.get_list("Set-Cookie"):
            cookie = SimpleCookie()
            cookie.load(header)
            for name, morsel in cookie.items():
                expired = morsel["expires"] and "1970" in morsel["expires"]
                if expired or morsel["max-age"] == "0":
                    self.jar.pop(name, None)
                else:
                    self.jar[name] = morsel.value
        return response

    async def get(self, path: str, query: dict | None = None) -> HTTPResponse:
        """GET a page (redirects are not followed)."""
        url = self.http_url(path) + ("?" + urlencode(query) if query else "")
        response = await AsyncHTTPClient().fetch(
            url, headers=self._headers(), follow_redirects=False, raise_error=False
        )
        return self._keep(response)

    async def post(self, path: str, fields: dict | None = None, xsrf: bool = True):
        """POST a form (urlencoded, with the XSRF token unless ``xsrf`` is False)."""
        body = dict(fields or {})
        if xsrf:
            body["_xsrf"] = self.xsrf
        headers = self._headers() | {"Content-Type": "application/x-www-form-urlencoded"}
        response = await AsyncHTTPClient().fetch(
            self.http_url(path), method="POST", body=urlencode(body), headers=headers,
            follow_redirects=False, raise_error=False,
        )  # fmt: skip
        return self._keep(response)


async def admin_browser(http_url, admin_user) -> AdminBrowser:
    """Log in as the admin user."""
    response, cookies = await login(http_url, *admin_user)
    assert response.code == 302
    return AdminBrowser(http_url, cookies)


def page_text(response: HTTPResponse) -> str:
    """The body as text."""
    return response.body.decode()


def field_value(page: str, name: str) -> str | None:
    """The raw (still escaped) value attribute of input ``name``."""
    match = re.search(r'<input[^>]*name="' + re.escape(name) + r'"[^>]*value="([^"]*)"', page)
    if match is None:
        match = re.search(r'<input[^>]*value="([^"]*)"[^>]*name="' + re.escape(name) + '"', page)
    return None if match is None else match.group(1)


def textarea(page: str, name: str) -> str:
    """The raw (still escaped) content of textarea ``name``."""
    return re.search(r'<textarea[^>]*name="' + name + r'"[^>]*>(.*?)</textarea>', page, re.S)[1]


def charger_path(charger_id: str, suffix: str = "") -> str:
    """The admin path of a charger."""
    return f"/ocpp/admin/chargers/{quote(charger_id, safe='')}/{suffix}"


PAGES = [
    "/ocpp/admin/",
    "/ocpp/admin/chargers/",
    "/ocpp/admin/chargers/CP1/",
    "/ocpp/admin/rfid/",
    "/ocpp/admin/rfid/TAG1/",
    "/ocpp/admin/sessions/",
    "/ocpp/admin/sessions/?charger=CP1&page=2",
    "/ocpp/admin/meter-values/",
    "/ocpp/admin/meter-values/?charger=CP1",
]
FORMS = [
    "/ocpp/admin/chargers/",
    "/ocpp/admin/chargers/CP1/",
    "/ocpp/admin/chargers/CP1/delete",
    "/ocpp/admin/rfid/",
    "/ocpp/admin/rfid/TAG1/",
    "/ocpp/admin/rfid/TAG1/delete",
]


async def seed(services) -> None:
    """A charger CP1 and a tag TAG1."""
    await services.chargers.create("CP1", {"name": "First"}, utcnow())
    await services.rfid.upsert("TAG1", label="Fleet")


@pytest.mark.gen_test
@pytest.mark.parametrize("path", PAGES)
async def test_every_admin_page_redirects_to_login(http_url, services, path):
    await seed(services)
    response = await AsyncHTTPClient().fetch(
        http_url(path), follow_redirects=False, raise_error=False
    )
    assert response.code == 302
    assert response.headers["Location"] == "/ocpp/login?" + urlencode({"next": path})


@pytest.mark.gen_test
@pytest.mark.parametrize("path", FORMS)
async def test_forms_refuse_anonymous_posts(http_url, services, path):
    await seed(services)
    client = AsyncHTTPClient()
    form = await client.fetch(http_url("/ocpp/login"))
    cookies = "; ".join(c.split(";")[0] for c in form.headers.get_list("Set-Cookie"))
    xsrf = re.search(r"_xsrf=([^;]+)", cookies)[1]
    response = await client.fetch(
        http_url(path), method="POST", body=urlencode({"_xsrf": xsrf, "confirm": "yes"}),
        headers={"Cookie": cookies}, follow_redirects=False, raise_error=False,
    )  # fmt: skip
    assert response.code == 403
    assert await services.chargers.get("CP1") is not None
    assert await services.rfid.get("TAG1") is not None


@pytest.mark.gen_test
@pytest.mark.parametrize("path", PAGES[1:])
async def test_every_admin_page_renders_when_logged_in(http_url, services, admin_user, path):
    await seed(services)
    browser = await admin_browser(http_url, admin_user)
    response = await browser.get(path)
    assert response.code == 200
    page = page_text(response)
    assert "<nav>" in page and 'href="/ocpp/admin/chargers/"' in page
    assert response.headers["Content-Type"] == "text/html; charset=UTF-8"


@pytest.mark.gen_test
async def test_admin_home_redirects_to_the_charger_list(http_url, admin_user):
    browser = await admin_browser(http_url, admin_user)
    response = await browser.get("/ocpp/admin/")
    assert response.code == 302
    assert response.headers["Location"] == "/ocpp/admin/chargers/"


@pytest.mark.gen_test
@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/ocpp/admin/chargers/NOPE/"), ("POST", "/ocpp/admin/chargers/NOPE/"),
     ("POST", "/ocpp/admin/chargers/NOPE/delete"), ("GET", "/ocpp/admin/rfid/NOPE/"),
     ("POST", "/ocpp/admin/rfid/NOPE/"), ("POST", "/ocpp/admin/rfid/NOPE/delete")],
)  # fmt: skip
async def test_unknown_charger_or_tag_is_404(http_url, admin_user, method, path):
    browser = await admin_browser(http_url, admin_user)
    if method == "GET":
        response = await browser.get(path)
    else:
        response = await browser.post(path, {"confirm": "yes", "name": "x"})
    assert response.code == 404
    assert "404" in page_text(response)


@pytest.mark.gen_test
async def test_pages_link_static_files_that_exist(http_url, services, admin_user):
    await seed(services)
    browser = await admin_browser(http_url, admin_user)
    page = page_text(await browser.get("/ocpp/admin/chargers/CP1/"))
    sources = re.findall(r'(?:src|href)="(/(?:static|vendor)/[^"]+)"', page)
    assert {s.split("?")[0] for s in sources} >= {
        "/static/css/admin.css", "/static/js/map.js", "/static/js/admin.js",
        "/vendor/leaflet/leaflet.js", "/vendor/leaflet/leaflet.css",
    }  # fmt: skip
    for source in sources:
        response = await browser.get(source.replace("&amp;", "&"))
        assert response.code == 200, source
