"""The alert routes' part of the OpenAPI document (merged by ``openapi.build_openapi``):
alerts, rules, channels, deliveries, the operator's close of a session, and /metrics."""

from __future__ import annotations

from typing import Any

# Spelled out here (csms.alert_rules.RULES) so this module depends on nothing else.
RULE_NAMES = ("charger_offline", "connector_faulted", "no_energy", "long_transaction",
              "reboot_loop", "clock_skew", "security_events", "energy_anomalies")  # fmt: skip
_DT = {"type": "string", "format": "date-time"}
_NULL_DT = {"type": ["string", "null"], "format": "date-time"}
_STRINGS = {"type": ["array", "null"], "items": {"type": "string", "minLength": 1}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(props: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict:
    return {"type": "object", "properties": props, "additionalProperties": False,
            "required": list(props) if required is None else required, **extra}  # fmt: skip


def _errors(*codes: str) -> dict[str, Any]:
    names = {"400": "BadRequest", "401": "Unauthorized", "403": "Forbidden", "404": "NotFound",
             "409": "Conflict", "415": "UnsupportedMediaType"}  # fmt: skip
    return {code: {"$ref": f"#/components/responses/{names[code]}"} for code in codes}


def _ok(schema: dict[str, Any], status: str = "200", description: str = "OK") -> dict:
    return {status: {"description": description,
                     "content": {"application/json": {"schema": schema}}}}  # fmt: skip


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}  # fmt: skip


def _path(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema,
            "description": description}  # fmt: skip


def alert_schemas() -> dict[str, Any]:
    """The component schemas of the alert routes."""
    alert = _obj({
        "id": {"type": "string"}, "rule": {"enum": list(RULE_NAMES)},
        "title": {"type": "string"}, "charger": {"type": "string"},
        "status": {"enum": ["open", "closed"]}, "opened": _DT, "closed": _NULL_DT,
        "detail": {"type": "object", "description": "what the rule found (error code, "
                   "skew, transactions, counts, ...)"},
        "acknowledged": {"anyOf": [{"type": "null"}, _obj(
            {"by": {"type": "string"}, "note": {"type": "string"}, "ts": _DT})]},
    })  # fmt: skip
    rule = {"type": "object", "required": ["rule", "title", "enabled"],
            "properties": {"rule": {"enum": list(RULE_NAMES)}, "title": {"type": "string"},
                           "enabled": {"type": "boolean"}},
            "additionalProperties": {"type": "number", "exclusiveMinimum": 0},
            "description": "a rule and its thresholds (minutes, hours, boots, ...)"}  # fmt: skip
    rule_change = {"type": "object", "properties": {"enabled": {"type": "boolean"}},
                   "additionalProperties": {"type": "number", "exclusiveMinimum": 0}}  # fmt: skip
    smtp_view = _obj({
        "host": {"type": ["string", "null"]}, "port": {"type": ["integer", "null"]},
        "starttls": {"type": "boolean"}, "tls": {"type": "boolean"},
        "username": {"type": ["string", "null"]}, "sender": {"type": ["string", "null"]},
        "password_set": {"type": "boolean"},
    })  # fmt: skip
    channel = {"type": "object", "additionalProperties": False,
               "required": ["id", "type", "name", "rules", "chargers", "source"],
               "properties": {
                   "id": {"type": "string"}, "type": {"enum": ["webhook", "email"]},
                   "name": {"type": "string"}, "rules": _STRINGS, "chargers": _STRINGS,
                   "source": {"enum": ["api", "admin", "flag"]}, "url": {"type": "string"},
                   "secret_set": {"type": "boolean"},
                   "to": {"type": "array", "items": {"type": "string"}},
                   "smtp": smtp_view}}  # fmt: skip
    smtp = {"type": "object", "required": ["host"], "additionalProperties": False,
            "properties": {"host": {"type": "string", "minLength": 1},
                           "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                           "starttls": {"type": "boolean"}, "tls": {"type": "boolean"},
                           "username": {"type": ["string", "null"]},
                           "password": {"type": ["string", "null"]},
                           "sender": {"type": ["string", "null"]}}}  # fmt: skip
    common = {"name": {"type": "string", "maxLength": 100}, "rules": _STRINGS,
              "chargers": _STRINGS}  # fmt: skip
    create = {"oneOf": [
        {"type": "object", "required": ["type", "url"], "additionalProperties": False,
         "properties": {"type": {"const": "webhook"}, "url": {"type": "string", "format": "uri"},
                        "secret": {"type": "string", "maxLength": 500}, **common}},
        {"type": "object", "required": ["type", "to", "smtp"], "additionalProperties": False,
         "properties": {"type": {"const": "email"}, "smtp": smtp,
                        "to": {"type": "array", "minItems": 1, "items": {"type": "string"}},
                        **common}},
    ], "discriminator": {"propertyName": "type"}}  # fmt: skip
    delivery = _obj({
        "seq": {"type": "integer"}, "channel": {"type": "string"}, "alert": {"type": "string"},
        "event": {"enum": ["opened", "closed"]},
        "status": {"enum": ["pending", "delivered", "cancelled"]},
        "attempts": {"type": "integer", "minimum": 0}, "next_try": _NULL_DT,
        "last_error": {"type": ["string", "null"]}, "created": _DT, "delivered": _NULL_DT,
    })  # fmt: skip
    lists = (("AlertRuleList", "AlertRule"), ("AlertChannelList", "AlertChannel"),
             ("AlertDeliveryList", "AlertDelivery"))  # fmt: skip
    items = {name: _obj({"items": {"type": "array", "items": _ref(item)}}) for name, item in lists}
    page = _obj({"total": {"type": "integer", "minimum": 0},
                 "page": {"type": "integer", "minimum": 1},
                 "per_page": {"type": "integer", "minimum": 1},
                 "items": {"type": "array", "items": _ref("Alert")}})  # fmt: skip
    return {
        "Alert": alert, "AlertPage": page, "AlertRule": rule, "AlertChannel": channel,
        "AlertChannelCreate": create, "AlertDelivery": delivery, **items,
        "AlertAck": _obj({"note": {"type": ["string", "null"], "maxLength": 2000}}, []),
        "AlertRuleChanges": {"type": "object", "additionalProperties": False,
                             "properties": {name: rule_change for name in RULE_NAMES}},
    }  # fmt: skip


def alert_paths() -> dict[str, Any]:
    """The alert routes."""
    tag = ["alerts"]
    return {
        "/ocpp/api/alerts/": {"get": {
            "operationId": "listAlerts", "tags": tag, "summary": "Alerts, newest first",
            "parameters": [
                _query("open", {"enum": ["true", "false"]}, "only open (true) or closed (false)"),
                _query("charger", {"type": "string"}, "only this charger"),
                _query("rule", {"enum": list(RULE_NAMES)}, "only this rule"),
                _query("page", {"type": "integer", "minimum": 1, "default": 1}, "page, from 1"),
                _query("per_page", {"type": "integer", "minimum": 1, "maximum": 500,
                                    "default": 50}, "items per page"),
            ],
            "responses": {**_ok(_ref("AlertPage")), **_errors("400", "401")},
        }},
        "/ocpp/api/alerts/{alert_id}/ack": {
            "parameters": [_path("alert_id", {"type": "string"}, "alert id")],
            "post": {
                "operationId": "acknowledgeAlert", "tags": tag,
                "summary": "Acknowledge an alert with a note",
                "requestBody": _body(_ref("AlertAck")),
                "responses": {**_ok(_ref("Alert")), **_errors("400", "401", "403", "404", "415")},
            },
        },
        "/ocpp/api/alert-rules/": {
            "get": {"operationId": "listAlertRules", "tags": tag,
                    "summary": "Every rule, its thresholds and whether it is on",
                    "responses": {**_ok(_ref("AlertRuleList")), **_errors("401")}},
            "patch": {"operationId": "updateAlertRules", "tags": tag,
                      "summary": "Change thresholds or switch rules on and off",
                      "requestBody": _body(_ref("AlertRuleChanges")),
                      "responses": {**_ok(_ref("AlertRuleList")),
                                    **_errors("400", "401", "403", "415")}},
        },
        "/ocpp/api/alert-channels/": {
            "get": {"operationId": "listAlertChannels", "tags": tag,
                    "summary": "Webhooks and e-mail recipients (secrets are never shown)",
                    "responses": {**_ok(_ref("AlertChannelList")), **_errors("401")}},
            "post": {"operationId": "createAlertChannel", "tags": tag,
                     "summary": "Add a webhook or an e-mail channel",
                     "requestBody": _body(_ref("AlertChannelCreate")),
                     "responses": {**_ok(_ref("AlertChannel"), "201", "Created"),
                                   **_errors("400", "401", "403", "415")}},
        },
        "/ocpp/api/alert-channels/{channel_id}/": {
            "parameters": [_path("channel_id", {"type": "string"}, "channel id")],
            "delete": {"operationId": "deleteAlertChannel", "tags": tag,
                       "summary": "Remove a channel (its undelivered deliveries are cancelled)",
                       "responses": {"204": {"description": "Deleted"},
                                     **_errors("401", "403", "404")}},
        },
        "/ocpp/api/alert-deliveries/": {"get": {
            "operationId": "listAlertDeliveries", "tags": tag,
            "summary": "The newest deliveries: state, attempts, last error",
            "parameters": [_query("limit", {"type": "integer", "minimum": 1, "maximum": 500,
                                            "default": 50}, "how many")],
            "responses": {**_ok(_ref("AlertDeliveryList")), **_errors("400", "401")},
        }},
        "/ocpp/api/transactions/{tx_id}/close": {
            "parameters": [_path("tx_id", {"type": "integer", "minimum": 0}, "transaction id")],
            "post": {"operationId": "closeTransaction", "tags": ["sessions"],
                     "summary": "Close an open (stale) session with the energy of its last "
                     "register reading (anomaly closed_by_operator)",
                     "requestBody": {"required": False, "content": {"application/json": {
                         "schema": _obj({}, description="no fields")}}},
                     "responses": {**_ok(_ref("Transaction")),
                                   **_errors("400", "401", "403", "404", "409", "415")}},
        },
        "/metrics": {"get": {
            "operationId": "metrics", "tags": ["meta"],
            "summary": "Prometheus metrics (text exposition format)",
            "responses": {"200": {"description": "Prometheus text format",
                                  "content": {"text/plain": {"schema": {"type": "string"}}}},
                          **_errors("401")},
        }},
    }  # fmt: skip
