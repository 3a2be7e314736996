"""Admin pages of recorded data: charging sessions and meter readings, filtered and paged."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import tornado.web

from handlers import forms
from handlers.admin.base import AdminHandler
from handlers.base import Pager
from ocppj.measurands import MEASURANDS
from ocppj.timeutil import format_datetime

SESSIONS_PATH = "/ocpp/admin/sessions/"
METER_VALUES_PATH = "/ocpp/admin/meter-values/"
CSV_PATH = "/ocpp/api/transactions.csv"
SESSIONS_PER_PAGE = 50
SUGGESTED = 500
READINGS_PER_PAGE = 100
SESSION_FILTERS = ("charger", "from", "to")
READING_FILTERS = ("charger", "connector", "transaction", "measurand", "from", "to")


def parse_time_range(form: forms.Form) -> None:
    """``from`` / ``to``: a bare ``to`` date includes that whole day; ``from`` < ``to``."""
    start = form.field("from", forms.moment)
    end = form.field("to", forms.moment, end_of_day=True)
    if start is not None and end is not None and start >= end:
        form.error("to", "must be after 'from'")


def csv_link(form: forms.Form) -> str:
    """The CSV export of the same sessions; times as RFC 3339, as the API expects them."""
    values = form.values
    query = {"charger": values["charger"]} if values["charger"] else {}
    for name in ("from", "to"):
        if values[name] is not None:
            query[name] = format_datetime(values[name])
    return CSV_PATH + ("?" + urlencode(query) if query else "")


async def charger_ids(handler: AdminHandler) -> list[str]:
    """Charger ids offered as suggestions in the filters: the first SUGGESTED (any id can
    still be typed; a datalist of 10,000 would only slow the page down)."""
    return await handler.services.chargers.ids(SUGGESTED)


class SessionsHandler(AdminHandler):
    """``GET /ocpp/admin/sessions/?charger=&from=&to=&page=``."""

    @tornado.web.authenticated
    async def get(self) -> None:
        """Sessions newest first, filtered by charger and start time."""
        form = forms.Form(self.query_fields(*SESSION_FILTERS, "page"))
        form.field("charger", forms.text, forms.MAX_CHARGER_ID)
        parse_time_range(form)
        page = form.field("page", forms.page) or 1
        filters = {name: form.raw[name] for name in SESSION_FILTERS}
        pager = Pager(page, SESSIONS_PER_PAGE, 0, SESSIONS_PATH, filters)
        sessions: list[dict[str, Any]] = []
        if form.ok:
            sessions, pager.total = await self.services.transactions.search(
                charger=form.values["charger"] or None, start_from=form.values["from"],
                start_to=form.values["to"], skip=pager.skip, limit=pager.per_page,
            )  # fmt: skip
        else:
            self.set_status(400)
        csv_url = csv_link(form) if form.ok else None
        self.render(
            "admin/sessions.html", form=form, sessions=sessions, pager=pager, csv_url=csv_url,
            charger_ids=await charger_ids(self),
        )  # fmt: skip


class MeterValuesHandler(AdminHandler):
    """``GET /ocpp/admin/meter-values/?charger=&connector=&transaction=&measurand=&from=&to=``."""

    @tornado.web.authenticated
    async def get(self) -> None:
        """Sampled values newest first; a charger or a transaction must be chosen."""
        form = forms.Form(self.query_fields(*READING_FILTERS, "page"))
        form.field("charger", forms.text, forms.MAX_CHARGER_ID)
        form.field("connector", forms.optional_integer, 0, 1000)
        form.field("transaction", forms.optional_integer, 0)
        form.field("measurand", forms.text, 100)
        parse_time_range(form)
        page = form.field("page", forms.page) or 1
        filters = {name: form.raw[name] for name in READING_FILTERS}
        pager = Pager(page, READINGS_PER_PAGE, 0, METER_VALUES_PATH, filters)
        values = form.values
        need_scope = form.ok and not values["charger"] and values["transaction"] is None
        readings: list[dict[str, Any]] = []
        if not form.ok:
            self.set_status(400)
        elif not need_scope:
            readings, pager.total = await self.services.meter_values.search(
                charger=values["charger"] or None, connector=values["connector"],
                transaction=values["transaction"], measurand=values["measurand"] or None,
                ts_from=values["from"], ts_to=values["to"], skip=pager.skip,
                limit=pager.per_page,
            )  # fmt: skip
        self.render(
            "admin/meter_values.html", form=form, readings=readings, pager=pager,
            need_scope=need_scope, measurands=MEASURANDS, charger_ids=await charger_ids(self),
        )  # fmt: skip


default_handlers = [
    (r"/ocpp/admin/sessions/", SessionsHandler),
    (r"/ocpp/admin/meter-values/", MeterValuesHandler),
]
