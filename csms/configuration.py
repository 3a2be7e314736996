"""Configuration: what GetConfiguration and ChangeConfiguration tell us of a charger.

GetConfiguration fills ``chargers.ocpp_config`` = ``{keys: [{key, value, readonly}],
unknown: [...], ts, command_id}``; an accepted ChangeConfiguration updates the key
there. It is a separate field so the operator's own ``config`` JSON is never
overwritten by what a charger reports. Keys are a sorted list, not an object:
vendor keys may contain ``.`` or ``$``, which MongoDB field names must not.
"""

from __future__ import annotations

from csms.registry import Outcome
from csms.request import Request
from ocppj.redaction import redact_payload


async def reported_config(req: Request) -> tuple[dict[str, dict], list[str]]:
    """The charger's reported keys by name, and the names it said it does not know."""
    charger = await req.services.chargers.get(req.charger_id)
    current = (charger or {}).get("ocpp_config") or {}
    keys = {item["key"]: item for item in current.get("keys", [])}
    return keys, list(current.get("unknown", []))


async def _save_config(req, keys: dict, unknown, command_id: str | None) -> None:
    config = {
        "keys": [keys[name] for name in sorted(keys)],
        "unknown": sorted(set(unknown)),
        "ts": req.now,
        "command_id": command_id,
    }
    await req.services.chargers.update(req.charger_id, {"ocpp_config": config})


async def after_get_configuration(req: Request, outcome: Outcome) -> None:
    """Keep the reported keys: all of them, or merged in when only some were asked for."""
    if not outcome.answered:
        return
    partial = bool(req.payload.get("key"))
    keys, unknown = await reported_config(req) if partial else ({}, [])
    for item in outcome.payload.get("configurationKey", []):
        keys[item["key"]] = {
            "key": item["key"],
            "value": item.get("value"),
            "readonly": item["readonly"],
        }
    reported_unknown = outcome.payload.get("unknownKey", [])
    for name in reported_unknown:
        keys.pop(name, None)
    unknown = [name for name in unknown if name not in keys] + reported_unknown
    await _save_config(req, keys, unknown, outcome.command_id)


async def after_change_configuration(req: Request, outcome: Outcome) -> None:
    """An accepted change (or RebootRequired) updates the key's value in ocpp_config."""
    if not outcome.ok:
        return
    keys, unknown = await reported_config(req)
    name = req.payload["key"]
    item = keys.get(name) or {"key": name, "readonly": False}
    item = {**item, "value": redact_payload(req.action, req.payload)["value"]}
    if outcome.payload.get("status") == "RebootRequired":
        item["reboot_required"] = True
    keys[name] = item
    await _save_config(req, keys, [n for n in unknown if n != name], outcome.command_id)


def config_limit(config_keys: dict[str, dict], name: str) -> int | None:
    """A reported integer key (a list length limit, ...), or None when unknown."""
    value = (config_keys.get(name) or {}).get("value")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
