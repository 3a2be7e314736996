"""Self-healing transactions: a session we hold open although the charger says its
connector is free (a zombie, e.g. its StopTransaction was lost) is closed.

A StatusNotification ``Available`` of a connector with an open session, dated after the
session's start, closes it with reason ``Other``, the energy of its last register reading
and the anomaly ``closed_by_status``; that also covers a charger that reboots and reports
its connectors Available. An operator may close a stale session (``close_by_operator``).
Both go through ``csms.transactions.close_with_estimate``, the one path for closing a
session without its StopTransaction; a StopTransaction arriving later replaces the
estimate and records that it did.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from csms.context import CallContext, ConnectionState
from csms.transactions import close_with_estimate

CLOSED_BY_STATUS = "closed_by_status"
CLOSED_BY_OPERATOR = "closed_by_operator"


async def on_status(ctx: CallContext, connector: int, status: str, ts: datetime) -> int | None:
    """Close the connector's open session when the charger reports it Available; the
    closed transaction's id, or None."""
    if status != "Available" or connector == 0:
        return None
    tx = await ctx.services.transactions.open_on_connector(ctx.charger_id, connector)
    if tx is None or ts < tx["start_ts"]:
        return None  # a status from before the session started says nothing about it
    fields = await close_with_estimate(ctx, tx, CLOSED_BY_STATUS, status_ts=ts)
    if fields is None:
        return None
    _stopped(ctx, tx, fields)
    return tx["_id"]


async def close_by_operator(
    services: Any, tx: dict[str, Any], user: str, now: datetime
) -> dict[str, Any] | None:
    """An operator closes an open session (e.g. a stale one) with the energy of its last
    register; the stored fields, or None when it was no longer open."""
    ctx = CallContext(tx["charger"], services, now, ConnectionState(tx["charger"]))
    fields = await close_with_estimate(ctx, tx, CLOSED_BY_OPERATOR, by=user)
    if fields is not None:
        _stopped(ctx, tx, fields)
    return fields


def _stopped(ctx: CallContext, tx: dict[str, Any], fields: dict[str, Any]) -> None:
    ctx.services.bus.publish(
        "transaction_stopped", ctx.charger_id, transaction=tx["_id"], connector=tx["connector"],
        energy_wh=fields["energy_wh"], closed_by=fields["closed_by"],
    )  # fmt: skip
