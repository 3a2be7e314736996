"""How stored documents look in the JSON API (the shapes handlers/api/openapi.py documents)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from ocppj.timeutil import format_datetime

CONNECTOR_FIELDS = ("status", "error_code", "info", "vendor_id", "vendor_error_code", "ts")
CSV_COLUMNS = (
    "id", "charger", "connector", "id_tag", "start", "stop", "meter_start", "meter_stop",
    "energy_wh", "stop_reason", "status",
    # The stored cost (csms.billing): cost_<amount> and the tariff it was billed with.
    "cost_currency", "cost_energy", "cost_time", "cost_idle", "cost_fee", "cost_adjustment",
    "cost_tax", "cost_total", "tariff", "tariff_version",
)  # fmt: skip


def escaped_path(prefix: str, value: str) -> str:
    """``prefix`` + the percent-encoded value (``/`` too) + ``/``."""
    return f"{prefix}{quote(value, safe='')}/"


def connector_view(doc: dict[str, Any], stale: bool = False) -> dict[str, Any]:
    """One connector's last StatusNotification; ``stale`` while its charger is offline
    (the status is kept for when it returns, but nobody vouches for it now)."""
    return {**{name: doc.get(name) for name in CONNECTOR_FIELDS}, "stale": stale}


def transaction_view(doc: dict[str, Any]) -> dict[str, Any]:
    """A charging session (or an orphan StopTransaction record)."""
    return {
        "id": doc["_id"],
        "kind": doc.get("kind", "session"),
        "charger": doc.get("charger"),
        "connector": doc.get("connector"),
        "id_tag": doc.get("id_tag"),
        "start": doc.get("start_ts"),
        "stop": doc.get("stop_ts"),
        "meter_start": doc.get("meter_start"),
        "meter_stop": doc.get("meter_stop"),
        "energy_wh": doc.get("energy_wh"),
        "energy_claimed_wh": doc.get("energy_claimed_wh"),
        "stop_reason": doc.get("stop_reason"),
        "status": "open" if doc.get("open") else "closed",
        "anomalies": [a.get("kind") for a in doc.get("anomalies") or [] if isinstance(a, dict)],
        "cost": doc.get("cost"),
    }


# A spreadsheet reads a cell starting with one of these as a formula (OWASP, "CSV
# Injection"): such text from a charger or a user is written with a leading quote.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A value as a CSV cell: None empty, times in RFC 3339, formula-like text neutralised."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_row(doc: dict[str, Any]) -> list[Any]:
    """A transaction as a CSV row in ``CSV_COLUMNS`` order."""
    view = transaction_view(doc)
    cost = view["cost"] or {}
    view.update({f"cost_{name}": value for name, value in cost.items()})
    view.update(tariff=cost.get("tariff"), tariff_version=cost.get("version"))
    return [csv_cell(view.get(column)) for column in CSV_COLUMNS]


def charger_view(
    doc: dict[str, Any], *, connected: bool, open_transactions: list[dict[str, Any]],
    public_url: str,
) -> dict[str, Any]:  # fmt: skip
    """A charger and its current state. ``connected`` comes from the live registry; an
    offline charger's connectors are stale and ``offline_since`` says since when."""
    base = public_url.rstrip("/")
    return {
        "id": doc["_id"],
        "name": doc.get("name"),
        "connected": connected,
        "offline_since": None if connected else offline_since(doc),
        "connectors": {
            key: connector_view(value, stale=not connected) for key, value in connector_states(doc)
        },
        "active_transactions": [transaction_view(tx) for tx in open_transactions],
        "last_heartbeat": doc.get("last_heartbeat"),
        "last_seen": doc.get("last_seen"),
        "last_meter_values": doc.get("last_meter_values"),
        "boot": doc.get("boot"),
        "require_rfid": bool(doc.get("require_rfid")),
        "latitude": doc.get("latitude"),
        "longitude": doc.get("longitude"),
        "tariff": doc.get("tariff"),
        "timezone": doc.get("timezone"),
        "site": doc.get("site"),
        "max_current_a": doc.get("max_current_a"),
        "profiles_rejected": bool(doc.get("profiles_rejected")),
        "landing_page": escaped_path(f"{base}/ocpp/c/", doc["_id"]),
        "log_page": escaped_path(f"{base}/ocpp/log/", doc["_id"]),
    }


def offline_since(doc: dict[str, Any]) -> datetime | None:
    """When an offline charger was last heard of (None: never)."""
    return doc.get("last_seen") or doc.get("disconnected_at")


def message_view(doc: dict[str, Any]) -> dict[str, Any]:
    """One exchange of the OCPP message log: the first frame (a CALL, as the text that
    crossed the wire) and ``reply`` (``{ts, frame}`` of its answer, or None)."""
    reply = doc.get("reply")
    return {
        "ts": doc.get("ts"),
        "direction": doc.get("direction"),
        "action": doc.get("action"),
        "unique_id": doc.get("unique_id"),
        "frame": doc.get("frame"),
        "reply": {"ts": reply.get("ts"), "frame": reply.get("frame")} if reply else None,
    }


def meter_value_view(doc: dict[str, Any]) -> dict[str, Any]:
    """One sampled value."""
    meta = doc.get("meta") or {}
    return {
        "ts": doc.get("ts"),
        "charger": meta.get("charger"),
        "connector": meta.get("connector"),
        "transaction": meta.get("transaction"),
        "measurand": meta.get("measurand"),
        "phase": meta.get("phase"),
        "unit": meta.get("unit"),
        "context": meta.get("context"),
        "location": meta.get("location"),
        "value": doc.get("value"),
        "raw": doc.get("raw"),
        "excluded": doc.get("excluded"),
    }


def tag_view(doc: dict[str, Any]) -> dict[str, Any]:
    """An RFID tag."""
    return {
        "id_tag": doc.get("id_tag") or doc["_id"],
        "label": doc.get("label") or "",
        "status": doc.get("status") or "accepted",
        "expiry": doc.get("expiry"),
        "parent_id_tag": doc.get("parent_id_tag"),
        "max_active_transactions": doc.get("max_active_transactions") or 1,
        "tariff": doc.get("tariff"),
    }


def connector_states(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """A charger document's connectors as (key, last StatusNotification), by number
    (keys that are not numbers last); anything that is not a state is skipped."""
    connectors = doc.get("connectors") or {}
    states = [(str(key), value) for key, value in connectors.items() if isinstance(value, dict)]
    return sorted(states, key=lambda item: _number(item[0]))


def _number(key: str) -> tuple[int, str]:
    return (int(key), "") if key.isdigit() else (10**9, key)
