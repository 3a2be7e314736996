"""``GET /metrics``: the Prometheus text format, written by ``prometheus_client`` from the
Services' own registry (``csms.metrics``).

On the main port it is protected like the API (token, Basic or login cookie). With
``--metrics-port`` the same page is also served, open, by a second application bound to
the loopback interface only (``make_metrics_app``), for a Prometheus on the same host.
"""

from __future__ import annotations

import tornado.web
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from csms.registry import ConnectionRegistry
from csms.services import Services
from handlers.base import APIHandler, AppDependencies


async def exposition(services: Services, registry: ConnectionRegistry) -> bytes:
    """The metrics now: the gauges read from the database are refreshed first."""
    await services.alerts.refresh_metrics(registry.ids())
    return generate_latest(services.metrics.registry)


class MetricsHandler(APIHandler):
    """``GET /metrics`` (authenticated)."""

    async def get(self) -> None:
        """The Prometheus text exposition."""
        body = await exposition(self.services, self.registry)
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.finish(body)


class OpenMetricsHandler(AppDependencies, tornado.web.RequestHandler):
    """``GET /metrics`` on the loopback metrics port (no authentication)."""

    async def get(self) -> None:
        """The Prometheus text exposition."""
        body = await exposition(self.services, self.registry)
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.finish(body)


def make_metrics_app(services: Services, registry: ConnectionRegistry) -> tornado.web.Application:
    """The application of ``--metrics-port``: ``/metrics`` only."""
    return tornado.web.Application(
        [(r"/metrics", OpenMetricsHandler)], services=services, registry=registry
    )


default_handlers = [
    (r"/metrics", MetricsHandler),
]
