"""The charger WebSocket: transport only; the protocol lives in ``csms.session``.

Any WebSocket upgrade on any path except the sink reaches this handler
(see ``WebSocketUpgrade``); plain HTTP never does.
"""

from __future__ import annotations

import asyncio
import logging
import string
import unicodedata
from urllib.parse import unquote

from tornado import httputil
from tornado.routing import Matcher
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from csms.session import ChargerSession
from handlers.base import AppDependencies
from handlers.chargepoint.admission import Attempt
from handlers.chargepoint.gate import GateDependency, peer_certificate, request_peer
from handlers.chargepoint.handshakes import HandshakeSlot
from handlers.chargepoint.limits import (
    CLOSE,
    THROTTLE,
    IdleTimer,
    LimitSettings,
    MessageRate,
    sampled_values,
)
from ocppj import errors, frames
from ocppj.timeutil import utcnow

log = logging.getLogger("csms.ws")

OCPP16 = "ocpp1.6"
MAX_CHARGER_ID = 48
# RFC 3986 "unreserved": the characters a charger id may have (see charger_id_from_path).
CHARGER_ID_CHARACTERS = frozenset(string.ascii_letters + string.digits + "-._~")
CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008
CLOSE_REPLACED = 4000
SEND_TIMEOUT = 10.0
# Security event: a connection without credentials (profile 0) replaced the charger's
# socket while a transaction was open.
CONNECTION_REPLACED = "ConnectionReplacedDuringTransaction"
# Refusals (over the message rate, over the connection cap) are logged at the first and
# then at every REFUSAL_LOG_EVERY-th, so an attack cannot flood the log.
REFUSAL_LOG_EVERY = 100


class WebSocketUpgrade(Matcher):
    """Matches WebSocket upgrade requests (optionally except some paths)."""

    def __init__(self, exclude: tuple[str, ...] = (), only: tuple[str, ...] = ()):
        self.exclude = exclude
        self.only = only

    def match(self, request: httputil.HTTPServerRequest) -> dict | None:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return None
        path = request.path
        if self.only and path not in self.only:
            return None
        if path in self.exclude:
            return None
        return {}


def charger_id_from_path(path: str) -> tuple[str | None, str]:
    """The charger id in a request path (OCPP_RULES 11) or (None, why not).

    The id is also the HTTP Basic username of security profiles 1-2 (SW A00.FR.204), so
    it must read the same everywhere: only RFC 3986 unreserved characters
    (``A-Z a-z 0-9 - . _ ~``: printable ASCII that never needs percent-encoding, no
    space, no URL-reserved character, nothing that looks like another letter), and
    neither ``.`` nor ``..`` (path segments with a meaning of their own).
    """
    segments = [segment for segment in path.split("/") if segment]
    if not segments:
        return None, "the path must end with the charger id"
    try:
        charger_id = unquote(segments[-1], errors="strict")
    except UnicodeDecodeError:
        return None, "the charger id is not valid UTF-8"
    if not charger_id.strip():
        return None, "the charger id is empty"
    if len(charger_id) > MAX_CHARGER_ID:
        return None, f"the charger id is longer than {MAX_CHARGER_ID} characters"
    if ":" in charger_id:
        return None, "the charger id must not contain ':'"
    if any(unicodedata.category(char) == "Cc" for char in charger_id):
        return None, "the charger id must not contain control characters"
    bad = next((char for char in charger_id if char not in CHARGER_ID_CHARACTERS), None)
    if bad is not None:
        return None, (f"the charger id must not contain {bad!a}: only letters A-Z a-z,"
                      " digits and - . _ ~ are allowed")  # fmt: skip
    if charger_id in (".", ".."):
        return None, "the charger id must not be '.' or '..'"
    return charger_id, ""


class ChargePointHandler(AppDependencies, GateDependency, WebSocketHandler):
    """One charge point connection.

    Before the upgrade (``prepare``): a valid id (400), no browser Origin (403), a free
    connection slot (503), then ``ChargerAuth.admit`` (429 / 404 / 403 / 401). After it:
    an idle timer and a per-connection message rate around ``on_message``.
    """

    charger_id: str
    session: ChargerSession | None = None
    _refuse_subprotocol = False
    _admitted: dict | None = None  # the charger document admission read
    _unknown = False  # admission found no charger document
    _slot: HandshakeSlot | None = None  # its place among the handshakes in progress
    _rate: MessageRate | None = None
    _idle: IdleTimer | None = None

    @property
    def limits(self) -> LimitSettings:
        """Connection limits."""
        return self.gate.limits

    def peer(self) -> tuple[str, bool]:
        """(IP, TLS?) of this request (``gate.request_peer``)."""
        return request_peer(self.request, self.gate.trust_proxy_headers)

    def refuse(self, status: int, reason: str, headers: dict[str, str] | None = None) -> None:
        """Answer ``status`` before the upgrade (counted in the metrics by reason)."""
        self.services.metrics.connection_refused(status)
        self.set_status(status)
        for name, value in (headers or {}).items():
            self.set_header(name, value)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(reason)

    async def prepare(self) -> None:
        """Admission before the upgrade: id (400), Origin (403), capacity (503), a place
        among the handshakes in progress (waited for in order), then the per-IP failure
        limit and the charger's security profile (429/404/403/401)."""
        charger_id, problem = charger_id_from_path(self.request.path)
        if charger_id is None:
            self.refuse(400, problem)
            return
        self.charger_id = charger_id
        limits = self.limits
        origin = self.request.headers.get("Origin")
        if origin is not None and origin not in limits.charger_origins:
            # Chargers send no Origin; a browser always does (cross-site WebSocket hijacking).
            self.refuse(403, "browser origins may not connect to the charger route")
            return
        ip, tls = self.peer()
        cap = self.gate.cap
        if not cap.acquire(self, ip):
            per_ip = bool(cap.per_ip) and cap.count(ip) >= cap.per_ip
            if cap.refused == 1 or cap.refused % REFUSAL_LOG_EVERY == 0:
                log.warning("connection cap reached%s: %d open, %d refused so far (last: %s)",
                            f" for {ip}" if per_ip else "", len(cap), cap.refused,
                            charger_id)  # fmt: skip
            reason = "too many connections from this address" if per_ip else "too many connections"
            self.refuse(503, reason + "; retry later",
                        {"Retry-After": str(limits.busy_retry_after)})  # fmt: skip
            return
        self._slot = await self.gate.handshakes.enter()
        stream = getattr(self.request.connection, "stream", None)
        if stream is not None and stream.closed():
            # The charger gave up while it waited for its turn (a storm): no database
            # work for it; nobody reads this answer.
            self.set_status(503)
            self.finish()
            return
        certificate = peer_certificate(self.request) if tls else None
        attempt = Attempt(charger_id, self.request.path, ip, tls,
                          self.request.headers.get("Authorization"), certificate)  # fmt: skip
        verdict = await self.gate.auth.admit(
            attempt, self.services,
            self.gate.allow_unknown, utcnow(),
        )  # fmt: skip
        if not verdict.admitted:
            self.refuse(verdict.status, verdict.reason, verdict.headers)
        self._admitted, self._unknown = verdict.charger, verdict.unknown

    def check_origin(self, origin: str) -> bool:
        """Only configured charger origins get here (``prepare`` refused the others)."""
        return origin in self.limits.charger_origins

    def on_finish(self) -> None:
        """A request answered without an upgrade gives its connection slot back."""
        if self.get_status() != 101:
            self.gate.cap.release(self)
            self._release_handshake()

    def _release_handshake(self) -> None:
        """Give back the place among the handshakes in progress (once)."""
        if self._slot is not None:
            self._slot.release()

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        """Choose ocpp1.6 when offered; no header is accepted; others only are refused."""
        if OCPP16 in subprotocols:
            return OCPP16
        # Offered, but not ours: finish the handshake without a subprotocol, then close (J 3.2).
        self._refuse_subprotocol = bool(subprotocols)
        return None

    async def open(self, *args: str, **kwargs: str) -> None:
        """Register the connection; a second one for the same id replaces the first."""
        if self._refuse_subprotocol:
            self.services.metrics.connection_refused("subprotocol")
            self.close(CLOSE_PROTOCOL_ERROR, "subprotocol ocpp1.6 required")
            return
        self.set_nodelay(True)
        limits = self.limits
        if limits.message_rate > 0:
            self._rate = MessageRate(limits)
        idle = limits.idle_seconds(self.services.settings.heartbeat_interval)
        if idle > 0:
            self._idle = IdleTimer(idle, self._on_idle)
            self._idle.start()
        session = ChargerSession(self.charger_id, self.services, self._write, self.request.path)
        # No QR code is drawn here: ~10 ms of CPU each (a thread still holds the GIL),
        # so a registration storm of new chargers would stall every other charger. The
        # code is drawn on its first request and stored (``pages.QRCodeHandler``).
        try:
            charger = await session.open(self._admitted, absent=self._unknown)
        finally:
            self._release_handshake()
        if self.ws_connection is None or self.ws_connection.is_closing():
            # The charger left while we were registering it; a connection of the same id
            # that is still live keeps the charger online.
            live = self.registry.get(self.charger_id)
            live_session = getattr(live, "session", None)
            await session.closed(getattr(live_session, "connected_at", None))
            return
        self.session = session
        self.services.metrics.connections_opened.inc()
        old = self.registry.register(self.charger_id, self)
        if old is not None:
            log.info("%s: new connection replaces the old one", self.charger_id)
            old.close(CLOSE_REPLACED, "replaced by a new connection")
            if not (charger.get("security") or {}).get("profile"):
                self.services.spawn(self._record_replacement(old.peer_name()))

    def peer_name(self) -> str:
        """``ip:port`` of the socket peer (the IP as admission sees it)."""
        address = getattr(getattr(self.request.connection, "context", None), "address", None)
        port = address[1] if isinstance(address, tuple) and len(address) > 1 else None
        ip = self.peer()[0]
        return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"

    async def _record_replacement(self, replaced: str) -> None:
        """Profile 0 lets anyone replace a charger's socket with the charger's id alone:
        when that happens during a transaction it is recorded as a security event naming
        both peers (``ip`` the new one, ``replaced_peer`` the old one)."""
        open_transactions = await self.services.transactions.open_for_charger(
            self.charger_id, limit=1
        )
        if not open_transactions:
            return
        transaction = open_transactions[0]["_id"]
        new = self.peer_name()
        log.warning("%s: unauthenticated connection %s replaced %s during transaction %s",
                    self.charger_id, new, replaced, transaction)  # fmt: skip
        await self.services.security_events.record(
            self.charger_id, CONNECTION_REPLACED, utcnow(),
            f"connection from {new} without credentials replaced {replaced}"
            f" while transaction {transaction} was open",
            source="csms", ip=self.peer()[0], peer=new, replaced_peer=replaced,
            transaction=transaction,
        )  # fmt: skip
        self.services.bus.publish("security_event", self.charger_id, event=CONNECTION_REPLACED)

    def _on_idle(self) -> None:
        timeout = self._idle.timeout if self._idle is not None else 0
        log.info("%s: no frame for %.0f s; closing", self.charger_id, timeout)
        self.close(CLOSE_GOING_AWAY, "idle timeout")

    async def _write(self, text: str) -> None:
        """Send a frame; a peer that does not read it within SEND_TIMEOUT is dropped."""
        try:
            sent = self.write_message(text)
            connection = self.ws_connection
            stream = getattr(connection, "stream", None)
            if sent.done() or (stream is not None and not stream.writing()):
                # Usually the kernel took the frame at once (nothing left in the stream's
                # buffer; the returned future is then already resolved, only its wrapper
                # task has not run yet): no timer. Else bound the wait.
                return
            await asyncio.wait_for(sent, SEND_TIMEOUT)
        except WebSocketClosedError:
            log.info("%s: closed before a frame could be sent", self.charger_id)
        except TimeoutError:
            log.warning("%s: send timed out; closing", self.charger_id)
            self.close(CLOSE_GOING_AWAY, "send timeout")

    async def on_message(self, message: str | bytes) -> None:
        """Hand a text frame to the session; binary frames close the socket (1003).

        Frames over the message rate go through ``_over_rate`` first."""
        if self.session is None:
            return
        if isinstance(message, bytes):
            self.close(CLOSE_UNSUPPORTED_DATA, "binary frames are not supported")
            return
        if self._idle is not None:
            self._idle.touch()
        frame: frames.Frame | frames.FrameError
        try:
            frame = frames.parse(message)  # once: the session gets the parsed frame
        except frames.FrameError as exc:
            frame = exc
        if self._rate is not None and not self._rate.allow():
            if not await self._over_rate(frame):
                return
            if self.session is None:
                return
        counted = sampled_values(frame)
        if counted is not None and not await self._meter_samples(frame.unique_id, counted):
            return
        if self.session is None:
            return
        await self.session.on_frame(message, frame)

    async def _meter_samples(self, unique_id: str, values: int) -> bool:
        """Sampled values of a frame: True when it should be handled (maybe after a wait).

        Each value becomes a document, so a connection's values are metered by their own
        token bucket (``sample_rate``): over it the frame is delayed, never refused (it is
        transaction data, OCPP_RULES 15). A frame with more than ``max_sampled_values`` is
        answered CALLERROR OccurenceConstraintViolation (too many occurrences of
        sampledValue, OCPP_RULES 3) and not handled: no charger needs that many at once.
        """
        limits = self.limits
        if limits.max_sampled_values and values > limits.max_sampled_values:
            log.warning("%s: %d sampled values in one frame (at most %d); refused",
                        self.charger_id, values, limits.max_sampled_values)  # fmt: skip
            await self._write(frames.pack_error(
                unique_id, errors.OCCURENCE_CONSTRAINT_VIOLATION,
                f"at most {limits.max_sampled_values} sampled values in one frame",
                {"sampledValues": values, "limit": limits.max_sampled_values},
            ))  # fmt: skip
            return False
        if self._rate is not None:
            delay = self._rate.sample_delay(values)
            if delay > 0:
                await asyncio.sleep(delay)
        return True

    async def _over_rate(self, frame: frames.Frame | frames.FrameError) -> bool:
        """A frame over the rate: True when it should still be handled.

        Replies to our own pending CALL are always handled. Transaction data is
        throttled (handled after the next token; the socket is read more slowly, nothing
        is lost). Any other CALL is answered with a CALLERROR ``GenericError``: 1.6 has no
        code for "busy" (InternalError would blame us, SecurityError means "boot first"
        to chargers, JE 3.8), and GenericError is the one for errors the others do not
        cover; the charger may retry later. Other frames are dropped. Sustained excess
        closes the connection (1008) and is recorded as a security event.
        """
        rate_limit = self._rate
        assert rate_limit is not None and self.session is not None
        if isinstance(frame, frames.CallResult | frames.CallError):
            if frame.unique_id == self.session.outgoing.pending_id:
                return True
        action = frame.action if isinstance(frame, frames.Call) else None
        decision = rate_limit.excess(action)
        if decision == THROTTLE:
            await asyncio.sleep(rate_limit.reserve())
            return True
        if decision == CLOSE:
            log.warning("%s: message rate exceeded (%d frames refused); closing",
                        self.charger_id, rate_limit.refused)  # fmt: skip
            self.services.spawn(self.services.security_events.record(
                self.charger_id, "MessageRateExceeded", utcnow(),
                f"{rate_limit.refused} frames over the rate; connection closed",
                source="csms", ip=self.peer()[0],
            ))  # fmt: skip
            self.close(CLOSE_POLICY, "message rate exceeded")
            return False
        if rate_limit.refused == 1 or rate_limit.refused % REFUSAL_LOG_EVERY == 0:
            log.warning("%s: over the message rate, %d frames refused so far (last: %s)",
                        self.charger_id, rate_limit.refused, action or "not a CALL")  # fmt: skip
        if isinstance(frame, frames.Call):
            limits = self.limits
            await self._write(frames.pack_error(
                frame.unique_id, errors.GENERIC_ERROR, "message rate exceeded; retry later",
                {"rate": limits.message_rate, "burst": limits.message_burst},
            ))  # fmt: skip
        return False

    def on_close(self) -> None:
        """Unregister (only if still current) and record the disconnection."""
        self.gate.cap.release(self)
        self._release_handshake()
        if self._idle is not None:
            self._idle.cancel()
        session = self.session
        if session is None:
            return
        self.registry.unregister(self.charger_id, self)
        self.session = None
        self.services.spawn(session.closed())
