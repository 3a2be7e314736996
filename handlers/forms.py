"""Parsing and validation of the admin forms, independent of Tornado.

Every parser takes the text a person typed and returns a clean value or raises
``FieldError`` with a message for that field. ``Form`` runs parsers over a
submission, collecting values and per-field errors, and keeps the raw text so a
form with errors can be shown again exactly as it was typed.
"""

from __future__ import annotations

import json
import math
import string
import unicodedata
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

MAX_CHARGER_ID = 48
# The charger route's rule (handlers.chargepoint.websocket.charger_id_from_path).
CHARGER_ID_CHARACTERS = frozenset(string.ascii_letters + string.digits + "-._~")
MAX_NAME = 100
MAX_ID_TAG = 20
MAX_LABEL = 100
MAX_CONFIG_CHARS = 64 * 1024
BSON_MAX_DEPTH = 90
INT64 = (-(2**63), 2**63 - 1)
RFID_STATUSES = ("accepted", "blocked")


class FieldError(ValueError):
    """A value that cannot be accepted; the message is shown next to the field."""


class Form:
    """One submission: raw text per field, parsed values, and errors per field."""

    def __init__(self, raw: Mapping[str, str]):
        self.raw: dict[str, str] = dict(raw)
        self.values: dict[str, Any] = {}
        self.errors: dict[str, str] = {}

    def field(self, name: str, parser: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Parse field ``name`` with ``parser``; record the value or the error."""
        try:
            value = parser(self.raw.get(name, ""), *args, **kwargs)
        except FieldError as exc:
            self.errors[name] = str(exc)
            return None
        self.values[name] = value
        return value

    def error(self, name: str, message: str) -> None:
        """Add an error found outside a parser (a duplicate id, ...)."""
        self.errors.setdefault(name, message)

    @property
    def ok(self) -> bool:
        """True when no field has an error."""
        return not self.errors


def _no_control(value: str, what: str) -> None:
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise FieldError(f"{what} must not contain control characters")


def text(value: str, max_length: int, *, required: bool = False, multiline=False) -> str:
    """A trimmed text of at most ``max_length`` characters."""
    value = value.strip()
    if required and not value:
        raise FieldError("required")
    if len(value) > max_length:
        raise FieldError(f"at most {max_length} characters ({len(value)} given)")
    if not multiline:
        _no_control(value, "the text")
    return value


def checkbox(value: str) -> bool:
    """A checkbox: any submitted value except empty/0/off/false is checked."""
    return value.strip().lower() not in ("", "0", "off", "false", "no")


def charger_id(value: str) -> str:
    """A charger id as the charger WebSocket accepts it (OCPP_RULES 11)."""
    if not value.strip():
        raise FieldError("required")
    if len(value) > MAX_CHARGER_ID:
        raise FieldError(f"at most {MAX_CHARGER_ID} characters ({len(value)} given)")
    if ":" in value:
        raise FieldError("must not contain ':'")
    _no_control(value, "the id")
    if any(char not in CHARGER_ID_CHARACTERS for char in value) or value in (".", ".."):
        raise FieldError("only letters A-Z a-z, digits and - . _ ~ (not '.' or '..' alone)")
    return value


def id_tag(value: str) -> str:
    """An OCPP idTag (IdToken, CiString20): 1 to 20 characters, no control characters."""
    value = value.strip()
    if not value:
        raise FieldError("required")
    if len(value) > MAX_ID_TAG:
        raise FieldError(f"at most {MAX_ID_TAG} characters ({len(value)} given)")
    _no_control(value, "the tag")
    return value


def optional_id_tag(value: str) -> str | None:
    """An idTag, or None when empty."""
    return id_tag(value) if value.strip() else None


def choice(value: str, options: tuple[str, ...]) -> str:
    """One of ``options``."""
    value = value.strip()
    if value not in options:
        raise FieldError("must be one of " + ", ".join(options))
    return value


def integer(value: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """A whole number within the bounds."""
    try:
        number = int(value.strip())
    except ValueError:
        raise FieldError("must be a whole number") from None
    if minimum is not None and number < minimum:
        raise FieldError(f"must be at least {minimum}")
    if maximum is not None and number > maximum:
        raise FieldError(f"must be at most {maximum}")
    return number


def optional_integer(value: str, minimum: int | None = None, maximum: int | None = None):
    """A whole number, or None when empty."""
    return integer(value, minimum, maximum) if value.strip() else None


def optional_float(value: str, minimum: float, maximum: float) -> float | None:
    """A finite number in [minimum, maximum], or None when empty."""
    value = value.strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        raise FieldError("must be a number") from None
    if not math.isfinite(number):
        raise FieldError("must be a finite number")
    if not minimum <= number <= maximum:
        raise FieldError(f"must be between {minimum:g} and {maximum:g}")
    return number


def latitude(value: str) -> float | None:
    """A latitude in degrees, or None."""
    return optional_float(value, -90.0, 90.0)


def longitude(value: str) -> float | None:
    """A longitude in degrees, or None."""
    return optional_float(value, -180.0, 180.0)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def check_storable(value: Any, path: str, depth: int = 0) -> None:
    """Raise FieldError for what MongoDB cannot store portably."""
    if depth > BSON_MAX_DEPTH:
        raise FieldError(f"nested too deeply at {path}")
    if isinstance(value, dict):
        for key, item in value.items():
            if key.startswith("$") or "." in key or "\x00" in key:
                why = "must not start with '$' or contain '.' or NUL"
                raise FieldError(f"key {json.dumps(key)} at {path} {why}")
            check_storable(item, f"{path}.{key}", depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_storable(item, f"{path}[{index}]", depth + 1)
    elif isinstance(value, int) and not isinstance(value, bool):
        if not INT64[0] <= value <= INT64[1]:
            raise FieldError(f"the number at {path} does not fit in 64 bits")


def json_object(value: str) -> dict[str, Any]:
    """A JSON object (empty text means ``{}``); errors name the line and column."""
    if not value.strip():
        return {}
    if len(value) > MAX_CONFIG_CHARS:
        raise FieldError(f"at most {MAX_CONFIG_CHARS} characters")
    try:
        parsed = json.loads(value, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise FieldError(f"invalid JSON: {exc.msg} at {where}") from None
    except (ValueError, RecursionError) as exc:
        raise FieldError(f"invalid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise FieldError(f"must be a JSON object ({{...}}), not {type(parsed).__name__}")
    check_storable(parsed, "$")
    return parsed


def pretty_json(value: Any) -> str:
    """How a stored JSON value is shown in a textarea."""
    return json.dumps(value if value is not None else {}, indent=2, ensure_ascii=False)


_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%d %H:%M",
            "%Y-%m-%d %H:%M:%S")  # fmt: skip


def moment(value: str, *, end_of_day: bool = False) -> datetime | None:
    """A point in time typed as ``YYYY-MM-DD[THH:MM[:SS]]`` (UTC unless it has an offset),
    or None when empty. A bare date is the start of that day, or with ``end_of_day`` the
    start of the next one (so a "to" date includes the whole day)."""
    value = value.strip()
    if not value:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        pass
    else:
        try:
            return day + timedelta(days=1) if end_of_day else day
        except OverflowError:  # the day after 9999-12-31
            raise FieldError("must be a date before 9999-12-31") from None
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise FieldError(
            "must be a date (YYYY-MM-DD) or a date and time (YYYY-MM-DDTHH:MM)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # an offset that pushes it past year 9999 or before year 1
        raise FieldError("must be between the years 1 and 9999 in UTC") from None


def datetime_local(value: datetime | None) -> str:
    """A stored datetime as the value of an ``<input type="datetime-local">`` (UTC)."""
    if value is None:
        return ""
    value = value.astimezone(UTC) if value.tzinfo else value
    return value.strftime("%Y-%m-%dT%H:%M:%S" if value.second else "%Y-%m-%dT%H:%M")


def page(value: str) -> int:
    """A page number (1 when empty)."""
    return integer(value, 1, 1_000_000) if value.strip() else 1
