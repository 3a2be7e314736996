"""Charger handshakes in progress, at most ``width`` at once, the others waiting in order.

A handshake here is the database work of a new connection: admission reads the charger,
then the connection is recorded (a new charger is created). When thousands of chargers
connect at once (the server came back after a crash, a depot's network returned), all
of them at once would share the database evenly and each would finish near the end:
past the chargers' own handshake timeout (often 30 s), so every one gives up, retries,
and the work is done again (congestion collapse). Taken in order, the first ones are in
within milliseconds and the storm ends when the database has done each charger's work
once. A charger that gave up while it waited costs no database work when its turn comes
(``ChargePointHandler.prepare`` checks its socket first).

A slot is given back when the connection is recorded, when the request is answered
without an upgrade, when the socket closes, or at the latest after ``hold_limit``
seconds, so a path that forgets it cannot shrink the queue for ever.
"""

from __future__ import annotations

import asyncio

HOLD_LIMIT_S = 30.0


class HandshakeSlot:
    """One place in the queue, given back once however many paths release it."""

    def __init__(self, queue: HandshakeQueue, hold_limit: float):
        self._queue = queue
        self._held = True
        self._timer = asyncio.get_running_loop().call_later(hold_limit, self.release)

    def release(self) -> None:
        """Give the place back (again: nothing)."""
        if self._held:
            self._held = False
            self._timer.cancel()
            self._queue.leave()


class HandshakeQueue:
    """At most ``width`` handshakes at once, first come first served (0: no bound)."""

    def __init__(self, width: int, hold_limit: float = HOLD_LIMIT_S):
        self.width = width
        self.hold_limit = hold_limit
        self._semaphore = asyncio.Semaphore(width) if width > 0 else None
        self.waiting = 0  # handshakes waiting for a place now

    async def enter(self) -> HandshakeSlot:
        """Wait for a place (in order of arrival); the slot to release."""
        if self._semaphore is not None:
            self.waiting += 1
            try:
                await self._semaphore.acquire()
            finally:
                self.waiting -= 1
        return HandshakeSlot(self, self.hold_limit)

    def leave(self) -> None:
        """A slot was given back."""
        if self._semaphore is not None:
            self._semaphore.release()
