"""An in-process event bus: the domain publishes, live pages and tests subscribe."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("csms.events")


class EventBus:
    """Fan-out of event dicts to subscriber queues; a slow subscriber loses events, not us."""

    def __init__(self, queue_size: int = 1000):
        self._queues: set[asyncio.Queue] = set()
        self._queue_size = queue_size
        # Several instances (csms.instances): told of every event published here, so
        # the other instances' buses get it too; None with one instance.
        self.relay: Callable[[dict[str, Any]], None] | None = None

    def subscribe(self) -> asyncio.Queue:
        """A new queue that receives every event published from now on."""
        queue: asyncio.Queue = asyncio.Queue(self._queue_size)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        """Stop delivering to ``queue``."""
        self._queues.discard(queue)

    def publish(self, kind: str, charger: str, **data: Any) -> None:
        """Deliver ``{"type": kind, "charger": charger, **data}`` to every subscriber."""
        if not self._queues and self.relay is None:
            return
        event = {"type": kind, "charger": charger, **data}
        if self.relay is not None:
            self.relay(event)
        self.deliver(event)

    def deliver(self, event: dict[str, Any]) -> None:
        """Hand ``event`` to every subscriber (also one another instance published)."""
        for queue in self._queues:
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                log.warning("event queue full; dropping %s for a slow subscriber", event["type"])
