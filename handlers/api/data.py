"""Recorded data in the JSON API: charging sessions (JSON pages and a CSV export) and
sampled meter values."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from tornado.iostream import StreamClosedError

from csms.billing import running_cost
from handlers.api.params import (
    invalid_parameter,
    page_of,
    query_int,
    query_page,
    query_text,
    query_time_range,
)
from handlers.api.views import CSV_COLUMNS, csv_row, meter_value_view, transaction_view
from handlers.base import ApiError, APIHandler
from ocppj.timeutil import utcnow

CSV_CHUNK = 500


class TransactionFilterHandler(APIHandler):
    """The session filters shared by the JSON list and the CSV export."""

    def transaction_filters(self) -> tuple[str | None, datetime | None, datetime | None]:
        """``charger`` and the ``from``/``to`` bounds of the start time."""
        charger = query_text(self, "charger")
        start_from, start_to = query_time_range(self)
        return charger, start_from, start_to


class TransactionsHandler(TransactionFilterHandler):
    """``GET /ocpp/api/transactions/``: sessions, newest first, paginated."""

    async def get(self) -> None:
        """``{"total", "page", "per_page", "items"}``."""
        charger, start_from, start_to = self.transaction_filters()
        page, per_page = query_page(self)
        docs, total = await self.services.transactions.search(
            charger, start_from, start_to, skip=(page - 1) * per_page, limit=per_page
        )
        self.write_json(page_of([transaction_view(doc) for doc in docs], total, page, per_page))


class TransactionHandler(APIHandler):
    """``GET /ocpp/api/transactions/<id>/``: one session; an open one with its
    ``running_cost`` (what it costs so far; null without a tariff)."""

    async def get(self, tx_id: str) -> None:
        """The session as the list shows it (+ ``running_cost`` while open)."""
        doc = await self.services.transactions.get(int(tx_id)) if len(tx_id) < 19 else None
        if doc is None:
            raise ApiError(404, "not_found", f"no transaction {tx_id}")
        view = transaction_view(doc)
        if doc.get("open"):
            await self.services.meter_values.flush()
            view["running_cost"] = await running_cost(self.services, doc, utcnow())
        self.write_json(view)


class TransactionCsvHandler(TransactionFilterHandler):
    """``GET /ocpp/api/transactions.csv``: the same filters, every matching session as CSV,
    streamed in chunks."""

    async def get(self) -> None:
        """A header row, then one row per session, newest first."""
        charger, start_from, start_to = self.transaction_filters()
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header("Content-Disposition", 'attachment; filename="transactions.csv"')
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        previous: set[int] = set()
        skip = 0
        while True:
            docs, _ = await self.services.transactions.search(
                charger, start_from, start_to, skip=skip, limit=CSV_CHUNK
            )
            # A session started during the export shifts the pages by one: skip repeats.
            writer.writerows(csv_row(doc) for doc in docs if doc["_id"] not in previous)
            previous = {doc["_id"] for doc in docs}
            self.write(buffer.getvalue())
            buffer.seek(0)
            buffer.truncate()
            if len(docs) < CSV_CHUNK:
                break
            skip += CSV_CHUNK
            try:
                await self.flush()
            except StreamClosedError:  # the client went away
                return


class MeterValuesHandler(APIHandler):
    """``GET /ocpp/api/meter-values/``: sampled values of a charger or a transaction."""

    async def get(self) -> None:
        """Filtered by connector, transaction, measurand and time; newest first, paginated."""
        charger = query_text(self, "charger")
        connector = query_int(self, "connector", minimum=0, maximum=10**6)
        transaction = query_int(self, "transaction", minimum=0)
        measurand = query_text(self, "measurand", max_length=100)
        ts_from, ts_to = query_time_range(self)
        page, per_page = query_page(self)
        if charger is None and transaction is None:
            raise invalid_parameter("charger", "give 'charger' or 'transaction' (or both)")
        await self.services.meter_values.flush()
        docs, total = await self.services.meter_values.search(
            charger, connector, transaction, measurand, ts_from, ts_to,
            skip=(page - 1) * per_page, limit=per_page,
        )  # fmt: skip
        self.write_json(page_of([meter_value_view(doc) for doc in docs], total, page, per_page))


default_handlers = [
    (r"/ocpp/api/transactions/", TransactionsHandler),
    (r"/ocpp/api/transactions/(?P<tx_id>[0-9]+)/", TransactionHandler),
    (r"/ocpp/api/transactions\.csv", TransactionCsvHandler),
    (r"/ocpp/api/meter-values/", MeterValuesHandler),
]
