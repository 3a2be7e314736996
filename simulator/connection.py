"""The charge point's end of one OCPP-J WebSocket connection (client side).

Our CALLs go out one at a time (``ocppj.rpc.OutgoingCalls``); the receive
loop resolves their replies and answers the Central System's CALLs on its
own, so CALLs from both sides may cross (OCPP_RULES 6). An answer may carry
follow-up work (e.g. the message a TriggerMessage asked for); it runs as a
task after the reply has been sent, never inside the receive loop.

A failure of the link itself (refused, lost, timed out) is ``Offline``: a
charger retries those, with the delays of ``Backoff``.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidMessage,
    InvalidStatus,
    InvalidURI,
)

from ocppj import errors, frames
from ocppj.rpc import ConnectionLost, OutgoingCalls
from ocppj.validation import SchemaStore
from simulator.certificates import ChargerCertificates
from simulator.config import SimulatorConfig
from simulator.state import SimulatorError

log = logging.getLogger("simulator.connection")

OCPP16 = "ocpp1.6"
MAX_MESSAGE_SIZE = 1024 * 1024


class CallFailed(SimulatorError):
    """The Central System answered one of our CALLs with a CALLERROR."""

    def __init__(self, action: str, code: str, description: str):
        super().__init__(f"{action} was answered {code}: {description or 'no description'}")
        self.action = action
        self.code = code
        self.description = description


class Offline(SimulatorError):
    """The Central System cannot be reached now (refused, lost, timed out): worth retrying."""


class Disconnected(Offline):
    """The connection closed while we needed it."""


class Backoff:
    """Delays between reconnection attempts: ``first`` seconds, doubling per attempt up to
    ``cap``, each shortened by up to a quarter at random (from ``rng``) so that a fleet
    cut off at once does not reconnect in step."""

    JITTER = 0.25

    def __init__(self, first: float, cap: float, rng: random.Random):
        self.first = first
        self.cap = cap
        self.rng = rng
        self._delay = first

    def next(self) -> float:
        """The delay before the next attempt (each call is one more attempt)."""
        delay = min(self._delay, self.cap)
        self._delay = min(self._delay * 2, self.cap)
        return delay * (1 - self.JITTER * self.rng.random())

    def reset(self) -> None:
        """A connection worked: the next outage starts again from ``first``."""
        self._delay = self.first


@dataclass(slots=True)
class Answer:
    """How to answer an incoming CALL: the CALLRESULT payload and optional follow-up work."""

    payload: dict[str, Any]
    after: Callable[[], Awaitable[Any]] | None = None


AnswerFn = Callable[["OcppConnection", frames.Call], Awaitable[Answer]]


def _ssl_context(config: SimulatorConfig) -> ssl.SSLContext | None:
    if not config.tls:
        return None
    context = ssl.create_default_context(cafile=config.ca_file)
    if config.certificate_dir:  # profile 3: our certificate, once the CSMS signed one
        files = ChargerCertificates(config.certificate_dir, config.charger_id).client_files()
        if files is not None:
            context.load_cert_chain(*files)
    return context


def _connect_error(config: SimulatorConfig, exc: BaseException) -> SimulatorError:
    """An operator-readable reason for a failed connection attempt (``Offline`` when a
    later attempt may work: the network or the server, not this configuration)."""
    where = f"{config.host}:{config.ws_port}"
    if isinstance(exc, socket.gaierror):
        return Offline(f"cannot resolve host {config.host!r}: {exc.strerror or exc}")
    if isinstance(exc, ConnectionRefusedError):
        return Offline(f"connection refused by {where} (is the Central System running?)")
    if isinstance(exc, TimeoutError):
        return Offline(
            f"no WebSocket handshake with {config.url} within {config.connect_timeout:g} s"
        )
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        body = (exc.response.body or b"").decode("utf-8", "replace").strip()[:200]
        hint = " (check username and password)" if status == 401 else ""
        detail = f": {body}" if body else ""
        # 5xx: a server (or its proxy) that is restarting, 429: one limiting how fast new
        # chargers register (both worth retrying); other 4xx: it refuses this charger.
        kind = Offline if status >= 500 or status == 429 else SimulatorError
        return kind(f"{config.url} refused the WebSocket upgrade: HTTP {status}{hint}{detail}")
    if isinstance(exc, ssl.SSLError):
        return SimulatorError(f"TLS handshake with {where} failed: {exc.reason or exc}")
    if isinstance(exc, InvalidURI):
        return SimulatorError(f"bad URL {config.url}: {exc}")
    if isinstance(exc, InvalidMessage | ConnectionClosed):  # the server went away mid-handshake
        return Offline(f"WebSocket handshake with {config.url} failed: {exc}")
    if isinstance(exc, InvalidHandshake):
        return SimulatorError(f"WebSocket handshake with {config.url} failed: {exc}")
    if isinstance(exc, OSError):  # reset, unreachable network or host
        return Offline(f"cannot connect to {config.url}: {exc}")
    return SimulatorError(f"cannot connect to {config.url}: {exc}")


class OcppConnection:
    """One open connection: send CALLs, answer CALLs, notice the close."""

    def __init__(
        self, ws: ClientConnection, schemas: SchemaStore, answer: AnswerFn, call_timeout: float
    ):
        self._ws = ws
        self._schemas = schemas
        self._answer = answer
        self._call_timeout = call_timeout
        self.outgoing = OutgoingCalls(self._send)
        self._followups: set[asyncio.Task] = set()
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self.close_reason: str = ""
        self.closing_by_us = False

    @classmethod
    async def open(
        cls, config: SimulatorConfig, schemas: SchemaStore, answer: AnswerFn
    ) -> OcppConnection:
        """Connect to the Central System; raise SimulatorError with a clear reason."""
        headers = {}
        user = config.basic_auth_user
        if user is not None:
            token = base64.b64encode(f"{user}:{config.password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        try:
            ws = await connect(
                config.url,
                subprotocols=[OCPP16],
                additional_headers=headers,
                open_timeout=config.connect_timeout,
                close_timeout=2,
                compression=None,
                proxy=None,
                ssl=_ssl_context(config),
                max_size=MAX_MESSAGE_SIZE,
                user_agent_header=f"{config.vendor}/{config.model} (OCPP simulator)",
            )
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI, ConnectionClosed) as exc:
            raise _connect_error(config, exc) from exc
        if ws.subprotocol != OCPP16:
            log.warning("%s: the server chose no ocpp1.6 subprotocol", config.charger_id)
        return cls(ws, schemas, answer, config.call_timeout)

    def describe_close(self) -> str:
        """Why the connection ended, for an error message."""
        code = self.close_code if self.close_code is not None else self._ws.close_code
        if code is None or code == 1006:
            return "the connection to the server was lost (no close frame)"
        why = self.close_reason or self._ws.close_reason or ""
        reason = f" {why!r}" if why else ""
        return f"the server closed the connection (code {code}{reason})"

    async def _send(self, text: str) -> None:
        try:
            await self._ws.send(text)
        except ConnectionClosed:
            raise ConnectionLost("connection closed") from None

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send a CALL and return the CALLRESULT payload.

        Raise CallFailed on a CALLERROR, Disconnected when the connection
        closes first, SimulatorError on a timeout or an invalid reply.
        """
        self._schemas.validate(action, payload)  # an OcppError here is our own bug
        try:
            reply = await self.outgoing.call(action, payload, self._call_timeout)
        except TimeoutError:
            if self.closed.is_set():
                raise Disconnected(self.describe_close()) from None
            # A server too busy to answer: a charger hangs up and tries again (``repeat``).
            raise Offline(f"no reply to {action} within {self._call_timeout:g} s") from None
        except ConnectionLost:
            raise Disconnected(self.describe_close()) from None
        if isinstance(reply, frames.CallError):
            raise CallFailed(action, reply.code, reply.description)
        try:
            self._schemas.validate(action + "Response", reply.payload)
        except errors.OcppError as exc:
            raise SimulatorError(f"invalid {action} reply: {exc.description}") from None
        return reply.payload

    async def receive(self) -> None:
        """Read frames until the connection closes; then fail our pending CALL."""
        try:
            async for message in self._ws:
                if isinstance(message, bytes):
                    log.warning("ignored a binary frame")
                    continue
                await self._on_text(message)
        except ConnectionClosed:
            pass
        finally:
            self.close_code = self._ws.close_code
            self.close_reason = self._ws.close_reason or ""
            self.closed.set()
            self.outgoing.close()

    async def _on_text(self, text: str) -> None:
        try:
            frame = frames.parse(text)
        except frames.FrameError as exc:
            await self._reply(frames.pack_error(exc.unique_id, exc.code, exc.description))
            return
        if isinstance(frame, frames.Call):
            await self._on_call(frame)
        elif isinstance(frame, frames.CallResult | frames.CallError):
            if not self.outgoing.resolve(frame):
                log.warning("reply %s matches no CALL of ours", frame.unique_id)
        else:
            log.warning("ignored a frame of message type %r", frame.message_type)

    async def _on_call(self, call: frames.Call) -> None:
        """Answer one CALL from the Central System; start its follow-up after the reply."""
        after = None
        if call.action not in self._schemas:
            reply = frames.pack_error(call.unique_id, errors.NOT_IMPLEMENTED, "unknown action")
        else:
            try:
                self._schemas.validate(call.action, call.payload)
                answer = await self._answer(self, call)
                self._schemas.validate(call.action + "Response", answer.payload)
                reply = frames.pack_result(call.unique_id, answer.payload)
                after = answer.after
            except errors.OcppError as exc:
                reply = frames.pack_error(call.unique_id, exc.code, exc.description, exc.details)
            except Exception:
                log.exception("answering %s failed", call.action)
                reply = frames.pack_error(call.unique_id, errors.INTERNAL_ERROR, "internal error")
        await self._reply(reply)
        if after is not None:
            self.spawn(after())

    async def _reply(self, text: str) -> None:
        try:
            await self._ws.send(text)
        except ConnectionClosed:
            log.info("closed before a reply could be sent")

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task:
        """Run follow-up work as a task owned by this connection (cancelled on close)."""
        task = asyncio.ensure_future(coro)
        self._followups.add(task)
        task.add_done_callback(self._followup_done)
        return task

    def _followup_done(self, task: asyncio.Task) -> None:
        self._followups.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None and not isinstance(exc, Disconnected):
            log.warning("follow-up work failed: %s", exc)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the socket (bounded by the close timeout) and cancel follow-up work."""
        self.closing_by_us = True
        for task in list(self._followups):
            task.cancel()
        try:
            await self._ws.close(code, reason)
        except Exception as exc:  # closing must never raise
            log.debug("close failed: %s", exc)
        self.outgoing.close()
