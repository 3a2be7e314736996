"""Charging profiles on the simulated charge point: SetChargingProfile and
ClearChargingProfile, and the limit each connector obeys.

The limit of a connector with a session is its TxProfile for that transaction (the
highest stack level), else a TxDefaultProfile (the connector's own before connector
0's), capped by a ChargePointMaxProfile (OCPP 1.6 3.13). The period in effect is the
last whose startPeriod has passed: for a Relative profile since the transaction
started, for an Absolute or Recurring one since its startSchedule. A limit in A is
amps per phase (``numberPhases`` of the period, else the charger's phases).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ocppj.timeutil import parse_datetime

TX = "TxProfile"
DEFAULT = "TxDefaultProfile"
MAX = "ChargePointMaxProfile"


@dataclass(slots=True)
class Installed:
    """One accepted profile on a connector (0: the whole charge point)."""

    connector: int
    profile: dict[str, Any]

    @property
    def purpose(self) -> str:
        """chargingProfilePurpose."""
        return self.profile["chargingProfilePurpose"]


@dataclass
class ProfileStore:
    """The profiles the charge point accepted."""

    installed: list[Installed] = field(default_factory=list)

    def set(self, connector: int, profile: dict[str, Any], transaction: int | None) -> bool:
        """Install a profile, replacing one with the same id, or the same stack level and
        purpose on the connector; False (Rejected) when a TxProfile names no transaction
        running there or goes on connector 0, or a ChargePointMaxProfile is not on 0."""
        purpose = profile["chargingProfilePurpose"]
        if purpose == TX:
            if connector == 0 or transaction is None:
                return False
            if profile.get("transactionId", transaction) != transaction:
                return False
        if purpose == MAX and connector != 0:
            return False
        self.installed = [
            item for item in self.installed
            if item.profile["chargingProfileId"] != profile["chargingProfileId"]
            and not (item.connector == connector and item.purpose == purpose
                     and item.profile["stackLevel"] == profile["stackLevel"])
        ]  # fmt: skip
        self.installed.append(Installed(connector, profile))
        return True

    def clear(self, payload: dict[str, Any]) -> bool:
        """Remove what a ClearChargingProfile names; True when something went."""
        before = len(self.installed)

        def matches(item: Installed) -> bool:
            if "id" in payload:
                return item.profile["chargingProfileId"] == payload["id"]
            checks = (
                ("connectorId", item.connector),
                ("chargingProfilePurpose", item.purpose),
                ("stackLevel", item.profile["stackLevel"]),
            )
            return all(payload[name] == value for name, value in checks if name in payload)

        self.installed = [item for item in self.installed if not matches(item)]
        return len(self.installed) < before

    def end_transaction(self, connector: int) -> None:
        """A transaction ended: its TxProfiles go with it."""
        self.installed = [
            item
            for item in self.installed
            if not (item.purpose == TX and item.connector == connector)
        ]

    def limit_w(
        self,
        connector: int,
        transaction: int | None,
        started: datetime | None,
        now: datetime,
        voltage: float,
        phases: int,
    ) -> float | None:
        """The power limit of a connector now (None: no limit)."""

        def best(candidates: list[Installed]) -> Installed | None:
            return max(candidates, key=lambda i: i.profile["stackLevel"], default=None)

        tx = best([i for i in self.installed if i.purpose == TX and i.connector == connector
                   and i.profile.get("transactionId", transaction) == transaction])  # fmt: skip
        chosen = (
            tx
            or best(
                [i for i in self.installed if i.purpose == DEFAULT and i.connector == connector]
            )
            or best([i for i in self.installed if i.purpose == DEFAULT and i.connector == 0])
        )
        limits = []
        for item in (chosen, best([i for i in self.installed if i.purpose == MAX])):
            if item is not None:
                value = _period_limit_w(item.profile, started, now, voltage, phases)
                if value is not None:
                    limits.append(value)
        return min(limits) if limits else None


def _period_limit_w(
    profile: dict[str, Any], started: datetime | None, now: datetime, voltage: float, phases: int
) -> float | None:
    schedule = profile["chargingSchedule"]
    if profile.get("chargingProfileKind") == "Relative":
        origin = started or now
    else:
        start = profile.get("chargingSchedule", {}).get("startSchedule")
        origin = parse_datetime(start) if start else (started or now)
    offset = (now - origin).total_seconds()
    if profile.get("chargingProfileKind") == "Recurring":
        period = 7 * 86400 if profile.get("recurrencyKind") == "Weekly" else 86400
        offset %= period
    duration = schedule.get("duration")
    if duration is not None and offset > duration:
        return None
    current = None
    for period in sorted(schedule["chargingSchedulePeriod"], key=lambda p: p["startPeriod"]):
        if period["startPeriod"] <= offset:
            current = period
    if current is None:
        return None
    limit = float(current["limit"])
    if schedule["chargingRateUnit"] == "W":
        return limit
    return limit * voltage * int(current.get("numberPhases") or phases)
