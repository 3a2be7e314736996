"""Validate OCPP payloads against the draft-04 schemas in ``schemas/`` (OCPP_RULES 8-9).

The accept path uses validators compiled once with fastjsonschema. When a
payload fails, jsonschema classifies the failure into the CALLERROR code the
rules give and a description that names the field.
"""

from __future__ import annotations

import decimal
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import fastjsonschema
import jsonschema
from jsonschema import Draft4Validator
from jsonschema.exceptions import ValidationError, best_match

from ocppj import errors
from ocppj.timeutil import is_datetime

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"

_CODE_BY_KEYWORD = {
    "type": errors.TYPE_CONSTRAINT_VIOLATION,
    "required": errors.OCCURENCE_CONSTRAINT_VIOLATION,
    "additionalProperties": errors.OCCURENCE_CONSTRAINT_VIOLATION,
    "minItems": errors.OCCURENCE_CONSTRAINT_VIOLATION,
    "maxItems": errors.OCCURENCE_CONSTRAINT_VIOLATION,
    "enum": errors.PROPERTY_CONSTRAINT_VIOLATION,
    "maxLength": errors.PROPERTY_CONSTRAINT_VIOLATION,
    "minLength": errors.PROPERTY_CONSTRAINT_VIOLATION,
    "format": errors.PROPERTY_CONSTRAINT_VIOLATION,
    "minimum": errors.PROPERTY_CONSTRAINT_VIOLATION,
    "maximum": errors.PROPERTY_CONSTRAINT_VIOLATION,
    "multipleOf": errors.PROPERTY_CONSTRAINT_VIOLATION,
    "pattern": errors.PROPERTY_CONSTRAINT_VIOLATION,
}


def _decimal_multiple_of(validator, multiple_of, instance, schema):
    """multipleOf that does not fail on binary floats: 0.3 is a multiple of 0.1 (rule 8)."""
    if not validator.is_type(instance, "number"):
        return
    quotient = decimal.Decimal(repr(instance)) / decimal.Decimal(repr(multiple_of))
    if quotient != quotient.to_integral_value():
        yield ValidationError(f"{instance!r} is not a multiple of {multiple_of}")


_FORMATS = jsonschema.FormatChecker(formats=())
_FORMATS.checks("date-time")(is_datetime)

_Classifier = jsonschema.validators.extend(Draft4Validator, {"multipleOf": _decimal_multiple_of})


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def check_int64(payload: Any) -> None:
    """Raise PropertyConstraintViolation naming the first integer outside 64 bits."""
    where = _int64_overflow(payload, ())
    if where is not None:
        field = _field(where) or "payload"
        raise errors.OcppError(
            errors.PROPERTY_CONSTRAINT_VIOLATION, f"{field}: integer out of 64-bit range"
        )


def _int64_overflow(value: Any, path: tuple) -> tuple | None:
    """The path of the first integer outside the signed 64-bit range, or None."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list, int)):
                found = _int64_overflow(item, (*path, key))
                if found is not None:
                    return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, (dict, list, int)):
                found = _int64_overflow(item, (*path, index))
                if found is not None:
                    return found
    elif isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        return path
    return None


def _field(path: Iterable[Any]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def describe(error: ValidationError) -> tuple[str, str]:
    """Map one jsonschema error to (CALLERROR code, description naming the field)."""
    keyword = error.validator
    code = _CODE_BY_KEYWORD.get(str(keyword), errors.FORMATION_VIOLATION)
    where = _field(error.absolute_path)
    instance = error.instance
    if keyword == "required" and isinstance(instance, dict):
        missing = [name for name in error.validator_value if name not in instance]
        names = [f"{where}.{name}" if where else name for name in missing]
        return code, f"missing required field {', '.join(names)}"
    if keyword == "additionalProperties" and isinstance(instance, dict):
        known = set(error.schema.get("properties", {}))
        extra = sorted(str(name) for name in instance if name not in known)
        names = [f"{where}.{name}" if where else name for name in extra]
        return code, f"unexpected field {', '.join(names)[:200]}"
    where = where or "payload"
    if keyword == "type":
        return code, f"{where}: expected {error.validator_value}"
    if keyword == "enum":
        allowed = ", ".join(map(str, error.validator_value))
        return code, f"{where}: not one of {allowed}"[:255]
    if keyword == "maxLength":
        return code, f"{where}: longer than {error.validator_value} characters"
    if keyword == "format":
        return code, f"{where}: not a valid {error.validator_value}"
    if keyword in ("minItems", "maxItems"):
        return code, f"{where}: {keyword} {error.validator_value}"
    return code, f"{where}: violates {keyword} {error.validator_value}"[:255]


class SchemaStore:
    """All OCPP message schemas, compiled once; look-up by message name.

    Requests are named after the action (``BootNotification``), responses add
    ``Response`` (``BootNotificationResponse``).
    """

    def __init__(self, schema_dir: Path = SCHEMA_DIR):
        self._schemas: dict[str, dict[str, Any]] = {}
        self._fast: dict[str, Callable[[Any], Any]] = {}
        self._slow: dict[str, Draft4Validator] = {}
        for path in sorted(schema_dir.glob("*.json")):
            schema = json.loads(path.read_text())
            Draft4Validator.check_schema(schema)
            self._schemas[path.stem] = schema
            self._fast[path.stem] = fastjsonschema.compile(
                schema, formats={"date-time": is_datetime}
            )

    def __contains__(self, name: str) -> bool:
        return name in self._schemas

    @property
    def names(self) -> frozenset[str]:
        """The message names with a schema."""
        return frozenset(self._schemas)

    def validate(self, name: str, payload: Any) -> None:
        """Raise OcppError with the rule-9 code when ``payload`` breaks schema ``name``.

        Beyond the schema, integers must fit in 64 bits: the schemas set no bound,
        but nothing larger can be stored (BSON), and a value that cannot be stored
        must be refused here rather than fail a batch write later.
        """
        check = self._fast.get(name)
        if check is None:
            raise errors.OcppError(errors.NOT_IMPLEMENTED, f"no schema for {name}")
        try:
            check(payload)
        except fastjsonschema.JsonSchemaValueException as exc:
            code, description = self.classify(name, payload)
            if code is None:  # only the slower validator could tell; trust it
                return
            raise errors.OcppError(code, description) from exc
        check_int64(payload)

    def classify(self, name: str, payload: Any) -> tuple[str | None, str]:
        """Classify a failing payload; (None, "") when jsonschema finds nothing wrong."""
        validator = self._slow.get(name)
        if validator is None:
            validator = _Classifier(self._schemas[name], format_checker=_FORMATS)
            self._slow[name] = validator
        error = best_match(validator.iter_errors(payload))
        if error is None:
            return None, ""
        return describe(error)
