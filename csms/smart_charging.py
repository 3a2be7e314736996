"""Smart charging: SetChargingProfile and ClearChargingProfile.

``charging_profiles`` mirrors the profiles a charger accepted, per connector
(``models.charging_profiles``); RemoteStartTransaction's TxProfile is stored
the same way (``csms.transactions``).
"""

from __future__ import annotations

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
