"""The operation table and parameter checking, without a charger."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from csms.actions import CENTRAL_SYSTEM_ACTIONS
from csms.remote import OPERATIONS, describe_operations, operation, request_body_schema
from csms.remote_params import (
    DATETIME,
    INTEGER,
    OBJECT,
    STRINGS,
    URI,
    Param,
    ParameterError,
    build_payload,
    camel,
    field_for,
    parse_params,
)
from ocppj.validation import SCHEMA_DIR


def test_every_central_system_action_has_exactly_one_operation():
    both_ways = {"DataTransfer"}
    assert {op.action for op in OPERATIONS.values()} == CENTRAL_SYSTEM_ACTIONS | both_ways
    assert len(OPERATIONS) == len(CENTRAL_SYSTEM_ACTIONS) + 1 == 26
    for name in ("remote_start", "remote_stop", "reset", "change_configuration", "get_log"):
        assert name in OPERATIONS


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_parameters_map_onto_the_request_schema(name):
    op = OPERATIONS[name]
    schema = json.loads((SCHEMA_DIR / f"{op.action}.json").read_text())
    for param in op.params:
        if param.target is None:
            continue
        node = schema
        for part in param.target.split("."):
            assert part in node["properties"], (name, param.name)
            node = node["properties"][part]
        if "enum" in node:
            assert set(param.enum) == set(node["enum"]), (name, param.name)
        if "maxLength" in node:
            assert param.max_length == node["maxLength"], (name, param.name)
        if param.required:
            assert param.target.split(".")[-1] in _required_at(schema, param.target)


def _required_at(schema, target):
    *parents, _ = target.split(".")
    node = schema
    for part in parents:
        node = node["properties"][part]
    return node.get("required", [])


def test_operation_lookup_by_snake_or_ocpp_name():
    assert operation("remote_start").action == "RemoteStartTransaction"
    assert operation("RemoteStartTransaction").name == "remote_start"
    with pytest.raises(ParameterError) as raised:
        operation("nope")
    assert raised.value.field == "action"


def test_camel():
    assert camel("connector_id") == "connectorId"
    assert camel("type") == "type"
    assert camel("retrieve_date_time") == "retrieveDateTime"


PARAMS = (
    Param("connector_id", INTEGER, True, minimum=1, maximum=4),
    Param("when", DATETIME),
    Param("where", URI, ocpp="log.remoteLocation", max_length=30),
    Param("keys", STRINGS, max_length=5),
    Param("profile", OBJECT, ocpp="csChargingProfiles"),
    Param("mode", enum=("A", "B"), ocpp=None),
    Param("value", empty_ok=True),
)


def test_values_from_json_and_from_forms():
    values = parse_params(
        PARAMS,
        {
            "connector_id": " 2 ",
            "when": "2026-03-01T12:00:00.123456+02:00",
            "where": "ftp://host/dir",
            "keys": "a, b,,c",
            "profile": '{"x": 1}',
            "mode": "",
            "value": "",
        },
    )
    assert values == {
        "connector_id": 2,
        "when": "2026-03-01T10:00:00.123Z",
        "where": "ftp://host/dir",
        "keys": ["a", "b", "c"],
        "profile": {"x": 1},
        "value": "",
    }
    assert build_payload(PARAMS, values) == {
        "connectorId": 2,
        "when": "2026-03-01T10:00:00.123Z",
        "log": {"remoteLocation": "ftp://host/dir"},
        "keys": ["a", "b", "c"],
        "csChargingProfiles": {"x": 1},
        "value": "",
    }
    aware = datetime(2026, 1, 1, 1, tzinfo=timezone(timedelta(hours=1)))
    assert parse_params(PARAMS, {"connector_id": 3.0, "when": aware}) == {
        "connector_id": 3,
        "when": "2026-01-01T00:00:00.000Z",
    }


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        ({}, "connector_id", "is required"),
        ({"connector_id": None}, "connector_id", "is required"),
        ({"connector_id": 0}, "connector_id", "must be at least 1"),
        ({"connector_id": 5}, "connector_id", "must be at most 4"),
        ({"connector_id": 1.5}, "connector_id", "must be an integer"),
        ({"connector_id": False}, "connector_id", "must be an integer"),
        ({"connector_id": 1, "when": "2026-03-01 12:00"}, "when", "RFC 3339"),
        ({"connector_id": 1, "when": datetime(2026, 1, 1)}, "when", "time zone"),
        ({"connector_id": 1, "where": "/just/a/path"}, "where", "absolute URI"),
        ({"connector_id": 1, "where": "ftp://h/" + "x" * 30}, "where", "longer than 30"),
        ({"connector_id": 1, "keys": "abcdef"}, "keys", "longer than 5"),
        ({"connector_id": 1, "keys": {"a": 1}}, "keys", "list of strings"),
        ({"connector_id": 1, "profile": [1]}, "profile", "JSON object"),
        ({"connector_id": 1, "mode": "C"}, "mode", "one of A, B"),
        ({"connector_id": 1, "value": 5}, "value", "must be a string"),
        ({"connector_id": 1, "extra": 5}, "extra", "unknown parameter"),
    ],
)
def test_bad_values_name_the_field(raw, field, message):
    with pytest.raises(ParameterError) as raised:
        parse_params(PARAMS, raw)
    assert raised.value.field == field
    assert message in raised.value.message


def test_schema_failures_map_back_to_the_parameter():
    assert field_for(PARAMS, "csChargingProfiles.chargingSchedule: expected object") == "profile"
    assert field_for(PARAMS, "missing required field csChargingProfiles.stackLevel") == "profile"
    assert field_for(PARAMS, "log.remoteLocation: longer than 512 characters") == "where"
    assert field_for(PARAMS, "connectorId: expected integer") == "connector_id"
    assert field_for(PARAMS, "payload: expected object") == "payload"


def test_descriptions_for_the_openapi_document():
    described = describe_operations()
    assert set(described) == set(OPERATIONS)
    reset = described["reset"]
    assert reset["action"] == "Reset"
    assert reset["profile"] == "Core"
    assert reset["parameters"] == {
        "type": "object",
        "properties": {"type": {"type": "string", "enum": ["Hard", "Soft"], "default": "Soft"}},
        "required": [],
        "additionalProperties": False,
    }
    start = described["remote_start"]["parameters"]
    assert start["properties"]["connector_id"] == {
        "type": "integer",
        "minimum": 1,
        "description": "connector id",
    }
    assert start["properties"]["id_tag"]["maxLength"] == 20
    assert start["properties"]["charging_profile"]["type"] == "object"
    assert described["get_configuration"]["parameters"]["properties"]["key"] == {
        "type": "array",
        "items": {"type": "string", "maxLength": 50},
        "description": "keys to read",
    }
    body = request_body_schema()
    assert body["discriminator"] == {"propertyName": "action"}
    assert len(body["oneOf"]) == len(OPERATIONS)
    first = body["oneOf"][0]
    assert first["properties"]["action"] == {"type": "string", "enum": [first["title"]]}
    assert first["required"][0] == "action"
    json.dumps(body)  # JSON-ready


def test_datetime_params_accept_utc_now():
    now = datetime.now(UTC)
    (value,) = parse_params((Param("t", DATETIME),), {"t": now.isoformat()}).values()
    assert value.endswith("Z")
