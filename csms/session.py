"""One charger's OCPP-J conversation, independent of the WebSocket library.

The transport hands in text frames and gets text frames to send. Incoming
CALLs are validated, dispatched and answered in order; replies to our own
CALLs resolve the pending call. Every frame goes to the message log and the
frame log file.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from csms.actions import CENTRAL_SYSTEM_ACTIONS, CHARGER_ACTIONS
from csms.context import CallContext, ConnectionState
from csms.services import Services
from models.messages import IN, OUT
from ocppj import errors, frames
from ocppj.redaction import redact_frame
from ocppj.rpc import OutgoingCalls
from ocppj.timeutil import utcnow

log = logging.getLogger("csms.session")


class ChargerSession:
    """Protocol state of one connected charger."""

    def __init__(
        self,
        charger_id: str,
        services: Services,
        send: Callable[[str], Awaitable[None]],
        path: str = "",
    ):
        self.charger_id = charger_id
        self.path = path
        self.services = services
        self._send = send
        self.state = ConnectionState(charger_id)
        self.outgoing = OutgoingCalls(self.send_logged)
        self._last_call_id: str | None = None
        self._last_reply: str | None = None
        self.connected_at: datetime | None = None

    async def open(self) -> dict:
        """Record the connection; create the charger document when the id is new.

        Returns the charger document.
        """
        now = self.connected_at = utcnow()
        doc, created = await self.services.chargers.connect(self.charger_id, self.path, now)
        self.state.known = bool(doc.get("boot"))
        self.services.bus.publish("connected", self.charger_id, created=created)
        return doc

    async def closed(self) -> None:
        """The socket is gone: fail our pending call, mark the charger offline."""
        self.outgoing.close()
        if self.connected_at is not None:
            await self.services.chargers.disconnected(self.charger_id, utcnow(), self.connected_at)
        self.services.bus.publish("disconnected", self.charger_id)

    async def send_logged(self, text: str, action: str | None = None, unique_id=None) -> None:
        """Send a frame and log it (with secrets redacted in the log)."""
        self._log(OUT, redact_frame(action, text), action, unique_id)
        await self._send(text)

    def _log(self, direction: str, text: str, action: str | None, unique_id: str | None) -> None:
        self.services.messages.append(self.charger_id, direction, text, utcnow(), action, unique_id)
        if self.services.frame_log is not None:
            self.services.frame_log.write(self.charger_id, direction, text)

    async def on_text(self, text: str) -> None:
        """Handle one text frame from the charger."""
        try:
            frame = frames.parse(text)
        except frames.FrameError as exc:
            self._log(IN, text, None, None)
            await self.send_logged(
                frames.pack_error(exc.unique_id, exc.code, exc.description), None, exc.unique_id
            )
            return
        if isinstance(frame, frames.Call):
            self._log(IN, text, frame.action, frame.unique_id)
            await self._on_call(frame)
        elif isinstance(frame, frames.Unknown):
            self._log(IN, text, None, None)
            kind = repr(frame.message_type)[:40]  # the peer's value: bounded in our log
            log.warning("%s: ignored message type %s", self.charger_id, kind)
        else:
            outgoing = self.outgoing
            action = outgoing.pending_action if outgoing.pending_id == frame.unique_id else None
            self._log(IN, text, action, frame.unique_id)
            if not outgoing.resolve(frame):
                log.warning("%s: reply %s matches no call", self.charger_id, frame.unique_id)

    async def _on_call(self, call: frames.Call) -> None:
        if call.unique_id == self._last_call_id and self._last_reply is not None:
            # The charger resent its last CALL: same reply again, nothing done twice (rule 4).
            await self.send_logged(self._last_reply, call.action, call.unique_id)
            return
        reply = await self.answer(call)
        self._last_call_id, self._last_reply = call.unique_id, reply
        await self.send_logged(reply, call.action, call.unique_id)
        await self.services.messages.writer.backpressure()

    async def answer(self, call: frames.Call) -> str:
        """The reply frame to an incoming CALL: a CALLRESULT or a CALLERROR, never a raise."""
        handler = CHARGER_ACTIONS.get(call.action)
        if handler is None:
            if call.action in CENTRAL_SYSTEM_ACTIONS:
                return frames.pack_error(
                    call.unique_id,
                    errors.NOT_SUPPORTED,
                    f"{call.action} is sent by a Central System, not to it",
                )
            return frames.pack_error(call.unique_id, errors.NOT_IMPLEMENTED, "unknown action")
        schemas = self.services.schemas
        state = self.state
        if not state.booted and call.action != "BootNotification":
            if not state.known:
                # JE 3.8: no CALL but BootNotification before the charger was accepted.
                return frames.pack_error(
                    call.unique_id, errors.SECURITY_ERROR, "send BootNotification first"
                )
            log.info("%s: %s before BootNotification (known charger)", self.charger_id, call.action)
        try:
            schemas.validate(call.action, call.payload)
            ctx = CallContext(self.charger_id, self.services, utcnow(), state)
            result = await handler(ctx, call.payload)
            schemas.validate(call.action + "Response", result)
        except errors.OcppError as exc:
            return frames.pack_error(call.unique_id, exc.code, exc.description, exc.details)
        except Exception:
            log.exception("%s: %s failed", self.charger_id, call.action)
            return frames.pack_error(call.unique_id, errors.INTERNAL_ERROR, "internal error")
        return frames.pack_result(call.unique_id, result)
