"""Secrets never reach a log: the charger's AuthorizationKey (OCPP_RULES 20).

An operator may send a charger its new key with ChangeConfiguration
``AuthorizationKey``; the frame is logged and the command stored like any
other, but with the value replaced.
"""

from __future__ import annotations

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
    if action != "ChangeConfiguration" or not any(key in text for key in SECRET_KEYS):
        return text
    try:
        frame = orjson.loads(text)
        frame[3] = redact_payload(action, frame[3])
    except (orjson.JSONDecodeError, IndexError, TypeError, AttributeError):
        return text
    return orjson.dumps(frame).decode()
