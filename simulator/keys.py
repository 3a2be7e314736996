"""The charge point's configuration keys (GetConfiguration / ChangeConfiguration)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simulator.config import SimulatorConfig

HEARTBEAT_INTERVAL = "HeartbeatInterval"
METER_VALUE_SAMPLE_INTERVAL = "MeterValueSampleInterval"
AUTHORIZE_REMOTE_TX_REQUESTS = "AuthorizeRemoteTxRequests"
MAX_KEYS = 50  # GetConfigurationMaxKeys


@dataclass(slots=True)
class _Key:
    value: str
    readonly: bool = False
    kind: str = "string"  # string | int | bool


def _seconds(value: float) -> str:
    return str(max(0, round(value)))


class ConfigurationStore:
    """Keys with values as strings; integer and boolean keys reject other values."""

    def __init__(self, config: SimulatorConfig):
        self._keys: dict[str, _Key] = {
            "AllowOfflineTxForUnknownId": _Key("false", kind="bool"),
            AUTHORIZE_REMOTE_TX_REQUESTS: _Key("false", kind="bool"),
            "ClockAlignedDataInterval": _Key("0", kind="int"),
            "ConnectionTimeOut": _Key("60", kind="int"),
            "GetConfigurationMaxKeys": _Key(str(MAX_KEYS), readonly=True, kind="int"),
            HEARTBEAT_INTERVAL: _Key("300", kind="int"),
            "LocalAuthorizeOffline": _Key("false", kind="bool"),
            "LocalPreAuthorize": _Key("false", kind="bool"),
            "MeterValuesAlignedData": _Key("Energy.Active.Import.Register"),
            "MeterValuesSampledData": _Key(
                "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage,SoC"
            ),
            # Seconds; the simulator rounds its own (possibly fractional) interval.
            METER_VALUE_SAMPLE_INTERVAL: _Key(_seconds(config.interval), kind="int"),
            "NumberOfConnectors": _Key(str(config.connectors), readonly=True, kind="int"),
            "ResetRetries": _Key("3", kind="int"),
            "StopTransactionOnEVSideDisconnect": _Key("true", kind="bool"),
            "StopTransactionOnInvalidId": _Key("true", kind="bool"),
            "StopTxnAlignedData": _Key(""),
            "StopTxnSampledData": _Key(""),
            "SupportedFeatureProfiles": _Key("Core,RemoteTrigger,SmartCharging", readonly=True),
            "ChargingScheduleAllowedChargingRateUnit": _Key("Current,Power", readonly=True),
            "ChargeProfileMaxStackLevel": _Key("10", readonly=True, kind="int"),
            "MaxChargingProfilesInstalled": _Key("10", readonly=True, kind="int"),
            "TransactionMessageAttempts": _Key("3", kind="int"),
            "TransactionMessageRetryInterval": _Key("60", kind="int"),
            "UnlockConnectorOnEVSideDisconnect": _Key("true", kind="bool"),
        }

    def get(self, key: str) -> str | None:
        """A key's value, or None when the key is unknown."""
        entry = self._keys.get(key)
        return None if entry is None else entry.value

    def get_int(self, key: str, default: int = 0) -> int:
        """An integer key's value."""
        try:
            return int(self.get(key) or default)
        except ValueError:
            return default

    def get_bool(self, key: str) -> bool:
        """A boolean key's value."""
        return (self.get(key) or "").lower() == "true"

    def set_internal(self, key: str, value: str) -> None:
        """Set a key from inside the charge point (read-only keys too)."""
        self._keys[key].value = value

    def change(self, key: str, value: str) -> str:
        """ChangeConfiguration: Accepted, Rejected (read-only or bad value) or NotSupported."""
        entry = self._keys.get(key)
        if entry is None:
            return "NotSupported"
        if entry.readonly:
            return "Rejected"
        if entry.kind == "int":
            try:
                if int(value) < 0:
                    return "Rejected"
            except ValueError:
                return "Rejected"
            value = str(int(value))
        elif entry.kind == "bool":
            if value.lower() not in ("true", "false"):
                return "Rejected"
            value = value.lower()
        entry.value = value
        return "Accepted"

    def report(self, keys: list[str] | None = None) -> dict[str, Any]:
        """GetConfiguration.conf for ``keys`` (all keys when None or empty)."""
        names = keys or sorted(self._keys)
        known = [
            {"key": name, "readonly": self._keys[name].readonly, "value": self._keys[name].value}
            for name in names
            if name in self._keys
        ]
        unknown = [name for name in names if name not in self._keys]
        reply: dict[str, Any] = {"configurationKey": known}
        if unknown:
            reply["unknownKey"] = unknown
        return reply
