"""The JSON REST API: chargers and their state, the OpenAPI document, and the route table
of every API module (sessions and meter values in api_data.py, RFID tags in api_rfid.py).

Path arguments are named groups whose names are the OpenAPI path parameters
(``/ocpp/chargers/{cid}/``); a test compares these routes with the document.
"""

from __future__ import annotations

import asyncio
from typing import Any

from csms import remote
from csms.openapi import build_openapi
from handlers.api_data import MeterValuesHandler, TransactionCsvHandler, TransactionsHandler
from handlers.api_params import query_int
from handlers.api_rfid import RfidTagHandler, RfidTagsHandler
from handlers.api_views import charger_view, message_view
from handlers.base import ApiError, APIHandler

DEFAULT_LOG_LIMIT = 50
MAX_LOG_LIMIT = 500
_OPEN_TX_CONCURRENCY = 50


class ChargerAPIHandler(APIHandler):
    """Shared by the charger endpoints: current state with open transactions."""

    async def open_transactions(self, charger_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        """The open transactions of each charger (indexed look-ups, a few at a time)."""
        found: dict[str, list[dict[str, Any]]] = {}
        repo = self.services.transactions
        for start in range(0, len(charger_ids), _OPEN_TX_CONCURRENCY):
            chunk = charger_ids[start : start + _OPEN_TX_CONCURRENCY]
            results = await asyncio.gather(*(repo.open_for_charger(cid) for cid in chunk))
            found.update(zip(chunk, results, strict=True))
        return found

    def view(self, doc: dict[str, Any], open_transactions: list[dict[str, Any]]) -> dict[str, Any]:
        """A charger as the API shows it; ``connected`` is the live registry's word."""
        return charger_view(
            doc, connected=doc["_id"] in self.registry, open_transactions=open_transactions,
            public_url=self.web.public_url,
        )  # fmt: skip


class ChargersHandler(ChargerAPIHandler):
    """``GET /ocpp/chargers/``: every known charger with its current state."""

    async def get(self) -> None:
        """``{"total", "items": [charger, ...]}``, by id."""
        await self.services.chargers.flush()
        docs = await self.services.chargers.list()
        open_txs = await self.open_transactions([doc["_id"] for doc in docs])
        items = [self.view(doc, open_txs.get(doc["_id"], [])) for doc in docs]
        self.write_json({"total": len(items), "items": items})


class ChargerHandler(ChargerAPIHandler):
    """``GET /ocpp/chargers/<cid>/``: one charger and its recent message log."""

    async def get(self, cid: str) -> None:
        """The charger's state, configuration and newest message-log exchanges first
        (``log_limit``)."""
        limit = query_int(
            self, "log_limit", minimum=1, maximum=MAX_LOG_LIMIT, default=DEFAULT_LOG_LIMIT
        )
        await self.services.chargers.flush()
        doc = await self.services.chargers.get(cid)
        if doc is None:
            raise ApiError(404, "not_found", f"no charger {cid!r}")
        open_txs = await self.services.transactions.open_for_charger(cid)
        messages = await self.services.messages.recent(cid, limit=limit)
        body = self.view(doc, open_txs)
        body.update(
            config=doc.get("config") or {},
            last_path=doc.get("last_path"),
            created=doc.get("created"),
            updated=doc.get("updated"),
            messages=[message_view(message) for message in messages],
        )
        self.write_json(body)


class ChargerActionHandler(APIHandler):
    """``POST /ocpp/chargers/<cid>/action/``: ``{"action": name, ...parameters}``.

    Bad parameters are 400 naming the field before anything is sent; a charger
    that is not connected (or drops the link while we wait) is 409; no reply in
    time is 504 with the stored command id; any answer of the charger is 200
    with the outcome (accepted, rejected, error).
    """

    async def post(self, cid: str) -> None:
        """Run the operation and report its outcome."""
        body = self.json_body()
        if await self.services.chargers.get(cid) is None:
            raise ApiError(404, "not_found", f"no charger {cid!r}")
        try:
            outcome = await remote.perform(
                self.services, self.registry, cid, body.get("action"), body,
                timeout=self.web.action_timeout, requested_by=self.current_user["username"],
            )  # fmt: skip
        except remote.Refused as exc:
            detail = {"field": exc.field, "message": exc.message, "id_tag_info": exc.info}
            raise ApiError(400, "refused", detail) from None
        except remote.ParameterError as exc:
            detail = {"field": exc.field, "message": exc.message}
            raise ApiError(400, "invalid_field", detail) from None
        status = _OUTCOME_STATUS.get(outcome.status, 200)
        self.write_json(outcome.as_dict(), status)


_OUTCOME_STATUS = {"not_connected": 409, "disconnected": 409, "timeout": 504}


class OpenAPIHandler(APIHandler):
    """``GET /ocpp/api/openapi.json``: the OpenAPI 3.1 document of this API."""

    def action_schemas(self) -> dict[str, dict[str, Any]] | None:
        """The parameter schema of each remote operation, by name, for the action endpoint."""
        return {name: op["parameters"] for name, op in remote.describe_operations().items()}

    def get(self) -> None:
        """The document, with the public URL as its server."""
        self.write_json(build_openapi(self.action_schemas(), server_url=self.web.public_url))


_CID = r"(?P<cid>[^/]+)"
_TAG = r"(?P<tag>[^/]+)"

ROUTES: list = [
    (r"/ocpp/chargers/", ChargersHandler),
    (rf"/ocpp/chargers/{_CID}/", ChargerHandler),
    (rf"/ocpp/chargers/{_CID}/action/", ChargerActionHandler),
    (r"/ocpp/api/transactions/", TransactionsHandler),
    (r"/ocpp/api/transactions\.csv", TransactionCsvHandler),
    (r"/ocpp/api/meter-values/", MeterValuesHandler),
    (r"/ocpp/api/rfid/", RfidTagsHandler),
    (rf"/ocpp/api/rfid/{_TAG}/", RfidTagHandler),
    (r"/ocpp/api/openapi\.json", OpenAPIHandler),
]
