"""Firmware, diagnostics and log upload status notifications.

Each is kept on the charger and linked to the request it follows (an
UpdateFirmware, GetDiagnostics or GetLog sent from the Central System).
"""

from __future__ import annotations

from typing import Any

from csms.context import CallContext
from csms.remote_effects import link_status_notification


async def _record(ctx: CallContext, field: str, kind: str, payload: dict[str, Any]) -> dict:
    status = {"status": payload["status"], "ts": ctx.now}
    if "requestId" in payload:
        status["request_id"] = payload["requestId"]
    status["command_id"] = await link_status_notification(
        ctx.services, ctx.charger_id, kind, payload, ctx.now
    )
    ctx.services.chargers.touch(ctx.charger_id, {field: status, "last_seen": ctx.now})
    ctx.services.bus.publish(field, ctx.charger_id, status=payload["status"])
    return {}


async def diagnostics_status_notification(ctx: CallContext, payload: dict[str, Any]) -> dict:
    """Keep the latest diagnostics upload status on the charger."""
    return await _record(ctx, "diagnostics_status", "diagnostics", payload)


async def firmware_status_notification(ctx: CallContext, payload: dict[str, Any]) -> dict:
    """Keep the latest firmware update status on the charger."""
    return await _record(ctx, "firmware_status", "firmware", payload)


async def signed_firmware_status_notification(ctx: CallContext, payload: dict[str, Any]) -> dict:
    """Security extension: the status of a signed firmware update."""
    return await _record(ctx, "firmware_status", "firmware", payload)


async def log_status_notification(ctx: CallContext, payload: dict[str, Any]) -> dict:
    """Security extension: the status of a log upload (GetLog)."""
    return await _record(ctx, "log_status", "log", payload)
