"""The structured editors of the charger page, turned into operation parameters.

Each function takes what an operator typed (text, as an HTML form sends it) and returns
the snake_case parameters for ``csms.remote.perform``, or raises ``FormErrors`` with a
message per field so the page can show the form again as typed:

- ``config_changes``: the edited configuration table -> one ChangeConfiguration per
  changed, writable key;
- ``charging_profile``: the profile form (periods as rows) -> SetChargingProfile;
- ``local_list_entries``: the tag table -> the entries of a SendLocalList.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from csms.remote_params import DATETIME, INTEGER, NUMBER, Param, ParameterError

PURPOSES = ("TxDefaultProfile", "TxProfile", "ChargePointMaxProfile")
KINDS = ("Absolute", "Recurring", "Relative")
RECURRENCY = ("Daily", "Weekly")
UNITS = ("A", "W")
TAG_STATUSES = ("Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx")
MAX_PERIODS = 48  # a schedule longer than this is rarely supported (ChargingScheduleMaxPeriods)
MAX_TAGS = 1000


class FormErrors(ValueError):
    """The form has mistakes: ``errors`` maps a field name to its message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{key}: {value}" for key, value in errors.items()))
        self.errors = errors


def _parse(param: Param, text: str | None, errors: dict[str, str], field: str) -> Any:
    """``text`` checked by ``param`` (None when empty and optional); errors under ``field``."""
    if text is None or text.strip() == "":
        if param.required:
            errors[field] = "is required"
        return None
    try:
        return param.parse(text.strip())
    except ParameterError as exc:
        errors[field] = exc.message
        return None


def config_changes(
    keys: Iterable[Mapping[str, Any]], typed: Mapping[str, str]
) -> list[tuple[str, str]]:
    """The (key, value) pairs to send: writable keys whose typed value differs from the
    stored one, in key order. A read-only key typed differently is a FormErrors."""
    errors: dict[str, str] = {}
    changes = []
    for item in keys:
        name = item["key"]
        if name not in typed:
            continue
        value = typed[name]
        if value == ("" if item.get("value") is None else str(item["value"])):
            continue
        if item.get("readonly"):
            errors[name] = "is read-only on the charger"
        elif len(value) > 500:
            errors[name] = "longer than 500 characters"
        else:
            changes.append((name, value))
    if errors:
        raise FormErrors(errors)
    return sorted(changes)


_PROFILE_PARAMS = {
    "profile_id": Param("profile_id", INTEGER, True, minimum=1),
    "connector_id": Param("connector_id", INTEGER, True, minimum=0),
    "purpose": Param("purpose", required=True, enum=PURPOSES),
    "stack_level": Param("stack_level", INTEGER, True, minimum=0),
    "kind": Param("kind", required=True, enum=KINDS),
    "recurrency_kind": Param("recurrency_kind", enum=RECURRENCY),
    "unit": Param("unit", required=True, enum=UNITS),
    "transaction_id": Param("transaction_id", INTEGER),
    "start_schedule": Param("start_schedule", DATETIME),
    "duration": Param("duration", INTEGER, minimum=1),
}
_PERIOD_PARAMS = {
    "start_period": Param("start_period", INTEGER, True, minimum=0),
    "limit": Param("limit", NUMBER, True, minimum=0.1),
    "number_phases": Param("number_phases", INTEGER, minimum=1, maximum=3),
}
PROFILE_FIELDS = tuple(_PROFILE_PARAMS)
PERIOD_FIELDS = tuple(_PERIOD_PARAMS)


def _periods(rows: Sequence[Mapping[str, str]], errors: dict[str, str]) -> list[dict]:
    """The schedule periods of the typed rows (wholly empty rows are skipped)."""
    periods: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        if not any((row.get(name) or "").strip() for name in PERIOD_FIELDS):
            continue
        values = {
            name: _parse(param, row.get(name), errors, f"period-{index}-{name}")
            for name, param in _PERIOD_PARAMS.items()
        }
        if values["limit"] is not None and round(values["limit"], 1) != values["limit"]:
            errors[f"period-{index}-limit"] = "at most one decimal (OCPP: multiple of 0.1)"
        if values["start_period"] is None or values["limit"] is None:
            continue
        if periods and values["start_period"] <= periods[-1]["startPeriod"]:
            errors[f"period-{index}-start_period"] = "must come after the previous period"
        elif not periods and values["start_period"] != 0:
            errors[f"period-{index}-start_period"] = "the first period starts at 0"
        period = {"startPeriod": values["start_period"], "limit": values["limit"]}
        if values["number_phases"] is not None:
            period["numberPhases"] = values["number_phases"]
        periods.append(period)
    if not periods and not any(key.startswith("period-") for key in errors):
        errors["periods"] = "give at least one period"
    if len(periods) > MAX_PERIODS:
        errors["periods"] = f"at most {MAX_PERIODS} periods"
    return periods


def charging_profile(typed: Mapping[str, str], rows: Sequence[Mapping[str, str]]) -> dict[str, Any]:
    """The SetChargingProfile parameters (``connector_id``, ``charging_profile`` in OCPP's
    camelCase) from the profile form and its period rows; FormErrors per field."""
    errors: dict[str, str] = {}
    v = {name: _parse(param, typed.get(name), errors, name)
         for name, param in _PROFILE_PARAMS.items()}  # fmt: skip
    periods = _periods(rows, errors)
    purpose, kind = v["purpose"], v["kind"]
    if purpose == "TxProfile" and v["transaction_id"] is None and "transaction_id" not in errors:
        errors["transaction_id"] = "a TxProfile is for one transaction: give its id"
    if purpose not in (None, "TxProfile") and v["transaction_id"] is not None:
        errors["transaction_id"] = "only a TxProfile names a transaction"
    if purpose == "ChargePointMaxProfile" and v["connector_id"] not in (None, 0):
        errors["connector_id"] = "a ChargePointMaxProfile goes on connector 0"
    if purpose == "TxProfile" and v["connector_id"] == 0:
        errors["connector_id"] = "a TxProfile goes on a connector above 0"
    if kind == "Recurring" and v["recurrency_kind"] is None and "recurrency_kind" not in errors:
        errors["recurrency_kind"] = "a Recurring profile repeats Daily or Weekly"
    if kind == "Recurring" and v["start_schedule"] is None and "start_schedule" not in errors:
        errors["start_schedule"] = "a Recurring profile needs the start of its first cycle"
    if kind != "Recurring" and v["recurrency_kind"] is not None:
        errors["recurrency_kind"] = "only a Recurring profile has one"
    if errors:
        raise FormErrors(errors)
    schedule: dict[str, Any] = {}
    if v["duration"] is not None:
        schedule["duration"] = v["duration"]
    if v["start_schedule"] is not None:
        schedule["startSchedule"] = v["start_schedule"]
    schedule["chargingRateUnit"] = v["unit"]
    schedule["chargingSchedulePeriod"] = periods
    profile: dict[str, Any] = {"chargingProfileId": v["profile_id"]}
    if v["transaction_id"] is not None:
        profile["transactionId"] = v["transaction_id"]
    profile.update(
        stackLevel=v["stack_level"], chargingProfilePurpose=purpose, chargingProfileKind=kind
    )
    if v["recurrency_kind"] is not None:
        profile["recurrencyKind"] = v["recurrency_kind"]
    profile["chargingSchedule"] = schedule
    return {"connector_id": v["connector_id"], "charging_profile": profile}


_TAG_PARAMS = {
    "id_tag": Param("id_tag", required=True, max_length=20),
    "status": Param("status", required=True, enum=TAG_STATUSES),
    "expiry": Param("expiry", DATETIME),
    "parent": Param("parent", max_length=20),
}
TAG_FIELDS = tuple(_TAG_PARAMS)


def local_list_entries(rows: Sequence[Mapping[str, str]]) -> list[dict[str, Any]]:
    """OCPP AuthorizationData items from the tag table (rows without text skipped; a row whose
    status is "remove" removes the tag in a Differential update); FormErrors per cell."""
    errors: dict[str, str] = {}
    entries: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, row in enumerate(rows):
        if not any((row.get(name) or "").strip() for name in ("id_tag", "expiry", "parent")):
            continue  # an empty row (its status select always has a value)
        status = (row.get("status") or "").strip()
        fields = ("id_tag",) if status == "remove" else TAG_FIELDS
        v = {name: _parse(_TAG_PARAMS[name], row.get(name), errors, f"tag-{index}-{name}")
             for name in fields}  # fmt: skip
        tag = v["id_tag"]
        if tag is None:
            continue
        if tag.casefold() in seen:
            errors[f"tag-{index}-id_tag"] = "appears twice"
        seen.add(tag.casefold())
        if status == "remove":
            entries.append({"idTag": tag})
            continue
        info: dict[str, Any] = {"status": v["status"]}
        if v["expiry"] is not None:
            info["expiryDate"] = v["expiry"]
        if v["parent"]:
            info["parentIdTag"] = v["parent"]
        entries.append({"idTag": tag, "idTagInfo": info})
    if len(entries) > MAX_TAGS:
        errors["tags"] = f"at most {MAX_TAGS} tags at once"
    if errors:
        raise FormErrors(errors)
    return entries


def rows_from_entries(entries: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The tag table's rows (text) for AuthorizationData items, e.g. from the RFID tags."""
    rows = []
    for entry in entries:
        info = entry.get("idTagInfo") or {}
        rows.append({
            "id_tag": entry["idTag"],
            "status": info.get("status", "remove"),
            "expiry": info.get("expiryDate", ""),
            "parent": info.get("parentIdTag", ""),
        })  # fmt: skip
    return rows
