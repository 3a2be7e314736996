"""Admin views of what we store, each filtered and paged: reservations (with Cancel),
installed charging profiles, recent commands with their outcomes, security events.
Unknown chargers have their page under Security (``handlers.admin.security``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import tornado.web

from csms import remote
from handlers import forms
from handlers.admin.base import AdminHandler
from handlers.admin.data import charger_ids
from handlers.admin.operations import OUTCOME_TEXT
from handlers.admin.session import is_id
from handlers.base import Pager
from ocppj.timeutil import utcnow

VIEWS_PATH = "/ocpp/admin/views/"
RESERVATIONS_PATH = "/ocpp/admin/reservations/"
PROFILES_PATH = "/ocpp/admin/charging-profiles/"
COMMANDS_PATH = "/ocpp/admin/commands/"
EVENTS_PATH = "/ocpp/admin/security-events/"
UNKNOWN_PATH = "/ocpp/admin/security/unknown/"
PER_PAGE = 50
RESERVATION_STATUSES = ("accepted", "cancelled", "used", "unconfirmed", "failed", "faulted",
                        "occupied", "rejected", "unavailable")  # fmt: skip
PURPOSES = ("ChargePointMaxProfile", "TxDefaultProfile", "TxProfile")
COMMAND_STATUSES = ("pending", "accepted", "rejected", "error", "timeout", "not_connected",
                    "disconnected", "cancelled")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Filter:
    """A filter field of a view: free text, or one of ``options`` (a select)."""

    name: str
    label: str
    options: tuple[str, ...] = ()
    max_length: int = 100


@dataclass(frozen=True, slots=True)
class View:
    """One view: where it is, the repository whose ``search(<filters in order>, skip=,
    limit=)`` lists it, its table template, its filters and its empty-state hint."""

    path: str
    title: str
    repo: str
    table: str
    filters: tuple[Filter, ...]
    empty: str


CHARGER = Filter("charger", "Charger", max_length=forms.MAX_CHARGER_ID)
RESERVATIONS = View(
    RESERVATIONS_PATH, "Reservations", "reservations",
    "admin/_view_reservations.html",
    (CHARGER, Filter("status", "Status", RESERVATION_STATUSES)),
    "No reservation yet. Reserve a connector from a charger's operations "
    "(Reserve now); it is listed here with the charger's answer.",
)  # fmt: skip
PROFILES = View(
    PROFILES_PATH, "Charging profiles", "charging_profiles",
    "admin/_view_profiles.html",
    (CHARGER, Filter("purpose", "Purpose", PURPOSES)),
    "No charging profile is installed. Send one from a charger's operations (Set "
    "charging profile); the ones the charger accepts are listed here.",
)  # fmt: skip
COMMANDS = View(
    COMMANDS_PATH, "Commands", "commands", "admin/_view_commands.html",
    (CHARGER, Filter("action", "Action"), Filter("status", "Outcome", COMMAND_STATUSES)),
    "No command was sent yet. Operations sent from a charger's page, the API or load "
    "management are listed here with their outcome.",
)  # fmt: skip
EVENTS = View(
    EVENTS_PATH, "Security events", "security_events",
    "admin/_view_security_events.html",
    (CHARGER, Filter("type", "Type")),
    "No security event. Chargers report them with SecurityEventNotification; our own "
    "findings (failed logins of chargers, ...) are listed here too.",
)  # fmt: skip
VIEWS = (RESERVATIONS, PROFILES, COMMANDS, EVENTS)


def reservations_url(charger: str = "") -> str:
    """The reservations view, of one charger when given."""
    return RESERVATIONS_PATH + ("?" + urlencode({"charger": charger}) if charger else "")


class ViewHandler(AdminHandler):
    """``GET <view path>?<filters>&page=``: a filtered, paged view (the route names it)."""

    def initialize(self, view: View) -> None:
        """The view this route serves."""
        self.view = view

    @tornado.web.authenticated
    async def get(self) -> None:
        """Parse the filters, fetch the page and render it."""
        view = self.view
        names = [item.name for item in view.filters]
        form = forms.Form(self.query_fields(*names, "page"))
        for item in view.filters:
            if item.options and form.raw[item.name]:
                form.field(item.name, forms.choice, item.options)
            else:
                form.field(item.name, forms.text, item.max_length)
        page = form.field("page", forms.page) or 1
        pager = Pager(page, PER_PAGE, 0, view.path, {name: form.raw[name] for name in names})
        rows: list[dict[str, Any]] = []
        if form.ok:
            values = [form.values[name] or None for name in names]
            search = getattr(self.services, view.repo).search
            rows, pager.total = await search(*values, skip=pager.skip, limit=pager.per_page)
        else:
            self.set_status(400)
        self.render(
            "admin/view.html", view=view, views=VIEWS, form=form, rows=rows, pager=pager,
            filtered=any(form.raw[name] for name in names), unknown_path=UNKNOWN_PATH,
            charger_ids=await charger_ids(self), now=utcnow(),
        )  # fmt: skip


class CancelReservationHandler(AdminHandler):
    """``POST /ocpp/admin/reservations/<id>/cancel``: CancelReservation to its charger;
    the typed outcome is shown on the reservations view of that charger."""

    @tornado.web.authenticated
    async def post(self, reservation_id: str) -> None:
        """Send the cancel and go back to the view with the outcome."""
        reservation = None
        if is_id(reservation_id):
            reservation = await self.services.reservations.get(int(reservation_id))
        if reservation is None:
            raise tornado.web.HTTPError(404, log_message="unknown reservation")
        charger = reservation["charger"]
        try:
            outcome = await remote.perform(
                self.services, self.registry, charger, "cancel_reservation",
                {"reservation_id": reservation["_id"]}, timeout=self.web.action_timeout,
                requested_by=self.current_user["username"],
            )  # fmt: skip
            status, text = outcome.status, OUTCOME_TEXT.get(outcome.status, outcome.status)
            if outcome.description and not outcome.ok:
                text += f" ({outcome.description})"
        except remote.ParameterError as exc:
            status, text = "refused", f"Nothing was sent: {exc.field} {exc.message}."
        self.flash(f"Cancel reservation {reservation['_id']}: {status}. {text}")
        self.redirect(reservations_url(charger))


class ViewsIndexHandler(AdminHandler):
    """``GET /ocpp/admin/views/``: the list of views."""

    @tornado.web.authenticated
    async def get(self) -> None:
        """Links to every view and to the unknown chargers."""
        self.render("admin/views.html", views=VIEWS, unknown_path=UNKNOWN_PATH)


default_handlers = [
    (VIEWS_PATH, ViewsIndexHandler),
    *((view.path, ViewHandler, {"view": view}) for view in VIEWS),
    (r"/ocpp/admin/reservations/([^/]+)/cancel", CancelReservationHandler),
]
