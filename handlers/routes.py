"""The routing table and the Application factory: the one place route lists are joined.

Every handler module ends in its own ``default_handlers``; this module lists the
modules. Order matters: WebSocket upgrades are matched first (the sink, then every
other path as a charge point), so a charger can use any path, even one an HTTP page
also uses; plain HTTP never reaches the charger handler. The API's catch-all JSON
404 comes last.
"""

from __future__ import annotations

import importlib.util
import secrets
from pathlib import Path
from typing import Any

import tornado.web
import xstatic.pkg.leaflet
from tornado.routing import Rule

from csms.load_management import LoadManager, LoadSettings
from csms.registry import ConnectionRegistry
from csms.services import Services
from handlers import auth, fleet_map, health, live, metrics, pages
from handlers.admin import alerts as admin_alerts
from handlers.admin import api_docs as admin_api_docs
from handlers.admin import certificates as admin_certificates
from handlers.admin import charger_tools as admin_charger_tools
from handlers.admin import chargers as admin_chargers
from handlers.admin import data as admin_data
from handlers.admin import index as admin_index
from handlers.admin import operations as admin_operations
from handlers.admin import rfid as admin_rfid
from handlers.admin import security as admin_security
from handlers.admin import session as admin_session
from handlers.admin import simulators as admin_simulators
from handlers.admin import sites as admin_sites
from handlers.admin import tariffs as admin_tariffs
from handlers.admin import tokens as admin_tokens
from handlers.admin import users as admin_users
from handlers.admin import views as admin_views
from handlers.api import alerts as api_alerts
from handlers.api import chargers as api_chargers
from handlers.api import data as api_data
from handlers.api import index as api_index
from handlers.api import reports as api_reports
from handlers.api import rfid as api_rfid
from handlers.api import sites as api_sites
from handlers.api import tariffs as api_tariffs
from handlers.base import LiveSettings, WebSettings
from handlers.chargepoint.gate import ChargerGate
from handlers.chargepoint.limits import LimitSettings
from handlers.chargepoint.sink import SINK_PATHS, SinkHandler
from handlers.chargepoint.websocket import ChargePointHandler, WebSocketUpgrade
from handlers.headers import security_transform
from handlers.ui_modules import UI_MODULES
from simulator.manager import SimulatorManager

ROOT = Path(__file__).resolve().parent.parent
MAX_MESSAGE_SIZE = 64 * 1024
FAVICON = "favicon.svg"


class StaticHandler(tornado.web.StaticFileHandler):
    """Static files; a path with a NUL or another control character is a 400 (the
    file system call would raise and answer 500). Tornado also routes ``/favicon.ico``
    here: it answers with the SVG icon the pages link."""

    def parse_url_path(self, url_path: str) -> str:
        """The relative file path, or 400 for a path no file can have."""
        if any(ord(char) < 32 for char in url_path):
            raise tornado.web.HTTPError(400, log_message="control character in a static path")
        if url_path == "favicon.ico":
            return FAVICON
        return super().parse_url_path(url_path)


class VendorStaticHandler(StaticHandler):
    """Front-end libraries served from their installed Python packages (no CDN)."""


def swagger_ui_dir() -> str:
    """Swagger UI 5 (OpenAPI 3.1) as the ``flask-swagger-ui`` package ships it: only its
    files are served, the package (and Flask) is never imported."""
    spec = importlib.util.find_spec("flask_swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the flask-swagger-ui package is not installed")
    return str(Path(next(iter(spec.submodule_search_locations))) / "dist")


# The modules whose ``default_handlers`` are served, in matching order.
HTTP_MODULES = (
    health, auth, pages, live, fleet_map,
    api_chargers, api_data, api_rfid, api_tariffs, api_reports, api_sites, api_alerts,
    api_index, metrics,
    admin_index, admin_chargers, admin_operations, admin_rfid, admin_data, admin_simulators,
    admin_security, admin_tariffs, admin_certificates, admin_sites, admin_alerts,
    admin_charger_tools,
    admin_users, admin_tokens, admin_api_docs,
    admin_session, admin_views,
)  # fmt: skip


def routes() -> list[Any]:
    """Every route of the application, in matching order."""
    return [
        Rule(WebSocketUpgrade(only=SINK_PATHS), SinkHandler),
        Rule(WebSocketUpgrade(exclude=SINK_PATHS), ChargePointHandler),
        (r"/vendor/leaflet/(.*)", VendorStaticHandler,
         {"path": xstatic.pkg.leaflet.BASE_DIR}),
        (r"/vendor/swagger-ui/(.*)", VendorStaticHandler,
         {"path": swagger_ui_dir()}),
        *(route for module in HTTP_MODULES for route in module.default_handlers),
        *api_index.not_found_handlers,
    ]  # fmt: skip


def make_app(
    services: Services,
    registry: ConnectionRegistry,
    *,
    web: WebSettings | None = None,
    cookie_secret: str | None = None,
    ping_interval: float | None = 60.0,
    ping_timeout: float | None = 30.0,
    max_message_size: int = MAX_MESSAGE_SIZE,
    simulators: SimulatorManager | None = None,
    limits: LimitSettings | None = None,
    allow_unknown_chargers: bool = True,
    tls: bool = False,
    trust_proxy_headers: bool = False,
    live: LiveSettings | None = None,
    load: LoadSettings | None = None,
) -> tornado.web.Application:
    """The Tornado Application with every dependency in its settings, each built once
    here and read through the typed properties of ``handlers.base.AppDependencies``."""
    web = web or WebSettings()
    if services.load is None:  # load management sends through this registry
        services.load = LoadManager(services, registry, load)
    gate = ChargerGate.build(
        limits, allow_unknown=allow_unknown_chargers, tls=tls,
        trust_proxy_headers=trust_proxy_headers,
    )  # fmt: skip
    return tornado.web.Application(
        routes(),
        transforms=[security_transform(web.tile_url)],
        services=services,
        registry=registry,
        web=web,
        login_throttle=web.login_throttle(),
        gate=gate,
        live=live or LiveSettings(),
        simulators=SimulatorManager(services.schemas) if simulators is None else simulators,
        cookie_secret=cookie_secret or secrets.token_hex(32),
        xsrf_cookies=True,
        login_url="/ocpp/login",
        template_path=str(ROOT / "templates"),
        static_path=str(ROOT / "static"),
        static_handler_class=StaticHandler,
        ui_modules=UI_MODULES,
        websocket_ping_interval=ping_interval,
        websocket_ping_timeout=ping_timeout,
        websocket_max_message_size=max_message_size,
    )
