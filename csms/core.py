"""Core profile actions that are about the charger itself: boot, heartbeat, status, data."""

from __future__ import annotations

from typing import Any

from csms import billing, self_heal
from csms.context import CallContext
from ocppj.timeutil import format_datetime, parse_datetime

# BootNotification field -> stored boot info key
_BOOT_FIELDS = {
    "chargePointVendor": "vendor",
    "chargePointModel": "model",
    "chargePointSerialNumber": "serial",
    "chargeBoxSerialNumber": "charge_box_serial",
    "firmwareVersion": "firmware",
    "iccid": "iccid",
    "imsi": "imsi",
    "meterType": "meter_type",
    "meterSerialNumber": "meter_serial",
}


async def boot_notification(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Accept the charger, store its boot information, give the heartbeat interval."""
    boot = {key: payload.get(name) for name, key in _BOOT_FIELDS.items()}
    boot["ts"] = ctx.now
    alerts = ctx.services.alerts
    recent = ctx.state.recent_boots = alerts.recent_boots(ctx.state.recent_boots, ctx.now)
    await ctx.services.chargers.record_boot(
        ctx.charger_id, boot, ctx.now, ctx.state.name, recent_boots=recent
    )
    ctx.state.booted = True
    await alerts.on_boot(ctx, recent)
    ctx.services.bus.publish("boot", ctx.charger_id, vendor=boot["vendor"], model=boot["model"])
    ctx.services.load_event(ctx.charger_id, "boot")
    return {
        "status": "Accepted",
        "currentTime": format_datetime(ctx.now),
        "interval": ctx.services.settings.heartbeat_interval,
    }


async def heartbeat(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Record the heartbeat and tell the charger the time."""
    ctx.services.chargers.touch(ctx.charger_id, {"last_heartbeat": ctx.now, "last_seen": ctx.now})
    return {"currentTime": format_datetime(ctx.now)}


async def status_notification(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Store the connector's status; a late (queued) notification never overwrites a newer one."""
    connector = payload["connectorId"]
    ts = parse_datetime(payload["timestamp"]) if "timestamp" in payload else ctx.now
    if "timestamp" in payload:
        await ctx.services.alerts.check_clock(ctx, ts)
    newest = ctx.state.connector_ts.get(connector)
    if newest is not None and ts < newest:
        return {}
    ctx.state.connector_ts[connector] = ts
    status = {
        "status": payload["status"],
        "error_code": payload["errorCode"],
        "info": payload.get("info"),
        "vendor_id": payload.get("vendorId"),
        "vendor_error_code": payload.get("vendorErrorCode"),
        "ts": ts,
        "received": ctx.now,
    }
    statuses = ctx.state.statuses
    await billing.note_status(ctx, connector, payload["status"], statuses.get(connector), ts)
    statuses[connector] = payload["status"]
    ctx.services.chargers.set_connector(
        ctx.charger_id, connector, status, sorted(set(statuses.values()))
    )
    await self_heal.on_status(ctx, connector, payload["status"], ts)
    await ctx.services.alerts.on_status(ctx, payload, ts)
    ctx.services.bus.publish(
        "status",
        ctx.charger_id,
        connector=connector,
        status=payload["status"],
        error_code=payload["errorCode"],
    )
    ctx.services.load_event(ctx.charger_id, "status", connector=connector, status=payload["status"])
    return {}


async def data_transfer(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    """No vendor extensions are implemented: the spec's answer is UnknownVendorId.

    The request itself is kept in the message log.
    """
    return {"status": "UnknownVendorId"}
