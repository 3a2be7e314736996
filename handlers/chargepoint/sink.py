"""The permissive sink at ``/ws/sink/``: every CALL is answered ``{}``, nothing validated
(OCPP_RULES 10). Useful for a charger that should send data without rejections.

Anyone may connect, so it has limits of its own (``LimitSettings.sink_*``): a small cap
on connections in all and per IP (503 beyond) and a frame rate per connection (over it
the socket is read more slowly). Its frames go to their own log file
(``Services.sink_log``), so sink traffic cannot rotate the chargers' frames away.
"""

from __future__ import annotations

import asyncio
import logging
import time

import orjson
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from handlers.base import AppDependencies
from handlers.chargepoint.gate import GateDependency, request_peer
from handlers.chargepoint.limits import TokenBucket
from ocppj import frames

log = logging.getLogger("csms.sink")

SINK_PATHS = ("/ws/sink", "/ws/sink/")


class SinkHandler(AppDependencies, GateDependency, WebSocketHandler):
    """Accepts anything; replies to anything that looks like a CALL."""

    _bucket: TokenBucket | None = None

    def prepare(self) -> None:
        """A free sink slot (in all and for this IP), else 503 before the upgrade."""
        limits = self.gate.limits
        ip, _ = request_peer(self.request, self.gate.trust_proxy_headers)
        cap = self.gate.sink_cap
        if not cap.acquire(self, ip):
            if cap.refused == 1 or cap.refused % 100 == 0:
                log.warning("sink connection cap reached: %d open, %d refused (last: %s)",
                            len(cap), cap.refused, ip)  # fmt: skip
            self.set_status(503)
            self.set_header("Retry-After", str(limits.busy_retry_after))
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish("too many sink connections; retry later")
            return
        if limits.sink_message_rate > 0:
            self._bucket = TokenBucket(
                limits.sink_message_rate, limits.sink_message_burst, time.monotonic()
            )

    def on_finish(self) -> None:
        """A request answered without an upgrade gives its slot back."""
        if self.get_status() != 101:
            self.gate.sink_cap.release(self)

    def on_close(self) -> None:
        """The socket is gone: its slot is free."""
        self.gate.sink_cap.release(self)

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        """Take ocpp1.6 when offered, otherwise none."""
        return "ocpp1.6" if "ocpp1.6" in subprotocols else None

    async def on_message(self, message: str | bytes) -> None:
        """Answer ``[2, id, action, ...]`` with ``[3, id, {}]``; ignore everything else.

        Over the sink's frame rate the reply (and the next read) waits for a token."""
        if self._bucket is not None:
            delay = self._bucket.reserve(time.monotonic())
            if delay > 0:
                await asyncio.sleep(delay)
        sink_log = self.services.sink_log
        if sink_log is not None:
            sink_log.write("sink", "in", message if isinstance(message, str) else repr(message))
        try:
            frame = orjson.loads(message)
        except orjson.JSONDecodeError:
            return
        if isinstance(frame, list) and len(frame) >= 2 and frame[0] == 2:
            unique_id = frame[1] if isinstance(frame[1], str) else str(frame[1])
            try:
                await self.write_message(frames.pack_result(unique_id, {}))
            except WebSocketClosedError:
                pass
