"""The permissive sink at ``/ws/sink/``: every CALL is answered ``{}``, nothing validated
(OCPP_RULES 10). Useful for a charger that should send data without rejections."""

from __future__ import annotations

import logging

import orjson
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from handlers.base import AppDependencies
from ocppj import frames

log = logging.getLogger("csms.sink")

SINK_PATHS = ("/ws/sink", "/ws/sink/")


class SinkHandler(AppDependencies, WebSocketHandler):
    """Accepts anything; replies to anything that looks like a CALL."""

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        """Take ocpp1.6 when offered, otherwise none."""
        return "ocpp1.6" if "ocpp1.6" in subprotocols else None

    async def on_message(self, message: str | bytes) -> None:
        """Answer ``[2, id, action, ...]`` with ``[3, id, {}]``; ignore everything else."""
        frame_log = self.services.frame_log
        if frame_log is not None:
            frame_log.write("sink", "in", message if isinstance(message, str) else repr(message))
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
