"""Our outgoing CALLs on one connection: one outstanding at a time (OCPP_RULES 6).

Later calls wait their turn; the reply (CALLRESULT or CALLERROR) resolves the
future of the pending call. Nothing here knows about Tornado or the database.

``send`` is called as ``send(text)``, or as ``send(text, action, unique_id)``
when it accepts three positional arguments, so a logging sender (the charger
session's) can record which action and message id a frame carries.
``on_finished(unique_id)``, when given, is called once a sent (or attempted)
CALL stops being pending, however it ended: reply, timeout, close or
cancellation; so the session can log a CALL that never got its reply.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from ocppj import frames


class ConnectionLost(Exception):
    """The connection closed before the reply arrived."""


def _takes_ids(send: Callable[..., Any]) -> bool:
    """True when ``send`` accepts (text, action, unique_id) positionally."""
    try:
        parameters = inspect.signature(send).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = 0
    for parameter in parameters:
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            return True
        if parameter.kind in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        ):
            positional += 1
    return positional >= 3


class OutgoingCalls:
    """Serialises the CALLs we send on one connection and matches their replies."""

    def __init__(
        self,
        send: Callable[..., Awaitable[None]],
        on_finished: Callable[[str], None] | None = None,
    ):
        self._send = send
        self._on_finished = on_finished
        self._send_ids = _takes_ids(send)
        self._turn = asyncio.Lock()
        self._pending: tuple[str, str, asyncio.Future] | None = None
        self._closed = False

    @property
    def pending_id(self) -> str | None:
        """The id of the CALL awaiting its reply, if any."""
        return self._pending[0] if self._pending else None

    @property
    def closed(self) -> bool:
        """True once the connection is gone."""
        return self._closed

    async def call(
        self,
        action: str,
        payload: dict[str, Any],
        timeout: float,
        unique_id: str | None = None,
        on_sent: Callable[[], None] | None = None,
    ) -> frames.CallResult | frames.CallError:
        """Send a CALL and wait for its reply; raise TimeoutError or ConnectionLost.

        The timeout covers the wait for our turn, the send and the reply.
        ``on_sent`` is called once the frame has been handed to the transport,
        so a caller can tell "never sent" from "sent, no reply".
        """
        async with asyncio.timeout(timeout):
            async with self._turn:
                if self._closed:
                    raise ConnectionLost("connection closed")
                unique_id = unique_id or frames.new_id()
                future = asyncio.get_running_loop().create_future()
                self._pending = (unique_id, action, future)
                try:
                    text = frames.pack_call(unique_id, action, payload)
                    if self._send_ids:
                        await self._send(text, action, unique_id)
                    else:
                        await self._send(text)
                    if on_sent is not None:
                        on_sent()
                    return await future
                finally:
                    self._pending = None
                    if self._on_finished is not None:
                        self._on_finished(unique_id)

    def resolve(self, reply: frames.CallResult | frames.CallError) -> bool:
        """Hand a reply to the pending call; False when it matches none (late or unknown)."""
        if self._pending is None or self._pending[0] != reply.unique_id:
            return False
        future = self._pending[2]
        if not future.done():
            future.set_result(reply)
        return True

    def close(self) -> None:
        """Fail the pending call and refuse new ones."""
        self._closed = True
        if self._pending and not self._pending[2].done():
            self._pending[2].set_exception(ConnectionLost("connection closed"))
