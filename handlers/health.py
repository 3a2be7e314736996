"""``GET /healthz``: liveness for load balancers and scripts (no data, no login)."""

from __future__ import annotations

import tornado.web


class HealthHandler(tornado.web.RequestHandler):
    """Answers ``{"status": "ok"}`` while the process serves requests."""

    def get(self) -> None:
        """Report that the server is up."""
        self.write({"status": "ok"})
