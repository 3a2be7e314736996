"""Tariffs in the JSON API: create, list, read, change (a new version) and delete.

``PATCH`` never edits a stored version: it stores the next one, so sessions keep the
version they started with. ``DELETE`` is refused (409) while a charger, an RFID tag or
a site names the tariff.
"""

from __future__ import annotations

from typing import Any

from csms.tariffs import TARIFF_ID, TariffError, check_terms, describe, describe_periods
from handlers.api.params import invalid_field
from handlers.api.views import escaped_path
from handlers.base import ApiError, APIHandler
from ocppj.timeutil import utcnow


def tariff_view(doc: dict[str, Any]) -> dict[str, Any]:
    """One version of a tariff, with its price in words."""
    terms = doc["terms"]
    return {
        "id": doc["tariff"],
        "version": doc["version"],
        **terms,
        "in_words": describe(terms),
        "periods_in_words": describe_periods(terms),
        "created": doc.get("created"),
        "deleted": doc.get("deleted"),
    }


def checked_terms(body: dict[str, Any], current: dict[str, Any] | None = None) -> dict[str, Any]:
    """``check_terms`` with its error as a 400 naming the field."""
    try:
        return check_terms(body, current)
    except TariffError as exc:
        raise invalid_field(exc.field, exc.message) from None


def tariff_id_field(body: dict[str, Any]) -> str:
    """The ``id`` of a new tariff: 1-48 letters, digits, ``.``, ``_`` or ``-``."""
    value = body.get("id")
    if not isinstance(value, str) or not TARIFF_ID.match(value):
        raise invalid_field("id", "must be 1-48 letters, digits, '.', '_' or '-'")
    return value


async def check_tariff_reference(handler: APIHandler, value: Any, field: str = "tariff") -> None:
    """A ``tariff`` field of a charger, tag or site: null, or a tariff that exists."""
    if value is None:
        return
    if not isinstance(value, str) or await handler.services.tariffs.current(value) is None:
        raise invalid_field(field, f"no tariff {str(value)[:60]!r}")


class TariffsHandler(APIHandler):
    """``GET/POST /ocpp/api/tariffs/``."""

    async def get(self) -> None:
        """Every tariff in force, by id: ``{"total", "items"}``."""
        items = [tariff_view(doc) for doc in await self.services.tariffs.list()]
        self.write_json({"total": len(items), "items": items})

    async def post(self) -> None:
        """Create a tariff: 201 with its URL in ``Location``; 409 when it exists."""
        body = self.json_body()
        tariff_id = tariff_id_field(body)
        terms = checked_terms({key: value for key, value in body.items() if key != "id"})
        repo = self.services.tariffs
        latest = await repo.latest(tariff_id)
        if latest is not None and not latest.get("deleted"):
            raise ApiError(409, "already_exists", {"field": "id", "message": "this tariff exists"})
        doc = await repo.store(tariff_id, terms, utcnow(), latest["version"] if latest else 0)
        if doc is None:
            raise ApiError(409, "already_exists", {"field": "id", "message": "this tariff exists"})
        self.set_header("Location", escaped_path("/ocpp/api/tariffs/", tariff_id))
        self.write_json(tariff_view(doc), 201)


class TariffHandler(APIHandler):
    """``GET/PATCH/DELETE /ocpp/api/tariffs/<tariff>/``."""

    async def existing(self, tariff: str) -> dict[str, Any]:
        """The version in force, or 404."""
        doc = await self.services.tariffs.current(tariff)
        if doc is None:
            raise ApiError(404, "not_found", f"no tariff {tariff!r}")
        return doc

    async def get(self, tariff: str) -> None:
        """The version in force."""
        self.write_json(tariff_view(await self.existing(tariff)))

    async def patch(self, tariff: str) -> None:
        """Store the given fields as the next version (the others carried over); 409 when
        another change stored that version first."""
        body = self.json_body()
        doc = await self.existing(tariff)
        if "id" in body and body["id"] != tariff:
            raise invalid_field("id", "must name the tariff in the path")
        body.pop("id", None)
        terms = checked_terms(body, doc["terms"])
        stored = await self.services.tariffs.store(tariff, terms, utcnow(), doc["version"])
        if stored is None:
            raise ApiError(409, "conflict", "the tariff was changed meanwhile: read it again")
        self.write_json(tariff_view(stored))

    async def delete(self, tariff: str) -> None:
        """Delete the tariff (its versions stay for the sessions billed with them): 204;
        409 naming the chargers, tags and sites that still use it."""
        doc = await self.existing(tariff)
        users = await self.services.tariffs.users(tariff)
        if any(users.values()):
            raise ApiError(409, "in_use", {"field": "id", "message": _in_use(users)})
        if not await self.services.tariffs.delete(tariff, doc["version"], utcnow()):
            raise ApiError(409, "conflict", "the tariff was changed meanwhile: read it again")
        self.set_status(204)
        self.finish()


def _in_use(users: dict[str, list[str]]) -> str:
    named = [f"{kind} {', '.join(ids)}" for kind, ids in users.items() if ids]
    return "in use by " + "; ".join(named)


class TariffVersionsHandler(APIHandler):
    """``GET /ocpp/api/tariffs/<tariff>/versions/``: every version, newest first."""

    async def get(self, tariff: str) -> None:
        """``{"total", "items"}``; 404 when the tariff never existed."""
        docs = await self.services.tariffs.versions(tariff)
        if not docs:
            raise ApiError(404, "not_found", f"no tariff {tariff!r}")
        self.write_json({"total": len(docs), "items": [tariff_view(doc) for doc in docs]})


_TARIFF = r"(?P<tariff>[^/]+)"

default_handlers = [
    (r"/ocpp/api/tariffs/", TariffsHandler),
    (rf"/ocpp/api/tariffs/{_TARIFF}/", TariffHandler),
    (rf"/ocpp/api/tariffs/{_TARIFF}/versions/", TariffVersionsHandler),
]
