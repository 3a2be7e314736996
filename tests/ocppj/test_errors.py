"""OCPP-J 1.6 CALLERROR codes and OcppError (ocppj.errors)."""

from __future__ import annotations

import pytest

from ocppj import errors
from ocppj.errors import ERROR_CODES, OcppError

# OCPP-J 1.6, section 4.2.3 (CallError): the only valid error codes.
SPEC_CODES = {
    "NotImplemented", "NotSupported", "InternalError", "ProtocolError", "SecurityError",
    "FormationViolation", "PropertyConstraintViolation", "OccurenceConstraintViolation",
    "TypeConstraintViolation", "GenericError",
}  # fmt: skip


def test_the_codes_are_exactly_the_spec_ones_with_its_spelling():
    assert ERROR_CODES == SPEC_CODES
    assert errors.OCCURENCE_CONSTRAINT_VIOLATION == "OccurenceConstraintViolation"
    assert "OccurrenceConstraintViolation" not in ERROR_CODES


@pytest.mark.parametrize("code", sorted(SPEC_CODES))
def test_an_error_carries_its_code_description_and_details(code):
    error = OcppError(code, "what went wrong", {"field": "idTag"})
    assert (error.code, error.description, error.details) == (
        code, "what went wrong", {"field": "idTag"},
    )  # fmt: skip
    assert str(error) == f"{code}: what went wrong"


def test_details_default_to_a_fresh_empty_dict():
    first, second = OcppError(errors.GENERIC_ERROR), OcppError(errors.GENERIC_ERROR)
    assert (first.description, first.details) == ("", {})
    first.details["x"] = 1
    assert second.details == {}


@pytest.mark.parametrize(
    "code", ["OccurrenceConstraintViolation", "notimplemented", "NotImplemented ", "", "Timeout"]
)
def test_anything_else_is_not_an_error_code(code):
    with pytest.raises(ValueError, match=r"not an OCPP 1\.6 error code"):
        OcppError(code, "x")
