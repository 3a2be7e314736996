"""The routing table and the Application factory.

Order matters: WebSocket upgrades are matched first (the sink, then every
other path as a charge point), so a charger can use any path, even one an
HTTP page also uses; plain HTTP never reaches the charger handler.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import tornado.web
import xstatic.pkg.leaflet
from tornado.routing import Rule

from csms.registry import ConnectionRegistry
from csms.services import Services
from handlers import admin, api, auth, live, pages
from handlers.base import WebSettings
from handlers.chargepoint import ChargePointHandler, WebSocketUpgrade
from handlers.health import HealthHandler
from handlers.sink import SINK_PATHS, SinkHandler
from handlers.ui_modules import UI_MODULES

ROOT = Path(__file__).resolve().parent.parent
MAX_MESSAGE_SIZE = 64 * 1024


class VendorStaticHandler(tornado.web.StaticFileHandler):
    """Front-end libraries served from their installed Python packages (no CDN)."""


def routes() -> list[Any]:
    """Every route of the application, in matching order."""
    return [
        Rule(WebSocketUpgrade(only=SINK_PATHS), SinkHandler),
        Rule(WebSocketUpgrade(exclude=SINK_PATHS), ChargePointHandler),
        (r"/healthz", HealthHandler),
        (r"/vendor/leaflet/(.*)", VendorStaticHandler,
         {"path": xstatic.pkg.leaflet.BASE_DIR}),
        *auth.ROUTES,
        *pages.ROUTES,
        *live.ROUTES,
        *api.ROUTES,
        *admin.ROUTES,
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
    **settings: Any,
) -> tornado.web.Application:
    """The Tornado Application with its dependencies in the settings."""
    return tornado.web.Application(
        routes(),
        services=services,
        registry=registry,
        web=web or WebSettings(),
        cookie_secret=cookie_secret or secrets.token_hex(32),
        xsrf_cookies=True,
        login_url="/ocpp/login",
        template_path=str(ROOT / "templates"),
        static_path=str(ROOT / "static"),
        ui_modules=UI_MODULES,
        websocket_ping_interval=ping_interval,
        websocket_ping_timeout=ping_timeout,
        websocket_max_message_size=max_message_size,
        **settings,
    )
