"""The meter model and the MeterValues it produces."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from simulator.config import SimulatorConfig
from simulator.keys import ConfigurationStore
from simulator.meter import MeterModel, idle_reading, meter_values_payload


def test_energy_rises_linearly_to_the_target():
    model = MeterModel(meter_start_wh=5000, target_wh=10_000, duration=100, voltage_v=400)
    assert [model.energy_at(t) for t in (-1, 0, 25, 50, 99.99, 100, 500)] == [
        0, 0, 2500, 5000, 9999, 10_000, 10_000,
    ]  # fmt: skip
    half = model.reading(50)
    assert (half.register_wh, half.energy_wh, half.power_w) == (10_000, 5000, 360_000.0)
    assert (half.current_a, half.voltage_v) == (900.0, 400)
    done = model.reading(100)
    assert (done.register_wh, done.energy_wh, done.power_w, done.current_a) == (
        15_000,
        10_000,
        0,
        0,
    )


def test_soc_rises_with_energy_and_stops_at_100():
    model = MeterModel(0, target_wh=60_000, duration=10, battery_wh=60_000, start_soc=20)
    assert model.reading(0).soc_percent == 20
    assert model.reading(5).soc_percent == 70
    assert model.reading(10).soc_percent == 100


def test_payload_validates_and_formats_numbers(schemas):
    model = MeterModel(1000, target_wh=1234, duration=10, voltage_v=230)
    when = datetime(2026, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)
    payload = meter_values_payload(2, model.reading(5), when, transaction_id=42)
    schemas.validate("MeterValues", payload)
    periodic = {"context": "Sample.Periodic"}
    assert payload == {
        "connectorId": 2,
        "transactionId": 42,
        "meterValue": [{
            "timestamp": "2026-03-01T12:00:00.123Z",
            "sampledValue": [
                {"value": "1617", **periodic, "measurand": "Energy.Active.Import.Register",
                 "location": "Outlet", "unit": "Wh"},
                {"value": "444240", **periodic, "measurand": "Power.Active.Import",
                 "location": "Outlet", "unit": "W"},
                {"value": "1931.48", **periodic, "measurand": "Current.Import",
                 "location": "Outlet", "unit": "A"},
                {"value": "230", **periodic, "measurand": "Voltage",
                 "location": "Outlet", "unit": "V"},
                {"value": "21", **periodic, "measurand": "SoC",
                 "location": "EV", "unit": "Percent"},
            ],
        }],
    }  # fmt: skip


def test_idle_reading_has_no_soc(schemas):
    payload = meter_values_payload(1, idle_reading(77, 230.0), datetime.now(UTC), context="Trigger")
    schemas.validate("MeterValues", payload)
    assert "transactionId" not in payload
    values = [(s["measurand"], s["value"]) for s in payload["meterValue"][0]["sampledValue"]]
    assert values == [
        ("Energy.Active.Import.Register", "77"), ("Power.Active.Import", "0"),
        ("Current.Import", "0"), ("Voltage", "230"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("key", "value", "status", "stored"),
    [
        ("HeartbeatInterval", "60", "Accepted", "60"),
        ("HeartbeatInterval", "-1", "Rejected", "300"),
        ("HeartbeatInterval", "x", "Rejected", "300"),
        ("AuthorizeRemoteTxRequests", "TRUE", "Accepted", "true"),
        ("AuthorizeRemoteTxRequests", "yes", "Rejected", "false"),
        ("NumberOfConnectors", "3", "Rejected", "2"),
        ("MeterValuesSampledData", "Voltage", "Accepted", "Voltage"),
        ("NoSuchKey", "1", "NotSupported", None),
    ],
)
def test_configuration_keys(key, value, status, stored, schemas):
    keys = ConfigurationStore(SimulatorConfig(connectors=2))
    assert keys.change(key, value) == status
    assert keys.get(key) == stored
    report = keys.report()
    schemas.validate("GetConfigurationResponse", report)
    assert "unknownKey" not in report
    assert keys.report([key, "Other"])["unknownKey"] == ([] if stored is not None else [key]) + [
        "Other"
    ]
