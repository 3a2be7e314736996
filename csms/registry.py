"""Live charger connections, and the one path for calling a charger.

The registry is an object held in the Application settings (no module
globals). A second connection with the same id replaces the first; the old
one's close does not unregister the new one (OCPP_RULES 13).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from ocppj import errors, frames
from ocppj.rpc import ConnectionLost
from ocppj.validation import SchemaStore

log = logging.getLogger("csms.registry")

ACCEPTED = "accepted"
REJECTED = "rejected"
ERROR = "error"
TIMEOUT = "timeout"
NOT_CONNECTED = "not_connected"


class Connection(Protocol):
    """What the registry needs from a live charger connection."""

    session: Any

    def close(self, code: int | None = None, reason: str | None = None) -> None: ...


@dataclass(slots=True)
class Outcome:
    """The result of calling a charger.

    ``status`` is accepted / rejected (the charger answered with a status
    other than Accepted) / error (CALLERROR, or an invalid reply) / timeout /
    not_connected. ``payload`` is the charger's reply when there was one.
    """

    status: str
    payload: dict[str, Any] = field(default_factory=dict)
    error_code: str | None = None
    description: str = ""
    unique_id: str | None = None

    @property
    def ok(self) -> bool:
        """True when the charger accepted."""
        return self.status == ACCEPTED


# Reply "status" values that mean the operation went ahead.
_POSITIVE = {"Accepted", "Unlocked", "Scheduled", "AcceptedCanceled", None}


class ConnectionRegistry:
    """charger id -> live connection."""

    def __init__(self, schemas: SchemaStore):
        self._connections: dict[str, Connection] = {}
        self._schemas = schemas
        self._empty = asyncio.Event()
        self._empty.set()

    def __len__(self) -> int:
        return len(self._connections)

    def __contains__(self, charger_id: str) -> bool:
        return charger_id in self._connections

    def ids(self) -> list[str]:
        """Ids of the connected chargers."""
        return list(self._connections)

    def get(self, charger_id: str) -> Connection | None:
        """The live connection of a charger, or None."""
        return self._connections.get(charger_id)

    def register(self, charger_id: str, connection: Connection) -> Connection | None:
        """Make ``connection`` the charger's connection; return the one it replaces."""
        old = self._connections.get(charger_id)
        self._connections[charger_id] = connection
        self._empty.clear()
        return old if old is not connection else None

    def unregister(self, charger_id: str, connection: Connection) -> bool:
        """Forget ``connection`` if it is still the charger's current one."""
        if self._connections.get(charger_id) is connection:
            del self._connections[charger_id]
            if not self._connections:
                self._empty.set()
            return True
        return False

    def close_all(self, code: int = 1001, reason: str = "server shutting down") -> None:
        """Close every connection (shutdown)."""
        for connection in list(self._connections.values()):
            connection.close(code, reason)

    async def wait_empty(self, timeout: float) -> bool:
        """Wait until no connection is left, at most ``timeout`` seconds."""
        try:
            async with asyncio.timeout(timeout):
                await self._empty.wait()
        except TimeoutError:
            return False
        return True

    async def call(
        self, charger_id: str, action: str, payload: dict[str, Any], timeout: float = 30.0
    ) -> Outcome:
        """Send ``action`` to a charger and wait for its reply, as a typed outcome.

        The payload is validated against the request schema before sending
        (an invalid one raises OcppError); the reply against the response schema.
        """
        self._schemas.validate(action, payload)
        connection = self._connections.get(charger_id)
        if connection is None:
            return Outcome(NOT_CONNECTED, description=f"{charger_id} is not connected")
        unique_id = frames.new_id()
        try:
            reply = await connection.session.outgoing.call(action, payload, timeout, unique_id)
        except TimeoutError:
            return Outcome(TIMEOUT, description=f"no reply in {timeout:g} s", unique_id=unique_id)
        except ConnectionLost:
            return Outcome(NOT_CONNECTED, description="connection closed", unique_id=unique_id)
        if isinstance(reply, frames.CallError):
            return Outcome(ERROR, reply.details, reply.code, reply.description, unique_id)
        try:
            self._schemas.validate(action + "Response", reply.payload)
        except errors.OcppError as exc:
            why = f"invalid reply: {exc.description}"
            return Outcome(ERROR, reply.payload, exc.code, why, unique_id)
        status = reply.payload.get("status")
        if status in _POSITIVE:
            return Outcome(ACCEPTED, reply.payload, unique_id=unique_id)
        return Outcome(REJECTED, reply.payload, description=str(status), unique_id=unique_id)
