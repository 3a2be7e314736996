"""Hand-written OCPP 1.6 sample payloads (valid and invalid), per message.

``VALID`` maps a message name ("BootNotification" for the request,
"BootNotificationResponse" for the response) to a list of valid payloads.
``INVALID`` maps the same names to a list of ``(label, payload)`` pairs that
must be rejected by the message's schema.  The samples are written from the
specification, independently of the JSON schemas, so they can be reused by
other tests (``from tests.ocpp_samples import VALID``).
"""

from __future__ import annotations

import copy
from typing import Any

TS = "2024-05-01T12:30:00Z"
TS_FRAC = "2024-05-01T12:30:00.123+02:00"
BAD_TS = "2024-05-01 12:30"

_CHARGING_SCHEDULE_MIN = {
    "chargingRateUnit": "A",
    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}],
}
_CHARGING_SCHEDULE_FULL = {
    "duration": 86400,
    "startSchedule": TS,
    "chargingRateUnit": "W",
    "chargingSchedulePeriod": [
        {"startPeriod": 0, "limit": 11000.0, "numberPhases": 3},
        {"startPeriod": 3600, "limit": 7400.5, "numberPhases": 1},
    ],
    "minChargingRate": 1380.0,
}
_PROFILE_MIN = {
    "chargingProfileId": 1,
    "stackLevel": 0,
    "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Absolute",
    "chargingSchedule": _CHARGING_SCHEDULE_MIN,
}
_PROFILE_FULL = {
    "chargingProfileId": 7,
    "transactionId": 42,
    "stackLevel": 2,
    "chargingProfilePurpose": "TxProfile",
    "chargingProfileKind": "Recurring",
    "recurrencyKind": "Daily",
    "validFrom": TS,
    "validTo": "2025-05-01T00:00:00Z",
    "chargingSchedule": _CHARGING_SCHEDULE_FULL,
}
_METER_VALUE_MIN = {"timestamp": TS, "sampledValue": [{"value": "1234"}]}
_METER_VALUE_FULL = {
    "timestamp": TS_FRAC,
    "sampledValue": [
        {
            "value": "1234.5",
            "context": "Sample.Periodic",
            "format": "Raw",
            "measurand": "Energy.Active.Import.Register",
            "location": "Outlet",
            "unit": "Wh",
        },
        {
            "value": "16.2",
            "context": "Sample.Clock",
            "measurand": "Current.Import",
            "phase": "L1",
            "unit": "A",
        },
        {
            "value": "230",
            "context": "Trigger",
            "measurand": "Voltage",
            "phase": "L1-N",
            "location": "Inlet",
            "unit": "V",
        },
        {"value": "41", "measurand": "Temperature", "location": "Body", "unit": "Celsius"},
        {"value": "40", "measurand": "Temperature", "location": "Body", "unit": "Celcius"},
        {"value": "80", "measurand": "SoC", "location": "EV", "unit": "Percent"},
        {"value": "AB12CD", "format": "SignedData", "context": "Transaction.End"},
    ],
}
_HASH = {
    "hashAlgorithm": "SHA256",
    "issuerNameHash": "a" * 64,
    "issuerKeyHash": "b" * 64,
    "serialNumber": "0f1e2d3c",
}

VALID: dict[str, list[Any]] = {
    # ------------------------------------------------------------------ Core
    "Authorize": [{"idTag": "ABC123"}, {"idTag": "X" * 20}],
    "AuthorizeResponse": [
        {"idTagInfo": {"status": "Accepted"}},
        {"idTagInfo": {"status": "Blocked", "expiryDate": TS, "parentIdTag": "PARENT1"}},
        {"idTagInfo": {"status": "ConcurrentTx", "expiryDate": TS_FRAC}},
    ],
    "BootNotification": [
        {"chargePointVendor": "VendorX", "chargePointModel": "ModelY"},
        {
            "chargePointVendor": "V" * 20,
            "chargePointModel": "M" * 20,
            "chargePointSerialNumber": "S" * 25,
            "chargeBoxSerialNumber": "B" * 25,
            "firmwareVersion": "F" * 50,
            "iccid": "8931440400000000000",
            "imsi": "262011234567890",
            "meterType": "T" * 25,
            "meterSerialNumber": "N" * 25,
        },
    ],
    "BootNotificationResponse": [
        {"status": "Accepted", "currentTime": TS, "interval": 300},
        {"status": "Pending", "currentTime": TS_FRAC, "interval": 0},
        {"status": "Rejected", "currentTime": "2024-05-01T12:30:00.5-05:00", "interval": 60},
    ],
    "CancelReservation": [{"reservationId": 5}],
    "CancelReservationResponse": [{"status": "Accepted"}, {"status": "Rejected"}],
    "ChangeAvailability": [
        {"connectorId": 0, "type": "Inoperative"},
        {"connectorId": 1, "type": "Operative"},
    ],
    "ChangeAvailabilityResponse": [{"status": "Accepted"}, {"status": "Scheduled"}],
    "ChangeConfiguration": [
        {"key": "HeartbeatInterval", "value": "300"},
        {"key": "K" * 50, "value": "v" * 500},
    ],
    "ChangeConfigurationResponse": [
        {"status": "Accepted"},
        {"status": "RebootRequired"},
        {"status": "NotSupported"},
    ],
    "ClearCache": [{}],
    "ClearCacheResponse": [{"status": "Accepted"}, {"status": "Rejected"}],
    "ClearChargingProfile": [
        {},
        {"id": 3},
        {"connectorId": 1, "chargingProfilePurpose": "ChargePointMaxProfile", "stackLevel": 0},
    ],
    "ClearChargingProfileResponse": [{"status": "Accepted"}, {"status": "Unknown"}],
    "DataTransfer": [
        {"vendorId": "com.example"},
        {"vendorId": "V" * 255, "messageId": "M" * 50, "data": "x" * 1000},
    ],
    "DataTransferResponse": [
        {"status": "Accepted"},
        {"status": "UnknownVendorId"},
        {"status": "UnknownMessageId", "data": '{"any": "text"}'},
    ],
    "DiagnosticsStatusNotification": [{"status": "Idle"}, {"status": "UploadFailed"}],
    "DiagnosticsStatusNotificationResponse": [{}],
    "FirmwareStatusNotification": [
        {"status": "Downloaded"},
        {"status": "InstallationFailed"},
        {"status": "Idle"},
    ],
    "FirmwareStatusNotificationResponse": [{}],
    "GetCompositeSchedule": [
        {"connectorId": 1, "duration": 3600},
        {"connectorId": 0, "duration": 86400, "chargingRateUnit": "W"},
    ],
    "GetCompositeScheduleResponse": [
        {"status": "Rejected"},
        {
            "status": "Accepted",
            "connectorId": 1,
            "scheduleStart": TS,
            "chargingSchedule": _CHARGING_SCHEDULE_FULL,
        },
        {"status": "Accepted", "chargingSchedule": _CHARGING_SCHEDULE_MIN},
    ],
    "GetConfiguration": [{}, {"key": []}, {"key": ["HeartbeatInterval", "K" * 50]}],
    "GetConfigurationResponse": [
        {},
        {
            "configurationKey": [
                {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
                {"key": "NumberOfConnectors", "readonly": True},
            ],
            "unknownKey": ["Foo"],
        },
    ],
    "GetDiagnostics": [
        {"location": "ftp://user:pw@example.com/diag/"},
        {
            "location": "https://example.com/upload",
            "retries": 3,
            "retryInterval": 60,
            "startTime": TS,
            "stopTime": TS_FRAC,
        },
    ],
    "GetDiagnosticsResponse": [{}, {"fileName": "diag-2024-05-01.zip"}],
    "GetLocalListVersion": [{}],
    "GetLocalListVersionResponse": [{"listVersion": 0}, {"listVersion": -1}],
    "Heartbeat": [{}],
    "HeartbeatResponse": [{"currentTime": TS}, {"currentTime": TS_FRAC}],
    "MeterValues": [
        {"connectorId": 1, "meterValue": [_METER_VALUE_MIN]},
        {"connectorId": 2, "transactionId": 42, "meterValue": [_METER_VALUE_FULL]},
        {"connectorId": 0, "meterValue": [_METER_VALUE_MIN, _METER_VALUE_FULL]},
    ],
    "MeterValuesResponse": [{}],
    "RemoteStartTransaction": [
        {"idTag": "ABC123"},
        {"idTag": "ABC123", "connectorId": 1},
        {"idTag": "ABC123", "connectorId": 2, "chargingProfile": _PROFILE_MIN},
    ],
    "RemoteStartTransactionResponse": [{"status": "Accepted"}, {"status": "Rejected"}],
    "RemoteStopTransaction": [{"transactionId": 42}],
    "RemoteStopTransactionResponse": [{"status": "Accepted"}, {"status": "Rejected"}],
    "ReserveNow": [
        {"connectorId": 1, "expiryDate": TS, "idTag": "ABC123", "reservationId": 9},
        {
            "connectorId": 0,
            "expiryDate": TS_FRAC,
            "idTag": "ABC123",
            "parentIdTag": "PARENT1",
            "reservationId": 10,
        },
    ],
    "ReserveNowResponse": [
        {"status": "Accepted"},
        {"status": "Faulted"},
        {"status": "Occupied"},
        {"status": "Unavailable"},
    ],
    "Reset": [{"type": "Hard"}, {"type": "Soft"}],
    "ResetResponse": [{"status": "Accepted"}, {"status": "Rejected"}],
    "SendLocalList": [
        {"listVersion": 1, "updateType": "Full"},
        {"listVersion": 2, "updateType": "Full", "localAuthorizationList": []},
        {
            "listVersion": 3,
            "updateType": "Differential",
            "localAuthorizationList": [
                {"idTag": "ABC123", "idTagInfo": {"status": "Accepted", "expiryDate": TS}},
                {"idTag": "DEF456"},
            ],
        },
    ],
    "SendLocalListResponse": [
        {"status": "Accepted"},
        {"status": "Failed"},
        {"status": "VersionMismatch"},
    ],
    "SetChargingProfile": [
        {"connectorId": 1, "csChargingProfiles": _PROFILE_MIN},
        {"connectorId": 1, "csChargingProfiles": _PROFILE_FULL},
        {
            "connectorId": 0,
            "csChargingProfiles": {
                **_PROFILE_MIN,
                "chargingProfilePurpose": "ChargePointMaxProfile",
                "chargingProfileKind": "Relative",
            },
        },
    ],
    "SetChargingProfileResponse": [{"status": "Accepted"}, {"status": "NotSupported"}],
    "StartTransaction": [
        {"connectorId": 1, "idTag": "ABC123", "meterStart": 0, "timestamp": TS},
        {
            "connectorId": 2,
            "idTag": "ABC123",
            "meterStart": 123456,
            "reservationId": 9,
            "timestamp": TS_FRAC,
        },
    ],
    "StartTransactionResponse": [
        {"idTagInfo": {"status": "Accepted"}, "transactionId": 42},
        {"idTagInfo": {"status": "Invalid", "expiryDate": TS}, "transactionId": 0},
    ],
    "StatusNotification": [
        {"connectorId": 1, "errorCode": "NoError", "status": "Available"},
        {
            "connectorId": 0,
            "errorCode": "OtherError",
            "status": "Faulted",
            "info": "I" * 50,
            "timestamp": TS,
            "vendorId": "V" * 255,
            "vendorErrorCode": "E" * 50,
        },
        {"connectorId": 2, "errorCode": "EVCommunicationError", "status": "SuspendedEVSE"},
    ],
    "StatusNotificationResponse": [{}],
    "StopTransaction": [
        {"meterStop": 2000, "timestamp": TS, "transactionId": 42},
        {
            "idTag": "ABC123",
            "meterStop": 2000,
            "timestamp": TS_FRAC,
            "transactionId": 42,
            "reason": "EVDisconnected",
            "transactionData": [_METER_VALUE_MIN, _METER_VALUE_FULL],
        },
        {"meterStop": 0, "timestamp": TS, "transactionId": 1, "reason": "DeAuthorized"},
    ],
    "StopTransactionResponse": [{}, {"idTagInfo": {"status": "Expired"}}],
    "TriggerMessage": [
        {"requestedMessage": "Heartbeat"},
        {"requestedMessage": "StatusNotification", "connectorId": 1},
        {"requestedMessage": "DiagnosticsStatusNotification"},
    ],
    "TriggerMessageResponse": [{"status": "Accepted"}, {"status": "NotImplemented"}],
    "UnlockConnector": [{"connectorId": 1}],
    "UnlockConnectorResponse": [
        {"status": "Unlocked"},
        {"status": "UnlockFailed"},
        {"status": "NotSupported"},
    ],
    "UpdateFirmware": [
        {"location": "https://example.com/fw.bin", "retrieveDate": TS},
        {
            "location": "ftp://example.com/fw.bin",
            "retrieveDate": TS_FRAC,
            "retries": 2,
            "retryInterval": 30,
        },
    ],
    "UpdateFirmwareResponse": [{}],
    # ------------------------------------------------- Security extension
    "CertificateSigned": [
        {"certificateChain": "-----BEGIN CERTIFICATE-----\nMIIB...\n-----END CERTIFICATE-----"},
        {"certificateChain": "c" * 10000},
    ],
    "CertificateSignedResponse": [{"status": "Accepted"}, {"status": "Rejected"}],
    "DeleteCertificate": [{"certificateHashData": _HASH}],
    "DeleteCertificateResponse": [
        {"status": "Accepted"},
        {"status": "Failed"},
        {"status": "NotFound"},
    ],
    "ExtendedTriggerMessage": [
        {"requestedMessage": "SignChargePointCertificate"},
        {"requestedMessage": "LogStatusNotification"},
        {"requestedMessage": "MeterValues", "connectorId": 1},
    ],
    "ExtendedTriggerMessageResponse": [
        {"status": "Accepted"},
        {"status": "Rejected"},
        {"status": "NotImplemented"},
    ],
    "GetInstalledCertificateIds": [
        {"certificateType": "CentralSystemRootCertificate"},
        {"certificateType": "ManufacturerRootCertificate"},
    ],
    "GetInstalledCertificateIdsResponse": [
        {"status": "NotFound"},
        {
            "status": "Accepted",
            "certificateHashData": [
                _HASH,
                {
                    "hashAlgorithm": "SHA512",
                    "issuerNameHash": "c" * 128,
                    "issuerKeyHash": "d" * 128,
                    "serialNumber": "e" * 40,
                },
            ],
        },
        {"status": "NotFound", "certificateHashData": []},
    ],
    "GetLog": [
        {
            "log": {"remoteLocation": "https://example.com/logs"},
            "logType": "DiagnosticsLog",
            "requestId": 1,
        },
        {
            "log": {
                "remoteLocation": "ftp://example.com/" + "l" * 494,
                "oldestTimestamp": TS,
                "latestTimestamp": TS_FRAC,
            },
            "logType": "SecurityLog",
            "requestId": 2,
            "retries": 3,
            "retryInterval": 60,
        },
    ],
    "GetLogResponse": [
        {"status": "Accepted"},
        {"status": "AcceptedCanceled", "filename": "security.log"},
        {"status": "Rejected"},
    ],
    "InstallCertificate": [
        {"certificateType": "CentralSystemRootCertificate", "certificate": "-----BEGIN..."},
        {"certificateType": "ManufacturerRootCertificate", "certificate": "c" * 5500},
    ],
    "InstallCertificateResponse": [
        {"status": "Accepted"},
        {"status": "Failed"},
        {"status": "Rejected"},
    ],
    "LogStatusNotification": [
        {"status": "Idle"},
        {"status": "Uploading", "requestId": 1},
        {"status": "NotSupportedOperation"},
    ],
    "LogStatusNotificationResponse": [{}],
    "SecurityEventNotification": [
        {"type": "FirmwareUpdated", "timestamp": TS},
        {"type": "T" * 50, "timestamp": TS_FRAC, "techInfo": "i" * 255},
    ],
    "SecurityEventNotificationResponse": [{}],
    "SignCertificate": [{"csr": "-----BEGIN CERTIFICATE REQUEST-----"}, {"csr": "c" * 5500}],
    "SignCertificateResponse": [{"status": "Accepted"}, {"status": "Rejected"}],
    "SignedFirmwareStatusNotification": [
        {"status": "Downloaded"},
        {"status": "InvalidSignature", "requestId": 3},
        {"status": "InstallVerificationFailed"},
    ],
    "SignedFirmwareStatusNotificationResponse": [{}],
    "SignedUpdateFirmware": [
        {
            "requestId": 1,
            "firmware": {
                "location": "https://example.com/fw.bin",
                "retrieveDateTime": TS,
                "signingCertificate": "-----BEGIN CERTIFICATE-----",
                "signature": "c2lnbmF0dXJl",
            },
        },
        {
            "requestId": 2,
            "retries": 3,
            "retryInterval": 60,
            "firmware": {
                "location": "l" * 512,
                "retrieveDateTime": TS,
                "installDateTime": TS_FRAC,
                "signingCertificate": "c" * 5500,
                "signature": "s" * 800,
            },
        },
    ],
    "SignedUpdateFirmwareResponse": [
        {"status": "Accepted"},
        {"status": "AcceptedCanceled"},
        {"status": "InvalidCertificate"},
        {"status": "RevokedCertificate"},
    ],
}


# --------------------------------------------------------------------------
# Invalid mutations
# --------------------------------------------------------------------------


_DROP = object()


def mutate(payload: Any, path: str, value: Any = _DROP) -> Any:
    """Deep-copy ``payload`` and set (or, by default, delete) the dotted ``path``.

    Numeric path segments index into lists: ``"meterValue.0.sampledValue.0.unit"``.
    """
    result = copy.deepcopy(payload)
    *parents, last = path.split(".")
    node = result
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    key: Any = int(last) if isinstance(node, list) else last
    if value is _DROP:
        del node[key]
    else:
        node[key] = value
    return result
