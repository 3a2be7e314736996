"""The alert rules and settings as data: each rule's defaults, the checks of an
operator's changes, and ``AlertSettings`` (evaluation and delivery tunables). Pure: no
I/O; ``csms.alerts`` evaluates the rules and ``csms.alert_delivery`` delivers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# name -> (title, default parameters). Every rule is on by default.
RULES: dict[str, tuple[str, dict[str, float]]] = {
    "charger_offline": ("Charger offline", {"minutes": 10, "clear_minutes": 2}),
    "connector_faulted": ("Connector faulted", {}),
    "no_energy": ("Charging without energy", {"minutes": 15}),
    "long_transaction": ("Transaction open too long", {"hours": 24, "stale_hours": 4}),
    "reboot_loop": ("Reboot loop", {"boots": 5, "window_minutes": 60}),
    "clock_skew": ("Charger clock off", {"minutes": 5}),
    "security_events": ("Repeated security events", {"count": 5, "window_minutes": 60}),
    "energy_anomalies": ("Energy anomalies", {"window_minutes": 60}),
    # Renewal is asked for 30 days before expiry (csms.certificates); a charger that still
    # has its old certificate this close to the end needs a person.
    "certificate_expiring": ("Charger certificate expiring", {"days": 14}),
}
# The security events that count for the "security_events" rule.
SECURITY_EVENT_TYPES = (
    "InvalidCentralSystemCertificate", "InvalidChargePointCertificate",
    "FailedToAuthenticateAtCentralSystem", "InvalidFirmwareSignature", "InvalidTLSVersion",
    "InvalidTLSCipherSuite", "MessageRateExceeded", "ConnectionReplacedDuringTransaction",
)  # fmt: skip
# Anomalies about a transaction's energy (``csms.transactions``, ``csms.metering``).
ENERGY_ANOMALIES = (
    "meter_backwards", "implausible_energy", "implausible_register", "register_jump",
    "register_above_meter_stop",
)  # fmt: skip
MAX_PARAMETER = 1_000_000


def defaults() -> dict[str, dict[str, Any]]:
    """Every rule's settings before the operator changed any."""
    return {name: {"enabled": True, **params} for name, (_, params) in RULES.items()}


def check_changes(rule: str, changes: Any) -> dict[str, Any]:
    """The valid settings among ``changes`` of ``rule``; ValueError(field, message)
    naming the first bad one."""
    if rule not in RULES:
        raise ValueError(rule, f"unknown rule; one of {', '.join(RULES)}")
    if not isinstance(changes, dict):
        raise ValueError(rule, "must be an object of settings")
    allowed = RULES[rule][1]
    checked: dict[str, Any] = {}
    for name, value in changes.items():
        field = f"{rule}.{name}"
        if name == "enabled":
            if not isinstance(value, bool):
                raise ValueError(field, "must be true or false")
        elif name in allowed:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(field, "must be a number")
            if not 0 < value <= MAX_PARAMETER:
                raise ValueError(field, f"must be greater than 0 and at most {MAX_PARAMETER}")
        else:
            known = ", ".join(["enabled", *allowed])
            raise ValueError(field, f"unknown setting; {rule} has {known}")
        checked[name] = value
    return checked


@dataclass(slots=True)
class AlertSettings:
    """Tunables of alert evaluation and delivery."""

    interval: float = 30.0  # seconds between sweeps of the time-based rules
    backoff_initial: float = 5.0  # seconds before the first retry of a failed delivery
    backoff_max: float = 600.0  # retries never wait longer than this
    delivery_timeout: float = 10.0  # seconds for one webhook POST or SMTP session
    # Channels from server flags (kept as channels with fixed ids, so their queue survives).
    webhooks: list[str] = field(default_factory=list)
    webhook_secret: str = ""
    smtp_url: str | None = None
    emails: list[str] = field(default_factory=list)
