"""The ``charging_profiles`` collection: the profiles a charger accepted, per connector.

One document per installed profile: charger, connector (0 = the whole
charger), profile_id, stack_level, purpose, transaction_id, profile (the OCPP
``ChargingProfile`` as sent), ts, command_id. It mirrors the charger's rules
(OCPP 1.6 3.13.2): a new profile replaces one with the same
chargingProfileId, or with the same stackLevel and purpose on the same
connector; ClearChargingProfile removes by id, or by whichever of connector,
purpose and stack level it names.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from models.paging import find_page, matching

BY_CONNECTOR = (("charger", ASCENDING), ("connector", ASCENDING), ("stack_level", ASCENDING))

# Wanted in models/migrations.INDEXES["charging_profiles"].
INDEXES = [
    IndexModel(
        [("charger", ASCENDING), ("connector", ASCENDING), ("stack_level", ASCENDING)],
        name="charger_connector",
    ),
    IndexModel([("charger", ASCENDING), ("profile_id", ASCENDING)], name="charger_profile"),
]


class ChargingProfileRepo:
    """Installed charging profiles."""

    def __init__(self, db: AsyncDatabase):
        self._coll = db.charging_profiles

    async def install(
        self,
        charger: str,
        connector: int,
        profile: dict[str, Any],
        ts: datetime,
        command_id: str | None = None,
    ) -> dict[str, Any]:
        """Record an accepted profile, replacing the ones the charger replaces."""
        profile_id = profile["chargingProfileId"]
        stack_level = profile["stackLevel"]
        purpose = profile["chargingProfilePurpose"]
        await self._coll.delete_many(
            {
                "charger": charger,
                "$or": [
                    {"profile_id": profile_id},
                    {"connector": connector, "stack_level": stack_level, "purpose": purpose},
                ],
            }
        )
        doc = {
            "charger": charger,
            "connector": connector,
            "profile_id": profile_id,
            "stack_level": stack_level,
            "purpose": purpose,
            "transaction_id": profile.get("transactionId"),
            "profile": profile,
            "ts": ts,
            "command_id": command_id,
        }
        await self._coll.insert_one(doc)
        return doc

    async def clear(
        self,
        charger: str,
        *,
        profile_id: int | None = None,
        connector: int | None = None,
        purpose: str | None = None,
        stack_level: int | None = None,
    ) -> int:
        """Remove what a ClearChargingProfile with these fields removes; how many went."""
        query: dict[str, Any] = {"charger": charger}
        if profile_id is not None:
            query["profile_id"] = profile_id
        else:
            for name, value in (
                ("connector", connector),
                ("purpose", purpose),
                ("stack_level", stack_level),
            ):
                if value is not None:
                    query[name] = value
        result = await self._coll.delete_many(query)
        return result.deleted_count

    async def for_charger(self, charger: str, connector: int | None = None) -> list[dict]:
        """Profiles of a charger (or one connector), by connector and stack level."""
        query: dict[str, Any] = {"charger": charger}
        if connector is not None:
            query["connector"] = connector
        cursor = self._coll.find(query).sort([("connector", ASCENDING), ("stack_level", ASCENDING)])
        return await cursor.to_list()

    async def search(
        self,
        charger: str | None = None,
        purpose: str | None = None,
        skip: int = 0,
        limit: int = 50,
    ) -> tuple[list[dict[str, Any]], int]:
        """Installed profiles by charger, connector and stack level, filtered by charger
        and purpose; (page, total). Index ``charger_connector``."""
        query = matching(charger=charger, purpose=purpose)
        return await find_page(self._coll, query, BY_CONNECTOR, skip, limit)
