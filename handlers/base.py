"""Base handlers: BaseHandler for pages (login by secure cookie, XSRF on forms) and
APIHandler for the JSON API (Bearer token, HTTP Basic or the login cookie)."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import orjson
import tornado.web
from bson import ObjectId

from auth.basic import parse_basic
from auth.roles import OPERATOR, VIEWER, allows
from auth.throttle import LoginThrottle
from csms.registry import ConnectionRegistry
from csms.services import Services
from models.users import token_role, user_role
from ocppj.timeutil import format_datetime
from simulator.manager import SimulatorManager

log = logging.getLogger("csms.web")

USER_COOKIE = "csms_user"
SECURE_USER_COOKIE = "__Host-csms_user"  # over https
COOKIE_DAYS = 14
AUTHENTICATE = 'Bearer realm="csms", Basic realm="csms"'
READ_METHODS = ("GET", "HEAD")


# OpenStreetMap's tile server; a module constant because a slots dataclass's class
# attribute is a member descriptor, not its default.
DEFAULT_TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"


@dataclass(slots=True)
class WebSettings:
    """Tunables of the web side."""

    public_url: str = "http://127.0.0.1:8000"
    tile_url: str = DEFAULT_TILE_URL
    tile_attribution: str = "&copy; OpenStreetMap contributors"
    # Monterrey, Mexico: where the map is centred for a charger without coordinates.
    default_latitude: float = 25.6866
    default_longitude: float = -100.3161
    action_timeout: float = 30.0
    # Failed operator logins (form and HTTP Basic) within the window before 429.
    login_failures_per_ip: int = 20
    login_failures_per_user: int = 10
    login_failure_window: float = 300.0
    # The TLS port when plain HTTP is served beside it (--tls-port): pages on the plain
    # port are sent there, and nothing else but the charger route answers on it.
    https_port: int | None = None

    def login_throttle(self) -> LoginThrottle:
        """The failed-login counter these settings describe (one per Application)."""
        return LoginThrottle(
            self.login_failures_per_ip, self.login_failures_per_user, self.login_failure_window
        )


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, ObjectId):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def to_json(value: Any) -> bytes:
    """JSON for API responses: datetimes as RFC 3339 UTC, ObjectIds as strings."""
    options = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
    return orjson.dumps(value, default=_json_default, option=options)


class ApiError(tornado.web.HTTPError):
    """An API failure answered as ``{"error": error, "detail": detail}``."""

    def __init__(
        self, status: int, error: str, detail: Any = None, headers: dict[str, str] | None = None
    ):
        super().__init__(status, reason=None, log_message=f"{error}: {detail}")
        self.error = error
        self.detail = detail
        self.headers = headers or {}


@dataclass(frozen=True, slots=True)
class LiveSettings:
    """The server-sent event stream of the dashboard."""

    keepalive: float = 15.0  # seconds between comment lines that keep proxies from closing it
    max_age: float = 1800.0  # seconds before a stream ends (the browser reconnects)


class AppDependencies:
    """The dependencies every handler reads from the Application settings, typed (a mixin
    for RequestHandler and WebSocketHandler subclasses alike). ``make_app`` puts each one
    there once; nothing is created per request."""

    settings: dict[str, Any]

    @property
    def services(self) -> Services:
        """Repositories, writers and the event bus."""
        return self.settings["services"]

    @property
    def registry(self) -> ConnectionRegistry:
        """Live charger connections."""
        return self.settings["registry"]

    @property
    def web(self) -> WebSettings:
        """Web tunables (public URL, map tiles, ...)."""
        return self.settings["web"]

    @property
    def live(self) -> LiveSettings:
        """The dashboard's event stream."""
        return self.settings["live"]

    @property
    def login_throttle(self) -> LoginThrottle:
        """Failed operator logins per IP and per user."""
        return self.settings["login_throttle"]

    @property
    def simulators(self) -> SimulatorManager:
        """Simulators run from the admin."""
        return self.settings["simulators"]


class Forbidden(tornado.web.HTTPError):
    """The current role may not do this: a 403 that says which role it needs."""

    def __init__(self, role: str, needed: str, reading: bool):
        self.role, self.needed, self.reading = role, needed, reading
        super().__init__(403, log_message=f"role {role} below {needed}")

    @property
    def detail(self) -> str:
        """The sentence shown to the person refused."""
        what = "open this page" if self.reading else "make this change"
        return f"Your role ({self.role}) may not {what}: it requires {self.needed}."


class BaseHandler(AppDependencies, tornado.web.RequestHandler):
    """Pages: the current user comes from the signed login cookie.

    The ROLE CONTRACT: ``read_role`` is needed for GET/HEAD, ``write_role`` for every other
    method; a logged-in user whose role is below is refused (403). Nobody logged in is
    left to ``@authenticated`` (a redirect to the login) or to a public page."""

    read_role: str = VIEWER
    write_role: str = OPERATOR
    current_role: str | None = None

    async def prepare(self) -> None:
        """Resolve the logged-in user before the method runs (pages on the plain port of a
        TLS server go to https first), then check their role."""
        self.require_https()
        self.current_user = await self.user_from_cookie()
        if self.current_user is not None:
            self.current_role = user_role(self.current_user)
            self.check_role()

    @property
    def needed_role(self) -> str:
        """The role this request's method needs."""
        return self.read_role if self.request.method in READ_METHODS else self.write_role

    def may(self, needed: str) -> bool:
        """Whether the current user's role reaches ``needed`` (templates hide what not)."""
        return allows(self.current_role, needed)

    def check_role(self) -> None:
        """Refuse (403) a request whose method needs more than the current role."""
        self.require_role(self.needed_role)

    def require_role(self, needed: str) -> None:
        """Refuse (403) unless the current role reaches ``needed`` (what a handler checks
        itself when one route does things of different weight)."""
        if not allows(self.current_role, needed):
            self.refuse(needed)

    def refuse(self, needed: str) -> None:
        """Raise the 403 page of a role below ``needed``."""
        reading = self.request.method in READ_METHODS
        raise Forbidden(self.current_role or VIEWER, needed, reading)

    def require_https(self) -> None:
        """With a TLS port beside the plain one, a page asked for over plain HTTP is
        redirected to https (301); any other method is refused (403), never served: a
        login or a cookie must not cross the network in clear."""
        port = self.web.https_port
        if port is None or self.request.protocol == "https":
            return
        if self.request.method in ("GET", "HEAD"):
            host = self.request.host_name
            self.redirect(f"https://{host}:{port}{self.request.uri}", permanent=True)
            raise tornado.web.Finish()
        raise tornado.web.HTTPError(403, reason="Use https")

    @property
    def cookie_name(self) -> str:
        """The login cookie's name: over https a ``__Host-`` cookie (Secure, this host only),
        which the plain port never reads, so a cookie issued over TLS is not a login there."""
        return SECURE_USER_COOKIE if self.request.protocol == "https" else USER_COOKIE

    async def user_from_cookie(self) -> dict[str, Any] | None:
        """The user named by a valid login cookie, if that user still exists and the
        cookie's session version is the user's current one (logout and a password change
        raise it, which ends every earlier cookie)."""
        raw = self.get_signed_cookie(self.cookie_name, max_age_days=COOKIE_DAYS)
        if not raw:
            return None
        version, colon, username = raw.decode(errors="replace").partition(":")
        if not colon or not version.isdigit():
            return None  # a cookie from before session versions
        user = await self.services.users.get(username)
        if user is None or user.get("disabled") or session_version(user) != int(version):
            return None
        return user

    def login(self, user: dict[str, Any]) -> None:
        """Set the login cookie: the user's session version and name, signed."""
        self.set_signed_cookie(
            self.cookie_name, f"{session_version(user)}:{user['username']}",
            expires_days=COOKIE_DAYS, httponly=True, samesite="Lax",
            secure=self.request.protocol == "https", path="/",
        )  # fmt: skip

    def forget_login(self) -> None:
        """Clear the login cookie (a ``__Host-`` cookie is only cleared with Secure)."""
        self.clear_cookie(self.cookie_name, path="/", secure=self.request.protocol == "https")

    def get_template_namespace(self) -> dict[str, Any]:
        """Templates also see the web settings and a datetime formatter."""
        namespace = super().get_template_namespace()
        namespace.update(web=self.web, fmt_dt=fmt_dt, kw=kw, kwh=kwh, may=self.may)
        return namespace

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """A plain error page without internals; a refused role is told what it needs."""
        exc = kwargs.get("exc_info", (None, None))[1]
        detail = exc.detail if isinstance(exc, Forbidden) else None
        self.render("error.html", status_code=status_code, reason=self._reason, detail=detail)


class APIHandler(BaseHandler):
    """JSON in and out; authenticated by Bearer token, HTTP Basic, or the login cookie.

    Requests with an Authorization header skip the XSRF check (a browser cannot
    set that header cross-site); request bodies must be JSON, which a cross-site
    form cannot send without a CORS preflight, so cached Basic credentials
    cannot be abused either.
    """

    auth_method: str | None = None

    def check_xsrf_cookie(self) -> None:
        """XSRF applies only to cookie-authenticated requests.

        Without an Authorization header and without a login cookie the request
        is nobody's: ``prepare`` answers 401, which says more than an XSRF 403.
        """
        if "Authorization" in self.request.headers:
            return
        if not self.get_cookie(self.cookie_name):
            return
        super().check_xsrf_cookie()

    def refuse(self, needed: str) -> None:
        """Raise the 403 JSON error of a role below ``needed`` (a token's role caps its
        owner's)."""
        detail = f"{self.request.method} {self.request.path} requires {needed}"
        raise ApiError(403, "forbidden", detail)

    async def prepare(self) -> None:
        """Authenticate; 401 with a JSON body when nobody is."""
        self.require_https()
        header = self.request.headers.get("Authorization", "")
        scheme, _, credentials = header.partition(" ")
        scheme = scheme.lower()
        user = None
        role = None
        if scheme == "bearer" and credentials:
            token = await self.services.tokens.lookup(credentials.strip())
            user = await self.services.users.get(token["username"]) if token else None
            if user is not None:
                role = token_role(token, user)
            self.auth_method = "token"
        elif scheme == "basic" and credentials:
            parsed = parse_basic(header)
            try:
                name, password = parsed[0], parsed[1].decode()
            except (TypeError, UnicodeDecodeError):
                raise ApiError(401, "unauthorized", "malformed Basic credentials") from None
            ip = self.request.remote_ip or ""
            retry = self.login_throttle.retry_after(ip, name)
            if retry is not None:
                raise ApiError(429, "too_many_failed_logins",
                               f"too many failed logins; retry in {retry} s",
                               {"Retry-After": str(retry)})  # fmt: skip
            user = await self.services.users.authenticate(name, password)
            if user is None:
                self.login_throttle.failure(ip, name)
            self.auth_method = "basic"
        elif not header:
            user = await self.user_from_cookie()
            self.auth_method = "cookie"
        if user is None or user.get("disabled"):
            raise ApiError(401, "unauthorized", "a valid API token, login or session is required")
        self.current_user = user
        self.current_role = role or user_role(user)
        self.check_role()
        if self.request.method in ("POST", "PUT", "PATCH") and self.request.body:
            content_type = self.request.headers.get("Content-Type", "").split(";")[0].strip()
            if content_type != "application/json":
                raise ApiError(415, "unsupported_media_type", "send the body as application/json")

    def json_body(self) -> dict[str, Any]:
        """The request body as a JSON object, or 400."""
        try:
            body = orjson.loads(self.request.body or b"{}")
        except orjson.JSONDecodeError as exc:
            raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_json", "the body must be a JSON object")
        return body

    def write_json(self, value: Any, status: int = 200) -> None:
        """Send ``value`` as JSON."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(to_json(value))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Errors are ``{"error": ..., "detail": ...}``; a 401 carries the challenge."""
        if status_code == 401:
            self.set_header("WWW-Authenticate", AUTHENTICATE)
        exc = kwargs.get("exc_info", (None, None))[1]
        if isinstance(exc, ApiError):
            body = {"error": exc.error, "detail": exc.detail}
            for name, value in exc.headers.items():
                self.set_header(name, value)
        elif status_code == 403 and isinstance(exc, tornado.web.HTTPError):
            body = {"error": "forbidden", "detail": exc.log_message or "forbidden"}
        elif status_code == 405:
            body = {"error": "method_not_allowed", "detail": self.request.method}
        elif status_code >= 500:
            body = {"error": "internal_error", "detail": "see the server log"}
        else:
            body = {"error": self._reason.lower().replace(" ", "_"), "detail": None}
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(to_json(body))


@dataclass(slots=True)
class Pager:
    """One page of a filtered list, with links that keep the filters."""

    page: int
    per_page: int
    total: int
    path: str
    filters: dict[str, str]

    @property
    def pages(self) -> int:
        """How many pages there are (at least 1)."""
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def skip(self) -> int:
        """Documents before this page."""
        return (self.page - 1) * self.per_page

    def url(self, page: int) -> str:
        """The URL of another page with the same filters."""
        query = {key: value for key, value in self.filters.items() if value}
        if page > 1:
            query["page"] = str(page)
        return self.path + ("?" + urlencode(query) if query else "")

    @property
    def prev_url(self) -> str | None:
        """The previous page, or None on the first."""
        return self.url(self.page - 1) if self.page > 1 else None

    @property
    def next_url(self) -> str | None:
        """The next page, or None on the last."""
        return self.url(self.page + 1) if self.page < self.pages else None


def session_version(user: dict[str, Any]) -> int:
    """The user's current login session version (0 for users stored before it existed)."""
    return int(user.get("session_version") or 0)


def kwh(wh: float | None, places: int = 2) -> str:
    """Wh as kWh with ``places`` decimals (pages: 2, the admin's tables: 3); "" for unknown."""
    return "" if wh is None else f"{wh / 1000:.{places}f}"


def kw(watts: float | None, places: int = 1) -> str:
    """W as kW with ``places`` decimals (the one rounding of power on pages); "" for
    unknown (static/js/format.js rounds the same way)."""
    return "" if watts is None else f"{watts / 1000:.{places}f}"


# Outcomes of a call to a charger that are not a plain 200 for the API and the admin.
OUTCOME_HTTP_STATUS = {"not_connected": 409, "disconnected": 409, "timeout": 504}


def fmt_dt(value: datetime | None) -> str:
    """A datetime for people: UTC, to the second; empty for None."""
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")
