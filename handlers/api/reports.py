"""Cost reports for accounting: ``GET /ocpp/api/reports/sessions.csv`` and
``sessions.json`` with ``group=month|tag|charger`` and the ``from``/``to`` bounds of
the sessions' start time."""

from __future__ import annotations

import csv
import io

from csms.reports import COLUMNS, GROUPS, summarize
from handlers.api.params import invalid_parameter, query_time_range
from handlers.api.views import csv_cell
from handlers.base import APIHandler


class ReportHandler(APIHandler):
    """The summary rows of the request's group and time range."""

    async def rows(self) -> tuple[str, list[dict]]:
        """(group, rows); 400 naming a bad parameter."""
        group = self.get_query_argument("group", "month") or "month"
        if group not in GROUPS:
            raise invalid_parameter("group", "must be one of " + ", ".join(GROUPS))
        start_from, start_to = query_time_range(self)
        sessions = self.services.transactions.costed(start_from, start_to)
        return group, await summarize(sessions, group)


class SessionsJsonHandler(ReportHandler):
    """``GET /ocpp/api/reports/sessions.json``."""

    async def get(self) -> None:
        """``{"group", "items": [row, ...]}``."""
        group, rows = await self.rows()
        self.write_json({"group": group, "items": rows})


class SessionsCsvHandler(ReportHandler):
    """``GET /ocpp/api/reports/sessions.csv``: the same rows as CSV with a header row."""

    async def get(self) -> None:
        """A header row, then one row per group and currency."""
        group, rows = await self.rows()
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        writer.writerows([csv_cell(row[name]) for name in COLUMNS] for row in rows)
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header("Content-Disposition", f'attachment; filename="sessions-{group}.csv"')
        self.finish(buffer.getvalue())


default_handlers = [
    (r"/ocpp/api/reports/sessions\.csv", SessionsCsvHandler),
    (r"/ocpp/api/reports/sessions\.json", SessionsJsonHandler),
]
