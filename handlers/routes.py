"""The routing table and the Application factory.

Order matters: WebSocket upgrades are matched first (the sink, then every
other path as a charge point), so a charger can use any path, even one an
HTTP page also uses; plain HTTP never reaches the charger handler.
"""

from __future__ import annotations

from typing import Any

import tornado.web
from tornado.routing import Rule

from csms.registry import ConnectionRegistry
from csms.services import Services
from handlers.chargepoint import ChargePointHandler, WebSocketUpgrade
from handlers.health import HealthHandler
from handlers.sink import SINK_PATHS, SinkHandler

MAX_MESSAGE_SIZE = 64 * 1024


def routes() -> list[Any]:
    """Every route of the application, in matching order."""
    return [
        Rule(WebSocketUpgrade(only=SINK_PATHS), SinkHandler),
        Rule(WebSocketUpgrade(exclude=SINK_PATHS), ChargePointHandler),
        (r"/healthz", HealthHandler),
    ]


def make_app(
    services: Services,
    registry: ConnectionRegistry,
    *,
    ping_interval: float = 60.0,
    ping_timeout: float = 30.0,
    max_message_size: int = MAX_MESSAGE_SIZE,
    **settings: Any,
) -> tornado.web.Application:
    """The Tornado Application with its dependencies in the settings."""
    return tornado.web.Application(
        routes(),
        services=services,
        registry=registry,
        websocket_ping_interval=ping_interval,
        websocket_ping_timeout=ping_timeout,
        websocket_max_message_size=max_message_size,
        **settings,
    )
