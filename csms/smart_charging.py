"""Smart charging: SetChargingProfile and ClearChargingProfile.

``charging_profiles`` mirrors the profiles a charger accepted, per connector
(``models.charging_profiles``); RemoteStartTransaction's TxProfile is stored
the same way (``csms.transactions``).

Load management (``csms.load_management``) sends profiles built here: a TxProfile per
transaction and a TxDefaultProfile per charger, at a stack level and ids of its own.
"""

from __future__ import annotations

import math
from typing import Any

from csms.registry import Outcome
from csms.remote_params import ParameterError
from csms.request import Request


async def check_charging_profile(req: Request) -> None:
    """ChargePointMaxProfile only on connector 0; TxProfile only on a real connector."""
    purpose = req.payload["csChargingProfiles"].get("chargingProfilePurpose")
    connector = req.payload["connectorId"]
    if purpose == "ChargePointMaxProfile" and connector != 0:
        raise ParameterError("connector_id", "a ChargePointMaxProfile goes on connector 0")
    if purpose == "TxProfile" and connector == 0:
        raise ParameterError("connector_id", "a TxProfile goes on a connector above 0")


async def after_set_charging_profile(req: Request, outcome: Outcome) -> None:
    """Store an accepted profile on its connector."""
    if outcome.ok:
        await req.services.charging_profiles.install(
            req.charger_id,
            req.payload["connectorId"],
            req.payload["csChargingProfiles"],
            req.now,
            outcome.command_id,
        )


async def after_clear_charging_profile(req: Request, outcome: Outcome) -> None:
    """Accepted (or Unknown: the charger has none of them) removes the matching profiles."""
    if outcome.answered and outcome.payload["status"] in ("Accepted", "Unknown"):
        payload = req.payload
        await req.services.charging_profiles.clear(
            req.charger_id,
            profile_id=payload.get("id"),
            connector=payload.get("connectorId"),
            purpose=payload.get("chargingProfilePurpose"),
            stack_level=payload.get("stackLevel"),
        )


# --- the profiles of load management (csms.load_management) ----------------

# Our own stack level and profile ids: TxDefaultProfile LOAD_PROFILE_ID on connector 0,
# the TxProfile of connector c LOAD_PROFILE_ID + c. An operator's own profiles use others.
LOAD_STACK_LEVEL = 7
LOAD_PROFILE_ID = 150_000
RATE_UNIT_KEY = "ChargingScheduleAllowedChargingRateUnit"


def rate_unit(charger: dict[str, Any]) -> str:
    """The charging rate unit a charger takes: ``A`` unless its reported
    ChargingScheduleAllowedChargingRateUnit lists only Power."""
    for item in (charger.get("ocpp_config") or {}).get("keys", []):
        if item.get("key") == RATE_UNIT_KEY and item.get("value"):
            units = {part.strip() for part in str(item["value"]).split(",")}
            if "Current" not in units and "Power" in units:
                return "W"
    return "A"


def limit_in(unit: str, amps: float, voltage: float, phases: int) -> float:
    """An amps-per-phase limit in the charger's unit (W: amps x voltage x phases, whole
    watts rounded down)."""
    if unit == "W":
        return float(math.floor(amps * voltage * phases))
    return amps


def load_profile(
    purpose: str,
    limit_a: float,
    *,
    connector: int = 0,
    transaction_id: int | None = None,
    unit: str = "A",
    voltage: float = 230.0,
    phases: int = 3,
) -> dict[str, Any]:
    """A relative, one-period charging profile of load management (TxProfile with its
    transaction, or TxDefaultProfile)."""
    profile: dict[str, Any] = {
        "chargingProfileId": LOAD_PROFILE_ID + connector,
        "stackLevel": LOAD_STACK_LEVEL,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Relative",
        "chargingSchedule": {
            "chargingRateUnit": unit,
            "chargingSchedulePeriod": [
                {"startPeriod": 0, "limit": limit_in(unit, limit_a, voltage, phases)}
            ],
        },
    }
    if transaction_id is not None:
        profile["transactionId"] = transaction_id
    return profile


def profile_limit_a(profile: dict[str, Any], voltage: float, phases: int) -> float | None:
    """The first period's limit of a stored profile, in amps per phase."""
    schedule = profile.get("chargingSchedule") or {}
    periods = schedule.get("chargingSchedulePeriod") or []
    if not periods:
        return None
    limit = float(periods[0]["limit"])
    if schedule.get("chargingRateUnit") == "W":
        return round(limit / (voltage * phases), 1)
    return limit
