"""The stored sampled values as rows (one per sampled value), read back from the
measurements in ``meter_values`` for tests that check what was stored."""

from __future__ import annotations

from typing import Any

from models.meter_values import unwind


async def stored_rows(db: Any, query: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The rows of the measurements matching ``query`` (measurement fields: ``meta.charger``,
    ``samples.measurand`` ...), oldest first, each reading's values in the order sent."""
    docs = await db.meter_values.find(query or {}).sort([("ts", 1), ("_id", 1)]).to_list()
    return [row for doc in docs for row in unwind(doc)]
