"""The admission policy of charger connections, built once by ``handlers.routes.make_app``
and read by the charger WebSocket and the admin's security pages."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any

from tornado.httputil import HTTPServerRequest
from tornado.iostream import SSLIOStream

from handlers.chargepoint.admission import ChargerAuth
from handlers.chargepoint.handshakes import HandshakeQueue
from handlers.chargepoint.limits import ConnectionCap, LimitSettings


@dataclass(frozen=True, slots=True)
class ChargerGate:
    """How charger connections are admitted: limits, logins, the connection cap, and the
    server options they depend on. Built once by ``handlers.routes.make_app``."""

    limits: LimitSettings
    auth: ChargerAuth
    cap: ConnectionCap
    sink_cap: ConnectionCap
    handshakes: HandshakeQueue
    allow_unknown: bool = True  # register unknown charger ids when they connect
    tls: bool = False  # this server serves TLS itself
    trust_proxy_headers: bool = False  # behind our own proxy: X-Forwarded-* are believed

    @classmethod
    def build(cls, limits: LimitSettings | None = None, **options: bool) -> ChargerGate:
        """The gate for ``limits`` (safe defaults without)."""
        limits = limits or LimitSettings()
        cap = ConnectionCap(limits.max_connections, limits.max_connections_per_ip)
        sink_cap = ConnectionCap(limits.sink_max_connections, limits.sink_max_connections_per_ip)
        handshakes = HandshakeQueue(limits.max_handshakes)
        return cls(limits, ChargerAuth(limits), cap, sink_cap, handshakes, **options)


class GateDependency:
    """The ``gate`` setting as a typed property (a mixin for handlers)."""

    settings: dict[str, Any]

    @property
    def gate(self) -> ChargerGate:
        """Admission of charger connections."""
        return self.settings["gate"]


def request_peer(request: HTTPServerRequest, trust_proxy_headers: bool) -> tuple[str, bool]:
    """(IP, TLS?) of a WebSocket request as admission sees it.

    From the socket itself unless ``trust_proxy_headers`` is on: with ``xheaders`` any
    client could otherwise claim another IP (escaping the per-IP limits) or
    ``X-Forwarded-Proto: https`` (downgrading profile 2 to plain ws://).
    """
    if trust_proxy_headers:
        return request.remote_ip or "", request.protocol == "https"
    connection = request.connection
    context = getattr(connection, "context", None)
    address = getattr(context, "address", None)
    family = getattr(context, "address_family", None)
    if family in (socket.AF_INET, socket.AF_INET6) and address:
        ip = address[0]
    else:
        ip = request.remote_ip or "local"
    return ip, isinstance(getattr(connection, "stream", None), SSLIOStream)


def peer_certificate(request: HTTPServerRequest) -> bytes | None:
    """The TLS client certificate (DER) the charger presented, or None (no TLS on this
    socket, or no certificate; behind a proxy there is never one: profile 3 needs TLS
    to end at this server)."""
    stream = getattr(request.connection, "stream", None)
    if not isinstance(stream, SSLIOStream):
        return None
    sock = stream.socket
    try:
        return sock.getpeercert(binary_form=True) if sock is not None else None
    except ValueError:  # the handshake is not done (cannot happen once headers were read)
        return None
