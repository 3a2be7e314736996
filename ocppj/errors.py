"""OCPP-J 1.6 CALLERROR codes (OCPP_RULES 3) and the exception that carries one."""

from __future__ import annotations

from typing import Any

NOT_IMPLEMENTED = "NotImplemented"
NOT_SUPPORTED = "NotSupported"
INTERNAL_ERROR = "InternalError"
PROTOCOL_ERROR = "ProtocolError"
SECURITY_ERROR = "SecurityError"
FORMATION_VIOLATION = "FormationViolation"
PROPERTY_CONSTRAINT_VIOLATION = "PropertyConstraintViolation"
# The 1.6 spelling (JE 5.1); do not "fix" it.
OCCURENCE_CONSTRAINT_VIOLATION = "OccurenceConstraintViolation"
TYPE_CONSTRAINT_VIOLATION = "TypeConstraintViolation"
GENERIC_ERROR = "GenericError"

ERROR_CODES = frozenset(
    {
        NOT_IMPLEMENTED,
        NOT_SUPPORTED,
        INTERNAL_ERROR,
        PROTOCOL_ERROR,
        SECURITY_ERROR,
        FORMATION_VIOLATION,
        PROPERTY_CONSTRAINT_VIOLATION,
        OCCURENCE_CONSTRAINT_VIOLATION,
        TYPE_CONSTRAINT_VIOLATION,
        GENERIC_ERROR,
    }
)


class OcppError(Exception):
    """An error that is answered to the peer as a CALLERROR."""

    def __init__(self, code: str, description: str = "", details: dict[str, Any] | None = None):
        if code not in ERROR_CODES:
            raise ValueError(f"not an OCPP 1.6 error code: {code}")
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.details = details or {}
