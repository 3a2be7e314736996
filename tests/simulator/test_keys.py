"""The simulated charge point's configuration keys (simulator.keys).

ChangeConfiguration statuses per key kind are in test_meter.py's
``test_configuration_keys``; the operations over the wire in test_operations.py."""

from __future__ import annotations

import pytest

from simulator.config import SimulatorConfig
from simulator.keys import MAX_KEYS, ConfigurationStore


@pytest.fixture
def keys():
    return ConfigurationStore(SimulatorConfig(connectors=3, interval=2.6))


def test_the_keys_follow_the_configuration(keys):
    assert keys.get("NumberOfConnectors") == "3"
    assert keys.get("MeterValueSampleInterval") == "3"  # seconds, rounded
    assert keys.get("GetConfigurationMaxKeys") == str(MAX_KEYS) == "50"
    assert keys.get("SupportedFeatureProfiles") == "Core,RemoteTrigger,SmartCharging"
    assert keys.get("NoSuchKey") is None


def test_a_full_report_lists_every_key_sorted_with_its_flags(keys, schemas):
    report = keys.report()
    schemas.validate("GetConfigurationResponse", report)
    names = [item["key"] for item in report["configurationKey"]]
    assert names == sorted(names) and len(names) == 24 <= MAX_KEYS
    assert report == keys.report([])
    readonly = {item["key"] for item in report["configurationKey"] if item["readonly"]}
    assert readonly == {
        "GetConfigurationMaxKeys", "NumberOfConnectors", "SupportedFeatureProfiles",
        "ChargingScheduleAllowedChargingRateUnit", "ChargeProfileMaxStackLevel",
        "MaxChargingProfilesInstalled",
    }  # fmt: skip
    assert {"key": "HeartbeatInterval", "readonly": False, "value": "300"} in (
        report["configurationKey"]
    )


def test_a_partial_report_keeps_the_order_asked_for(keys):
    report = keys.report(["NumberOfConnectors", "Nope", "HeartbeatInterval"])
    assert report == {
        "configurationKey": [
            {"key": "NumberOfConnectors", "readonly": True, "value": "3"},
            {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
        ],
        "unknownKey": ["Nope"],
    }


@pytest.mark.parametrize(
    ("key", "value", "stored"),
    [("ConnectionTimeOut", "007", "7"), ("ConnectionTimeOut", "0", "0"),
     ("ResetRetries", "+2", "2"), ("LocalPreAuthorize", "False", "false"),
     ("StopTxnSampledData", "", "")],
)  # fmt: skip
def test_accepted_values_are_stored_normalised(keys, key, value, stored):
    assert keys.change(key, value) == "Accepted"
    assert keys.get(key) == stored


@pytest.mark.parametrize(
    ("key", "value"),
    [("ConnectionTimeOut", ""), ("ConnectionTimeOut", "1.5"), ("ResetRetries", "-0x1"),
     ("LocalPreAuthorize", "1"), ("LocalPreAuthorize", ""),
     ("GetConfigurationMaxKeys", "50"), ("SupportedFeatureProfiles", "Core")],
)  # fmt: skip
def test_rejected_values_change_nothing(keys, key, value):
    before = keys.get(key)
    assert keys.change(key, value) == "Rejected"
    assert keys.get(key) == before


def test_typed_reads(keys):
    assert keys.get_int("HeartbeatInterval") == 300
    assert keys.get_int("NoSuchKey", 9) == 9
    assert keys.get_int("MeterValuesSampledData", 4) == 4  # not a number: the default
    assert keys.get_bool("StopTransactionOnInvalidId") is True
    assert keys.get_bool("AuthorizeRemoteTxRequests") is False
    assert keys.get_bool("NoSuchKey") is False


def test_the_charge_point_itself_may_set_read_only_keys(keys):
    keys.set_internal("NumberOfConnectors", "4")
    assert keys.get("NumberOfConnectors") == "4"
    assert keys.change("NumberOfConnectors", "5") == "Rejected"
    with pytest.raises(KeyError):
        keys.set_internal("NoSuchKey", "1")
    assert keys.change("NoSuchKey", "1") == "NotSupported"
    assert keys.get("NoSuchKey") is None


def test_stores_do_not_share_keys():
    first, second = (ConfigurationStore(SimulatorConfig()) for _ in range(2))
    assert first.change("HeartbeatInterval", "60") == "Accepted"
    assert second.get("HeartbeatInterval") == "300"
