"""One remote operation on its way, as the functional blocks' hooks see it.

``csms.remote`` parses the operator's parameters and builds a ``Request``; a
block's ``prepare`` hook completes the payload from the database (or refuses with
ParameterError/Refused before anything is sent) and its ``apply`` hook uses the
charger's answer (``csms.registry.Outcome``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from csms.services import Services


@dataclass(slots=True)
class Request:
    """One remote operation on its way: checked values, the payload, scratch space."""

    services: Services
    charger_id: str
    action: str
    values: dict[str, Any]
    payload: dict[str, Any]
    now: datetime
    meta: dict[str, Any] = field(default_factory=dict)  # extra fields of the command doc
    scratch: dict[str, Any] = field(default_factory=dict)
