"""Walk every route of the application: only the landing pages, QR images, the login page,
static files and the health check are public; everything else needs a login or a token."""

from __future__ import annotations

import re

import pytest
import tornado.web
from tornado.httpclient import AsyncHTTPClient
from tornado.routing import PathMatches

from handlers.routes import routes

PUBLIC = {
    r"/$",  # a redirect to the dashboard, which then asks for a login
    r"/healthz$",
    r"/ocpp/login$",
    r"/ocpp/logout$",  # clearing a cookie needs no login
    r"/ocpp/c/(?P<cid>[^/]+)/$",
    r"/ocpp/c/(?P<cid>[^/]+)/qr\.svg$",
}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
BODY = {"POST": b"{}", "PUT": b"{}", "PATCH": b"{}"}


def http_routes(app: tornado.web.Application) -> list[tuple[str, type]]:
    """(path regex, handler class) of every plain HTTP route, static files included."""
    found = []
    for rule in app.wildcard_router.rules:
        if isinstance(rule.matcher, PathMatches):
            found.append((rule.matcher.regex.pattern, rule.target))
    return found


def sample_path(pattern: str) -> str:
    """A concrete path for a route pattern: every group becomes an existing-looking value."""
    path = pattern.rstrip("$").replace("/?", "/")
    path = re.sub(r"\((\?P<\w+>)?[^()]*\)", "CP1", path)
    return path.replace("\\", "")


def implemented(handler: type) -> list[str]:
    """The HTTP methods a handler class defines itself."""
    base = tornado.web.RequestHandler
    return [m for m in METHODS if getattr(handler, m.lower()) is not getattr(base, m.lower())]


def is_static(handler: type) -> bool:
    """Static files (app assets, vendored front-end packages) are public."""
    return issubclass(handler, tornado.web.StaticFileHandler)


def test_every_public_route_exists(app):
    patterns = {pattern for pattern, _ in http_routes(app)}
    assert PUBLIC <= patterns
    assert len(patterns) > 20
    assert all(implemented(handler) for _, handler in http_routes(app))


@pytest.mark.gen_test(timeout=60)
async def test_nothing_private_answers_without_credentials(app, http_url, db):
    await db.chargers.insert_one({"_id": "CP1", "name": "CP1", "connectors": {}, "boot": None})
    client = AsyncHTTPClient()
    # A valid XSRF pair, so POSTs to pages reach the login check instead of the XSRF check.
    xsrf_headers = {"Cookie": "_xsrf=2|00000000|00000000000000000000000000000000|0",
                    "X-XSRFToken": "2|00000000|00000000000000000000000000000000|0"}  # fmt: skip
    checked = 0
    for pattern, handler in http_routes(app):
        path = sample_path(pattern)
        for method in implemented(handler):
            response = await client.fetch(
                http_url(path), method=method, body=BODY.get(method), headers=xsrf_headers,
                follow_redirects=False, raise_error=False,
                allow_nonstandard_methods=True,
            )  # fmt: skip
            checked += 1
            where = f"{method} {path}"
            if pattern in PUBLIC or is_static(handler):
                assert response.code not in (401, 403), where
                continue
            if response.code == 302:
                assert response.headers["Location"].startswith("/ocpp/login?next="), where
            else:
                assert response.code in (401, 403), (where, response.code)
                if response.code == 401:
                    assert response.headers["Content-Type"].startswith("application/json")
    assert checked > 30


def test_charger_route_is_any_upgrade_but_the_sink():
    kinds = [type(rule.matcher).__name__ for rule in routes()[:2]]
    assert kinds == ["WebSocketUpgrade", "WebSocketUpgrade"]
