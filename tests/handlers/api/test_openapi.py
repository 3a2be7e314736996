"""The OpenAPI document: it matches the application's routes, is well-formed, and real
responses validate against its schemas."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
import tornado.web
from jsonschema import Draft202012Validator, FormatChecker
from ocpp.v16 import call as ocpp_call

from handlers.api.index import NotFoundHandler
from handlers.api.openapi import ACTION_PATH, build_openapi
from handlers.base import APIHandler
from tests.charge_points import ocpp_charge_point
from tests.handlers.api.support import call, data

# Documented before its handler exists: the lead wires the action route (csms/remote.py).
PENDING: set = set()
API_PREFIXES = ("/ocpp/api/", "/ocpp/chargers/")
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_GROUP = re.compile(r"\(\?P<(\w+)>[^()]*\)")


def template_of(pattern: str) -> str:
    """``/ocpp/chargers/(?P<cid>[^/]+)/$`` -> ``/ocpp/chargers/{cid}/``."""
    path = _GROUP.sub(r"{\1}", pattern.removesuffix("$"))
    return path.replace("\\.", ".").replace("\\-", "-")


def implemented(cls: type) -> set[str]:
    """The HTTP methods a handler class implements."""
    return {
        method.lower() for method in cls.SUPPORTED_METHODS
        if getattr(cls, method.lower()) is not getattr(tornado.web.RequestHandler, method.lower())
    }  # fmt: skip


def api_routes(app: tornado.web.Application) -> set[tuple[str, str]]:
    """(path template, method) of every API route: APIHandler subclasses, and anything
    under the API prefixes."""
    found = set()
    for rule in app.wildcard_router.rules:
        regex = getattr(rule.matcher, "regex", None)
        target = rule.target
        if regex is None or not isinstance(target, type):
            continue
        path = template_of(regex.pattern)
        if target is NotFoundHandler:  # the catch-all JSON 404 serves no operation
            continue
        if issubclass(target, APIHandler) or path.startswith(API_PREFIXES):
            assert not re.search(r"[()\[\]\\*+?|^$]", path), f"named groups only: {path}"
            found.update((path, method) for method in implemented(target))
    return found


def documented(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (path, method) for path, item in doc["paths"].items() for method in item
        if method in HTTP_METHODS
    }  # fmt: skip


def test_document_and_routes_match(app):
    doc = build_openapi()
    routes = api_routes(app)
    assert ("/ocpp/api/rfid/{tag}/", "patch") in routes  # the walk sees the real table
    assert routes - documented(doc) == set(), "routes missing from the OpenAPI document"
    assert documented(doc) - routes <= PENDING, "documented paths without a route"


def test_path_parameters_match_the_templates():
    doc = build_openapi()
    for path, item in doc["paths"].items():
        names = set(re.findall(r"{(\w+)}", path))
        for method in set(item) & set(HTTP_METHODS):
            params = item.get("parameters", []) + item[method].get("parameters", [])
            in_path = {p["name"] for p in params if p["in"] == "path"}
            assert in_path == names, (path, method)
            assert all(p["required"] for p in params if p["in"] == "path")
            query = [p["name"] for p in params if p["in"] == "query"]
            assert len(query) == len(set(query)), (path, method)


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in refs(value)]
    return []


def resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def test_document_structure():
    doc = build_openapi(server_url="https://csms.example/")
    assert doc["openapi"].startswith("3.1.")
    assert doc["info"]["title"] and doc["info"]["version"]
    assert doc["servers"] == [{"url": "https://csms.example"}]
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert schemes["basicAuth"]["scheme"] == "basic"
    assert (schemes["cookieAuth"]["in"], schemes["cookieAuth"]["name"]) == ("cookie", "csms_user")
    assert doc["security"] == [{"bearerAuth": []}, {"basicAuth": []}, {"cookieAuth": []}]
    operation_ids = []
    for path, item in doc["paths"].items():
        # Actions on a resource end in their verb (alert ack, transaction close); /metrics
        # is Prometheus' conventional path.
        assert path.startswith("/") and (
            path.endswith(("/", ".csv", ".json", "/ack", "/close")) or path == "/metrics"
        )
        for method in set(item) & set(HTTP_METHODS):
            operation = item[method]
            operation_ids.append(operation["operationId"])
            assert operation["summary"]
            responses = operation["responses"]
            assert responses and "401" in responses, (path, method)
            for status, response in responses.items():
                assert re.fullmatch(r"[1-5]\d\d", status)
                response = resolve(doc, response["$ref"]) if "$ref" in response else response
                assert response["description"]
                if int(status) >= 400:
                    schema = response["content"]["application/json"]["schema"]
                    if path == ACTION_PATH and status in ("409", "504"):
                        # not connected / timeout: the outcome, with the stored command id
                        assert schema == {"$ref": "#/components/schemas/ActionOutcome"}
                    else:
                        assert schema == {"$ref": "#/components/schemas/Error"}
            if method in ("post", "put", "patch"):
                assert operation["requestBody"]["content"]["application/json"]["schema"]
                assert "415" in responses and "400" in responses and "403" in responses
    assert len(operation_ids) == len(set(operation_ids))
    for ref in refs(doc):
        assert resolve(doc, ref) is not None
    for schema in doc["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def test_action_hook_builds_one_variant_per_operation():
    reset = {"type": "object", "properties": {"type": {"enum": ["Hard", "Soft"]}},
             "required": ["type"], "additionalProperties": False}  # fmt: skip
    doc = build_openapi({"reset": reset, "remote_stop": {"type": "object", "properties": {},
                                                         "required": []}})  # fmt: skip
    body = doc["paths"][ACTION_PATH]["post"]["requestBody"]["content"]["application/json"]
    validator = Draft202012Validator(body["schema"])
    assert validator.is_valid({"action": "reset", "type": "Soft"})
    assert validator.is_valid({"action": "remote_stop"})
    assert not validator.is_valid({"action": "reset"})
    assert not validator.is_valid({"action": "reset", "type": "Soft", "extra": 1})
    assert not validator.is_valid({"action": "explode"})
    assert reset["properties"] == {"type": {"enum": ["Hard", "Soft"]}}  # not mutated


def test_action_hook_accepts_the_remote_operations():
    remote = pytest.importorskip("csms.remote")
    schemas = {name: op["parameters"] for name, op in remote.describe_operations().items()}
    doc = build_openapi(schemas)
    body = doc["paths"][ACTION_PATH]["post"]["requestBody"]["content"]["application/json"]
    Draft202012Validator.check_schema(body["schema"])
    assert len(body["schema"]["oneOf"]) == len(schemas)


# Responses validate against the document.

_OUR_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def checker() -> FormatChecker:
    """Date-times as the API writes them: UTC, milliseconds, Z."""
    formats = FormatChecker()
    formats.checks("date-time")(lambda value: not isinstance(value, str)
                                or bool(_OUR_DATETIME.match(value)))  # fmt: skip
    return formats


def assert_documented(doc, path: str, method: str, response) -> None:
    """The response's status is documented for the operation and its body fits the schema."""
    documented_ = doc["paths"][path][method]["responses"]
    assert str(response.code) in documented_, (path, method, response.code)
    entry = documented_[str(response.code)]
    entry = resolve(doc, entry["$ref"]) if "$ref" in entry else entry
    schema = entry["content"]["application/json"]["schema"]
    validator = Draft202012Validator(
        {"allOf": [schema], "components": doc["components"]}, format_checker=checker()
    )
    errors = [
        f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data(response))
    ]
    assert errors == [], (path, method, errors)


@pytest.mark.gen_test(timeout=30)
async def test_real_responses_fit_the_document(http_url, ws_url, auth_headers, services):
    doc = data(await call(http_url, "/ocpp/api/openapi.json", headers=auth_headers))
    assert doc["servers"] == [{"url": http_url("")}]
    assert documented(doc) == documented(build_openapi())
    now = datetime(2026, 1, 1, tzinfo=UTC)
    await services.chargers.create("OFF", {"latitude": 1.5, "longitude": 2.5}, now)
    await services.rfid.upsert("T1", expiry=now, parent_id_tag="P")
    h = auth_headers
    async with ocpp_charge_point(ws_url("/CP1/"), "CP1") as cp:
        await cp.call(ocpp_call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        await cp.call(ocpp_call.StatusNotification(connector_id=1, error_code="NoError",
                                                   status="Charging", info="i"))  # fmt: skip
        start = await cp.call(
            ocpp_call.StartTransaction(
                connector_id=1, id_tag="T1", meter_start=0, timestamp="2026-01-01T00:00:00Z"
            )
        )
        await cp.call(
            ocpp_call.MeterValues(
                connector_id=1,
                transaction_id=start.transaction_id,
                meter_value=[
                    {
                        "timestamp": "2026-01-01T00:01:00Z",
                        "sampledValue": [{"value": "0.5", "unit": "kWh"}],
                    }
                ],
            )
        )
        await cp.call(
            ocpp_call.StopTransaction(
                transaction_id=start.transaction_id,
                meter_stop=500,
                timestamp="2026-01-01T00:02:00Z",
            )
        )
        await cp.call(
            ocpp_call.StartTransaction(
                connector_id=2, id_tag="T1", meter_start=0, timestamp="2026-01-01T00:03:00Z"
            )
        )
        checks = [
            ("/ocpp/chargers/", "/ocpp/chargers/", "get", None),
            ("/ocpp/chargers/CP1/", "/ocpp/chargers/{cid}/", "get", None),
            ("/ocpp/chargers/nope/", "/ocpp/chargers/{cid}/", "get", None),
            ("/ocpp/chargers/CP1/?log_limit=x", "/ocpp/chargers/{cid}/", "get", None),
            ("/ocpp/api/transactions/", "/ocpp/api/transactions/", "get", None),
            ("/ocpp/api/transactions/?from=x", "/ocpp/api/transactions/", "get", None),
            ("/ocpp/api/meter-values/?charger=CP1", "/ocpp/api/meter-values/", "get", None),
            ("/ocpp/api/meter-values/", "/ocpp/api/meter-values/", "get", None),
            ("/ocpp/api/rfid/", "/ocpp/api/rfid/", "get", None),
            ("/ocpp/api/rfid/", "/ocpp/api/rfid/", "post", {"id_tag": "T2"}),
            ("/ocpp/api/rfid/", "/ocpp/api/rfid/", "post", {"id_tag": "t2"}),
            ("/ocpp/api/rfid/", "/ocpp/api/rfid/", "post", {"id_tag": "T3", "status": 1}),
            ("/ocpp/api/rfid/T1/", "/ocpp/api/rfid/{tag}/", "get", None),
            ("/ocpp/api/rfid/T1/", "/ocpp/api/rfid/{tag}/", "put", {"label": "x"}),
            ("/ocpp/api/rfid/T1/", "/ocpp/api/rfid/{tag}/", "patch", {"status": "blocked"}),
            ("/ocpp/api/rfid/T9/", "/ocpp/api/rfid/{tag}/", "patch", {"status": "blocked"}),
        ]  # fmt: skip
        statuses = []
        for url, path, method, body in checks:
            response = await call(http_url, url, method=method.upper(), json=body, headers=h)
            statuses.append(response.code)
            assert_documented(doc, path, method, response)
        assert statuses == [200, 200, 404, 400, 200, 400, 200, 400, 200, 201, 409, 400, 200,
                            200, 200, 404]  # fmt: skip
        charger = data(await call(http_url, "/ocpp/chargers/CP1/", headers=h))
        assert charger["boot"] and charger["last_meter_values"] and charger["messages"]
        assert charger["active_transactions"] and charger["connectors"]["1"]["info"] == "i"
    response = await call(http_url, "/ocpp/chargers/")
    assert_documented(doc, "/ocpp/chargers/", "get", response)
    assert response.code == 401
    response = await call(http_url, "/ocpp/api/rfid/T2/", method="DELETE", headers=h)
    assert (
        response.code == 204
        and "204" in doc["paths"]["/ocpp/api/rfid/{tag}/"]["delete"]["responses"]
    )
