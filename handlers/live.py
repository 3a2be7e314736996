"""Live dashboard state: the view of every charger, and server-sent events from the bus.

``GET /ocpp/live/events`` (login required) streams ``text/event-stream``: first
``{"type": "snapshot", "chargers": [...], "total": n}`` of the dashboard page the query
names (``q``, ``status``, ``page``; read after subscribing so nothing published meanwhile
is lost) and ``{"type": "overview", ...counts}``, then the bus events of the chargers on
that page (and new chargers' ``connected``), each as one ``data:`` line of JSON; the
overview again when it changed, at most once a second; a keep-alive comment after
``live_keepalive`` seconds of silence. The stream is bounded: the bus queue is bounded (a slow
browser loses events, never the server), and the response ends after
``live_max_age`` seconds; EventSource reconnects by itself and gets a fresh
snapshot. Browsers cannot use WebSockets here: every upgrade is a charger.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import tornado.web
from tornado.iostream import StreamClosedError

from csms.billing import cost_text, running_cost
from csms.chargers import STATUS_FILTERS
from csms.fleet import STATES, Fleet
from csms.registry import ConnectionRegistry
from csms.services import Services
from handlers.api.views import connector_states, offline_since
from handlers.base import BaseHandler, to_json
from ocppj.timeutil import utcnow

DASHBOARD_PAGE_SIZE = 60
MAX_QUERY = 100
MAX_PAGE = 1_000_000
CHART_POINTS = 120
MAX_EVENTS_PER_WRITE = 200
CONCURRENT_READS = 16
OVERVIEW_EVERY = 1.0  # seconds: the overview counts are sent at most this often


async def session_view(
    services: Services, tx: dict[str, Any], points: int = CHART_POINTS
) -> dict[str, Any]:
    """An open transaction with its recent power (W) and session energy (Wh) series (the
    last ``points`` readings of each: the page's first HTML asks for 1, the live
    snapshot, which draws the charts, for ``CHART_POINTS``), from the measurements'
    numeric ``power_w`` and ``energy_wh`` fields."""
    meter_start = tx.get("meter_start") or 0
    readings = services.meter_values
    power = [[ts, value] for ts, value in await readings.series(tx["_id"], "power_w", limit=points)]
    energy = [
        [ts, value - meter_start]
        for ts, value in await readings.series(tx["_id"], "energy_wh", limit=points)
    ]
    cost = await running_cost(services, tx, utcnow())
    return {
        "transaction": tx["_id"],
        "connector": tx.get("connector"),
        "id_tag": tx.get("id_tag"),
        "start_ts": tx.get("start_ts"),
        "meter_start": meter_start,
        "power_w": power[-1][1] if power else None,
        "energy_wh": energy[-1][1] if energy else None,
        "power": power,
        "energy": energy,
        "cost": cost_text(cost),  # the running cost when the view was made
    }


def charger_card(
    charger: dict[str, Any], connected: bool, sessions: list[dict[str, Any]] = ()
) -> dict[str, Any]:
    """What pages and the live stream show of a charger (datetimes left as datetimes).

    An offline charger's connector statuses are kept but ``stale`` (it may have stopped
    charging long ago), and ``offline_since`` says when it was last heard of.
    """
    connectors: dict[int, dict[str, Any]] = {}
    for key, state in connector_states(charger):
        if not key.isdigit():
            continue
        number = int(key)
        connectors[number] = {
            "id": number,
            "status": state.get("status") or "Unknown",
            "error_code": state.get("error_code"),
            "info": state.get("info"),
            "ts": state.get("ts"),
            "stale": not connected,
        }
    for session in sessions:
        number = session.get("connector")
        if isinstance(number, int) and number not in connectors:
            connectors[number] = {"id": number, "status": "Unknown", "error_code": None,
                                  "info": None, "ts": None, "stale": not connected}  # fmt: skip
    boot = charger.get("boot") or {}
    return {
        "id": charger["_id"],
        "name": charger.get("name") or charger["_id"],
        "connected": connected,
        "offline_since": None if connected else offline_since(charger),
        "vendor": boot.get("vendor"),
        "model": boot.get("model"),
        "last_heartbeat": charger.get("last_heartbeat"),
        "last_seen": charger.get("last_seen"),
        "connectors": [connectors[n] for n in sorted(connectors)],
        "sessions": list(sessions),
    }


@dataclass(frozen=True, slots=True)
class ChargerFilter:
    """Which chargers a page shows: search text, status filter, page (from the query);
    or one charger by id (``charger``: its own page), known yet or not."""

    q: str = ""
    status: str = ""
    page: int = 1
    charger: str = ""

    @classmethod
    def of(cls, handler: tornado.web.RequestHandler) -> ChargerFilter:
        """The filter in the request's query; an unknown status or page means none."""
        q = handler.get_query_argument("q", "").strip()[:MAX_QUERY]
        status = handler.get_query_argument("status", "")
        page = handler.get_query_argument("page", "1")
        return cls(
            q,
            status if status in STATUS_FILTERS or status in STATES else "",
            int(page) if page.isdigit() and 0 < int(page) <= MAX_PAGE else 1,
            handler.get_query_argument("charger", ""),
        )

    def fields(self) -> dict[str, str]:
        """The filter as query fields (for links that keep it)."""
        return {"q": self.q, "status": self.status}

    def query(self) -> str:
        """The filter and page as a query string (empty values left out)."""
        fields = {**self.fields(), "page": str(self.page) if self.page > 1 else ""}
        return urlencode({key: value for key, value in fields.items() if value})


async def dashboard_state(
    services: Services,
    registry: ConnectionRegistry,
    chosen: ChargerFilter | None = None,
    per_page: int = DASHBOARD_PAGE_SIZE,
    points: int = CHART_POINTS,
) -> tuple[list[dict], int]:
    """The views of one page of chargers, what needs attention first (``csms.fleet``),
    with their open sessions, and how many chargers match in all.

    Buffered state and meter values are flushed first so the view is current.
    """
    chosen = chosen or ChargerFilter()
    fleet = await services.fleet.current()
    await services.chargers.flush()
    await services.meter_values.flush()
    if chosen.charger:
        ids = [chosen.charger] if chosen.charger in fleet.rows else []
        total = len(ids)
    else:
        ids, total = fleet.page(chosen.q, chosen.status, (chosen.page - 1) * per_page, per_page)
    docs = await services.chargers.get_many(ids)
    chargers = [docs[cid] for cid in ids if cid in docs]
    open_txs = await services.transactions.open_for_chargers(ids)
    limit = asyncio.Semaphore(CONCURRENT_READS)

    async def build(charger: dict[str, Any]) -> dict[str, Any]:
        async with limit:
            txs = open_txs.get(charger["_id"], [])
            sessions = [await session_view(services, tx, points) for tx in txs]
        card = charger_card(charger, charger["_id"] in registry, sessions)
        row = fleet.rows.get(charger["_id"])
        return {**card, "state": row.state if row is not None else None}

    return list(await asyncio.gather(*(build(charger) for charger in chargers))), total


def overview_event(fleet: Fleet) -> dict[str, Any]:
    """The ``overview`` event: the fleet's counts, power now and energy today."""
    return {"type": "overview", **fleet.counts()}


def sse_message(event: dict[str, Any]) -> bytes:
    """One server-sent event: a single ``data:`` line of JSON (JSON has no raw newlines)."""
    return b"data: " + to_json(event) + b"\n\n"


class LiveEventsHandler(BaseHandler):
    """``GET /ocpp/live/events``: the event bus as server-sent events."""

    def initialize(self) -> None:
        """Per-request state."""
        self._queue: asyncio.Queue | None = None
        self._gone = False
        self._page: set[str] = set()  # the chargers on the page in view

    @tornado.web.authenticated
    async def get(self) -> None:
        """Stream a snapshot of the page in view, then its chargers' events and the
        overview counts (coalesced), until the client leaves or the stream ages out."""
        keepalive, max_age = self.live.keepalive, self.live.max_age
        self.set_header("Content-Type", "text/event-stream; charset=utf-8")
        self.set_header("Cache-Control", "no-cache, no-store")
        self.set_header("X-Accel-Buffering", "no")
        queue = self.services.bus.subscribe()
        self._queue = queue
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_age
        try:
            self.write(b"retry: 3000\n\n")
            chosen = ChargerFilter.of(self)
            state, total = await dashboard_state(self.services, self.registry, chosen)
            self._page = {card["id"] for card in state} | ({chosen.charger} - {""})
            self.write(sse_message({"type": "snapshot", "chargers": state, "total": total}))
            fleet = self.services.fleet
            self.write(sse_message(overview_event(fleet)))
            sent, next_overview, watch_until = fleet.version, loop.time() + OVERVIEW_EVERY, 0.0
            await self.flush()
            while not self._gone:
                now = loop.time()
                remaining = deadline - now
                if remaining <= 0:
                    break
                wait = min(keepalive, remaining)
                if now < watch_until:  # the counts may change: look again when due
                    wait = min(wait, max(0.0, next_overview - now))
                try:  # asyncio.timeout keeps a cancel (unlike wait_for on Python 3.11)
                    async with asyncio.timeout(wait):
                        event = await queue.get()
                except TimeoutError:
                    event = None
                    if loop.time() >= watch_until:
                        self.write(b": keep-alive\n\n")
                else:
                    if event is None:  # the client went away
                        break
                    await self._write_events(event, queue)
                    watch_until = loop.time() + 2 * OVERVIEW_EVERY
                if fleet.version != sent and loop.time() >= next_overview:
                    self.write(sse_message(overview_event(fleet)))
                    sent, next_overview = fleet.version, loop.time() + OVERVIEW_EVERY
                await self.flush()
        except StreamClosedError:
            self._gone = True
        finally:
            self.services.bus.unsubscribe(queue)
        if not self._gone:
            self.finish()

    def _shown(self, event: dict[str, Any]) -> bool:
        """Whether the page in view shows ``event``: one of its chargers', or a new
        charger's registration (the page announces it)."""
        if event.get("charger") in self._page:
            return True
        return event.get("type") == "connected" and bool(event.get("created"))

    async def _write_events(self, first: dict[str, Any], queue: asyncio.Queue) -> None:
        """Write ``first`` and whatever else is queued already (bounded), enriched; events
        of chargers the page does not show are dropped."""
        events = [first]
        while len(events) < MAX_EVENTS_PER_WRITE and not queue.empty():
            event = queue.get_nowait()
            if event is None:
                self._gone = True
                break
            events.append(event)
        for event in events:
            if self._shown(event):
                self.write(sse_message(await self._enrich(event)))

    async def _enrich(self, event: dict[str, Any]) -> dict[str, Any]:
        """Add what the page needs to chart a new session (its meter start and start time)."""
        if event.get("type") != "transaction_started":
            return event
        tx = await self.services.transactions.get(event.get("transaction"))
        if tx is None:
            return event
        return {**event, "meter_start": tx.get("meter_start"), "start_ts": tx.get("start_ts")}

    def on_connection_close(self) -> None:
        """Unsubscribe at once and wake the waiting loop."""
        self._gone = True
        if self._queue is not None:
            self.services.bus.unsubscribe(self._queue)
            with contextlib.suppress(asyncio.QueueFull):
                self._queue.put_nowait(None)


default_handlers = [
    (r"/ocpp/live/events", LiveEventsHandler),
]
