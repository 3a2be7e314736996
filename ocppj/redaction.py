"""Secrets never reach a log: the charger's AuthorizationKey (OCPP_RULES 20).

An operator may send a charger its new key with ChangeConfiguration
``AuthorizationKey``; the frame is logged and the command stored like any
other, but with the value replaced. The key is write-only, yet a charger may
still report it in its GetConfiguration reply: that value is replaced too, in
the logged frame, the stored command and the configuration we keep.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

REDACTED = "***"
SECRET_KEYS = frozenset({"AuthorizationKey"})


def redact_payload(action: str | None, payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` with secret configuration values replaced (a copy when changed)."""
    if action == "ChangeConfiguration" and payload.get("key") in SECRET_KEYS:
        return {**payload, "value": REDACTED}
    return payload


def redact_frame(action: str | None, text: str) -> str:
    """A CALL frame's text with secret values replaced; other frames unchanged."""
    if action != "ChangeConfiguration":
        return text
    return _rewrite(text, 3, lambda payload: redact_payload(action, payload))


def redact_reply(action: str | None, payload: dict[str, Any]) -> dict[str, Any]:
    """A CALLRESULT payload with reported secret values replaced (a copy when changed)."""
    items = payload.get("configurationKey") if action == "GetConfiguration" else None
    if not isinstance(items, list) or not any(_secret_item(item) for item in items):
        return payload
    redacted = [{**item, "value": REDACTED} if _secret_item(item) else item for item in items]
    return {**payload, "configurationKey": redacted}


def redact_reply_frame(action: str | None, text: str) -> str:
    """A CALLRESULT frame's text with reported secret values replaced."""
    if action != "GetConfiguration":
        return text
    return _rewrite(text, 2, lambda payload: redact_reply(action, payload))


def _rewrite(text: str, index: int, redact: Callable[[Any], Any]) -> str:
    """``text`` with the frame's element ``index`` redacted; unchanged when no secret key
    is named in it or it cannot be read."""
    if not any(key in text for key in SECRET_KEYS):
        return text
    try:
        frame = orjson.loads(text)
        frame[index] = redact(frame[index])
    except (orjson.JSONDecodeError, IndexError, TypeError, AttributeError):
        return text
    return orjson.dumps(frame).decode()


def _secret_item(item: object) -> bool:
    return isinstance(item, dict) and item.get("key") in SECRET_KEYS and "value" in item
