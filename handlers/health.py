"""``GET /healthz``: liveness for load balancers and scripts (no login).

Also reports how far behind the batched writes are (``flush_lag_ms``: the age of
the oldest buffered document at its last write, worst writer), which the
benchmark reads.
"""

from __future__ import annotations

import tornado.web

from handlers.base import AppDependencies


class HealthHandler(AppDependencies, tornado.web.RequestHandler):
    """Answers ``{"status": "ok", "flush_lag_ms": ..., "flush_lag_max_ms": ...}``."""

    def get(self) -> None:
        """Report that the server is up, and the write lag."""
        services = self.services
        # The writers that promise <= 100 ms; the slow "observed" charger fields wait by design.
        writers = [services.meter_values.writer, services.messages.writer, services.chargers.state]
        self.write(
            {
                "status": "ok",
                "flush_lag_ms": round(max(w.last_lag for w in writers) * 1000, 1),
                "flush_lag_max_ms": round(max(w.max_lag for w in writers) * 1000, 1),
            }
        )


default_handlers = [
    (r"/healthz", HealthHandler),
]
