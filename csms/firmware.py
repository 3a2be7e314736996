"""Firmware, diagnostics and log upload status notifications."""

from __future__ import annotations

from typing import Any

from csms.context import CallContext


def _record(ctx: CallContext, field: str, payload: dict[str, Any]) -> dict[str, Any]:
    status = {"status": payload["status"], "ts": ctx.now}
    if "requestId" in payload:
        status["request_id"] = payload["requestId"]
    ctx.services.chargers.touch(ctx.charger_id, {field: status, "last_seen": ctx.now})
    ctx.services.bus.publish(field, ctx.charger_id, status=payload["status"])
    return {}


async def diagnostics_status_notification(ctx: CallContext, payload: dict[str, Any]) -> dict:
    """Keep the latest diagnostics upload status on the charger."""
    return _record(ctx, "diagnostics_status", payload)


async def firmware_status_notification(ctx: CallContext, payload: dict[str, Any]) -> dict:
    """Keep the latest firmware update status on the charger."""
    return _record(ctx, "firmware_status", payload)


async def signed_firmware_status_notification(ctx: CallContext, payload: dict[str, Any]) -> dict:
    """Security extension: the status of a signed firmware update."""
    return _record(ctx, "firmware_status", payload)


async def log_status_notification(ctx: CallContext, payload: dict[str, Any]) -> dict:
    """Security extension: the status of a log upload (GetLog)."""
    return _record(ctx, "log_status", payload)
