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

from models.commands import CommandRepo, new_command
from ocppj import errors, frames
from ocppj.redaction import redact_payload, redact_reply
from ocppj.rpc import ConnectionLost
from ocppj.timeutil import utcnow
from ocppj.validation import SchemaStore

log = logging.getLogger("csms.registry")

ACCEPTED = "accepted"
REJECTED = "rejected"
ERROR = "error"
TIMEOUT = "timeout"
NOT_CONNECTED = "not_connected"
DISCONNECTED = "disconnected"
CANCELLED = "cancelled"


class Connection(Protocol):
    """What the registry needs from a live charger connection."""

    session: Any

    def close(self, code: int | None = None, reason: str | None = None) -> None: ...


@dataclass(slots=True)
class Outcome:
    """The result of calling a charger.

    ``status`` is accepted / rejected (the charger answered with a status
    other than a positive one; ``description`` holds it) / error (CALLERROR,
    or an invalid reply) / timeout / not_connected (nothing was sent) /
    disconnected (sent, then the connection closed before the reply).
    ``payload`` is the charger's CALLRESULT payload when there was one (also
    an invalid one); ``details`` the CALLERROR details; ``request`` the
    payload we sent; ``command_id`` the stored command (also the CALL's id).
    """

    status: str
    payload: dict[str, Any] = field(default_factory=dict)
    error_code: str | None = None
    description: str = ""
    unique_id: str | None = None
    command_id: str | None = None
    request: dict[str, Any] = field(default_factory=dict)
    sent: bool = False
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the charger accepted."""
        return self.status == ACCEPTED

    @property
    def answered(self) -> bool:
        """True when the charger sent a valid CALLRESULT (accepted or rejected)."""
        return self.status in (ACCEPTED, REJECTED)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view (for the REST API and the admin page)."""
        return {
            "status": self.status,
            "command_id": self.command_id,
            "sent": self.sent,
            "request": self.request,
            "reply": self.payload or None,
            "error_code": self.error_code,
            "description": self.description,
            "details": self.details or None,
        }


# Reply "status" values that mean the operation went ahead. RebootRequired
# (ChangeConfiguration) means the value was stored and applies after a reboot.
_POSITIVE = {"Accepted", "Unlocked", "Scheduled", "AcceptedCanceled", "RebootRequired", None}


class ConnectionRegistry:
    """charger id -> live connection; and ``call``, the one way to send a charger a CALL.

    ``commands`` (optional) stores every call and its outcome; without it
    nothing is stored (unit tests of the connection table).
    ``default_timeout`` applies when ``call`` gets no timeout.
    """

    def __init__(
        self,
        schemas: SchemaStore,
        commands: CommandRepo | None = None,
        *,
        default_timeout: float = 30.0,
        metrics: Any = None,
    ):
        self._connections: dict[str, Connection] = {}
        self.metrics = metrics  # csms.metrics.Metrics: our CALLs by action and outcome
        self._schemas = schemas
        self.commands = commands
        self.default_timeout = default_timeout
        self._empty = asyncio.Event()
        self._empty.set()
        # Several instances (csms.instances): ``remote.holder(id)`` names the instance
        # holding a charger's socket elsewhere, ``relay`` calls it there; None alone.
        self.remote: Any = None
        self.relay: Any = None

    def __len__(self) -> int:
        return len(self._connections)

    def __contains__(self, charger_id: str) -> bool:
        """Connected here, or (several instances) to another instance."""
        if charger_id in self._connections:
            return True
        return self.remote is not None and self.remote.holder(charger_id) is not None

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
        self,
        charger_id: str,
        action: str,
        payload: dict[str, Any],
        timeout: float | None = None,
        **meta: Any,
    ) -> Outcome:
        """Send ``action`` to a charger and wait for its reply, as a typed outcome.

        The payload is validated against the request schema first: an invalid
        one raises OcppError and nothing is sent or stored. The reply is
        validated against the response schema (an invalid one is an ``error``
        outcome). The command is stored before the frame leaves and finished
        with the outcome; ``meta`` adds fields to it (``name``,
        ``requested_by``, ...). Calls to one charger queue (OCPP_RULES 6);
        the timeout covers the wait in the queue too.
        """
        self._schemas.validate(action, payload)
        timeout = self.default_timeout if timeout is None else timeout
        if self.relay is not None and charger_id not in self._connections:
            holder = self.remote.holder(charger_id)
            if holder is not None:  # its socket is on another instance: ask that one
                outcome = await self.relay.call(charger_id, holder, action, payload, timeout,
                                                **meta)  # fmt: skip
                if outcome.status != NOT_CONNECTED:
                    return outcome
                # It left that instance meanwhile: where the database says it is now.
                moved = await self.remote.locate(charger_id)
                if moved in (None, holder, self.remote.id):
                    return outcome
                return await self.relay.call(charger_id, moved, action, payload, timeout, **meta)
        command_id = frames.new_id()
        stored = redact_payload(action, payload)
        doc = new_command(command_id, charger_id, action, stored, utcnow(), **meta)
        if self._session(charger_id) is None:
            outcome = Outcome(NOT_CONNECTED, description=f"{charger_id} is not connected")
            return await self._finish(doc, outcome, store_new=True)
        if self.commands is not None:
            await self.commands.insert(doc)
        return await self._send(doc, payload, timeout)

    async def run_stored(
        self, doc: dict[str, Any], payload: dict[str, Any], timeout: float | None = None
    ) -> Outcome:
        """Send a command another instance stored for this one (``csms.command_relay``):
        ``payload`` is the unredacted one; the outcome is written on ``doc``."""
        self._schemas.validate(doc["action"], payload)
        timeout = self.default_timeout if timeout is None else timeout
        doc["relay_payload"] = None  # dropped from the stored command with the outcome
        return await self._send(doc, payload, timeout)

    async def _send(self, doc: dict[str, Any], payload: dict[str, Any], timeout: float) -> Outcome:
        """Send the stored command ``doc`` and finish it with its outcome."""
        charger_id, action, command_id = doc["charger"], doc["action"], doc["_id"]
        session = self._session(charger_id)  # again: it may have gone while we stored
        if session is None:
            outcome = Outcome(NOT_CONNECTED, description=f"{charger_id} disconnected")
            return await self._finish(doc, outcome)

        def sent() -> None:
            doc["sent_ts"] = utcnow()

        try:
            reply = await session.outgoing.call(action, payload, timeout, command_id, on_sent=sent)
        except TimeoutError:
            why = f"no reply in {timeout:g} s"
            if doc["sent_ts"] is None:
                why = f"not sent: the charger was busy with another call for {timeout:g} s"
            outcome = Outcome(TIMEOUT, description=why)
        except ConnectionLost:
            if doc["sent_ts"] is None:
                outcome = Outcome(NOT_CONNECTED, description="connection closed")
            else:
                outcome = Outcome(DISCONNECTED, description="connection closed before the reply")
        except asyncio.CancelledError:
            await self._finish(doc, Outcome(CANCELLED, description="caller gave up"))
            raise
        else:
            outcome = self._judge(action, reply)
        return await self._finish(doc, outcome)

    def _session(self, charger_id: str) -> Any:
        connection = self._connections.get(charger_id)
        return None if connection is None else getattr(connection, "session", None)

    def _judge(self, action: str, reply: frames.CallResult | frames.CallError) -> Outcome:
        if isinstance(reply, frames.CallError):
            return Outcome(ERROR, {}, reply.code, reply.description, details=reply.details)
        try:
            self._schemas.validate(action + "Response", reply.payload)
        except errors.OcppError as exc:
            why = f"invalid reply: {exc.description}"
            return Outcome(ERROR, redact_reply(action, reply.payload), exc.code, why)
        payload = redact_reply(action, reply.payload)  # what is kept and shown
        status = payload.get("status")
        if status in _POSITIVE:
            return Outcome(ACCEPTED, payload)
        return Outcome(REJECTED, payload, description=str(status))

    async def _finish(self, doc: dict[str, Any], outcome: Outcome, store_new=False) -> Outcome:
        outcome.command_id = outcome.unique_id = doc["_id"]
        outcome.request = doc["payload"]
        outcome.sent = doc["sent_ts"] is not None
        result = {
            "status": outcome.status,
            "sent_ts": doc["sent_ts"],
            "reply": outcome.payload or None,
            "charger_status": outcome.payload.get("status") if outcome.answered else None,
            "error_code": outcome.error_code,
            "description": outcome.description,
            "error_details": outcome.details or None,
            "finished_ts": utcnow(),
        }
        if "relay_payload" in doc:
            result["relay_payload"] = None
        if self.metrics is not None:
            label = "CALLRESULT" if outcome.answered else outcome.status
            if outcome.status == ERROR and outcome.error_code in errors.ERROR_CODES:
                label = outcome.error_code  # a charger's own code is not a label value
            self.metrics.call_sent(doc["action"], label)
        if outcome.status not in (ACCEPTED, REJECTED):
            log.info("%s: %s %s %s", doc["charger"], doc["action"], outcome.status, doc["_id"])
        if self.commands is None:
            return outcome
        if store_new:
            await self.commands.insert(doc | result)
        else:
            await self.commands.update(doc["_id"], result)
        return outcome
