"""The admission policy of charger connections, built once by ``handlers.routes.make_app``
and read by the charger WebSocket and the admin's security pages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from handlers.chargepoint.admission import ChargerAuth
from handlers.chargepoint.limits import ConnectionCap, LimitSettings


@dataclass(frozen=True, slots=True)
class ChargerGate:
    """How charger connections are admitted: limits, logins, the connection cap, and the
    server options they depend on. Built once by ``handlers.routes.make_app``."""

    limits: LimitSettings
    auth: ChargerAuth
    cap: ConnectionCap
    allow_unknown: bool = True  # register unknown charger ids when they connect
    tls: bool = False  # this server serves TLS itself
    trust_proxy_headers: bool = False  # behind our own proxy: X-Forwarded-* are believed

    @classmethod
    def build(cls, limits: LimitSettings | None = None, **options: bool) -> ChargerGate:
        """The gate for ``limits`` (safe defaults without)."""
        limits = limits or LimitSettings()
        return cls(limits, ChargerAuth(limits), ConnectionCap(limits.max_connections), **options)


class GateDependency:
    """The ``gate`` setting as a typed property (a mixin for handlers)."""

    settings: dict[str, Any]

    @property
    def gate(self) -> ChargerGate:
        """Admission of charger connections."""
        return self.settings["gate"]
