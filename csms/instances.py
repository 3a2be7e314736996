"""Several Central System instances on one MongoDB replica set (multi-instance mode).

Only built when ``--instance-id`` or ``--multi-instance`` is given; one instance
alone has none of this (no change streams, no leases, no extra writes).

- Charger leases: a connection records on the charger's document which instance
  holds its socket (``holder``), since when (``held_since``) and until when that is
  good (``lease_until``). Every ``renew_s`` one update renews the lease of all the
  chargers this instance holds, and one update marks offline the chargers whose
  holder stopped renewing (it died): they show offline within ``lease_s`` +
  ``renew_s``.
- Who holds what: a change stream on ``chargers`` (connections and holders only)
  keeps ``remote`` (charger -> instance) for the chargers held elsewhere, so the
  registry counts them as connected and relays calls to them
  (``csms.command_relay``); a charger that connects to another instance while its
  socket is here is closed here with 4000 (taken over).
- Events: every event published here is also recorded in ``events``; the other
  instances' events come from a change stream and are delivered to the local bus
  (never published again, so nothing loops or doubles).

Each stream keeps its resume token: when a stream fails it is opened again after
the last change it delivered, so nothing is missed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo.errors import OperationFailure, PyMongoError

from csms.command_relay import CommandRelay
from csms.registry import ConnectionRegistry
from csms.services import Services
from models.leases import EventLog, LeaseRepo
from ocppj.timeutil import utcnow

log = logging.getLogger("csms.instances")

CLOSE_TAKEN_OVER = 4000  # as a second connection in one process (OCPP_RULES 13)
STREAM_RETRY_S = 1.0
HISTORY_LOST = 286  # ChangeStreamHistoryLost: the resume token is older than the oplog
# Events of chargers held elsewhere that load management recomputes a site for.
LOAD_REASONS = {"status": "status", "transaction_started": "start",
                "transaction_stopped": "stop", "boot": "boot"}  # fmt: skip


@dataclass(slots=True)
class InstanceSettings:
    """This instance's name and its leases' timing (``--instance-id``, ``--lease-seconds``)."""

    instance_id: str
    lease_s: float = 10.0

    @property
    def renew_s(self) -> float:
        """How often leases are renewed and expired ones swept (a third of a lease)."""
        return self.lease_s / 3


class Instances:
    """This instance among the others: leases, who holds which charger, shared events."""

    def __init__(
        self, services: Services, registry: ConnectionRegistry, settings: InstanceSettings
    ):
        self.services = services
        self.registry = registry
        self.settings = settings
        self.id = settings.instance_id
        self.remote: dict[str, str] = {}  # charger -> the instance that holds it
        self.events = EventLog(services.db, self.id, services.settings.flush_interval)
        self.leases = LeaseRepo(services.db)
        self.relay = CommandRelay(services.commands, registry, self.id)
        self.taken_over = 0
        self._ready: list[asyncio.Event] = []

    def lease_fields(self, now: datetime) -> dict[str, Any]:
        """What a connection to this instance writes on its charger's document."""
        until = now + timedelta(seconds=self.settings.lease_s)
        return {"holder": self.id, "held_since": now, "lease_until": until}

    def holder(self, charger_id: str) -> str | None:
        """The other instance that holds ``charger_id``'s socket, or None."""
        return self.remote.get(charger_id)

    async def locate(self, charger_id: str) -> str | None:
        """The instance whose lease on ``charger_id`` is current, read from the database."""
        doc = await self.services.chargers.holder(charger_id)
        if not doc or not doc.get("connected") or doc.get("lease_until") is None:
            return None
        return doc.get("holder") if doc["lease_until"] > utcnow() else None

    def attach(self) -> None:
        """Wire this into the services and the registry (before they start)."""
        self.services.chargers.lease = self.lease_fields
        self.services.bus.relay = self._recorded
        self.registry.relay = self.relay
        self.registry.remote = self

    def _recorded(self, event: dict[str, Any]) -> None:
        self.events.record(event, utcnow())

    async def start(self) -> None:
        """Give up what an earlier run of this instance held, then start the streams and
        the renewal loop; returns once every stream is open."""
        await self.services.chargers.release_all(self.id, utcnow())
        self.events.writer.start()
        streams: list[tuple[str, Callable[[Any], Awaitable[Any]], Callable]] = [
            ("chargers", self.services.chargers.watch_holders, self._holder_changed),
            ("events", self.events.watch_others, self._event_arrived),
            ("commands", lambda token: self.services.commands.watch_relayed(self.id, token),
             self.relay.arrived),
        ]  # fmt: skip
        for name, opener, handle in streams:
            ready = asyncio.Event()
            self._ready.append(ready)
            self.services.keep(self._follow(name, opener, handle, ready))
        for ready in self._ready:
            await ready.wait()
        self.remote = await self.services.chargers.held_by_others(self.id)
        self.services.keep(self._renew_loop())

    async def stop(self) -> None:
        """Write the events still queued (the loops end with ``Services.stop``)."""
        await self.events.writer.stop()

    async def _follow(
        self,
        name: str,
        opener: Callable[[Any], Awaitable[Any]],
        handle: Callable[[dict[str, Any]], Any],
        ready: asyncio.Event,
    ) -> None:
        """Follow one change stream for ever, resuming after the last change handled."""
        token = None
        while True:
            try:
                async with await opener(token) as stream:
                    ready.set()
                    async for change in stream:
                        try:
                            result = handle(change)
                            if asyncio.iscoroutine(result):
                                await result
                        except Exception:
                            log.exception("%s stream: a change could not be handled", name)
                        token = stream.resume_token
            except OperationFailure as exc:
                if exc.code == HISTORY_LOST:  # older than the oplog: start afresh
                    log.error("%s stream: resume point lost (%s); changes were missed", name, exc)
                    token = None
                else:
                    log.warning("%s stream failed (%s); resuming", name, exc)
                await asyncio.sleep(STREAM_RETRY_S)
            except PyMongoError as exc:
                log.warning("%s stream failed (%s); resuming", name, exc)
                await asyncio.sleep(STREAM_RETRY_S)

    def _holder_changed(self, change: dict[str, Any]) -> None:
        doc = change.get("fullDocument") or {}
        charger_id = change["documentKey"]["_id"]
        holder = doc.get("holder")
        if doc.get("connected") and holder and holder != self.id:
            self.remote[charger_id] = holder
            local = self.registry.get(charger_id)
            if local is not None:  # it connected to another instance: that one wins
                log.info("%s: taken over by instance %s", charger_id, holder)
                self.taken_over += 1
                local.close(CLOSE_TAKEN_OVER, f"replaced by a connection on {holder}")
        else:
            self.remote.pop(charger_id, None)

    def _event_arrived(self, change: dict[str, Any]) -> None:
        event = (change.get("fullDocument") or {}).get("event")
        if not isinstance(event, dict):
            return
        self.services.bus.deliver(event)
        reason = LOAD_REASONS.get(event.get("type"))
        if reason is not None and isinstance(event.get("charger"), str):
            # Load management decides here when this instance holds the site's lease.
            extra = {key: event[key] for key in ("connector", "status") if key in event}
            self.services.load_event(event["charger"], reason, **extra)

    async def site_gate(self, root: str) -> bool:
        """Whether this instance decides the load of the site tree of ``root`` now."""
        return await self.decides(f"site:{root}")

    async def _renew_loop(self) -> None:
        chargers = self.services.chargers
        while True:
            await asyncio.sleep(self.settings.renew_s)
            now = utcnow()
            try:
                await chargers.renew_leases(self.id, now + timedelta(seconds=self.settings.lease_s))
                expired = await chargers.expire_leases(now)
            except PyMongoError as exc:
                log.warning("lease renewal failed: %s", exc)
                continue
            if expired:
                log.info("%d chargers offline: their instance stopped renewing", expired)

    async def decides(self, name: str) -> bool:
        """True when this instance holds (now takes or renews) the lease ``name``, e.g.
        ``site:<id>`` for one site's load management."""
        return await self.leases.acquire(name, self.id, utcnow(), self.settings.lease_s)
