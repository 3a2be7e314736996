"""Sites of load management: checking a site's fields, and what a site page shows.

The API and the admin forms both go through ``site_fields`` (ParameterError naming
the field) and ``check_parent`` (a parent must exist and never make a cycle).
"""

from __future__ import annotations

import math
import re
import zoneinfo
from collections.abc import Mapping
from typing import Any

from csms.load_allocation import site_capacity_a
from csms.remote_params import ParameterError
from csms.services import Services

SITE_ID_MAX = 48
NAME_MAX = 100
TARIFF_MAX = 100
MAX_LIMIT_A = 10_000.0
MAX_LIMIT_W = 10_000_000.0
_SITE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
DEFAULTS: dict[str, Any] = {
    "limit_a": None,
    "limit_w": None,
    "phases": 3,
    "voltage": 230,
    "reserve_a": 0,
    "parent": None,
    "tariff": None,
    "timezone": "UTC",
}
FIELDS = ("id", "name", *DEFAULTS)


def site_id(value: Any, field: str = "id") -> str:
    """A site id: 1-48 letters, digits, ``-``, ``_`` or ``.``, starting with a letter or
    digit (it is a path segment)."""
    if not isinstance(value, str) or not value:
        raise ParameterError(field, "is required: a string")
    if len(value) > SITE_ID_MAX:
        raise ParameterError(field, f"at most {SITE_ID_MAX} characters")
    if not _SITE_ID.match(value):
        raise ParameterError(field, "letters, digits, '-', '_' and '.' only")
    return value


def _number(body: Mapping[str, Any], name: str, low: float, high: float) -> float | int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ParameterError(name, "must be a number")
    if not low <= value <= high:
        raise ParameterError(name, f"must be between {low:g} and {high:g}")
    return value


def _text(body: Mapping[str, Any], name: str, max_length: int) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ParameterError(name, "must be a string or null")
    if len(value) > max_length:
        raise ParameterError(name, f"at most {max_length} characters")
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise ParameterError(name, "must not contain control characters")
    return value


def timezone_name(value: Any) -> str:
    """An IANA time zone name (``Europe/Berlin``), checked with zoneinfo."""
    if not isinstance(value, str) or not value or len(value) > 64:
        raise ParameterError("timezone", "must be an IANA time zone name, e.g. Europe/Berlin")
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ParameterError("timezone", f"unknown time zone {value[:64]!r}") from None
    return value


def site_fields(
    body: Mapping[str, Any], current: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The stored fields of a site from a request body: all of them for a new site
    (``current`` None, absent ones get their defaults), only the given ones for a change.
    Exactly one of ``limit_a`` and ``limit_w`` is set afterwards; giving one clears the
    other."""
    for name in body:
        if name not in FIELDS:
            raise ParameterError(str(name)[:60], f"unknown field (known: {', '.join(FIELDS)})")
    if "id" in body and current is not None and body["id"] != current["_id"]:
        raise ParameterError("id", "the id of a site cannot change")
    fields: dict[str, Any] = {}
    if "name" in body:
        name = _text(body, "name", NAME_MAX)
        if name is None or not name.strip():
            raise ParameterError("name", "must not be empty")
        fields["name"] = name.strip()
    if body.get("limit_a") is not None and body.get("limit_w") is not None:
        raise ParameterError("limit_w", "give limit_a or limit_w, not both")
    for name, high in (("limit_a", MAX_LIMIT_A), ("limit_w", MAX_LIMIT_W)):
        if name in body:
            value = _number(body, name, 0, high)
            if value is not None:
                fields["limit_a"], fields["limit_w"] = None, None
                fields[name] = value
    if "phases" in body:
        if body["phases"] not in (1, 3) or isinstance(body["phases"], bool):
            raise ParameterError("phases", "must be 1 or 3")
        fields["phases"] = body["phases"]
    if "voltage" in body:
        fields["voltage"] = _number(body, "voltage", 100, 1000) or DEFAULTS["voltage"]
    if "reserve_a" in body:
        fields["reserve_a"] = _number(body, "reserve_a", 0, MAX_LIMIT_A) or 0
    if "parent" in body:
        fields["parent"] = None if body["parent"] is None else site_id(body["parent"], "parent")
    if "tariff" in body:
        fields["tariff"] = _text(body, "tariff", TARIFF_MAX)
    if "timezone" in body:
        fields["timezone"] = timezone_name(body["timezone"])
    merged = {**DEFAULTS, **(current or {}), **fields}
    if merged["limit_a"] is None and merged["limit_w"] is None:
        raise ParameterError("limit_a", "give limit_a (amps per phase) or limit_w (watts)")
    if current is None:
        return {key: merged[key] for key in DEFAULTS} | {"name": merged.get("name")}
    return fields


async def check_parent(services: Services, site: str, parent: str | None) -> None:
    """ParameterError on ``parent`` unless it is None or an existing site that is not
    ``site`` itself nor beneath it."""
    if parent is None:
        return
    sites = {doc["_id"]: doc for doc in await services.sites.all()}
    if parent not in sites:
        raise ParameterError("parent", f"no site {parent!r}")
    seen = set()
    current: str | None = parent
    while current is not None and current in sites and current not in seen:
        if current == site:
            raise ParameterError("parent", "a site cannot be inside itself")
        seen.add(current)
        current = sites[current].get("parent")


async def check_references(services: Services, site: str, fields: Mapping[str, Any]) -> None:
    """ParameterError naming ``parent`` or ``tariff`` when the new values name no site
    (or make a cycle) or no tariff; fields that are not given are not checked."""
    if "parent" in fields:
        await check_parent(services, site, fields["parent"])
    tariff = fields.get("tariff")
    if tariff is not None and await services.tariffs.current(tariff) is None:
        raise ParameterError("tariff", f"no tariff {str(tariff)[:60]!r}")


def site_view(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A site as the API shows it; ``capacity_a``: amps per phase the chargers share."""
    return {
        "id": doc["_id"],
        "name": doc.get("name") or doc["_id"],
        **{key: doc.get(key, default) for key, default in DEFAULTS.items()},
        "capacity_a": round(site_capacity_a(doc), 2),
        "created": doc.get("created"),
        "updated": doc.get("updated"),
    }


def share_view(row: Mapping[str, Any]) -> dict[str, Any]:
    """One connector's share in an allocation."""
    return {
        "charger": row["charger"],
        "connector": row["connector"],
        "transaction": row.get("transaction"),
        "limit_a": row["limit_a"],
        "measured_a": row.get("measured_a"),
        "state": row.get("state"),
    }


def allocation_view(doc: Mapping[str, Any]) -> dict[str, Any]:
    """One stored decision (the chart's points)."""
    return {
        "ts": doc["ts"],
        "reason": doc.get("reason") or [],
        "capacity_a": doc.get("capacity_a"),
        "allocated_a": doc.get("allocated_a"),
        "measured_a": doc.get("measured_a"),
        "shares": [share_view(row) for row in doc.get("connectors") or []],
    }


async def site_detail(services: Services, doc: Mapping[str, Any]) -> dict[str, Any]:
    """A site with its chargers, child sites and the newest allocation."""
    site = doc["_id"]
    chargers = (await services.sites.charger_ids_in([site]))[site]
    children = sorted(child["_id"] for child in await services.sites.children(site))
    latest = await services.allocations.latest(site)
    return {
        **site_view(doc),
        "chargers": chargers,
        "children": children,
        "allocated_a": latest["allocated_a"] if latest else 0.0,
        "measured_a": latest["measured_a"] if latest else None,
        "allocated_ts": latest["ts"] if latest else None,
        "shares": [share_view(row) for row in latest["connectors"]] if latest else [],
    }


async def check_site(services: Services, fields: Mapping[str, Any]) -> None:
    """ParameterError on ``site`` when a charger's change names a site that does not
    exist (None leaves the site)."""
    site = fields.get("site")
    if site is not None and await services.sites.get(site) is None:
        raise ParameterError("site", f"no site {site!r}")
