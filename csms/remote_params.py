"""Parameters of remote operations: check snake_case input, build the OCPP payload, describe it.

An operation's parameters are a tuple of ``Param``. ``parse_params`` checks
what an operator or integration sent and raises ``ParameterError`` naming the
first bad field, before anything is sent. Values may come from JSON (typed)
or from an HTML form (strings): integers accept digit strings, lists accept
comma-separated text, objects accept JSON text, and an empty string or None
means "not given".
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import orjson

from ocppj.timeutil import format_datetime, is_datetime, parse_datetime
from ocppj.validation import INT64_MAX, INT64_MIN

STRING = "string"
INTEGER = "integer"
DATETIME = "datetime"
URI = "uri"
OBJECT = "object"
STRINGS = "strings"
NUMBER = "number"
BOOLEAN = "boolean"
OBJECTS = "objects"

_INT_TEXT = re.compile(r"^\s*[+-]?\d+\s*$")
_TRUE = frozenset({"true", "on", "yes", "1"})
_FALSE = frozenset({"false", "off", "no", "0"})


class ParameterError(ValueError):
    """A parameter is missing, unknown or invalid; ``field`` names it (an HTTP 400)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class Refused(ParameterError):
    """The parameters are well-formed but a rule forbids sending the request, e.g. a
    RemoteStartTransaction whose tag fails authorization; ``info`` holds the reason."""

    def __init__(self, field: str, message: str, info: dict[str, Any] | None = None):
        super().__init__(field, message)
        self.info = info or {}


def camel(name: str) -> str:
    """snake_case -> camelCase (``connector_id`` -> ``connectorId``)."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter of an operation.

    ``ocpp`` is the payload field it fills, as a dotted path for nested
    objects (``log.remoteLocation``); empty means the camelCase of ``name``;
    None means it only steers the operation (e.g. RemoteStop's
    ``connector_id``) and is not copied into the payload.
    """

    name: str
    kind: str = STRING
    required: bool = False
    ocpp: str | None = ""
    enum: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    description: str = ""
    empty_ok: bool = False  # "" is a value (ChangeConfiguration's value), not "not given"
    default: Any = None  # used when the parameter is not given (then it is never required)

    @property
    def target(self) -> str | None:
        """The OCPP field path, or None."""
        if self.ocpp is None:
            return None
        return self.ocpp or camel(self.name)

    def parse(self, value: Any) -> Any:
        """The checked value (datetimes normalised to OCPP's UTC ``...Z`` text)."""
        parse = getattr(self, f"_parse_{self.kind}")
        value = parse(value)
        if self.enum and value not in self.enum:
            self._fail(f"must be one of {', '.join(self.enum)}")
        return value

    def _fail(self, message: str):
        raise ParameterError(self.name, message)

    def _check_length(self, text: str) -> str:
        if self.max_length is not None and len(text) > self.max_length:
            self._fail(f"longer than {self.max_length} characters")
        return text

    def _parse_string(self, value: Any) -> str:
        if not isinstance(value, str):
            self._fail("must be a string")
        return self._check_length(value)

    def _parse_integer(self, value: Any) -> int:
        if isinstance(value, str) and _INT_TEXT.match(value):
            value = int(value)
        elif isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            self._fail("must be an integer")
        if not INT64_MIN <= value <= INT64_MAX:  # nothing larger can be stored or looked up
            self._fail("integer out of 64-bit range")
        if self.minimum is not None and value < self.minimum:
            self._fail(f"must be at least {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            self._fail(f"must be at most {self.maximum}")
        return value

    def _parse_number(self, value: Any) -> float:
        if isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                self._fail("must be a number")
        if isinstance(value, bool) or not isinstance(value, int | float):
            self._fail("must be a number")
        value = float(value)
        if not math.isfinite(value):
            self._fail("must be a finite number")
        low = -math.inf if self.minimum is None else self.minimum
        high = math.inf if self.maximum is None else self.maximum
        if not low <= value <= high:
            self._fail(f"must be between {low:g} and {high:g}")
        return value

    def _parse_boolean(self, value: Any) -> bool:
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        if not isinstance(value, bool):
            self._fail("must be true or false")
        return value

    def _parse_datetime(self, value: Any) -> str:
        if isinstance(value, datetime):
            if value.tzinfo is None:
                self._fail("a date-time needs a time zone")
            return format_datetime(value)
        if not isinstance(value, str) or not is_datetime(value):
            self._fail("must be an RFC 3339 date-time with a time zone (2026-01-31T10:00:00Z)")
        return format_datetime(parse_datetime(value))

    def _parse_uri(self, value: Any) -> str:
        text = self._parse_string(value)
        parts = urlsplit(text)
        if not parts.scheme or not parts.netloc or any(c.isspace() for c in text):
            self._fail("must be an absolute URI such as ftp://host/path")
        return text

    def _parse_object(self, value: Any) -> dict[str, Any]:
        if isinstance(value, str):
            try:
                value = orjson.loads(value)
            except orjson.JSONDecodeError:
                self._fail("must be a JSON object")
        if not isinstance(value, dict):
            self._fail("must be a JSON object")
        return value

    def _parse_objects(self, value: Any) -> list[dict[str, Any]]:
        if isinstance(value, str):
            try:
                value = orjson.loads(value)
            except orjson.JSONDecodeError:
                self._fail("must be a JSON array of objects")
        if not isinstance(value, list | tuple) or not all(isinstance(v, dict) for v in value):
            self._fail("must be a list of objects")
        return list(value)

    def _parse_strings(self, value: Any) -> list[str]:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            self._fail("must be a list of strings")
        if self.max_length is not None:
            for item in value:
                if len(item) > self.max_length:
                    self._fail(f"{item[:60]!r} is longer than {self.max_length} characters")
        return list(value)

    def schema(self) -> dict[str, Any]:
        """A JSON-schema description of the parameter (for the OpenAPI document and forms)."""
        schema: dict[str, Any]
        if self.kind == STRINGS:
            items: dict[str, Any] = {"type": "string"}
            if self.max_length is not None:
                items["maxLength"] = self.max_length
            schema = {"type": "array", "items": items}
        elif self.kind == OBJECTS:
            schema = {"type": "array", "items": {"type": "object"}}
        elif self.kind == DATETIME:
            schema = {"type": "string", "format": "date-time"}
        elif self.kind == URI:
            schema = {"type": "string", "format": "uri"}
        else:
            schema = {"type": self.kind}
        if self.kind in (STRING, URI) and self.max_length is not None:
            schema["maxLength"] = self.max_length
        if self.enum:
            schema["enum"] = list(self.enum)
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.default is not None:
            schema["default"] = self.default
        if self.description:
            schema["description"] = self.description
        return schema


def parse_params(params: Iterable[Param], raw: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``raw`` against ``params``; the values given, by parameter name.

    Unknown names, missing required parameters and bad values raise
    ParameterError naming the field.
    """
    by_name = {param.name: param for param in params}
    for name in raw:
        if name not in by_name:
            known = ", ".join(by_name) or "none"
            raise ParameterError(str(name), f"unknown parameter (known: {known})")
    values: dict[str, Any] = {}
    for name, param in by_name.items():
        value = raw.get(name)
        if value is None or (value == "" and not param.empty_ok):
            if param.default is not None:
                values[name] = param.default
            elif param.required:
                raise ParameterError(name, "is required")
            continue
        values[name] = param.parse(value)
    return values


def build_payload(params: Iterable[Param], values: Mapping[str, Any]) -> dict[str, Any]:
    """The OCPP payload: each given value at its (possibly nested) field."""
    payload: dict[str, Any] = {}
    for param in params:
        target = param.target
        if target is None or param.name not in values:
            continue
        *parents, leaf = target.split(".")
        node = payload
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = values[param.name]
    return payload


def params_schema(params: Iterable[Param]) -> dict[str, Any]:
    """A JSON schema of an operation's parameters (an object, no extra fields)."""
    params = tuple(params)
    return {
        "type": "object",
        "properties": {param.name: param.schema() for param in params},
        "required": [param.name for param in params if param.required],
        "additionalProperties": False,
    }


def field_for(params: Iterable[Param], ocpp_description: str) -> str:
    """The parameter an OCPP validation message (``csChargingProfiles.x: ...``) is about."""
    where = ocpp_description.split(":", 1)[0].removeprefix("missing required field ")
    where = where.removeprefix("unexpected field ")
    best, best_len = "payload", -1
    for param in params:
        target = param.target
        if target is None:
            continue
        if (where == target or where.startswith((target + ".", target + "["))) and len(
            target
        ) > best_len:
            best, best_len = param.name, len(target)
    return best
