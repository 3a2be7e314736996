"""Security extension actions sent by chargers."""

from __future__ import annotations

import logging
from typing import Any

from pymongo.errors import PyMongoError

from csms.context import CallContext
from ocppj.timeutil import parse_datetime

log = logging.getLogger("csms.security")


async def security_event_notification(ctx: CallContext, payload: dict[str, Any]) -> dict:
    """Store the event; always confirmed (OCPP_RULES 22), even if storing it fails."""
    try:
        await ctx.services.security_events.record(
            ctx.charger_id,
            payload["type"],
            parse_datetime(payload["timestamp"]),
            payload.get("techInfo"),
            received=ctx.now,
            source="charger",
        )
    except PyMongoError:
        log.exception("could not store security event %s of %s", payload["type"], ctx.charger_id)
    ctx.services.bus.publish("security_event", ctx.charger_id, event=payload["type"])
    return {}


async def sign_certificate(ctx: CallContext, payload: dict[str, Any]) -> dict:
    """Keep the CSR for an operator; no certificate authority is configured, so Rejected."""
    await ctx.services.chargers.update(
        ctx.charger_id, {"pending_csr": {"csr": payload["csr"], "ts": ctx.now}}
    )
    return {"status": "Rejected"}
