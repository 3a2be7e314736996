"""The sites of load management in the OpenAPI document: paths, schemas, and the
charger fields load management adds (``extend`` is called by ``build_openapi``)."""

from __future__ import annotations

from typing import Any

# The same shapes as handlers.api.openapi (which imports this module).
NULL_DATETIME = {"type": ["string", "null"], "format": "date-time"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _null(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": [kind, "null"], **extra}


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": props,
            "required": list(props) if required is None else required,
            "additionalProperties": False}  # fmt: skip


def _ok(schema: dict[str, Any], description: str = "OK", status: str = "200") -> dict:
    return {
        status: {"description": description, "content": {"application/json": {"schema": schema}}}
    }


def _errors(*codes: str) -> dict[str, Any]:
    names = {"400": "BadRequest", "401": "Unauthorized", "403": "Forbidden", "404": "NotFound",
             "409": "Conflict", "415": "UnsupportedMediaType"}  # fmt: skip
    return {code: {"$ref": f"#/components/responses/{names[code]}"} for code in codes}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"},
            "description": description}  # fmt: skip


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}  # fmt: skip


_SITE = _path_param("site", "site id")
_SITE_ID = {
    "type": "string",
    "minLength": 1,
    "maxLength": 48,
    "pattern": "^[A-Za-z0-9][A-Za-z0-9_.\\-]*$",
}
_CHANGES = {
    "name": {"type": "string", "minLength": 1, "maxLength": 100},
    "limit_a": _null("number", minimum=0, maximum=10000,
                     description="amps per phase; give this or limit_w"),
    "limit_w": _null("number", minimum=0, maximum=10000000, description="watts"),
    "phases": {"enum": [1, 3], "default": 3},
    "voltage": _null("number", minimum=100, maximum=1000, default=230),
    "reserve_a": _null("number", minimum=0, maximum=10000, default=0,
                       description="amps per phase kept for other loads"),
    "parent": {**_SITE_ID, "type": ["string", "null"],
               "description": "the site this one is a circuit of"},
    "tariff": _null("string", maxLength=100),
    "timezone": {"type": "string", "maxLength": 64, "default": "UTC",
                 "description": "IANA time zone name"},
}  # fmt: skip
_SHARE = _obj({
    "charger": {"type": "string"}, "connector": {"type": "integer"},
    "transaction": _null("integer"),
    "limit_a": {"type": "number", "description": "amps per phase; 0 = paused"},
    "measured_a": _null("number"),
    "state": _null("string", description="sent, unchanged, held, waiting, paused, failed or "
                   "rejecting (counted at full rating)"),
})  # fmt: skip
_SITE_PROPS: dict[str, Any] = {
    "id": {"type": "string"}, "name": {"type": "string"},
    "limit_a": _null("number"), "limit_w": _null("number"), "phases": {"enum": [1, 3]},
    "voltage": {"type": "number"}, "reserve_a": {"type": "number"},
    "parent": _null("string"), "tariff": _null("string"), "timezone": {"type": "string"},
    "capacity_a": {"type": "number", "description": "amps per phase the chargers share"},
    "created": NULL_DATETIME, "updated": NULL_DATETIME,
    "chargers": {"type": "array", "items": {"type": "string"}},
}  # fmt: skip
_DETAIL_PROPS: dict[str, Any] = {
    **_SITE_PROPS,
    "children": {"type": "array", "items": {"type": "string"}},
    "allocated_a": {"type": "number", "description": "sum of the limits (amps per phase)"},
    "measured_a": _null("number", description="sum of what the connectors draw"),
    "allocated_ts": NULL_DATETIME,
    "shares": {"type": "array", "items": _ref("SiteShare")},
}  # fmt: skip
SCHEMAS: dict[str, Any] = {
    "Site": _obj(_SITE_PROPS),
    "SiteDetail": _obj(_DETAIL_PROPS),
    "SiteShare": _SHARE,
    "SiteList": _obj({"total": {"type": "integer"},
                      "items": {"type": "array", "items": _ref("Site")}}),
    "SiteCreate": _obj({"id": _SITE_ID, **_CHANGES}, required=["id"]),
    "SiteChanges": _obj(_CHANGES, required=[]),
    "SiteDeleted": _obj({"deleted": {"type": "string"},
                         "chargers": {"type": "array", "items": {"type": "string"}}}),
    "Allocation": _obj({
        "ts": {"type": "string", "format": "date-time"},
        "reason": {"type": "array", "items": {"type": "string"}},
        "capacity_a": _null("number"), "allocated_a": _null("number"),
        "measured_a": _null("number"), "shares": {"type": "array", "items": _ref("SiteShare")},
    }),
    "AllocationList": _obj({"site": {"type": "string"},
                            "items": {"type": "array", "items": _ref("Allocation")}}),
}  # fmt: skip
PATHS: dict[str, Any] = {
    "/ocpp/api/sites/": {
        "get": {"operationId": "listSites", "tags": ["sites"], "summary": "Every site",
                "responses": {**_ok(_ref("SiteList")), **_errors("401")}},
        "post": {
            "operationId": "createSite", "tags": ["sites"],
            "summary": "Add a site (limit_a with phases and voltage, or limit_w)",
            "requestBody": _body(_ref("SiteCreate")),
            "responses": {**_ok(_ref("SiteDetail"), "Created", "201"),
                          **_errors("400", "401", "403", "409", "415")},
        },
    },
    "/ocpp/api/sites/{site}/": {
        "parameters": [_SITE],
        "get": {"operationId": "getSite", "tags": ["sites"],
                "summary": "The site, its chargers, allocated and measured load, shares",
                "responses": {**_ok(_ref("SiteDetail")), **_errors("401", "404")}},
        "patch": {
            "operationId": "updateSite", "tags": ["sites"],
            "summary": "Change the given fields; a new limit applies within seconds",
            "requestBody": _body(_ref("SiteChanges")),
            "responses": {**_ok(_ref("SiteDetail")), **_errors("400", "401", "403", "404", "415")},
        },
        "delete": {
            "operationId": "deleteSite", "tags": ["sites"],
            "summary": "Delete the site; its chargers leave it and their limits are cleared",
            "responses": {**_ok(_ref("SiteDeleted")), **_errors("401", "403", "404", "409")},
        },
    },
    "/ocpp/api/sites/{site}/allocations/": {
        "parameters": [_SITE],
        "get": {
            "operationId": "listSiteAllocations", "tags": ["sites"],
            "summary": "The newest allocation decisions, oldest first (the live chart)",
            "parameters": [_query("limit", {"type": "integer", "minimum": 1, "maximum": 1000},
                                  "how many (default 200)")],
            "responses": {**_ok(_ref("AllocationList")), **_errors("400", "401", "404")},
        },
    },
}  # fmt: skip
# What load management adds to a charger (views.charger_view, PATCH /ocpp/chargers/<cid>/).
CHARGER_PROPS = {
    "site": _null("string", description="the site of load management"),
    "max_current_a": _null("number", description="a connector's rating in A (default 32)"),
    "profiles_rejected": {"type": "boolean",
                          "description": "rejects charging profiles: counted at full rating"},
}  # fmt: skip
CHARGER_CHANGES = {
    "site": {**_SITE_ID, "type": ["string", "null"], "description": "null leaves the site"},
    "max_current_a": _null("number", minimum=6, maximum=1000),
}


def extend(document: dict[str, Any]) -> None:
    """Add the sites' paths and schemas, and the chargers' site fields, to ``document``."""
    document["paths"].update(PATHS)
    schemas = document["components"]["schemas"]
    schemas.update(SCHEMAS)
    for name in ("Charger", "ChargerDetail"):
        schemas[name]["properties"].update(CHARGER_PROPS)
        schemas[name]["required"].extend(CHARGER_PROPS)
    schemas["ChargerChanges"]["properties"].update(CHARGER_CHANGES)
