"""Tests for the OCPP 1.6 JSON schemas in ``schemas/``.

1. exactly the expected 78 files exist, each a well-formed draft-04 schema whose
   object nodes all forbid additional properties;
2. every hand-written VALID sample passes and every INVALID mutation fails;
3. cross-check against the independent copies shipped with the ``ocpp`` library:
   both schemas give the same verdict on every sample, except for the explicit
   allow-list of known, spec-justified differences below;
4. the ``ocpp`` library covers the same set of messages.
"""

from __future__ import annotations

import calendar
import json
import pathlib
import re
from functools import cache
from typing import Any

import jsonschema
import ocpp
import pytest

from tests.ocpp_invalid_samples import INVALID
from tests.ocpp_samples import VALID

SCHEMA_DIR = pathlib.Path(__file__).resolve().parent.parent / "schemas"
OCPP_LIB_SCHEMA_DIR = pathlib.Path(ocpp.__file__).parent / "v16" / "schemas"
DRAFT4 = "http://json-schema.org/draft-04/schema#"

CORE_ACTIONS = [
    "Authorize",
    "BootNotification",
    "CancelReservation",
    "ChangeAvailability",
    "ChangeConfiguration",
    "ClearCache",
    "ClearChargingProfile",
    "DataTransfer",
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
    "GetCompositeSchedule",
    "GetConfiguration",
    "GetDiagnostics",
    "GetLocalListVersion",
    "Heartbeat",
    "MeterValues",
    "RemoteStartTransaction",
    "RemoteStopTransaction",
    "ReserveNow",
    "Reset",
    "SendLocalList",
    "SetChargingProfile",
    "StartTransaction",
    "StatusNotification",
    "StopTransaction",
    "TriggerMessage",
    "UnlockConnector",
    "UpdateFirmware",
]
SECURITY_ACTIONS = [
    "CertificateSigned",
    "DeleteCertificate",
    "ExtendedTriggerMessage",
    "GetInstalledCertificateIds",
    "GetLog",
    "InstallCertificate",
    "LogStatusNotification",
    "SecurityEventNotification",
    "SignCertificate",
    "SignedFirmwareStatusNotification",
    "SignedUpdateFirmware",
]
ACTIONS = CORE_ACTIONS + SECURITY_ACTIONS
MESSAGES = sorted([*ACTIONS, *(f"{a}Response" for a in ACTIONS)])

# Known, verified differences between our schemas and the ``ocpp`` library's copies.
# Key: (message, sample label); a VALID sample's label is "valid[<index>]".
# Each entry must really differ (checked by test_allow_list_is_not_stale).
_PERIODS = "OCPP 1.6 ChargingSchedule.chargingSchedulePeriod is 1..*; ocpp copy has no minItems"
KNOWN_DIFFERENCES: dict[tuple[str, str], str] = {
    ("GetCompositeScheduleResponse", "empty chargingSchedulePeriod"): _PERIODS,
    ("RemoteStartTransaction", "empty chargingSchedulePeriod"): _PERIODS,
    ("SetChargingProfile", "empty chargingSchedulePeriod"): _PERIODS,
    # OCPP 1.6 MeterValue.sampledValue is 1..*: the ocpp copy enforces minItems in
    # MeterValues but not in StopTransaction.transactionData.
    ("StopTransaction", "empty transactionData sampledValue"): "MeterValue.sampledValue is 1..*",
    # OCPP 1.6 UnitOfMeasure has no "Hertz" (Measurand Frequency notes 1.6 lacks a frequency
    # unit); the ocpp copy adds it to MeterValues only (not to StopTransaction).
    ("MeterValues", "unit Hertz (not a 1.6 UnitOfMeasure)"): "Hertz is not a 1.6 UnitOfMeasure",
    # Security whitepaper ed. 2: GetInstalledCertificateIds.conf certificateHashData is
    # 0..*; the ocpp copy (OCA style) has minItems 1, rejecting an empty list.
    ("GetInstalledCertificateIdsResponse", "valid[2]"): "certificateHashData is 0..*",
}


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?"
    r"(?:[Zz]|[+-](\d{2}):(\d{2}))$"
)


def is_rfc3339_date_time(value: object) -> bool:
    """RFC 3339 ``date-time`` (section 5.6), including range checks."""
    if not isinstance(value, str):
        return True  # format only constrains strings
    m = _RFC3339.match(value)
    if not m:
        return False
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    if not 1 <= month <= 12:
        return False
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        return False
    if hour > 23 or minute > 59 or second > 60:  # 60: leap second
        return False
    off_h, off_m = m.group(7), m.group(8)
    return off_h is None or (int(off_h) <= 23 and int(off_m) <= 59)


FORMAT_CHECKER = jsonschema.FormatChecker(formats=())
FORMAT_CHECKER.checks("date-time")(is_rfc3339_date_time)


@cache
def load(directory: pathlib.Path, name: str) -> dict[str, Any]:
    return json.loads((directory / f"{name}.json").read_text(encoding="utf-8"))


def validator(directory: pathlib.Path, name: str) -> jsonschema.protocols.Validator:
    """Validator for the schema's declared draft (the ocpp copies of the security
    extension are draft-06); ours are all draft-04 (checked above)."""
    schema = load(directory, name)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft4Validator)
    return cls(schema, format_checker=FORMAT_CHECKER)


def samples(name: str) -> list[tuple[str, Any, bool]]:
    """All samples for ``name`` as ``(label, payload, expected_valid)``."""
    return [(f"valid[{i}]", p, True) for i, p in enumerate(VALID[name])] + [
        (label, p, False) for label, p in INVALID[name]
    ]


def object_nodes(node: Any, path: str = "#"):
    """Yield ``(path, node)`` for every schema node describing an object."""
    if isinstance(node, dict):
        if node.get("type") == "object" or "properties" in node:
            yield path, node
        for key, child in node.items():
            yield from object_nodes(child, f"{path}/{key}")
    elif isinstance(node, list):
        for i, child in enumerate(node):
            yield from object_nodes(child, f"{path}/{i}")


# --------------------------------------------------------------------------
# 1. files & schema well-formedness
# --------------------------------------------------------------------------
def test_exactly_the_expected_files_exist():
    assert len(MESSAGES) == 78
    found = sorted(p.name for p in SCHEMA_DIR.iterdir())
    assert found == sorted(f"{m}.json" for m in MESSAGES)


@pytest.mark.parametrize("name", MESSAGES)
def test_schema_is_well_formed(name):
    text = (SCHEMA_DIR / f"{name}.json").read_text(encoding="utf-8")
    schema = json.loads(text)
    jsonschema.Draft4Validator.check_schema(schema)
    assert schema["$schema"] == DRAFT4
    expected_title = name if name.endswith("Response") else f"{name}Request"
    assert schema["title"] == expected_title
    assert schema["type"] == "object"
    nodes = list(object_nodes(schema))
    assert nodes and nodes[0][0] == "#"
    for path, node in nodes:
        assert node.get("additionalProperties") is False, f"{path} allows extra properties"
        assert set(node.get("required", [])) <= set(node.get("properties", {})), path
    # House style: 2-space indented JSON.
    assert text == json.dumps(schema, indent=2) + "\n"


def test_date_time_checker():
    for good in ("2024-05-01T12:30:00Z", "2024-05-01t12:30:00.123+02:00", "2016-12-31T23:59:60Z"):
        assert is_rfc3339_date_time(good), good
    for bad in (
        "2024-05-01",
        "2024-05-01T12:30:00",
        "2024-05-01 12:30:00Z",
        "2024-13-01T00:00:00Z",
        "2023-02-29T00:00:00Z",
        "2024-05-01T24:00:00Z",
        "2024-05-01T12:30:00+2:00",
        "",
    ):
        assert not is_rfc3339_date_time(bad), bad


def test_samples_cover_every_message():
    assert sorted(VALID) == MESSAGES
    assert sorted(INVALID) == MESSAGES
    assert all(VALID[m] for m in MESSAGES)
    assert all(INVALID[m] for m in MESSAGES)


# --------------------------------------------------------------------------
# 2. our schemas against the samples
# --------------------------------------------------------------------------
@pytest.mark.parametrize("name", MESSAGES)
def test_samples_against_our_schema(name):
    v = validator(SCHEMA_DIR, name)
    wrong = []
    for label, payload, expected in samples(name):
        if v.is_valid(payload) != expected:
            errors = [e.message for e in v.iter_errors(payload)]
            wrong.append(f"{label}: expected {'valid' if expected else 'invalid'} {errors}")
    assert not wrong, "\n".join(wrong)


# --------------------------------------------------------------------------
# 3./4. cross-check with the ocpp library's independent copies
# --------------------------------------------------------------------------
def test_ocpp_library_has_the_same_messages():
    theirs = sorted(p.stem for p in OCPP_LIB_SCHEMA_DIR.glob("*.json"))
    assert theirs == MESSAGES


@pytest.mark.parametrize("name", MESSAGES)
def test_agrees_with_ocpp_library(name):
    ours, theirs = validator(SCHEMA_DIR, name), validator(OCPP_LIB_SCHEMA_DIR, name)
    disagreements = []
    for label, payload, _expected in samples(name):
        if (name, label) in KNOWN_DIFFERENCES:
            continue
        if ours.is_valid(payload) != theirs.is_valid(payload):
            disagreements.append(
                f"{label}: ours={ours.is_valid(payload)} ocpp={theirs.is_valid(payload)}"
            )
    assert not disagreements, "\n".join(disagreements)


@pytest.mark.parametrize("key", sorted(KNOWN_DIFFERENCES), ids="/".join)
def test_allow_list_is_not_stale(key):
    name, label = key
    ours, theirs = validator(SCHEMA_DIR, name), validator(OCPP_LIB_SCHEMA_DIR, name)
    matches = [(p, exp) for lbl, p, exp in samples(name) if lbl == label]
    assert len(matches) == 1, f"no unique sample {label!r} for {name}"
    payload, expected = matches[0]
    assert ours.is_valid(payload) == expected
    assert theirs.is_valid(payload) != expected, "allow-listed difference no longer differs"
