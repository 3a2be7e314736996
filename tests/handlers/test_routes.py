"""The routing table and the Application factory (handlers.routes).

Walk every route of the application: only the landing pages, QR images, the login page,
static files and the health check are public; everything else needs a login or a token.
Walk it again per role: a viewer is refused every write, an operator every admin-only
route, an admin nothing (the ROLE CONTRACT of handlers.base)."""

from __future__ import annotations

import re

import orjson
import pytest
import tornado.web
from tornado.httpclient import AsyncHTTPClient
from tornado.routing import PathMatches, Rule

from handlers.api.index import NotFoundHandler
from handlers.base import LiveSettings, WebSettings
from handlers.chargepoint.gate import ChargerGate
from handlers.chargepoint.limits import LimitSettings
from handlers.chargepoint.sink import SINK_PATHS, SinkHandler
from handlers.chargepoint.websocket import ChargePointHandler
from handlers.routes import MAX_MESSAGE_SIZE, ROOT, make_app, routes
from simulator.manager import SimulatorManager
from tests.charge_points import raw_charger
from tests.conftest import COOKIE_SECRET

PUBLIC = {
    r"/$",  # a redirect to the dashboard, which then asks for a login
    r"/healthz$",
    r"/ocpp/login$",
    r"/ocpp/logout$",  # clearing a cookie needs no login
    r"/ocpp/c/(?P<cid>[^/]+)/$",
    r"/ocpp/c/(?P<cid>[^/]+)/qr\.svg$",
    r"/ocpp/set-password/([A-Za-z0-9_-]+)$",  # the one-time token is the credential
}
# Admins only, for reading and writing: users, security (profiles, charger keys, unknown
# chargers), certificates, alert settings and channels (server settings). Spelled out here,
# not read from the handlers, so a forgotten attribute fails.
ADMIN_ONLY = {
    r"/ocpp/admin/users/$",
    r"/ocpp/admin/users/([^/]+)/role$",
    r"/ocpp/admin/users/([^/]+)/reset$",
    r"/ocpp/admin/users/([^/]+)/disable$",
    r"/ocpp/admin/security/$",
    r"/ocpp/admin/security/unknown/$",
    r"/ocpp/admin/security/unknown/([^/]+)/accept$",
    r"/ocpp/admin/security/unknown/([^/]+)/dismiss$",
    r"/ocpp/admin/chargers/([^/]+)/security/$",
    r"/ocpp/admin/security/ca.pem$",
    r"/ocpp/admin/security/csrs/([^/]+)\.pem$",
    r"/ocpp/admin/security/csrs/([^/]+)/certificate$",
    r"/ocpp/admin/alerts/settings/$",
    r"/ocpp/api/alert-channels/$",
    r"/ocpp/api/alert-channels/(?P<channel_id>[^/]+)/$",
}
ADMIN_WRITES = {r"/ocpp/api/alert-rules/$"}  # everyone reads the rules
# Writes a viewer may make: logging in and out, their own password and API tokens.
VIEWER_WRITES = {
    r"/ocpp/login$",
    r"/ocpp/logout$",
    r"/ocpp/set-password/([A-Za-z0-9_-]+)$",
    r"/ocpp/admin/tokens/$",
    r"/ocpp/admin/tokens/([^/]+)/revoke$",
}
ROLES = ("viewer", "operator", "admin")
# Requests that would change what the walk goes on with, or never end, when allowed.
NOT_SENT_WHEN_ALLOWED = {("POST", r"/ocpp/logout$"), ("GET", r"/ocpp/live/events$")}
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


def expected_roles(pattern: str, handler: type) -> tuple[str, str]:
    """(read, write) role of a route, from the lists above and the handler's attributes,
    which must agree."""
    read, write = handler.read_role, handler.write_role
    if pattern in ADMIN_ONLY:
        assert (read, write) == ("admin", "admin"), pattern
    if pattern in ADMIN_WRITES:
        assert write == "admin", pattern
    assert (write == "viewer") == (pattern in VIEWER_WRITES), pattern
    return read, write


def role_cookie(username: str) -> str:
    """A login cookie of ``username`` (session version 0) and a valid XSRF pair."""
    signed = tornado.web.create_signed_value(COOKIE_SECRET, "csms_user", f"0:{username}")
    return f"csms_user={signed.decode()}; _xsrf={XSRF}"


XSRF = "2|00000000|00000000000000000000000000000000|0"


def refused_for_role(response, role: str, needed: str) -> bool:
    """Whether the response is the role refusal (page or JSON) naming ``needed``."""
    if response.code != 403:
        return False
    if response.headers.get("Content-Type", "").startswith("application/json"):
        body = orjson.loads(response.body)
        return body["error"] == "forbidden" and body["detail"].endswith(f"requires {needed}")
    return f"Your role ({role}) may not".encode() in response.body and needed.encode() in (
        response.body
    )


@pytest.mark.gen_test(timeout=120)
async def test_every_route_checks_the_role(app, http_url, db, services):
    await db.chargers.insert_one({"_id": "CP1", "name": "CP1", "connectors": {}, "boot": None})
    for role in ROLES:
        await services.users.create(role, "password1", role)
    client = AsyncHTTPClient()
    checked = {role: 0 for role in ROLES}
    for pattern, handler in http_routes(app):
        if is_static(handler) or not hasattr(handler, "read_role"):
            continue
        read, write = expected_roles(pattern, handler)
        path = sample_path(pattern)
        for method in implemented(handler):
            needed = read if method in ("GET", "HEAD") else write
            for role in ROLES:
                allowed = ROLES.index(role) >= ROLES.index(needed)
                if allowed and (method, pattern) in NOT_SENT_WHEN_ALLOWED:
                    continue
                response = await client.fetch(
                    http_url(path), method=method, body=BODY.get(method),
                    headers={"Cookie": role_cookie(role), "X-XSRFToken": XSRF,
                             "Content-Type": "application/json"},
                    follow_redirects=False, raise_error=False, allow_nonstandard_methods=True,
                    request_timeout=30,
                )  # fmt: skip
                checked[role] += 1
                where = (role, method, path, response.code)
                assert refused_for_role(response, role, needed) is not allowed, where
                if role == "viewer" and method != "GET":
                    assert allowed is (pattern in VIEWER_WRITES), where
                if role == "operator" and pattern in ADMIN_ONLY:
                    assert not allowed, where
    assert min(checked.values()) > 30


def test_charger_route_is_any_upgrade_but_the_sink():
    kinds = [type(rule.matcher).__name__ for rule in routes()[:2]]
    assert kinds == ["WebSocketUpgrade", "WebSocketUpgrade"]


@pytest.mark.gen_test
async def test_the_favicon_is_the_svg_the_pages_link(http_url):
    response = await AsyncHTTPClient().fetch(http_url("/favicon.ico"))
    assert response.headers["Content-Type"] == "image/svg+xml"
    assert response.body == (ROOT / "static" / "favicon.svg").read_bytes()


@pytest.mark.gen_test
async def test_swagger_ui_is_served_locally(http_url):
    response = await AsyncHTTPClient().fetch(http_url("/vendor/swagger-ui/swagger-ui-bundle.js"))
    assert response.code == 200 and b"SwaggerUIBundle" in response.body


@pytest.mark.gen_test
async def test_leaflet_is_served_locally(http_url):
    response = await AsyncHTTPClient().fetch(http_url("/vendor/leaflet/leaflet.js"))
    assert response.code == 200 and b"Leaflet" in response.body[:400]


def test_upgrades_come_first_the_sink_before_the_charge_points_and_api_404s_last():
    table = routes()
    sink, charge_points = table[0], table[1]
    assert isinstance(sink, Rule) and sink.target is SinkHandler
    assert (sink.matcher.only, sink.matcher.exclude) == (SINK_PATHS, ())
    assert charge_points.target is ChargePointHandler
    assert (charge_points.matcher.only, charge_points.matcher.exclude) == ((), SINK_PATHS)
    assert table[-2:] == [
        (r"/ocpp/api/.*", NotFoundHandler),
        (r"/ocpp/chargers/.*", NotFoundHandler),
    ]
    assert not any(isinstance(route, Rule) for route in table[2:])


def test_make_app_builds_every_dependency_once(services, registry):
    limits = LimitSettings(max_connections=7)
    app = make_app(
        services, registry, cookie_secret="s", limits=limits, allow_unknown_chargers=False,
        tls=True, trust_proxy_headers=True,
    )  # fmt: skip
    settings = app.settings
    assert settings["services"] is services and settings["registry"] is registry
    gate = settings["gate"]
    assert isinstance(gate, ChargerGate) and gate.limits is limits and gate.cap.limit == 7
    assert (gate.allow_unknown, gate.tls, gate.trust_proxy_headers) == (False, True, True)
    assert settings["web"] == WebSettings() and settings["live"] == LiveSettings()
    assert isinstance(settings["simulators"], SimulatorManager)
    assert (settings["cookie_secret"], settings["xsrf_cookies"]) == ("s", True)
    assert settings["login_url"] == "/ocpp/login"
    assert (settings["websocket_ping_interval"], settings["websocket_ping_timeout"]) == (60, 30)
    assert settings["websocket_max_message_size"] == MAX_MESSAGE_SIZE == 64 * 1024


def test_without_a_cookie_secret_each_app_gets_a_random_one(services, registry):
    first, second = make_app(services, registry), make_app(services, registry)
    assert len(first.settings["cookie_secret"]) == 64
    assert first.settings["cookie_secret"] != second.settings["cookie_secret"]


@pytest.mark.gen_test
async def test_a_charger_may_use_a_path_an_http_page_also_uses(ws_url, db):
    async with raw_charger(ws_url("/ocpp/login")) as cp:
        assert (await cp.boot())[2]["status"] == "Accepted"
    assert await db.chargers.find_one({"_id": "login"}) is not None


@pytest.mark.gen_test
@pytest.mark.parametrize(
    "path",
    ["/static/css/app.css%00.txt", "/vendor/leaflet/leaflet.js%00", "/static/css/%0d%0a.css"],
)
async def test_a_control_character_in_a_static_path_is_a_400(http_url, path):
    response = await AsyncHTTPClient().fetch(http_url(path), raise_error=False)
    assert response.code == 400
