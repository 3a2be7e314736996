"""Pages: the operator dashboard, the public charger landing pages and QR images,
and the HTML message log."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import tornado.web

from csms import billing
from csms.alerts import alert_view
from csms.chargers import CONNECTOR_STATUSES
from csms.fleet import STATES
from handlers import qrcodes
from handlers.base import BaseHandler, Pager, kwh, to_json
from handlers.live import DASHBOARD_PAGE_SIZE, ChargerFilter, charger_card, dashboard_state
from ocppj.timeutil import utcnow

LOG_PAGE_SIZE = 50
# The dashboard's filters: the overview's states, then connected, then connector statuses.
DASHBOARD_FILTERS = (*STATES, "online", *CONNECTOR_STATUSES)
SESSION_PAGE_SIZE = 50


def fmt_ms(value: datetime | None) -> str:
    """A datetime to the millisecond (message log rows often share a second)."""
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def page_number(handler: tornado.web.RequestHandler) -> int:
    """The ``page`` query argument (1-based); 400 when it is not a positive integer."""
    raw = handler.get_query_argument("page", "1")
    if not raw.isdigit() or int(raw) < 1:
        raise tornado.web.HTTPError(400, "page must be a positive integer")
    return int(raw)


def pager(page: int, total: int, size: int) -> dict[str, Any]:
    """Page links: previous/next page numbers (None at the ends) and the page count."""
    pages = max(1, math.ceil(total / size))
    return {
        "page": page,
        "pages": pages,
        "total": total,
        "first": (page - 1) * size + 1,  # the row number of the page's first entry
        "previous": page - 1 if page > 1 else None,
        "next": page + 1 if page < pages else None,
    }


class PageHandler(BaseHandler):
    """Shared template helpers for these pages."""

    def get_template_namespace(self) -> dict[str, Any]:
        """Templates also get path builders and the kWh formatter."""
        namespace = super().get_template_namespace()
        namespace.update(
            landing_path=qrcodes.landing_path, log_path=qrcodes.log_path, kwh=kwh, fmt_ms=fmt_ms
        )
        return namespace


class DashboardHandler(PageHandler):
    """``GET /ocpp/``: every charger and its state, kept live by server-sent events."""

    @tornado.web.authenticated
    async def get(self) -> None:
        """Render the cards; the page's script subscribes to the live stream."""
        chosen = ChargerFilter.of(self)
        # The latest figures only: the live stream's snapshot brings the chart series.
        chargers, total = await dashboard_state(self.services, self.registry, chosen, points=1)
        # The script needs only the sessions (the cards are in the HTML).
        views = [{"id": card["id"], "sessions": card["sessions"]} for card in chargers]
        state = to_json({"chargers": views}).decode()
        pager = Pager(chosen.page, DASHBOARD_PAGE_SIZE, total, "/ocpp/", chosen.fields())
        open_alerts, alert_total = await self.services.alerts.repo.search(True, limit=10)
        self.render(
            "dashboard.html", chargers=chargers, state_json=state, pager=pager, chosen=chosen,
            statuses=DASHBOARD_FILTERS, events_url="/ocpp/live/events?" + chosen.query(),
            open_alerts=[{**alert_view(doc), "opened": doc["opened"]} for doc in open_alerts],
            alert_total=alert_total, overview=self.services.fleet.counts(),
        )  # fmt: skip


class LandingHandler(PageHandler):
    """``GET /ocpp/c/<cid>/``: the public page a driver reaches by QR code."""

    async def get(self, cid: str) -> None:
        """Status, total energy and the recorded sessions of one charger (public).

        Sessions are numbered by row, newest first, never by transaction id: ids come
        from a counter, and showing them tells anyone the next one (admin pages keep them).
        """
        page = page_number(self)
        await self.services.chargers.flush()  # show the newest connector statuses
        charger = await self.services.chargers.get(cid)
        if charger is None:
            raise tornado.web.HTTPError(404)
        sessions, total = await self.services.transactions.search(
            charger=cid, skip=(page - 1) * SESSION_PAGE_SIZE, limit=SESSION_PAGE_SIZE
        )
        if page > 1 and not sessions:
            raise tornado.web.HTTPError(404)
        now = utcnow()
        if any(tx.get("open") for tx in sessions):
            await self.services.meter_values.flush()  # the newest readings count
        costs = {
            tx["_id"]: (await billing.running_cost(self.services, tx, now) if tx.get("open")
                        else tx.get("cost"))
            for tx in sessions
        }  # fmt: skip
        # An open session shows what it has delivered so far (a stopped one: its energy).
        so_far = {tx["_id"]: await billing.energy_so_far(self.services, tx)
                  for tx in sessions if tx.get("open")}  # fmt: skip
        self.render(
            "landing.html",
            charger=charger,
            view=charger_card(charger, cid in self.registry),
            energy_total_wh=await self.services.transactions.energy_total(cid),
            sessions=sessions,
            pager=pager(page, total, SESSION_PAGE_SIZE),
            landing_url=qrcodes.landing_url(self.web.public_url, cid),
            price=await billing.price_view(self.services, charger, now),
            costs={tx_id: billing.cost_text(cost) for tx_id, cost in costs.items()},
            so_far=so_far,
        )


class QRCodeHandler(BaseHandler):
    """``GET /ocpp/c/<cid>/qr.svg``: the QR code of the landing page (public)."""

    async def get(self, cid: str) -> None:
        """The stored SVG when it points at the current URL; else one is made now and
        stored (``ensure_qr``), so each charger's code is drawn once, not per request."""
        charger = await self.services.chargers.get(cid)
        if charger is None:
            raise tornado.web.HTTPError(404)
        if qrcodes.qr_is_current(charger, self.web.public_url):
            svg = charger["qr"]["svg"]
        else:
            svg = (await qrcodes.ensure_qr(self.services, cid, self.web.public_url))["svg"]
        self.set_header("Content-Type", "image/svg+xml; charset=utf-8")
        self.set_header("Cache-Control", "public, max-age=300")
        # The image is ours, but an SVG opened directly is a document: allow no scripts.
        self.set_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
        self.finish(svg)


class MessageLogHandler(PageHandler):
    """``GET /ocpp/log/<cid>/``: the stored exchanges (a frame and its reply), newest first,
    paginated.

    404 when the charger is unknown *and* nothing is logged for its id; when the
    charger document is gone but messages remain, they are shown with a note.
    """

    @tornado.web.authenticated
    async def get(self, cid: str) -> None:
        """One page of exchanges, every frame escaped."""
        page = page_number(self)
        charger = await self.services.chargers.get(cid)
        messages = await self.services.messages.recent(
            cid, limit=LOG_PAGE_SIZE, skip=(page - 1) * LOG_PAGE_SIZE
        )
        total = await self.services.messages.count(cid)
        if charger is None and total == 0:
            raise tornado.web.HTTPError(404)
        if page > 1 and not messages:
            raise tornado.web.HTTPError(404)
        self.render(
            "log.html",
            charger_id=cid,
            charger=charger,
            messages=messages,
            pager=pager(page, total, LOG_PAGE_SIZE),
        )


_CID = r"(?P<cid>[^/]+)"

default_handlers = [
    (r"/", tornado.web.RedirectHandler, {"url": "/ocpp/"}),
    (r"/ocpp/?", DashboardHandler),
    (rf"/ocpp/c/{_CID}/", LandingHandler),
    (rf"/ocpp/c/{_CID}/qr\.svg", QRCodeHandler),
    (rf"/ocpp/log/{_CID}/", MessageLogHandler),
]
