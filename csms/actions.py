"""The dispatch table: OCPP action name -> coroutine ``(ctx, payload) -> response``.

Built once at import. Handlers receive payloads that already passed the
request schema and return the response dict, which is validated against the
response schema before it leaves.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import MappingProxyType
from typing import Any

from csms import authorization, certificates, core, firmware, metering, security, transactions
from csms.context import CallContext

Handler = Callable[[CallContext, dict[str, Any]], Awaitable[dict[str, Any]]]

CHARGER_ACTIONS: MappingProxyType[str, Handler] = MappingProxyType(
    {
        "Authorize": authorization.authorize,
        "BootNotification": core.boot_notification,
        "DataTransfer": core.data_transfer,
        "DiagnosticsStatusNotification": firmware.diagnostics_status_notification,
        "FirmwareStatusNotification": firmware.firmware_status_notification,
        "Heartbeat": core.heartbeat,
        "LogStatusNotification": firmware.log_status_notification,
        "MeterValues": metering.meter_values,
        "SecurityEventNotification": security.security_event_notification,
        "SignCertificate": certificates.sign_certificate,
        "SignedFirmwareStatusNotification": firmware.signed_firmware_status_notification,
        "StartTransaction": transactions.start_transaction,
        "StatusNotification": core.status_notification,
        "StopTransaction": transactions.stop_transaction,
    }
)

# Actions only a Central System sends. A charger sending one gets NotSupported
# (the action is known, just not in this direction); anything else unknown
# gets NotImplemented (OCPP_RULES 3).
CENTRAL_SYSTEM_ACTIONS = frozenset(
    {
        "CancelReservation",
        "CertificateSigned",
        "ChangeAvailability",
        "ChangeConfiguration",
        "ClearCache",
        "ClearChargingProfile",
        "DeleteCertificate",
        "ExtendedTriggerMessage",
        "GetCompositeSchedule",
        "GetConfiguration",
        "GetDiagnostics",
        "GetInstalledCertificateIds",
        "GetLocalListVersion",
        "GetLog",
        "InstallCertificate",
        "RemoteStartTransaction",
        "RemoteStopTransaction",
        "ReserveNow",
        "Reset",
        "SendLocalList",
        "SetChargingProfile",
        "SignedUpdateFirmware",
        "TriggerMessage",
        "UnlockConnector",
        "UpdateFirmware",
    }
)
