"""One charger's OCPP-J conversation, independent of the WebSocket library.

The transport hands in text frames and gets text frames to send. Incoming
CALLs are validated, dispatched and answered in order; replies to our own
CALLs resolve the pending call. Every frame goes to the frame log file at
once, and to the message log as part of one exchange per document (a CALL
and its reply, see ``models.messages``): an exchange is held here until its
reply is sent or received, or until it can no longer come (timeout, close).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from csms.actions import CENTRAL_SYSTEM_ACTIONS, CHARGER_ACTIONS
from csms.context import CallContext, ConnectionState
from csms.metrics import CALLRESULT, UNKNOWN_ACTION
from csms.services import Services
from models.messages import IN, OUT, new_exchange, set_reply
from ocppj import errors, frames
from ocppj.redaction import redact_frame, redact_reply_frame
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
        self.outgoing = OutgoingCalls(self.send_call, on_finished=self._outgoing_finished)
        # The last CALL answered (id, action, frame text) and its reply (rule 4).
        self._last_call: tuple[str, str, str] | None = None
        self._last_reply: str | None = None
        self.connected_at: datetime | None = None
        # Exchanges awaiting their reply, by (direction of the CALL, message id).
        self._open: dict[tuple[str, str | None], dict[str, Any]] = {}

    async def open(self, known: dict | None = None, *, absent: bool = False) -> dict:
        """Record the connection; create the charger document when the id is new.
        ``known``: the charger's document as admission just read it (not read again);
        ``absent``: admission found none (the charger is created without a read).

        Returns the charger document.
        """
        now = self.connected_at = utcnow()
        doc, created = await self.services.chargers.connect(
            self.charger_id, self.path, now, known, absent=absent
        )
        self.state.known = bool(doc.get("boot"))
        self.state.name = doc.get("name")
        self.state.recent_boots = list(doc.get("recent_boots") or [])
        for key, connector in (doc.get("connectors") or {}).items():
            if str(key).isdigit() and isinstance(connector, dict) and connector.get("status"):
                self.state.statuses[int(key)] = connector["status"]
        self.services.bus.publish("connected", self.charger_id, created=created)
        return doc

    async def closed(self, live_at: datetime | None = None) -> None:
        """The socket is gone: log unanswered exchanges, fail our pending call, mark the
        charger offline; or, when another connection of the charger is live (connected
        at ``live_at``: this one was given up while it registered), hand the record back
        to that one."""
        for key in list(self._open):
            self._finish(key)
        self.outgoing.close()
        now = utcnow()
        if self.connected_at is not None and live_at is not None:
            await self.services.chargers.handed_back(self.charger_id, self.connected_at, live_at)
            return
        if self.connected_at is not None:
            await self.services.chargers.disconnected(self.charger_id, now, self.connected_at)
        self.services.bus.publish("disconnected", self.charger_id, ts=now)

    async def send_call(
        self, text: str, action: str | None = None, unique_id: str | None = None
    ) -> None:
        """Send one of our CALLs (the sender of ``self.outgoing``); its exchange is held
        until the reply arrives or the call ends without one (secrets redacted in logs)."""
        logged = self._file(OUT, redact_frame(action, text))
        exchange = new_exchange(self.charger_id, OUT, logged, utcnow(), action, unique_id)
        self._hold((OUT, unique_id), exchange)
        await self._send(text)

    def _outgoing_finished(self, unique_id: str) -> None:
        """Our CALL stopped being pending: log it if its reply did not (timeout, cancel)."""
        self._finish((OUT, unique_id))

    async def _send_reply(self, key: tuple[str, str | None], text: str, action: str | None) -> None:
        """Send our answer to the held exchange ``key`` and log the exchange with it."""
        logged = self._file(OUT, redact_frame(action, text))
        exchange = self._open.pop(key, None)
        if exchange is not None:  # None: the socket closed first and the CALL was logged alone
            self.services.messages.record(set_reply(exchange, logged, utcnow()))
        await self._send(text)

    def _file(self, direction: str, text: str) -> str:
        """Write a frame to the frame log file (at once, unlike the message log)."""
        if self.services.frame_log is not None:
            self.services.frame_log.write(self.charger_id, direction, text)
        return text

    def _hold(self, key: tuple[str, str | None], exchange: dict[str, Any]) -> None:
        """Keep an exchange until its reply; one already held under the key is logged."""
        self._finish(key)
        self._open[key] = exchange

    def _finish(self, key: tuple[str, str | None]) -> None:
        """Log the held exchange ``key`` as it is (without a reply), if still held."""
        exchange = self._open.pop(key, None)
        if exchange is not None:
            self.services.messages.record(exchange)

    def _lone(self, text: str, unique_id: str | None = None, action: str | None = None) -> None:
        """Log an incoming frame that no reply belongs to."""
        logged = self._file(IN, text)
        exchange = new_exchange(self.charger_id, IN, logged, utcnow(), action, unique_id)
        self.services.messages.record(exchange)

    async def on_text(self, text: str) -> None:
        """Handle one text frame from the charger."""
        frame: frames.Frame | frames.FrameError
        try:
            frame = frames.parse(text)
        except frames.FrameError as exc:
            frame = exc
        await self.on_frame(text, frame)

    async def on_frame(self, text: str, frame: frames.Frame | frames.FrameError) -> None:
        """Handle one text frame from the charger, already parsed by ``frames.parse``
        (``frame``: its result, or the FrameError it raised)."""
        if isinstance(frame, frames.FrameError):
            exc = frame
            # One exchange: the unreadable frame and our CALLERROR (its id, or "-1").
            key = (IN, exc.unique_id)
            logged = self._file(IN, text)
            self._hold(key, new_exchange(self.charger_id, IN, logged, utcnow(), None, key[1]))
            reply = frames.pack_error(exc.unique_id, exc.code, exc.description)
            await self._send_reply(key, reply, None)
            return
        if isinstance(frame, frames.Call):
            await self._on_call(frame, text)
        elif isinstance(frame, frames.Unknown):
            self._lone(text)
            kind = repr(frame.message_type)[:40]  # the peer's value: bounded in our log
            log.warning("%s: ignored message type %s", self.charger_id, kind)
        else:
            exchange = self._open.pop((OUT, frame.unique_id), None)
            action = None if exchange is None else exchange.get("action")
            logged = self._file(IN, redact_reply_frame(action, text))
            if exchange is None:
                self._lone(text, frame.unique_id)
            else:
                self.services.messages.record(set_reply(exchange, logged, utcnow()))
            if not self.outgoing.resolve(frame):
                log.warning("%s: reply %s matches no call", self.charger_id, frame.unique_id)

    async def _on_call(self, call: frames.Call, text: str) -> None:
        key = (IN, call.unique_id)
        logged = self._file(IN, text)
        now = utcnow()  # the CALL's time: its log entry's and its handler's ``ctx.now``
        self._hold(key, new_exchange(self.charger_id, IN, logged, now, call.action, key[1]))
        try:
            if self._last_reply is not None and self._is_resend(call, text):
                # The charger resent its last CALL: same reply again, nothing done twice
                # (rule 4). Same id, other action or payload: a new CALL, answered as such.
                await self._send_reply(key, self._last_reply, call.action)
                return
            reply = await self.answer(call, now)
            self._last_call, self._last_reply = (call.unique_id, call.action, text), reply
            await self._send_reply(key, reply, call.action)
        finally:
            self._finish(key)  # no reply was sent (cancelled): the CALL is logged alone
        await self.services.messages.backpressure()

    def _is_resend(self, call: frames.Call, text: str) -> bool:
        """Whether ``call`` repeats the last CALL answered: its id, action and payload (as
        JSON: ``1`` and ``true`` differ, key order does not). Only a CALL with the last id
        is compared, so a new CALL costs no serialisation; the last payload is read back
        from its frame text (as received, whatever its handler did with the dict)."""
        last = self._last_call
        if last is None or last[0] != call.unique_id or last[1] != call.action:
            return False
        if last[2] == text:
            return True
        return _canonical(json.loads(last[2])[3]) == _canonical(call.payload)

    async def answer(self, call: frames.Call, now: datetime | None = None) -> str:
        """The reply frame to an incoming CALL received at ``now`` (default: now): a
        CALLRESULT or a CALLERROR, never a raise (counted in the metrics by action and
        result, with the time it took)."""
        started = time.perf_counter()
        text, result = await self._reply(call, now or utcnow())
        action = call.action if call.action in CHARGER_ACTIONS else UNKNOWN_ACTION
        self.services.metrics.call_answered(
            self.charger_id, action, result, time.perf_counter() - started
        )
        return text

    async def _reply(self, call: frames.Call, now: datetime) -> tuple[str, str]:
        """(reply frame, CALLRESULT or the CALLERROR code)."""
        handler = CHARGER_ACTIONS.get(call.action)
        if handler is None:
            if call.action in CENTRAL_SYSTEM_ACTIONS:
                return frames.pack_error(
                    call.unique_id,
                    errors.NOT_SUPPORTED,
                    f"{call.action} is sent by a Central System, not to it",
                ), errors.NOT_SUPPORTED
            return frames.pack_error(
                call.unique_id, errors.NOT_IMPLEMENTED, "unknown action"
            ), errors.NOT_IMPLEMENTED
        schemas = self.services.schemas
        state = self.state
        if not state.booted and call.action != "BootNotification":
            if not state.known:
                # JE 3.8: no CALL but BootNotification before the charger was accepted.
                return frames.pack_error(
                    call.unique_id, errors.SECURITY_ERROR, "send BootNotification first"
                ), errors.SECURITY_ERROR
            log.info("%s: %s before BootNotification (known charger)", self.charger_id, call.action)
        try:
            schemas.validate(call.action, call.payload)
            ctx = CallContext(self.charger_id, self.services, now, state)
            result = await handler(ctx, call.payload)
            schemas.validate(call.action + "Response", result)
        except errors.OcppError as exc:
            return frames.pack_error(
                call.unique_id, exc.code, exc.description, exc.details
            ), exc.code
        except Exception:
            log.exception("%s: %s failed", self.charger_id, call.action)
            return frames.pack_error(
                call.unique_id, errors.INTERNAL_ERROR, "internal error"
            ), errors.INTERNAL_ERROR
        return frames.pack_result(call.unique_id, result), CALLRESULT


def _canonical(payload: dict[str, Any]) -> str:
    """A payload as canonical JSON, so ``1`` and ``true`` or key order are told apart and
    alike as JSON does."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"))
