"""SetChargingProfile and ClearChargingProfile (csms/smart_charging.py)."""

from __future__ import annotations

import pytest

from csms.remote import ParameterError, perform
from tests.csms.test_remote import booted, check

# --- charging profiles -------------------------------------------------------------


def profile(profile_id: int, purpose: str, stack: int = 0) -> dict:
    return {
        "chargingProfileId": profile_id,
        "stackLevel": stack,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400.0, "numberPhases": 3}],
        },
    }


@pytest.mark.gen_test(timeout=20)
async def test_charging_profiles_are_stored_per_connector(ws_url, services, registry, db):
    async def stored():
        docs = await db.charging_profiles.find({}).sort("profile_id", 1).to_list()
        return [(doc["connector"], doc["profile_id"]) for doc in docs]

    async with booted(ws_url) as cp:
        default = profile(10, "TxDefaultProfile")
        first = await perform(
            services, registry, "CP1", "set_charging_profile",
            {"connector_id": 1, "charging_profile": default},
        )  # fmt: skip
        await check(db, cp, first, "set_charging_profile", "SetChargingProfile",
                    {"connectorId": 1, "csChargingProfiles": default}, "accepted")  # fmt: skip
        # Same purpose and stack level on the same connector replaces it.
        await perform(
            services, registry, "CP1", "set_charging_profile",
            {"connector_id": 1, "charging_profile": profile(11, "TxDefaultProfile")},
        )  # fmt: skip
        await perform(
            services, registry, "CP1", "set_charging_profile",
            {"connector_id": "0", "charging_profile": profile(12, "ChargePointMaxProfile")},
        )  # fmt: skip
        assert await stored() == [(1, 11), (0, 12)]
        with pytest.raises(ParameterError) as wrong:
            await perform(
                services, registry, "CP1", "set_charging_profile",
                {"connector_id": 1, "charging_profile": profile(13, "ChargePointMaxProfile")},
            )  # fmt: skip
        assert wrong.value.field == "connector_id"
        broken = profile(14, "TxDefaultProfile")
        del broken["chargingSchedule"]
        with pytest.raises(ParameterError, match="chargingSchedule") as invalid:
            await perform(
                services, registry, "CP1", "set_charging_profile",
                {"connector_id": 1, "charging_profile": broken},
            )  # fmt: skip
        assert invalid.value.field == "charging_profile"
        cp.replies["SetChargingProfile"] = {"status": "Rejected"}
        await perform(
            services, registry, "CP1", "set_charging_profile",
            {"connector_id": 2, "charging_profile": profile(15, "TxDefaultProfile")},
        )  # fmt: skip
        assert await stored() == [(1, 11), (0, 12)]
        cleared = await perform(
            services, registry, "CP1", "clear_charging_profile", {"profile_id": 11}
        )
        await check(db, cp, cleared, "clear_charging_profile", "ClearChargingProfile",
                    {"id": 11}, "accepted")  # fmt: skip
        assert await stored() == [(0, 12)]
        cp.replies["ClearChargingProfile"] = {"status": "Unknown"}
        unknown = await perform(
            services, registry, "CP1", "clear_charging_profile",
            {"connector_id": 0, "charging_profile_purpose": "ChargePointMaxProfile",
             "stack_level": 0},
        )  # fmt: skip
        assert cp.frames[-1][3] == {
            "connectorId": 0, "chargingProfilePurpose": "ChargePointMaxProfile", "stackLevel": 0,
        }  # fmt: skip
        assert unknown.status == "rejected"
        assert await stored() == []
