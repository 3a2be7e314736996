"""The OpenAPI paths and schemas of tariffs, session costs and cost reports.

``extend(document)`` adds them to the document ``handlers.api.openapi.build_openapi``
builds, and the cost and tariff fields to its Transaction, Charger and RfidTag schemas.
"""

from __future__ import annotations

from typing import Any

_ERR = "#/components/responses/"
_RESPONSES = {"400": "BadRequest", "401": "Unauthorized", "403": "Forbidden", "404": "NotFound",
              "409": "Conflict", "415": "UnsupportedMediaType"}  # fmt: skip
DECIMAL = {"type": "string", "pattern": r"^-?\d+(\.\d+)?$", "description": "a decimal number"}
NULL_DECIMAL = {**DECIMAL, "type": ["string", "null"]}
NULL_DATETIME = {"type": ["string", "null"], "format": "date-time"}
RATES = ("energy_per_kwh", "time_per_hour", "idle_per_hour")


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _errors(*codes: str) -> dict[str, Any]:
    return {code: {"$ref": _ERR + _RESPONSES[code]} for code in codes}


def _ok(schema: dict[str, Any], description: str = "OK", status: str = "200") -> dict[str, Any]:
    return {status: {"description": description,
                     "content": {"application/json": {"schema": schema}}}}  # fmt: skip


def _obj(props: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict:
    return {"type": "object", "properties": props, "additionalProperties": False,
            "required": list(props) if required is None else required, **extra}  # fmt: skip


def _terms(for_input: bool) -> dict[str, Any]:
    money = {**DECIMAL, "pattern": r"^\d+(\.\d+)?$"} if for_input else DECIMAL
    null_money = {**money, "type": ["string", "null"]}
    period = _obj(
        {"days": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 6},
                  "minItems": 1, "uniqueItems": True, "description": "0 is Monday"},
         "from": {"type": "string", "pattern": r"^\d\d:\d\d$", "description": "local HH:MM"},
         "to": {"type": "string", "pattern": r"^\d\d:\d\d$", "description": "local HH:MM, "
                "later than from (24:00 is the end of the day)"},
         **{rate: money for rate in RATES}},
        required=["days", "from", "to"],
    )  # fmt: skip
    return {
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$", "description": "ISO 4217"},
        "energy_per_kwh": money,
        "time_per_hour": {**money, "description": "per hour of charging (not idle) time"},
        "idle_per_hour": {**money, "description": "per hour idle after the grace period"},
        "idle_grace_minutes": {"type": "integer", "minimum": 0, "maximum": 10080},
        "session_fee": money,
        "min_total": null_money,
        "max_total": null_money,
        "tax_percent": {**money, "description": "VAT in percent"},
        "tax_included": {"type": "boolean", "description": "prices include the tax"},
        "periods": {"type": "array", "items": period, "maxItems": 50,
                    "description": "time-of-use rates in the charger's or site's time zone"},
    }  # fmt: skip


def _schemas() -> dict[str, Any]:
    terms = _terms(False)
    tariff = _obj(
        {"id": {"type": "string"}, "version": {"type": "integer", "minimum": 1}, **terms,
         "in_words": {"type": "string", "description": "the base price in plain words"},
         "periods_in_words": {"type": "array", "items": {"type": "string"}},
         "created": NULL_DATETIME, "deleted": NULL_DATETIME},
    )  # fmt: skip
    amounts = ("energy", "time", "idle", "fee", "adjustment", "tax", "total")
    cost = {
        "type": ["object", "null"],
        "properties": {"currency": {"type": "string"}, **{name: DECIMAL for name in amounts},
                       "tax_included": {"type": "boolean"}, "tariff": {"type": "string"},
                       "version": {"type": "integer"}},
        "required": ["currency", *amounts, "tax_included", "tariff", "version"],
        "additionalProperties": False,
        "description": "components rounded half-up to the currency's minor unit; total = "
        "energy + time + idle + fee + adjustment (+ tax when it is added)",
    }  # fmt: skip
    row = _obj(
        {"group": {"type": "string"}, "currency": {"type": "string"},
         "sessions": {"type": "integer"}, "energy_wh": {"type": "number"},
         **{name: DECIMAL for name in amounts}},
    )  # fmt: skip
    input_terms = _terms(True)
    return {
        "Tariff": tariff,
        "TariffList": _obj(
            {"total": {"type": "integer"}, "items": {"type": "array", "items": _ref("Tariff")}}
        ),
        "TariffCreate": _obj(
            {
                "id": {
                    "type": "string",
                    "pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
                    "maxLength": 48,
                },
                **input_terms,
            },
            required=["id", "currency"],
        ),
        "TariffChanges": _obj(input_terms, required=[]),
        "Cost": cost,
        "CostReport": _obj(
            {
                "group": {"enum": ["month", "tag", "charger"]},
                "items": {"type": "array", "items": row},
            }
        ),
    }


_TARIFF_PARAM = {"name": "tariff", "in": "path", "required": True, "schema": {"type": "string"},
                 "description": "tariff id (percent-encoded)"}  # fmt: skip
_REPORT_PARAMS = [
    {"name": "group", "in": "query", "required": False,
     "schema": {"enum": ["month", "tag", "charger"], "default": "month"},
     "description": "per start month (UTC), per tag (driver) or per charger"},
    {"name": "from", "in": "query", "required": False, "schema": {"type": "string"},
     "description": "sessions started at or after (RFC 3339 or YYYY-MM-DD)"},
    {"name": "to", "in": "query", "required": False, "schema": {"type": "string"},
     "description": "sessions started before (a date includes that whole UTC day)"},
]  # fmt: skip


def _paths() -> dict[str, Any]:
    body = {"required": True, "content": {"application/json": {"schema": _ref("TariffChanges")}}}
    create = {"required": True, "content": {"application/json": {"schema": _ref("TariffCreate")}}}
    return {
        "/ocpp/api/tariffs/": {
            "get": {"operationId": "listTariffs", "tags": ["tariffs"],
                    "summary": "Every tariff in force (its newest version)",
                    "responses": {**_ok(_ref("TariffList")), **_errors("401")}},
            "post": {"operationId": "createTariff", "tags": ["tariffs"],
                     "summary": "Add a tariff (version 1)", "requestBody": create,
                     "responses": {**_ok(_ref("Tariff"), "Created", "201"),
                                   **_errors("400", "401", "403", "409", "415")}},
        },
        "/ocpp/api/tariffs/{tariff}/": {
            "parameters": [_TARIFF_PARAM],
            "get": {"operationId": "getTariff", "tags": ["tariffs"],
                    "summary": "The version in force",
                    "responses": {**_ok(_ref("Tariff")), **_errors("401", "404")}},
            "patch": {"operationId": "updateTariff", "tags": ["tariffs"],
                      "summary": "Store the next version with the given changes; running "
                      "sessions keep theirs", "requestBody": body,
                      "responses": {**_ok(_ref("Tariff")),
                                    **_errors("400", "401", "403", "404", "409", "415")}},
            "delete": {"operationId": "deleteTariff", "tags": ["tariffs"],
                       "summary": "Delete (409 while chargers, RFID tags or sites use it)",
                       "responses": {"204": {"description": "Deleted"},
                                     **_errors("401", "403", "404", "409")}},
        },
        "/ocpp/api/tariffs/{tariff}/versions/": {
            "parameters": [_TARIFF_PARAM],
            "get": {"operationId": "listTariffVersions", "tags": ["tariffs"],
                    "summary": "Every version of a tariff, newest first",
                    "responses": {**_ok(_ref("TariffList")), **_errors("401", "404")}},
        },
        "/ocpp/api/transactions/{tx_id}/": {
            "parameters": [{"name": "tx_id", "in": "path", "required": True,
                            "schema": {"type": "string", "pattern": "^[0-9]+$"},
                            "description": "transaction id"}],
            "get": {"operationId": "getTransaction", "tags": ["sessions"],
                    "summary": "One session with its cost (and running_cost while open)",
                    "responses": {**_ok(_ref("TransactionDetail")), **_errors("401", "404")}},
        },
        "/ocpp/api/reports/sessions.json": {"get": {
            "operationId": "sessionCostReport", "tags": ["reports"],
            "summary": "Sessions, energy and cost per month, tag or charger and currency",
            "parameters": _REPORT_PARAMS,
            "responses": {**_ok(_ref("CostReport")), **_errors("400", "401")},
        }},
        "/ocpp/api/reports/sessions.csv": {"get": {
            "operationId": "sessionCostReportCsv", "tags": ["reports"],
            "summary": "The same report as CSV",
            "parameters": _REPORT_PARAMS,
            "responses": {"200": {"description": "CSV", "content": {"text/csv": {"schema": {
                "type": "string", "description": "columns: group, currency, sessions, "
                "energy_wh, energy, time, idle, fee, adjustment, tax, total"}}}},
                **_errors("400", "401")},
        }},
    }  # fmt: skip


def extend(document: dict[str, Any]) -> None:
    """Add the tariff paths and schemas to ``document`` and the cost and tariff fields to
    the schemas of sessions, chargers and RFID tags."""
    schemas = document["components"]["schemas"]
    schemas.update(_schemas())
    document["paths"].update(_paths())
    tx = schemas["Transaction"]
    tx["properties"]["cost"] = _ref("Cost")
    tx["required"].append("cost")
    schemas["TransactionDetail"] = {
        **tx,
        "properties": {**tx["properties"], "running_cost": {
            **_ref("Cost"), "description": "an open session's cost so far"}},
    }  # fmt: skip
    tariff_ref = {"type": ["string", "null"], "description": "a tariff id, or null"}
    zone = {"type": ["string", "null"], "description": "IANA time zone, e.g. Europe/Berlin"}
    for name in ("Charger", "ChargerDetail"):
        schemas[name]["properties"].update(tariff=tariff_ref, timezone=zone)
        schemas[name]["required"] += ["tariff", "timezone"]
    schemas["ChargerChanges"]["properties"].update(tariff=tariff_ref, timezone=zone)
    schemas["RfidTag"]["properties"]["tariff"] = tariff_ref
    schemas["RfidTag"]["required"].append("tariff")
    for name in ("RfidTagCreate", "RfidTagChanges"):
        schemas[name]["properties"]["tariff"] = {
            **tariff_ref, "description": "the tag's own tariff (a fleet contract): it wins "
            "over the charger's"}  # fmt: skip
    csv = document["paths"]["/ocpp/api/transactions.csv"]["get"]["responses"]["200"]
    csv["content"]["text/csv"]["schema"]["description"] += (
        ", cost_currency, cost_energy, cost_time, cost_idle, cost_fee, cost_adjustment, "
        "cost_tax, cost_total, tariff, tariff_version"
    )
