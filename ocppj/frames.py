"""Parse and pack OCPP-J frames (OCPP_RULES 1-5).

A frame is a JSON array: CALL ``[2, id, action, payload]``, CALLRESULT
``[3, id, payload]``, CALLERROR ``[4, id, code, description, details]``.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

from ocppj import errors

MAX_ID_LENGTH = 36
# The id used in a CALLERROR when the offending frame's id cannot be read (P4 4.2.3).
UNKNOWN_ID = "-1"


class MessageType(enum.IntEnum):
    """The first element of every OCPP-J frame."""

    CALL = 2
    CALLRESULT = 3
    CALLERROR = 4


@dataclass(slots=True)
class Call:
    """A request: ``[2, unique_id, action, payload]``."""

    unique_id: str
    action: str
    payload: dict[str, Any]


@dataclass(slots=True)
class CallResult:
    """A successful reply: ``[3, unique_id, payload]``."""

    unique_id: str
    payload: dict[str, Any]


@dataclass(slots=True)
class CallError:
    """An error reply: ``[4, unique_id, code, description, details]``."""

    unique_id: str
    code: str
    description: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Unknown:
    """A well-formed array whose message type id we do not know (ignored, rule 1)."""

    message_type: Any


# What ``parse`` returns.
Frame = Call | CallResult | CallError | Unknown


class FrameError(errors.OcppError):
    """A frame that cannot be processed; ``unique_id`` is what the CALLERROR must carry."""

    def __init__(self, code: str, description: str, unique_id: str = UNKNOWN_ID):
        super().__init__(code, description)
        self.unique_id = unique_id


def new_id() -> str:
    """A fresh message id (36 characters)."""
    return str(uuid.uuid4())


def _valid_id(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH


def parse(text: str | bytes) -> Frame:
    """Parse one frame; raise FrameError with the code and id the reply must use."""
    try:
        frame = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise FrameError(errors.FORMATION_VIOLATION, "frame is not valid JSON") from None
    if not isinstance(frame, list) or not frame:
        raise FrameError(errors.FORMATION_VIOLATION, "frame is not a non-empty JSON array")
    kind = frame[0]
    if kind is True or kind is False or kind not in (2, 3, 4):
        return Unknown(kind)
    unique_id = frame[1] if len(frame) > 1 else None
    if not _valid_id(unique_id):
        raise FrameError(
            errors.FORMATION_VIOLATION,
            f"message id must be a string of 1 to {MAX_ID_LENGTH} characters",
        )
    if kind == MessageType.CALL:
        if len(frame) != 4:
            raise FrameError(errors.FORMATION_VIOLATION, "a CALL has 4 elements", unique_id)
        action, payload = frame[2], frame[3]
        if not isinstance(action, str) or not action:
            raise FrameError(errors.FORMATION_VIOLATION, "action must be a string", unique_id)
        if not isinstance(payload, dict):
            raise FrameError(errors.FORMATION_VIOLATION, "payload must be an object", unique_id)
        return Call(unique_id, action, payload)
    if kind == MessageType.CALLRESULT:
        if len(frame) != 3 or not isinstance(frame[2], dict):
            raise FrameError(
                errors.FORMATION_VIOLATION, "a CALLRESULT is [3, id, {payload}]", unique_id
            )
        return CallResult(unique_id, frame[2])
    if len(frame) != 5 or not isinstance(frame[2], str) or not isinstance(frame[3], str):
        raise FrameError(
            errors.FORMATION_VIOLATION, "a CALLERROR is [4, id, code, description, {}]", unique_id
        )
    details = frame[4] if isinstance(frame[4], dict) else {}
    return CallError(unique_id, frame[2], frame[3], details)


def pack_call(unique_id: str, action: str, payload: dict[str, Any]) -> str:
    """Serialise a CALL."""
    return orjson.dumps([MessageType.CALL, unique_id, action, payload]).decode()


def pack_result(unique_id: str, payload: dict[str, Any]) -> str:
    """Serialise a CALLRESULT."""
    return orjson.dumps([MessageType.CALLRESULT, unique_id, payload]).decode()


def pack_error(
    unique_id: str, code: str, description: str = "", details: dict[str, Any] | None = None
) -> str:
    """Serialise a CALLERROR; always five elements, empty details as ``{}`` (rule 2)."""
    return orjson.dumps(
        [MessageType.CALLERROR, unique_id, code, description, details or {}]
    ).decode()
