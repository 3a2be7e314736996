"""The OpenAPI 3.1 document of the JSON REST API (served at ``/ocpp/api/openapi.json``).

``build_openapi`` returns a fresh dict on every call. The remote operations
are passed in, so this module does not depend on ``csms.remote``::

    build_openapi({name: op["parameters"] for name, op in describe_operations().items()})

Schemas are JSON Schema 2020-12 (what OpenAPI 3.1 uses); response schemas
refuse undocumented properties so the tests that validate real responses
against them keep the document honest.
"""

from __future__ import annotations

import copy
from typing import Any

from handlers.api import openapi_alerts, openapi_sites, openapi_tariffs

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"
ACTION_PATH = "/ocpp/chargers/{cid}/action/"
SECURITY = [{"bearerAuth": []}, {"basicAuth": []}, {"cookieAuth": []}]

_ERROR_RESPONSES = {
    "400": ("BadRequest", "Malformed JSON, or a parameter or field is invalid (named in detail)."),
    "401": ("Unauthorized", "No valid API token, Basic credentials or login cookie."),
    "403": (
        "Forbidden",
        "The role (the user's, capped by the token's) is below what the "
        "method needs (viewer reads, operator writes, admin for settings), or a "
        "cookie-authenticated request lacks a valid XSRF token.",
    ),
    "404": ("NotFound", "No such charger, tag or endpoint."),
    "409": ("Conflict", "The resource exists already."),
    "415": ("UnsupportedMediaType", "The body is not application/json."),
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _null(kind: str, **extra: Any) -> dict[str, Any]:
    """A type that may also be null."""
    return {"type": [kind, "null"], **extra}


def _obj(props: dict[str, Any], required: list[str] | None = None, closed: bool = True,
         **extra: Any) -> dict[str, Any]:  # fmt: skip
    schema: dict[str, Any] = {"type": "object", "properties": props, **extra}
    schema["required"] = list(props) if required is None else required
    if closed:
        schema["additionalProperties"] = False
    return schema


def _page(item: str, description: str) -> dict[str, Any]:
    return _obj(
        {"total": {"type": "integer", "minimum": 0}, "page": {"type": "integer", "minimum": 1},
         "per_page": {"type": "integer", "minimum": 1},
         "items": {"type": "array", "items": _ref(item)}},
        description=description,
    )  # fmt: skip


DATETIME = {"type": "string", "format": "date-time"}
# The charger list's status filter (csms.chargers.STATUS_FILTERS, spelled out here so this
# module depends on nothing else).
_STATUS_FILTERS = ("online", "offline", "Available", "Preparing", "Charging", "SuspendedEVSE",
                   "SuspendedEV", "Finishing", "Reserved", "Unavailable", "Faulted")  # fmt: skip
NULL_DATETIME = _null("string", format="date-time")
ID_TAG = {"type": "string", "minLength": 1, "maxLength": 20, "description": "OCPP idToken"}


def _schemas() -> dict[str, Any]:
    connector = _obj({
        "status": _null("string", description="ChargePointStatus, e.g. Available, Charging"),
        "error_code": _null("string"), "info": _null("string"), "vendor_id": _null("string"),
        "vendor_error_code": _null("string"),
        "ts": {**NULL_DATETIME, "description": "time of the StatusNotification"},
        "stale": {"type": "boolean",
                  "description": "the charger is offline: this is its last reported status"},
    })  # fmt: skip
    transaction = _obj({
        "id": {"type": "integer"},
        "kind": {"enum": ["session", "orphan_stop"],
                 "description": "orphan_stop: a StopTransaction for an unknown transaction"},
        "charger": {"type": "string"}, "connector": _null("integer"), "id_tag": _null("string"),
        "start": NULL_DATETIME, "stop": NULL_DATETIME, "meter_start": _null("integer"),
        "meter_stop": _null("integer"), "energy_wh": _null("number"),
        "energy_claimed_wh": _null(
            "number", description="the energy the charger claimed, when it differs from "
            "energy_wh (capped as implausible, or a meter going backwards)"),
        "stop_reason": _null("string"), "status": {"enum": ["open", "closed"]},
        "anomalies": {"type": "array", "items": {"type": "string"},
                      "description": "integrity findings, e.g. meter_backwards"},
    })  # fmt: skip
    charger_props: dict[str, Any] = {
        "id": {"type": "string"}, "name": _null("string"),
        "connected": {"type": "boolean", "description": "a live WebSocket connection now"},
        "offline_since": {**NULL_DATETIME,
                          "description": "when an offline charger was last heard of"},
        "connectors": {"type": "object", "additionalProperties": _ref("Connector"),
                       "description": "by connector id; 0 is the charger as a whole"},
        "active_transactions": {"type": "array", "items": _ref("Transaction")},
        "last_heartbeat": NULL_DATETIME, "last_seen": NULL_DATETIME,
        "last_meter_values": _null("object", description="the last MeterValues payload"),
        "boot": _null("object", description="vendor, model, serial, firmware, ..."),
        "require_rfid": {"type": "boolean"},
        "latitude": _null("number"), "longitude": _null("number"),
        "landing_page": {"type": "string", "format": "uri"},
        "log_page": {"type": "string", "format": "uri"},
    }  # fmt: skip
    reply = _obj({
        "ts": DATETIME,
        "frame": {"type": "string", "description": "raw text of the CALLRESULT or CALLERROR"},
    })  # fmt: skip
    message = _obj({
        "ts": {**DATETIME, "description": "when the first frame crossed the wire"},
        "direction": {"enum": ["in", "out"], "description": "of the first frame"},
        "action": _null("string"), "unique_id": _null("string"),
        "frame": {"type": "string", "description": "raw text of the first frame (the CALL)"},
        "reply": {"anyOf": [reply, {"type": "null"}],
                  "description": "the frame answering it; null when none came"},
    }, description="One exchange: a frame and the reply answering it.")  # fmt: skip
    detail_props = {
        **charger_props, "config": {"type": "object"}, "last_path": _null("string"),
        "created": NULL_DATETIME, "updated": NULL_DATETIME,
        "messages": {"type": "array", "items": _ref("Message"),
                     "description": "exchanges, newest first"},
    }  # fmt: skip
    meter_value = _obj({
        "ts": DATETIME, "charger": {"type": "string"}, "connector": _null("integer"),
        "transaction": _null("integer"), "measurand": _null("string"), "phase": _null("string"),
        "unit": _null("string"), "context": _null("string"), "location": _null("string"),
        "value": _null("number", description="in W, Wh, ... (kWh and kW are normalised);"
                       " null when the value is not a finite number (see raw)"),
        "raw": _null("string", description="the value as sent, when it is not a number"),
        "excluded": _null("string", description="why the value is never used for energy:"
                          " future, before_start or non_finite"),
    })  # fmt: skip
    tag_changes = {
        "label": _null("string", maxLength=200),
        "status": {"enum": ["accepted", "blocked"], "default": "accepted"},
        "expiry": {**NULL_DATETIME, "description": "RFC 3339 with an offset, or null"},
        "parent_id_tag": {**ID_TAG, "type": ["string", "null"]},
        "max_active_transactions": {"type": "integer", "minimum": 1, "maximum": 1000,
                                    "default": 1},
    }  # fmt: skip
    tag = _obj({
        "id_tag": ID_TAG, "label": {"type": "string"}, "status": {"enum": ["accepted", "blocked"]},
        "expiry": NULL_DATETIME, "parent_id_tag": _null("string"),
        "max_active_transactions": {"type": "integer", "minimum": 1},
    })  # fmt: skip
    return {
        "FieldError": _obj({"field": {"type": "string"}, "message": {"type": "string"}}),
        "Error": _obj(
            {
                "error": {"type": "string"},
                "detail": {"anyOf": [{"type": "string"}, _ref("FieldError"), {"type": "null"}]},
            },
            description="Every error: a machine code and a detail naming the culprit.",
        ),
        "Connector": connector,
        "Transaction": transaction,
        "Charger": _obj(charger_props),
        "ChargerDetail": _obj(detail_props),
        "ChargerPage": _page("Charger", "Chargers by id."),
        "ChargerChanges": _obj(
            {
                "name": {"type": "string", "maxLength": 100},
                "require_rfid": {
                    "type": "boolean",
                    "description": "unknown tags are Invalid on this charger",
                },
                "latitude": _null(
                    "number",
                    minimum=-90,
                    maximum=90,
                    description="degrees; null clears the position",
                ),
                "longitude": _null(
                    "number",
                    minimum=-180,
                    maximum=180,
                    description="degrees; give both coordinates or neither",
                ),
                "config": {"type": "object", "description": "the operator's JSON settings"},
            },
            required=[],
            description="The fields to change; absent ones stay as they are.",
        ),
        "ChargerDeleted": _obj(
            {
                "deleted": {"type": "string"},
                "purged": {
                    "type": "object",
                    "additionalProperties": {"type": "integer"},
                    "description": "documents removed, by collection",
                },
            }
        ),
        "Message": message,
        "TransactionPage": _page("Transaction", "Sessions, newest first."),
        "MeterValue": meter_value,
        "MeterValuePage": _page("MeterValue", "Sampled values, newest first."),
        "RfidTag": tag,
        "RfidTagList": _obj(
            {"total": {"type": "integer"}, "items": {"type": "array", "items": _ref("RfidTag")}}
        ),
        "RfidTagCreate": _obj({"id_tag": ID_TAG, **tag_changes}, required=["id_tag"]),
        "RfidTagChanges": _obj(
            {
                "id_tag": {**ID_TAG, "description": "the same tag; only its spelling may change"},
                **tag_changes,
            },
            required=[],
        ),
        "ActionOutcome": _obj(
            {
                "status": {
                    "enum": [
                        "accepted",
                        "rejected",
                        "error",
                        "timeout",
                        "not_connected",
                        "disconnected",
                    ]
                },
                "command_id": _null("string"),
                "sent": {"type": "boolean"},
                "request": {"type": "object"},
                "reply": _null("object"),
                "error_code": _null("string"),
                "description": {"type": "string"},
                "details": _null("object"),
            },
            closed=False,
        ),
    }


def action_request_schema(action_schemas: dict[str, dict[str, Any]] | None) -> dict[str, Any]:
    """The body of ``POST /ocpp/chargers/{cid}/action/``: ``{"action": name, ...parameters}``.

    ``action_schemas`` maps each operation name to the JSON schema of its
    parameters (an object schema); None gives a generic placeholder.
    """
    if not action_schemas:
        return _obj(
            {"action": {"type": "string", "description": "the operation, e.g. reset"}},
            required=["action"], closed=False,
            description="The operation and its parameters (snake_case).",
        )  # fmt: skip
    variants = []
    for name, params in action_schemas.items():
        schema = copy.deepcopy(params)
        schema.setdefault("type", "object")
        schema["properties"] = {"action": {"const": name}, **schema.get("properties", {})}
        schema["required"] = ["action", *schema.get("required", [])]
        schema.setdefault("title", name)
        variants.append(schema)
    return {"oneOf": variants, "discriminator": {"propertyName": "action"}}


def _errors(*codes: str) -> dict[str, Any]:
    return {code: {"$ref": f"#/components/responses/{_ERROR_RESPONSES[code][0]}"} for code in codes}


def _ok(schema: dict[str, Any], description: str = "OK", status: str = "200") -> dict[str, Any]:
    return {status: {"description": description,
                     "content": {"application/json": {"schema": schema}}}}  # fmt: skip


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}  # fmt: skip


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"},
            "description": description + " (percent-encoded)"}  # fmt: skip


_TIME = {"type": "string", "description": "RFC 3339 date-time or YYYY-MM-DD"}
_TIME_RANGE = [
    _query("from", _TIME, "start at or after this instant (a date means its UTC midnight)"),
    _query("to", _TIME, "before this instant (a date includes that whole UTC day)"),
]
_PAGING = [
    _query("page", {"type": "integer", "minimum": 1, "default": 1}, "page number, from 1"),
    _query("per_page", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
           "items per page"),
]  # fmt: skip
_CHARGER_FILTER = _query("charger", {"type": "string"}, "only this charger")
_CID = _path_param("cid", "charger id")
_TAG = _path_param("tag", "RFID tag, case-insensitive")


def _outcome(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": _ref("ActionOutcome")}}}  # fmt: skip


def _paths(action_schemas: dict[str, dict[str, Any]] | None) -> dict[str, Any]:
    tx_params = [_CHARGER_FILTER, *_TIME_RANGE]
    return {
        "/ocpp/chargers/": {"get": {
            "operationId": "listChargers", "tags": ["chargers"],
            "summary": "Known chargers with their current state, a page at a time",
            "parameters": [
                _query("q", {"type": "string", "maxLength": 100},
                       "matches the start of a word of the id, name, vendor, model or serial "
                       "(case-insensitive)"),
                _query("status", {"enum": list(_STATUS_FILTERS)},
                       "online, offline, or a connector status of a connected charger"),
                *_PAGING,
            ],
            "responses": {**_ok(_ref("ChargerPage")), **_errors("400", "401")},
        }},
        "/ocpp/chargers/{cid}/": {
            "parameters": [_CID],
            "get": {
                "operationId": "getCharger", "tags": ["chargers"],
                "summary": "One charger, its configuration and its recent message log",
                "parameters": [_query("log_limit", {"type": "integer", "minimum": 1,
                                                    "maximum": 500, "default": 50},
                                      "how many exchanges")],
                "responses": {**_ok(_ref("ChargerDetail")), **_errors("400", "401", "404")},
            },
            "patch": {
                "operationId": "updateCharger", "tags": ["chargers"],
                "summary": "Change the given settings; the charger as GET shows it",
                "requestBody": _body(_ref("ChargerChanges")),
                "responses": {**_ok(_ref("ChargerDetail")),
                              **_errors("400", "401", "403", "404", "415")},
            },
            "delete": {
                "operationId": "deleteCharger", "tags": ["chargers"],
                "summary": "Disconnect the charger and delete it with all its recorded data",
                "responses": {**_ok(_ref("ChargerDeleted")), **_errors("401", "403", "404")},
            },
        },
        ACTION_PATH: {"parameters": [_CID], "post": {
            "operationId": "chargerAction", "tags": ["chargers"],
            "summary": "Send the charger an operation and wait (bounded) for its answer",
            "requestBody": _body(action_request_schema(action_schemas)),
            "responses": {**_ok(_ref("ActionOutcome"), "The outcome, whatever the charger said"),
                          **_errors("400", "401", "403", "404", "415"),
                          "409": _outcome("The charger is not connected (or dropped the link "
                                          "while we waited)"),
                          "504": _outcome("No reply in time; the command id is stored")},
        }},
        "/ocpp/api/transactions/": {"get": {
            "operationId": "listTransactions", "tags": ["sessions"],
            "summary": "Charging sessions, newest first",
            "parameters": [*tx_params, *_PAGING],
            "responses": {**_ok(_ref("TransactionPage")), **_errors("400", "401")},
        }},
        "/ocpp/api/transactions.csv": {"get": {
            "operationId": "exportTransactions", "tags": ["sessions"],
            "summary": "The same sessions as CSV (header row, newest first)",
            "parameters": tx_params,
            "responses": {"200": {"description": "CSV", "content": {"text/csv": {"schema": {
                "type": "string", "description": "columns: id, charger, connector, id_tag, "
                "start, stop, meter_start, meter_stop, energy_wh, stop_reason, status"}}}},
                **_errors("400", "401")},
        }},
        "/ocpp/api/meter-values/": {"get": {
            "operationId": "listMeterValues", "tags": ["meter values"],
            "summary": "Sampled meter values; give charger or transaction (or both)",
            "parameters": [
                _CHARGER_FILTER,
                _query("connector", {"type": "integer", "minimum": 0}, "connector id"),
                _query("transaction", {"type": "integer", "minimum": 0}, "transaction id"),
                _query("measurand", {"type": "string"}, "e.g. Energy.Active.Import.Register"),
                *_TIME_RANGE, *_PAGING,
            ],
            "responses": {**_ok(_ref("MeterValuePage")), **_errors("400", "401")},
        }},
        "/ocpp/api/rfid/": {
            "get": {"operationId": "listRfidTags", "tags": ["rfid"], "summary": "Every tag",
                    "responses": {**_ok(_ref("RfidTagList")), **_errors("401")}},
            "post": {
                "operationId": "createRfidTag", "tags": ["rfid"], "summary": "Add a tag",
                "requestBody": _body(_ref("RfidTagCreate")),
                "responses": {**_ok(_ref("RfidTag"), "Created", "201"),
                              **_errors("400", "401", "403", "409", "415")},
            },
        },
        "/ocpp/api/rfid/{tag}/": {
            "parameters": [_TAG],
            "get": {"operationId": "getRfidTag", "tags": ["rfid"], "summary": "One tag",
                    "responses": {**_ok(_ref("RfidTag")), **_errors("401", "404")}},
            "put": {
                "operationId": "replaceRfidTag", "tags": ["rfid"],
                "summary": "Replace every field (absent ones get their defaults)",
                "requestBody": _body(_ref("RfidTagChanges")),
                "responses": {**_ok(_ref("RfidTag")),
                              **_errors("400", "401", "403", "404", "415")},
            },
            "patch": {
                "operationId": "updateRfidTag", "tags": ["rfid"],
                "summary": "Change the given fields",
                "requestBody": _body(_ref("RfidTagChanges")),
                "responses": {**_ok(_ref("RfidTag")),
                              **_errors("400", "401", "403", "404", "415")},
            },
            "delete": {
                "operationId": "deleteRfidTag", "tags": ["rfid"], "summary": "Remove a tag",
                "responses": {"204": {"description": "Deleted"},
                              **_errors("401", "403", "404")},
            },
        },
        "/ocpp/api/openapi.json": {"get": {
            "operationId": "openapi", "tags": ["meta"], "summary": "This document",
            "responses": {**_ok({"type": "object"}), **_errors("401")},
        }},
    }  # fmt: skip


def _merge(document: dict[str, Any], paths: dict[str, Any], schemas: dict[str, Any]) -> None:
    """Add an area's paths and component schemas (``openapi_<area>.py``)."""
    document["paths"].update(paths)
    document["components"]["schemas"].update(schemas)


def build_openapi(
    action_schemas: dict[str, dict[str, Any]] | None = None, *, server_url: str | None = None
) -> dict[str, Any]:
    """The OpenAPI document. ``action_schemas``: parameter schema of each remote operation
    by name (see ``action_request_schema``); ``server_url``: the public base URL."""
    unauthorized = {
        "description": _ERROR_RESPONSES["401"][1],
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
        "content": {"application/json": {"schema": _ref("Error")}},
    }
    responses = {
        name: {"description": text, "content": {"application/json": {"schema": _ref("Error")}}}
        for name, text in _ERROR_RESPONSES.values()
    }
    responses["Unauthorized"] = unauthorized
    document: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "OCPP 1.6J Central System API",
            "version": API_VERSION,
            "description": "Chargers, sessions, meter values and RFID tags. Authenticate "
            "with an API token (Bearer), a user's credentials (Basic) or the login cookie; "
            "cookie-authenticated writes also need the X-XSRFToken header.",
        },
        "paths": _paths(action_schemas),
        "components": {
            "schemas": _schemas(),
            "responses": responses,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "an API token (scripts/create_token.py)",
                },
                "basicAuth": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "an operator's username and password",
                },
                "cookieAuth": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "csms_user",
                    "description": "the login cookie of /ocpp/login",
                },
            },
        },
        "security": copy.deepcopy(SECURITY),
    }
    openapi_tariffs.extend(document)
    openapi_sites.extend(document)
    _merge(document, openapi_alerts.alert_paths(), openapi_alerts.alert_schemas())
    if server_url:
        document["servers"] = [{"url": server_url.rstrip("/")}]
    return document
