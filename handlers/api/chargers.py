"""The JSON REST API: chargers and their state, the OpenAPI document, and the route table
of every API module (sessions and meter values in api_data.py, RFID tags in api_rfid.py).

Path arguments are named groups whose names are the OpenAPI path parameters
(``/ocpp/chargers/{cid}/``); a test compares these routes with the document.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import orjson

from csms import remote
from csms.chargers import STATUS_FILTERS, delete_charger
from csms.remote_params import BOOLEAN, NUMBER, OBJECT, STRING, Param, ParameterError
from csms.sites import check_site
from csms.tariffs import is_timezone
from handlers import forms
from handlers.api.params import (
    invalid_field,
    invalid_parameter,
    page_of,
    query_int,
    query_page,
    query_text,
)
from handlers.api.tariffs import check_tariff_reference
from handlers.api.views import charger_view, message_view
from handlers.base import OUTCOME_HTTP_STATUS, ApiError, APIHandler
from ocppj.timeutil import utcnow

log = logging.getLogger("csms.api")

DEFAULT_LOG_LIMIT = 50
MAX_LOG_LIMIT = 500
_OPEN_TX_CONCURRENCY = 50


# PATCH /ocpp/chargers/<cid>/: what may be changed, typed as the remote operations are.
CHANGES = {
    "name": Param("name", STRING, max_length=forms.MAX_NAME),
    "require_rfid": Param("require_rfid", BOOLEAN),
    "latitude": Param("latitude", NUMBER, minimum=-90, maximum=90),
    "longitude": Param("longitude", NUMBER, minimum=-180, maximum=180),
    "config": Param("config", OBJECT),
    "tariff": Param("tariff", STRING, max_length=48),
    "timezone": Param("timezone", STRING, max_length=64),
    # Load management (csms.load_management): the charger's site, a connector's rating (A).
    "site": Param("site", STRING, max_length=48),
    "max_current_a": Param("max_current_a", NUMBER, minimum=6, maximum=1000),
}
# Fields that may be cleared with null.
NULLABLE = ("latitude", "longitude", "tariff", "timezone", "site", "max_current_a")


def parse_changes(current: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """The fields to store from typed ``changes`` (absent: unchanged; null clears a
    coordinate); ParameterError naming the first bad field. The position ends up with
    both coordinates or neither."""
    fields: dict[str, Any] = {}
    for name, value in changes.items():
        param = CHANGES.get(name)
        if param is None:
            raise ParameterError(str(name)[:60], f"unknown field (known: {', '.join(CHANGES)})")
        if value is None:
            if name not in NULLABLE:
                raise ParameterError(name, "must not be null")
            fields[name] = None
            continue
        fields[name] = param.parse(value)
    if "name" in fields:
        try:
            fields["name"] = forms.text(fields["name"], forms.MAX_NAME)
        except forms.FieldError as exc:
            raise ParameterError("name", str(exc)) from None
    if "config" in fields:
        try:
            forms.check_storable(fields["config"], "$")
        except forms.FieldError as exc:
            raise ParameterError("config", str(exc)) from None
        if len(orjson.dumps(fields["config"])) > forms.MAX_CONFIG_CHARS:
            raise ParameterError("config", f"at most {forms.MAX_CONFIG_CHARS} bytes of JSON")
    if fields.get("timezone") is not None and not is_timezone(fields["timezone"]):
        raise ParameterError("timezone", "must be an IANA time zone such as Europe/Berlin")
    latitude = fields.get("latitude", current.get("latitude"))
    longitude = fields.get("longitude", current.get("longitude"))
    if (latitude is None) != (longitude is None):
        missing = "latitude" if latitude is None else "longitude"
        raise ParameterError(missing, "give both coordinates, or neither")
    return fields


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


def query_status(handler: APIHandler) -> str | None:
    """The ``status`` filter of the charger list: online, offline or a connector status."""
    status = query_text(handler, "status", max_length=20)
    if status is not None and status not in STATUS_FILTERS:
        raise invalid_parameter("status", "must be one of " + ", ".join(STATUS_FILTERS))
    return status


class ChargersHandler(ChargerAPIHandler):
    """``GET /ocpp/chargers/``: known chargers with their current state, a page at a time."""

    async def get(self) -> None:
        """``{"total", "page", "per_page", "items": [charger, ...]}``, by id; ``q`` matches
        the start of a word of the id, name, vendor, model or serial; ``status`` filters."""
        q = query_text(self, "q", max_length=100)
        status = query_status(self)
        page, per_page = query_page(self)
        await self.services.chargers.flush()
        docs, total = await self.services.chargers.search(
            q, status, skip=(page - 1) * per_page, limit=per_page
        )
        open_txs = await self.open_transactions([doc["_id"] for doc in docs])
        items = [self.view(doc, open_txs.get(doc["_id"], [])) for doc in docs]
        self.write_json(page_of(items, total, page, per_page))


class ChargerHandler(ChargerAPIHandler):
    """``GET/PATCH/DELETE /ocpp/chargers/<cid>/``: one charger and its recent message log;
    change its settings; delete it with its data."""

    async def existing(self, cid: str) -> dict[str, Any]:
        """The charger document (buffered state written first), or 404."""
        await self.services.chargers.flush()
        doc = await self.services.chargers.get(cid)
        if doc is None:
            raise ApiError(404, "not_found", f"no charger {cid!r}")
        return doc

    async def get(self, cid: str) -> None:
        """The charger's state, configuration and newest message-log exchanges first
        (``log_limit``)."""
        limit = query_int(
            self, "log_limit", minimum=1, maximum=MAX_LOG_LIMIT, default=DEFAULT_LOG_LIMIT
        )
        await self.write_detail(await self.existing(cid), limit)

    async def patch(self, cid: str) -> None:
        """Change name, require_rfid, latitude/longitude (null clears) or config; the
        charger as GET shows it. 400 names the first bad field; nothing is changed then."""
        body = self.json_body()
        doc = await self.existing(cid)
        try:
            fields = parse_changes(doc, body)
            await check_site(self.services, fields)
        except remote.ParameterError as exc:
            raise invalid_field(exc.field, exc.message) from None
        if fields.get("tariff") is not None:
            await check_tariff_reference(self, fields["tariff"])
        if fields:
            fields["updated"] = utcnow()
            if not await self.services.chargers.update(cid, fields):
                raise ApiError(404, "not_found", f"no charger {cid!r}")
            if fields.keys() & {"site", "max_current_a"}:
                self.services.load_event(cid, "assign", previous_site=doc.get("site"))
        await self.write_detail(await self.existing(cid), DEFAULT_LOG_LIMIT)

    async def delete(self, cid: str) -> None:
        """Disconnect and delete the charger and everything recorded for it:
        ``{"deleted": cid, "purged": {collection: count}}``."""
        await self.existing(cid)
        counts = await delete_charger(self.services, self.registry, cid)
        user = self.current_user["username"]
        log.info("charger %r deleted by %s over the API: %s", cid, user, counts)
        self.write_json({"deleted": cid, "purged": counts})

    async def write_detail(self, doc: dict[str, Any], limit: int) -> None:
        """Send the charger's detail view with its newest ``limit`` exchanges."""
        cid = doc["_id"]
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
        self.require_role(remote.needed_role(body.get("action"), body))
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
        status = OUTCOME_HTTP_STATUS.get(outcome.status, 200)
        self.write_json(outcome.as_dict(), status)


_CID = r"(?P<cid>[^/]+)"

default_handlers = [
    (r"/ocpp/chargers/", ChargersHandler),
    (rf"/ocpp/chargers/{_CID}/", ChargerHandler),
    (rf"/ocpp/chargers/{_CID}/action/", ChargerActionHandler),
]
