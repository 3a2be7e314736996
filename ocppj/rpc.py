"""Our outgoing CALLs on one connection: one outstanding at a time (OCPP_RULES 6).

Later calls wait their turn; the reply (CALLRESULT or CALLERROR) resolves the
future of the pending call. Nothing here knows about Tornado or the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from ocppj import frames


class ConnectionLost(Exception):
    """The connection closed before the reply arrived."""


class OutgoingCalls:
    """Serialises the CALLs we send on one connection and matches their replies."""

    def __init__(self, send: Callable[[str], Awaitable[None]]):
        self._send = send
        self._turn = asyncio.Lock()
        self._pending: tuple[str, asyncio.Future] | None = None
        self._closed = False

    @property
    def pending_id(self) -> str | None:
        """The id of the CALL awaiting its reply, if any."""
        return self._pending[0] if self._pending else None

    async def call(
        self, action: str, payload: dict[str, Any], timeout: float, unique_id: str | None = None
    ) -> frames.CallResult | frames.CallError:
        """Send a CALL and wait for its reply; raise TimeoutError or ConnectionLost.

        The timeout covers the wait for our turn as well as the reply.
        """
        async with asyncio.timeout(timeout):
            async with self._turn:
                if self._closed:
                    raise ConnectionLost("connection closed")
                unique_id = unique_id or frames.new_id()
                future = asyncio.get_running_loop().create_future()
                self._pending = (unique_id, future)
                try:
                    await self._send(frames.pack_call(unique_id, action, payload))
                    return await future
                finally:
                    self._pending = None

    def resolve(self, reply: frames.CallResult | frames.CallError) -> bool:
        """Hand a reply to the pending call; False when it matches none (late or unknown)."""
        if self._pending is None or self._pending[0] != reply.unique_id:
            return False
        future = self._pending[1]
        if not future.done():
            future.set_result(reply)
        return True

    def close(self) -> None:
        """Fail the pending call and refuse new ones."""
        self._closed = True
        if self._pending and not self._pending[1].done():
            self._pending[1].set_exception(ConnectionLost("connection closed"))
