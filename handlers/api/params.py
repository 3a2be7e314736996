"""Checking what API clients send: query parameters and JSON body fields.

Every failure is an ``ApiError`` 400 whose detail names the culprit:
``{"error": "invalid_parameter", "detail": {"field": "from", "message": ...}}``
for the query string and ``{"error": "invalid_field", "detail": {...}}`` for
the JSON body.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import tornado.web

from handlers.base import ApiError
from ocppj.timeutil import is_datetime, parse_datetime

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 500
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# "+02:00" arrives as " 02:00" when a client forgets to percent-encode the plus sign.
_SPACED_OFFSET = re.compile(r" (\d{2}:\d{2})$")


def invalid_parameter(field: str, message: str) -> ApiError:
    """A 400 for a bad query parameter."""
    return ApiError(400, "invalid_parameter", {"field": field, "message": message})


def invalid_field(field: str, message: str) -> ApiError:
    """A 400 for a bad field of the JSON body."""
    return ApiError(400, "invalid_field", {"field": field, "message": message})


def query_text(handler: tornado.web.RequestHandler, name: str, max_length: int = 200) -> str | None:
    """A string parameter; None when absent or empty."""
    value = handler.get_query_argument(name, None)
    if value is None or value == "":
        return None
    if len(value) > max_length:
        raise invalid_parameter(name, f"at most {max_length} characters")
    return value


def query_int(
    handler: tornado.web.RequestHandler,
    name: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    default: int | None = None,
) -> int | None:
    """An integer parameter within bounds; ``default`` when absent or empty."""
    value = handler.get_query_argument(name, None)
    if value is None or value == "":
        return default
    if not re.fullmatch(r"[+-]?\d{1,18}", value):
        raise invalid_parameter(name, "must be an integer")
    number = int(value)
    if minimum is not None and number < minimum:
        raise invalid_parameter(name, f"must be at least {minimum}")
    if maximum is not None and number > maximum:
        raise invalid_parameter(name, f"must be at most {maximum}")
    return number


def parse_time_bound(value: str, *, end: bool = False) -> datetime | None:
    """An RFC 3339 date-time, or a YYYY-MM-DD date (UTC midnight; for an ``end`` bound the
    midnight after it, so the whole day is included). None when it is neither."""
    value = _SPACED_OFFSET.sub(r"+\1", value.strip())
    if _DATE.match(value):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return None
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        try:
            return start + timedelta(days=1) if end else start
        except OverflowError:  # the day after 9999-12-31
            return None
    if not is_datetime(value):
        return None
    try:
        return parse_datetime(value)
    except OverflowError:  # e.g. 9999-12-31T23:00:00-05:00 is past year 9999 in UTC
        return None


def query_time_range(
    handler: tornado.web.RequestHandler, start: str = "from", end: str = "to"
) -> tuple[datetime | None, datetime | None]:
    """The ``from`` (inclusive) and ``to`` (exclusive) bounds of a time filter."""
    bounds: list[datetime | None] = []
    for name in (start, end):
        raw = handler.get_query_argument(name, None)
        if raw is None or raw == "":
            bounds.append(None)
            continue
        parsed = parse_time_bound(raw, end=name == end)
        if parsed is None:
            raise invalid_parameter(
                name, "must be an RFC 3339 date-time or a YYYY-MM-DD date before 9999-12-31"
            )
        bounds.append(parsed)
    low, high = bounds
    if low is not None and high is not None and high <= low:
        raise invalid_parameter(end, f"must be later than '{start}'")
    return low, high


def query_page(handler: tornado.web.RequestHandler) -> tuple[int, int]:
    """``page`` (from 1) and ``per_page`` (1 to 500, default 50)."""
    page = query_int(handler, "page", minimum=1, maximum=10**9, default=1)
    per_page = query_int(
        handler, "per_page", minimum=1, maximum=MAX_PER_PAGE, default=DEFAULT_PER_PAGE
    )
    return page, per_page


def page_of(items: list[Any], total: int, page: int, per_page: int) -> dict[str, Any]:
    """The envelope of a paginated list."""
    return {"total": total, "page": page, "per_page": per_page, "items": items}


def body_string(
    body: dict[str, Any],
    name: str,
    *,
    max_length: int,
    nullable: bool = False,
    required: bool = False,
) -> str | None:
    """A string field of the body (absent -> None; ``required`` refuses that)."""
    if name not in body or (nullable and body[name] in (None, "")):
        if required:
            raise invalid_field(name, "is required")
        return None
    value = body[name]
    if not isinstance(value, str):
        raise invalid_field(name, "must be a string" + (" or null" if nullable else ""))
    if len(value) > max_length:
        raise invalid_field(name, f"at most {max_length} characters")
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise invalid_field(name, "must not contain control characters")
    return value


def body_datetime(body: dict[str, Any], name: str) -> datetime | None:
    """An RFC 3339 date-time field, or null."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not is_datetime(value):
        raise invalid_field(name, "must be an RFC 3339 date-time with an offset, or null")
    return parse_datetime(value)


def body_int(body: dict[str, Any], name: str, *, minimum: int, maximum: int) -> int | None:
    """An integer field within bounds (absent -> None)."""
    if name not in body:
        return None
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_field(name, "must be an integer")
    if not minimum <= value <= maximum:
        raise invalid_field(name, f"must be between {minimum} and {maximum}")
    return value


def refuse_unknown(body: dict[str, Any], allowed: set[str]) -> None:
    """400 naming the first field the endpoint does not know."""
    for name in body:
        if name not in allowed:
            raise invalid_field(name, "unknown field")
