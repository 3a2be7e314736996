"""Admin pages of recorded data: charging sessions and meter readings, filtered and paged."""

from __future__ import annotations

import csv
import io
from typing import Any
from urllib.parse import urlencode

import tornado.web
from tornado.iostream import StreamClosedError

from csms.session_charts import chart_series, with_live_figures
from handlers import forms
from handlers.admin.base import AdminHandler
from handlers.admin.session import chart_json
from handlers.api.views import csv_cell
from handlers.base import Pager
from ocppj.measurands import MEASURANDS
from ocppj.timeutil import format_datetime, utcnow

SESSIONS_PATH = "/ocpp/admin/sessions/"
METER_VALUES_PATH = "/ocpp/admin/meter-values/"
METER_CSV_PATH = "/ocpp/admin/meter-values.csv"
CSV_PATH = "/ocpp/api/transactions.csv"
SESSIONS_PER_PAGE = 50
SUGGESTED = 500
READINGS_PER_PAGE = 100
CHART_READINGS = 2000  # the newest readings of a filter drawn on the meter readings chart
CSV_PAGE = 1000
CSV_MAX_ROWS = 100_000
CSV_COLUMNS = ("ts", "charger", "connector", "transaction", "measurand", "phase", "value",
               "unit", "context", "location", "raw")  # fmt: skip
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
            sessions = await with_live_figures(self.services, sessions, utcnow())
        else:
            self.set_status(400)
        csv_url = csv_link(form) if form.ok else None
        self.render(
            "admin/sessions.html", form=form, sessions=sessions, pager=pager, csv_url=csv_url,
            charger_ids=await charger_ids(self),
        )  # fmt: skip


def reading_filter(handler: AdminHandler) -> tuple[forms.Form, bool]:
    """The meter readings filter from the query: (form, need_scope). A charger or a
    transaction must be chosen (both have an index)."""
    form = forms.Form(handler.query_fields(*READING_FILTERS, "page"))
    form.field("charger", forms.text, forms.MAX_CHARGER_ID)
    form.field("connector", forms.optional_integer, 0, 1000)
    form.field("transaction", forms.optional_integer, 0)
    form.field("measurand", forms.text, 100)
    parse_time_range(form)
    form.field("page", forms.page)
    values = form.values
    need_scope = form.ok and not values["charger"] and values["transaction"] is None
    return form, need_scope


def reading_query(form: forms.Form) -> dict[str, Any]:
    """The ``MeterValueRepo.search`` arguments of a valid filter."""
    values = form.values
    return {
        "charger": values["charger"] or None, "connector": values["connector"],
        "transaction": values["transaction"], "measurand": values["measurand"] or None,
        "ts_from": values["from"], "ts_to": values["to"],
    }  # fmt: skip


def meter_csv_link(form: forms.Form) -> str:
    """The CSV export of the same filter (every page)."""
    query = {name: form.raw[name] for name in READING_FILTERS if form.raw.get(name)}
    return METER_CSV_PATH + ("?" + urlencode(query) if query else "")


class MeterValuesHandler(AdminHandler):
    """``GET /ocpp/admin/meter-values/?charger=&connector=&transaction=&measurand=&from=&to=``."""

    @tornado.web.authenticated
    async def get(self) -> None:
        """Sampled values newest first; the first page with charts of the filter's newest
        readings."""
        form, need_scope = reading_filter(self)
        page = form.values.get("page") or 1
        filters = {name: form.raw[name] for name in READING_FILTERS}
        pager = Pager(page, READINGS_PER_PAGE, 0, METER_VALUES_PATH, filters)
        readings: list[dict[str, Any]] = []
        charts: list[dict[str, Any]] = []
        if not form.ok:
            self.set_status(400)
        elif not need_scope:
            # The first page is the start of the charted readings: one query for both.
            first = pager.page == 1
            limit = CHART_READINGS if first else pager.per_page
            readings, pager.total = await self.services.meter_values.search(
                **reading_query(form), skip=pager.skip, limit=limit
            )
            if first:
                charts = chart_series(readings)
                readings = readings[: pager.per_page]
        self.render(
            "admin/meter_values.html", form=form, readings=readings, pager=pager,
            need_scope=need_scope, measurands=MEASURANDS, charger_ids=await charger_ids(self),
            charts=charts, chart_json=chart_json(charts), chart_limit=CHART_READINGS,
            csv_url=meter_csv_link(form) if form.ok and not need_scope else None,
        )  # fmt: skip


def csv_line(row: dict[str, Any]) -> list[Any]:
    """One reading as CSV cells (``CSV_COLUMNS``): times in RFC 3339, text from the
    charger that a spreadsheet would take for a formula neutralised."""
    meta = row.get("meta") or {}
    cells = [row.get("ts")]
    cells += [row.get(name) if name in ("value", "raw") else meta.get(name)
              for name in CSV_COLUMNS[1:]]  # fmt: skip
    return [csv_cell(cell) for cell in cells]


class MeterValuesCsvHandler(AdminHandler):
    """``GET /ocpp/admin/meter-values.csv?<the same filter>``: every matching reading,
    newest first (at most ``CSV_MAX_ROWS``), written a page at a time."""

    @tornado.web.authenticated
    async def get(self) -> None:
        """The CSV file, or 400 for a filter without a charger or a transaction."""
        form, need_scope = reading_filter(self)
        if not form.ok or need_scope:
            raise tornado.web.HTTPError(400, log_message="choose a charger or a transaction")
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header("Content-Disposition", 'attachment; filename="meter-values.csv"')
        query = reading_query(form)
        # Pages are taken newest first: readings stored during the export would shift them.
        query["ts_to"] = min(query["ts_to"] or utcnow(), utcnow())
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        skip = 0
        while skip < CSV_MAX_ROWS:
            rows, _ = await self.services.meter_values.search(**query, skip=skip, limit=CSV_PAGE)
            writer.writerows(csv_line(row) for row in rows)
            self.write(buffer.getvalue())
            buffer.seek(0)
            buffer.truncate()
            if len(rows) < CSV_PAGE:
                break
            skip += CSV_PAGE
            try:
                await self.flush()
            except StreamClosedError:  # the client went away
                return


default_handlers = [
    (r"/ocpp/admin/sessions/", SessionsHandler),
    (r"/ocpp/admin/meter-values/", MeterValuesHandler),
    (r"/ocpp/admin/meter-values\.csv", MeterValuesCsvHandler),
]
