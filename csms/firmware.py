"""Firmware management, diagnostics and logs, both directions.

Accepted UpdateFirmware, SignedUpdateFirmware, GetDiagnostics and GetLog become
``chargers.requests.<firmware|diagnostics|log>`` = ``{command_id, action,
request_id, file_name, ts, status, status_ts, done}``; the status notifications
that follow are kept on the charger and linked to that request.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from csms.context import CallContext
from csms.registry import Outcome
from csms.request import Request

if TYPE_CHECKING:
    from csms.services import Services

REQUEST_SEQUENCE = "remote_requests"

# Status notifications after which a firmware/diagnostics/log request is over.
_FINAL = {
    "firmware": {
        "Installed",
        "InstallationFailed",
        "DownloadFailed",
        "InstallVerificationFailed",
        "InvalidSignature",
    },
    "diagnostics": {"Uploaded", "UploadFailed"},
    "log": {"Uploaded", "UploadFailure", "BadMessage", "NotSupportedOperation", "PermissionDenied"},
}
REQUEST_KIND = {
    "UpdateFirmware": "firmware",
    "SignedUpdateFirmware": "firmware",
    "GetDiagnostics": "diagnostics",
    "GetLog": "log",
}


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


async def assign_request_id(req: Request) -> None:
    """GetLog and SignedUpdateFirmware need a requestId; give a fresh one unless given."""
    if "requestId" not in req.payload:
        req.payload["requestId"] = await req.services.counters.next(REQUEST_SEQUENCE)


async def after_file_request(req: Request, outcome: Outcome) -> None:
    """An accepted request becomes the charger's current firmware/diagnostics/log request."""
    if not outcome.ok:
        return
    action = req.action
    kind = REQUEST_KIND[action]
    request = {
        "command_id": outcome.command_id,
        "action": action,
        "request_id": req.payload.get("requestId"),
        "file_name": outcome.payload.get("fileName") or outcome.payload.get("filename"),
        "ts": req.now,
        "status": None,
        "status_ts": None,
        "done": False,
    }
    await req.services.chargers.update(req.charger_id, {f"requests.{kind}": request})


async def link_status_notification(
    services: Services, charger_id: str, kind: str, payload: dict[str, Any], now: datetime
) -> str | None:
    """Attach a Firmware/Diagnostics/Log(/SignedFirmware) status notification to the request
    it follows; returns the command id, or None when it follows none (e.g. ``Idle``).

    ``kind`` is ``firmware``, ``diagnostics`` or ``log``. A notification with a
    ``requestId`` links only to the request with that id. After a final status
    (Installed, Uploaded, ...) the request is done and later notifications
    are not linked.
    """
    charger = await services.chargers.get(charger_id)
    request = ((charger or {}).get("requests") or {}).get(kind)
    status = payload.get("status")
    if not request or request.get("done") or status in (None, "Idle"):
        return None
    request_id = payload.get("requestId")
    if request_id is not None and request.get("request_id") not in (None, request_id):
        return None
    command_id = request["command_id"]
    entry = {"status": status, "ts": now}
    if request_id is not None:
        entry["request_id"] = request_id
    await services.commands.add_notification(
        command_id, entry, {"progress": status, "progress_ts": now}
    )
    done = status in _FINAL[kind]
    await services.chargers.update(
        charger_id,
        {
            f"requests.{kind}.status": status,
            f"requests.{kind}.status_ts": now,
            f"requests.{kind}.done": done,
        },
    )
    return command_id
