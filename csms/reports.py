"""Session cost summaries for accounting: totals per month, per tag (driver) or per charger.

Amounts are summed as ``Decimal`` from the costs stored with each stop, per group and
currency (sessions in different currencies are never added up).
"""

from __future__ import annotations

from collections.abc import AsyncIterable
from decimal import Decimal
from typing import Any

GROUPS = ("month", "tag", "charger")
AMOUNTS = ("energy", "time", "idle", "fee", "adjustment", "tax", "total")
COLUMNS = ("group", "currency", "sessions", "energy_wh", *AMOUNTS)


def group_key(tx: dict[str, Any], group: str) -> str:
    """The group a session falls in: its start month (UTC), its tag, or its charger."""
    if group == "month":
        return tx["start_ts"].strftime("%Y-%m")
    if group == "tag":
        return tx.get("id_tag_key") or tx.get("id_tag") or ""
    return tx.get("charger") or ""


async def summarize(sessions: AsyncIterable[dict[str, Any]], group: str) -> list[dict[str, Any]]:
    """One row per group and currency, by group then currency; amounts as decimal
    strings, energy in Wh."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    async for tx in sessions:
        cost = tx.get("cost")
        if not isinstance(cost, dict):
            continue
        key = (group_key(tx, group), cost["currency"])
        row = rows.setdefault(
            key,
            {"group": key[0], "currency": key[1], "sessions": 0, "energy_wh": 0.0,
             **{name: Decimal(0) for name in AMOUNTS}},
        )  # fmt: skip
        row["sessions"] += 1
        row["energy_wh"] += float(tx.get("energy_wh") or 0)
        for name in AMOUNTS:
            row[name] += Decimal(cost.get(name) or "0")
    result = []
    for key in sorted(rows):
        row = rows[key]
        row.update({name: str(row[name]) for name in AMOUNTS})
        result.append(row)
    return result
