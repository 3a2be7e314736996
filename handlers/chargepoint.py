"""The charger WebSocket: transport only; the protocol lives in ``csms.session``.

Any WebSocket upgrade on any path except the sink reaches this handler
(see ``WebSocketUpgrade``); plain HTTP never does.
"""

from __future__ import annotations

import asyncio
import logging
import unicodedata
from urllib.parse import unquote

from tornado import httputil
from tornado.routing import Matcher
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from csms import qrcodes
from csms.registry import ConnectionRegistry
from csms.services import Services
from csms.session import ChargerSession

log = logging.getLogger("csms.ws")

OCPP16 = "ocpp1.6"
MAX_CHARGER_ID = 48
CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_GOING_AWAY = 1001
CLOSE_REPLACED = 4000
SEND_TIMEOUT = 10.0


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
    """The charger id in a request path (OCPP_RULES 11) or (None, why not)."""
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
    return charger_id, ""


class ChargePointHandler(WebSocketHandler):
    """One charge point connection."""

    charger_id: str
    session: ChargerSession | None = None
    _refuse_subprotocol = False

    @property
    def services(self) -> Services:
        """The domain services from the Application settings."""
        return self.settings["services"]

    @property
    def registry(self) -> ConnectionRegistry:
        """The live-connection registry from the Application settings."""
        return self.settings["registry"]

    def prepare(self) -> None:
        """Refuse a bad charger id with HTTP 400 before the upgrade."""
        charger_id, problem = charger_id_from_path(self.request.path)
        if charger_id is None:
            self.set_status(400)
            self.finish(problem)
            return
        self.charger_id = charger_id

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
            self.close(CLOSE_PROTOCOL_ERROR, "subprotocol ocpp1.6 required")
            return
        self.set_nodelay(True)
        session = ChargerSession(self.charger_id, self.services, self._write, self.request.path)
        charger = await session.open()
        public_url = self.settings["web"].public_url
        if not qrcodes.qr_is_current(charger, public_url):
            # Auto-registration (or a new public URL): the landing page's QR code.
            self.services.spawn(qrcodes.ensure_qr(self.services, self.charger_id, public_url))
        if self.ws_connection is None or self.ws_connection.is_closing():
            await session.closed()  # the charger left while we were registering it
            return
        self.session = session
        old = self.registry.register(self.charger_id, self)
        if old is not None:
            log.info("%s: new connection replaces the old one", self.charger_id)
            old.close(CLOSE_REPLACED, "replaced by a new connection")

    async def _write(self, text: str) -> None:
        """Send a frame; a peer that does not read it within SEND_TIMEOUT is dropped."""
        try:
            sent = self.write_message(text)
            if not sent.done():  # usually the kernel took it at once; else bound the wait
                await asyncio.wait_for(sent, SEND_TIMEOUT)
        except WebSocketClosedError:
            log.info("%s: closed before a frame could be sent", self.charger_id)
        except TimeoutError:
            log.warning("%s: send timed out; closing", self.charger_id)
            self.close(CLOSE_GOING_AWAY, "send timeout")

    async def on_message(self, message: str | bytes) -> None:
        """Hand a text frame to the session; binary frames close the socket (1003)."""
        if self.session is None:
            return
        if isinstance(message, bytes):
            self.close(CLOSE_UNSUPPORTED_DATA, "binary frames are not supported")
            return
        await self.session.on_text(message)

    def on_close(self) -> None:
        """Unregister (only if still current) and record the disconnection."""
        session = self.session
        if session is None:
            return
        self.registry.unregister(self.charger_id, self)
        self.session = None
        self.services.spawn(session.closed())
