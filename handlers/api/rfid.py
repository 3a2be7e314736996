"""RFID tags in the JSON API: list, create, read, replace, change and delete.

Tags are OCPP idTokens (CiString20): at most 20 characters, compared
case-insensitively, so ``/ocpp/api/rfid/abc/`` and ``/ocpp/api/rfid/ABC/``
are the same tag; the spelling given at creation is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from handlers.api.params import (
    body_datetime,
    body_int,
    body_string,
    invalid_field,
    refuse_unknown,
)
from handlers.api.tariffs import check_tariff_reference
from handlers.api.views import escaped_path, tag_view
from handlers.base import ApiError, APIHandler

ID_TAG_MAX = 20
LABEL_MAX = 200
MAX_ACTIVE_LIMIT = 1000
STATUSES = ("accepted", "blocked")
DEFAULTS: dict[str, Any] = {
    "label": "",
    "status": "accepted",
    "expiry": None,
    "parent_id_tag": None,
    "max_active_transactions": 1,
    "tariff": None,
}
FIELDS = {"id_tag", *DEFAULTS}


def id_tag_field(body: dict[str, Any], name: str, *, required: bool) -> str | None:
    """An idToken field: 1-20 characters, no surrounding whitespace."""
    value = body_string(body, name, max_length=ID_TAG_MAX, nullable=not required,
                        required=required)  # fmt: skip
    if value is None:
        return None
    if not value.strip():
        raise invalid_field(name, "must not be empty")
    if value != value.strip():
        raise invalid_field(name, "must not start or end with whitespace")
    return value


def _status(body: dict[str, Any]) -> str:
    value = body.get("status")
    if not isinstance(value, str) or value.lower() not in STATUSES:
        raise invalid_field("status", "must be 'accepted' or 'blocked'")
    return value.lower()


def tag_fields(body: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    """The tag fields of a request body, checked; absent ones get their defaults unless
    ``partial`` (PATCH), where only the given fields are returned."""
    refuse_unknown(body, FIELDS)
    parsers: dict[str, Callable[[], Any]] = {
        "label": lambda: body_string(body, "label", max_length=LABEL_MAX, nullable=True) or "",
        "status": lambda: _status(body),
        "expiry": lambda: body_datetime(body, "expiry"),
        "parent_id_tag": lambda: id_tag_field(body, "parent_id_tag", required=False),
        "max_active_transactions": lambda: body_int(
            body, "max_active_transactions", minimum=1, maximum=MAX_ACTIVE_LIMIT
        ),
        "tariff": lambda: body_string(body, "tariff", max_length=48, nullable=True),
    }
    values: dict[str, Any] = {}
    for name, parse in parsers.items():
        if name in body:
            values[name] = parse()
        elif not partial:
            values[name] = DEFAULTS[name]
    return values


class RfidTagsHandler(APIHandler):
    """``GET/POST /ocpp/api/rfid/``."""

    async def get(self) -> None:
        """Every tag, by key: ``{"total", "items"}``."""
        items = [tag_view(doc) for doc in await self.services.rfid.list()]
        self.write_json({"total": len(items), "items": items})

    async def post(self) -> None:
        """Create a tag: 201 with its URL in ``Location``; 409 when it exists already."""
        body = self.json_body()
        id_tag = id_tag_field(body, "id_tag", required=True)
        fields = tag_fields(body, partial=False)
        await check_tariff_reference(self, fields["tariff"])
        if await self.services.rfid.get(id_tag) is not None:
            raise ApiError(
                409, "already_exists", {"field": "id_tag", "message": "this tag exists already"}
            )
        doc = await self.services.rfid.upsert(id_tag, **fields)
        self.set_header("Location", escaped_path("/ocpp/api/rfid/", id_tag))
        self.write_json(tag_view(doc), 201)


class RfidTagHandler(APIHandler):
    """``GET/PUT/PATCH/DELETE /ocpp/api/rfid/<tag>/`` (the tag is case-insensitive)."""

    async def existing(self, tag: str) -> dict[str, Any]:
        """The stored tag, or 404."""
        doc = await self.services.rfid.get(tag)
        if doc is None:
            raise ApiError(404, "not_found", f"no RFID tag {tag!r}")
        return doc

    async def get(self, tag: str) -> None:
        """The tag."""
        self.write_json(tag_view(await self.existing(tag)))

    async def put(self, tag: str) -> None:
        """Replace every field (absent ones get their defaults). ``id_tag`` may be given to
        change the spelling; it must name the same tag."""
        body = self.json_body()
        doc = await self.existing(tag)
        spelling = self._spelling(body, doc)
        fields = tag_fields(body, partial=False)
        await check_tariff_reference(self, fields["tariff"])
        self.write_json(tag_view(await self.services.rfid.upsert(spelling, **fields)))

    async def patch(self, tag: str) -> None:
        """Change the given fields only."""
        body = self.json_body()
        doc = await self.existing(tag)
        spelling = self._spelling(body, doc)
        current = tag_view(doc)
        current.pop("id_tag")
        changes = tag_fields(body, partial=True)
        if "tariff" in changes:
            await check_tariff_reference(self, changes["tariff"])
        current.update(changes)
        self.write_json(tag_view(await self.services.rfid.upsert(spelling, **current)))

    async def delete(self, tag: str) -> None:
        """Remove the tag: 204."""
        if not await self.services.rfid.delete(tag):
            raise ApiError(404, "not_found", f"no RFID tag {tag!r}")
        self.set_status(204)
        self.finish()

    @staticmethod
    def _spelling(body: dict[str, Any], doc: dict[str, Any]) -> str:
        stored = doc.get("id_tag") or doc["_id"]
        if "id_tag" not in body:
            return stored
        given = id_tag_field(body, "id_tag", required=True)
        if given.upper() != doc["_id"]:
            raise invalid_field("id_tag", "must name the tag in the path (case may differ)")
        return given


default_handlers = [
    (r"/ocpp/api/rfid/", RfidTagsHandler),
    (r"/ocpp/api/rfid/(?P<tag>[^/]+)/", RfidTagHandler),
]
