"""The dispatch table (csms.actions) against the schemas in schemas/.

What each handler answers is in the test modules of their own modules and in
test_session.py (every charger action answers a schema-valid reply)."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from csms.actions import CENTRAL_SYSTEM_ACTIONS, CHARGER_ACTIONS

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"

# Charge point -> Central System, from the OCPP 1.6 specification (Core, Firmware
# Management, Local Auth List, Reservation, Smart Charging, Remote Trigger) and the
# 1.6 security whitepaper. DataTransfer goes both ways; a charger's is answered here.
CP_TO_CS = {
    "Authorize", "BootNotification", "DataTransfer", "DiagnosticsStatusNotification",
    "FirmwareStatusNotification", "Heartbeat", "MeterValues", "StartTransaction",
    "StatusNotification", "StopTransaction",
    "LogStatusNotification", "SecurityEventNotification", "SignCertificate",
    "SignedFirmwareStatusNotification",
}  # fmt: skip


def schema_actions() -> set[str]:
    """The actions with a request schema file (``X.json`` next to ``XResponse.json``)."""
    names = {path.stem for path in SCHEMA_DIR.glob("*.json")}
    requests = {name for name in names if not name.endswith("Response")}
    assert {f"{name}Response" for name in requests} == names - requests
    return requests


def test_every_charger_action_of_the_schemas_has_a_handler():
    assert set(CHARGER_ACTIONS) == CP_TO_CS
    assert set(CHARGER_ACTIONS) <= schema_actions()


def test_every_schema_action_is_in_exactly_one_direction():
    actions = schema_actions()
    assert len(actions) == 39
    assert set(CHARGER_ACTIONS) | CENTRAL_SYSTEM_ACTIONS == actions
    assert set(CHARGER_ACTIONS).isdisjoint(CENTRAL_SYSTEM_ACTIONS)


@pytest.mark.parametrize("action", sorted(CP_TO_CS))
def test_each_handler_is_the_coroutine_named_after_its_action(action):
    handler = CHARGER_ACTIONS[action]
    assert inspect.iscoroutinefunction(handler)
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in action).lstrip("_")
    assert handler.__name__ == snake
    assert list(inspect.signature(handler).parameters) == ["ctx", "payload"]


def test_the_table_cannot_be_changed_at_run_time():
    with pytest.raises(TypeError):
        CHARGER_ACTIONS["Reset"] = CHARGER_ACTIONS["Heartbeat"]  # type: ignore[index]
    assert "Reset" not in CHARGER_ACTIONS
    assert isinstance(CENTRAL_SYSTEM_ACTIONS, frozenset)
