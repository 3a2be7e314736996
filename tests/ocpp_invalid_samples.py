"""Invalid OCPP 1.6 payloads: for every message, mutations of its valid samples that
its schema must reject (missing required fields, wrong types, bad enums, too-long
strings, extra properties, bad date-times). ``INVALID`` maps a message name to
``(label, payload)`` pairs; ``mutate`` builds one mutation.
"""

from __future__ import annotations

from typing import Any

from tests.ocpp_samples import BAD_TS, VALID, mutate


def _cases(base: Any, *specs: tuple[str, str, Any] | tuple[str, str]) -> list[tuple[str, Any]]:
    """Build ``(label, payload)`` cases from ``(label, path[, value])`` specs on ``base``."""
    return [(label, mutate(base, *rest)) for label, *rest in specs]


def _status_cases(name: str) -> list[tuple[str, Any]]:
    base = VALID[name][0]
    return _cases(
        base,
        ("missing status", "status"),
        ("bad enum status", "status", "Bogus"),
        ("wrong case status", "status", base["status"].lower()),
        ("wrong type status", "status", 1),
    )


_MV = VALID["MeterValues"][1]
_SV = "meterValue.0.sampledValue.0"
_PROFILE = VALID["SetChargingProfile"][1]
_CS = "csChargingProfiles.chargingSchedule"
_GCS = VALID["GetCompositeScheduleResponse"][1]
_ST = VALID["StopTransaction"][1]
_SUF = VALID["SignedUpdateFirmware"][1]

_SPECIFIC: dict[str, list[tuple[str, Any]]] = {
    "Authorize": _cases(
        VALID["Authorize"][0],
        ("missing idTag", "idTag"),
        ("idTag too long", "idTag", "X" * 21),
        ("idTag wrong type", "idTag", 123),
        ("idTag null", "idTag", None),
    ),
    "AuthorizeResponse": _cases(
        VALID["AuthorizeResponse"][1],
        ("missing idTagInfo", "idTagInfo"),
        ("missing idTagInfo.status", "idTagInfo.status"),
        ("bad enum idTagInfo.status", "idTagInfo.status", "Unknown"),
        ("bad date-time expiryDate", "idTagInfo.expiryDate", BAD_TS),
        ("parentIdTag too long", "idTagInfo.parentIdTag", "P" * 21),
        ("extra property in idTagInfo", "idTagInfo.foo", 1),
        ("idTagInfo wrong type", "idTagInfo", "Accepted"),
    ),
    "BootNotification": _cases(
        VALID["BootNotification"][1],
        ("missing chargePointVendor", "chargePointVendor"),
        ("missing chargePointModel", "chargePointModel"),
        ("chargePointVendor too long", "chargePointVendor", "V" * 21),
        ("chargePointModel too long", "chargePointModel", "M" * 21),
        ("chargePointSerialNumber too long", "chargePointSerialNumber", "S" * 26),
        ("chargeBoxSerialNumber too long", "chargeBoxSerialNumber", "B" * 26),
        ("firmwareVersion too long", "firmwareVersion", "F" * 51),
        ("iccid too long", "iccid", "1" * 21),
        ("imsi too long", "imsi", "1" * 21),
        ("meterType too long", "meterType", "T" * 26),
        ("meterSerialNumber too long", "meterSerialNumber", "N" * 26),
        ("chargePointVendor wrong type", "chargePointVendor", ["VendorX"]),
    ),
    "BootNotificationResponse": _cases(
        VALID["BootNotificationResponse"][0],
        ("missing status", "status"),
        ("missing currentTime", "currentTime"),
        ("missing interval", "interval"),
        ("bad enum status", "status", "Accept"),
        ("bad date-time currentTime", "currentTime", BAD_TS),
        ("date-only currentTime", "currentTime", "2024-05-01"),
        ("no offset currentTime", "currentTime", "2024-05-01T12:30:00"),
        ("out-of-range currentTime", "currentTime", "2024-13-01T12:30:00Z"),
        ("interval wrong type (string)", "interval", "300"),
        ("interval wrong type (float)", "interval", 300.5),
        ("interval wrong type (bool)", "interval", True),
    ),
    "CancelReservation": _cases(
        VALID["CancelReservation"][0],
        ("missing reservationId", "reservationId"),
        ("reservationId wrong type", "reservationId", "5"),
    ),
    "ChangeAvailability": _cases(
        VALID["ChangeAvailability"][0],
        ("missing connectorId", "connectorId"),
        ("missing type", "type"),
        ("bad enum type", "type", "Available"),
        ("connectorId wrong type", "connectorId", 1.5),
    ),
    "ChangeConfiguration": _cases(
        VALID["ChangeConfiguration"][0],
        ("missing key", "key"),
        ("missing value", "value"),
        ("key too long", "key", "K" * 51),
        ("value too long", "value", "v" * 501),
        ("value wrong type", "value", 300),
    ),
    "ClearChargingProfile": _cases(
        VALID["ClearChargingProfile"][2],
        ("bad enum chargingProfilePurpose", "chargingProfilePurpose", "TxMaxProfile"),
        ("id wrong type", "id", "3"),
        ("stackLevel wrong type", "stackLevel", 0.5),
    ),
    "DataTransfer": _cases(
        VALID["DataTransfer"][1],
        ("missing vendorId", "vendorId"),
        ("vendorId too long", "vendorId", "V" * 256),
        ("messageId too long", "messageId", "M" * 51),
        ("data wrong type", "data", {"a": 1}),
    ),
    "DataTransferResponse": _cases(
        VALID["DataTransferResponse"][2],
        ("missing status", "status"),
        ("bad enum status", "status", "UnknownVendor"),
        ("data wrong type", "data", 5),
    ),
    "DiagnosticsStatusNotification": [
        *_status_cases("DiagnosticsStatusNotification"),
        ("FirmwareStatus value", {"status": "Downloaded"}),
    ],
    "FirmwareStatusNotification": [
        *_status_cases("FirmwareStatusNotification"),
        ("security-only status", {"status": "SignatureVerified"}),
    ],
    "GetCompositeSchedule": _cases(
        VALID["GetCompositeSchedule"][1],
        ("missing connectorId", "connectorId"),
        ("missing duration", "duration"),
        ("bad enum chargingRateUnit", "chargingRateUnit", "kW"),
        ("duration wrong type", "duration", "3600"),
    ),
    "GetCompositeScheduleResponse": _cases(
        _GCS,
        ("missing status", "status"),
        ("bad enum status", "status", "Unknown"),
        ("bad date-time scheduleStart", "scheduleStart", "now"),
        ("missing chargingRateUnit", "chargingSchedule.chargingRateUnit"),
        ("missing chargingSchedulePeriod", "chargingSchedule.chargingSchedulePeriod"),
        ("empty chargingSchedulePeriod", "chargingSchedule.chargingSchedulePeriod", []),
        ("missing startPeriod", "chargingSchedule.chargingSchedulePeriod.0.startPeriod"),
        ("missing limit", "chargingSchedule.chargingSchedulePeriod.0.limit"),
        ("limit two decimals", "chargingSchedule.chargingSchedulePeriod.0.limit", 16.25),
        ("limit wrong type", "chargingSchedule.chargingSchedulePeriod.0.limit", "16"),
        ("numberPhases wrong type", "chargingSchedule.chargingSchedulePeriod.0.numberPhases", 1.5),
        ("minChargingRate two decimals", "chargingSchedule.minChargingRate", 6.05),
        ("bad date-time startSchedule", "chargingSchedule.startSchedule", BAD_TS),
        ("extra property in period", "chargingSchedule.chargingSchedulePeriod.0.x", 1),
        ("extra property in schedule", "chargingSchedule.x", 1),
    ),
    "GetConfiguration": _cases(
        VALID["GetConfiguration"][2],
        ("key too long", "key.1", "K" * 51),
        ("key item wrong type", "key.0", 1),
        ("key not an array", "key", "HeartbeatInterval"),
    ),
    "GetConfigurationResponse": _cases(
        VALID["GetConfigurationResponse"][1],
        ("missing configurationKey.key", "configurationKey.0.key"),
        ("missing configurationKey.readonly", "configurationKey.0.readonly"),
        ("readonly wrong type", "configurationKey.0.readonly", "false"),
        ("configurationKey.key too long", "configurationKey.0.key", "K" * 51),
        ("configurationKey.value too long", "configurationKey.0.value", "v" * 501),
        ("unknownKey too long", "unknownKey.0", "K" * 51),
        ("extra property in KeyValue", "configurationKey.1.extra", True),
    ),
    "GetDiagnostics": _cases(
        VALID["GetDiagnostics"][1],
        ("missing location", "location"),
        ("location wrong type", "location", 1),
        ("bad date-time startTime", "startTime", BAD_TS),
        ("bad date-time stopTime", "stopTime", "2024-05-01T25:00:00Z"),
        ("retries wrong type", "retries", "3"),
        ("retryInterval wrong type", "retryInterval", 1.5),
    ),
    "GetDiagnosticsResponse": _cases(
        VALID["GetDiagnosticsResponse"][1],
        ("fileName too long", "fileName", "f" * 256),
        ("fileName wrong type", "fileName", None),
    ),
    "GetLocalListVersionResponse": _cases(
        VALID["GetLocalListVersionResponse"][0],
        ("missing listVersion", "listVersion"),
        ("listVersion wrong type", "listVersion", "1"),
    ),
    "HeartbeatResponse": _cases(
        VALID["HeartbeatResponse"][0],
        ("missing currentTime", "currentTime"),
        ("bad date-time currentTime", "currentTime", BAD_TS),
        ("currentTime wrong type", "currentTime", 1714566600),
    ),
    "MeterValues": _cases(
        _MV,
        ("missing connectorId", "connectorId"),
        ("missing meterValue", "meterValue"),
        ("empty meterValue", "meterValue", []),
        ("transactionId wrong type", "transactionId", "42"),
        ("missing timestamp", "meterValue.0.timestamp"),
        ("bad date-time timestamp", "meterValue.0.timestamp", BAD_TS),
        ("missing sampledValue", "meterValue.0.sampledValue"),
        ("empty sampledValue", "meterValue.0.sampledValue", []),
        ("missing value", f"{_SV}.value"),
        ("value wrong type", f"{_SV}.value", 1234.5),
        ("bad enum context", f"{_SV}.context", "Sample.Random"),
        ("bad enum format", f"{_SV}.format", "Signed"),
        ("bad enum measurand", f"{_SV}.measurand", "Energy.Active.Import"),
        ("bad enum phase", f"{_SV}.phase", "L4"),
        ("bad enum location", f"{_SV}.location", "Socket"),
        ("bad enum unit", f"{_SV}.unit", "kw"),
        ("bad enum unit (degC)", f"{_SV}.unit", "degC"),
        ("unit Hertz (not a 1.6 UnitOfMeasure)", f"{_SV}.unit", "Hertz"),
        ("extra property in sampledValue", f"{_SV}.extra", 1),
        ("extra property in meterValue", "meterValue.0.extra", 1),
    ),
    "RemoteStartTransaction": _cases(
        VALID["RemoteStartTransaction"][2],
        ("missing idTag", "idTag"),
        ("idTag too long", "idTag", "X" * 21),
        ("connectorId wrong type", "connectorId", "1"),
        ("missing chargingProfileId", "chargingProfile.chargingProfileId"),
        ("missing stackLevel", "chargingProfile.stackLevel"),
        ("missing chargingProfilePurpose", "chargingProfile.chargingProfilePurpose"),
        ("missing chargingProfileKind", "chargingProfile.chargingProfileKind"),
        ("missing chargingSchedule", "chargingProfile.chargingSchedule"),
        ("bad enum chargingProfileKind", "chargingProfile.chargingProfileKind", "Once"),
        (
            "empty chargingSchedulePeriod",
            "chargingProfile.chargingSchedule.chargingSchedulePeriod",
            [],
        ),
        ("bad enum chargingRateUnit", "chargingProfile.chargingSchedule.chargingRateUnit", "w"),
    ),
    "RemoteStopTransaction": _cases(
        VALID["RemoteStopTransaction"][0],
        ("missing transactionId", "transactionId"),
        ("transactionId wrong type", "transactionId", "42"),
    ),
    "ReserveNow": _cases(
        VALID["ReserveNow"][1],
        ("missing connectorId", "connectorId"),
        ("missing expiryDate", "expiryDate"),
        ("missing idTag", "idTag"),
        ("missing reservationId", "reservationId"),
        ("bad date-time expiryDate", "expiryDate", BAD_TS),
        ("idTag too long", "idTag", "X" * 21),
        ("parentIdTag too long", "parentIdTag", "P" * 21),
    ),
    "Reset": _cases(
        VALID["Reset"][0],
        ("missing type", "type"),
        ("bad enum type", "type", "Reboot"),
    ),
    "SendLocalList": _cases(
        VALID["SendLocalList"][2],
        ("missing listVersion", "listVersion"),
        ("missing updateType", "updateType"),
        ("bad enum updateType", "updateType", "Partial"),
        ("missing idTag in AuthorizationData", "localAuthorizationList.0.idTag"),
        ("idTag too long", "localAuthorizationList.1.idTag", "X" * 21),
        ("bad enum idTagInfo.status", "localAuthorizationList.0.idTagInfo.status", "Ok"),
        ("bad date-time expiryDate", "localAuthorizationList.0.idTagInfo.expiryDate", "x"),
        ("extra property in AuthorizationData", "localAuthorizationList.1.extra", 1),
    ),
    "SetChargingProfile": _cases(
        _PROFILE,
        ("missing connectorId", "connectorId"),
        ("missing csChargingProfiles", "csChargingProfiles"),
        ("bad enum chargingProfilePurpose", "csChargingProfiles.chargingProfilePurpose", "Tx"),
        ("bad enum recurrencyKind", "csChargingProfiles.recurrencyKind", "Monthly"),
        ("bad date-time validFrom", "csChargingProfiles.validFrom", BAD_TS),
        ("bad date-time validTo", "csChargingProfiles.validTo", "tomorrow"),
        ("transactionId wrong type", "csChargingProfiles.transactionId", "42"),
        ("bad enum chargingRateUnit", f"{_CS}.chargingRateUnit", "kW"),
        ("empty chargingSchedulePeriod", f"{_CS}.chargingSchedulePeriod", []),
        ("limit two decimals", f"{_CS}.chargingSchedulePeriod.1.limit", 7400.55),
        ("minChargingRate two decimals", f"{_CS}.minChargingRate", 1380.25),
        ("duration wrong type", f"{_CS}.duration", 86400.5),
        ("extra property in profile", "csChargingProfiles.extra", 1),
    ),
    "StartTransaction": _cases(
        VALID["StartTransaction"][1],
        ("missing connectorId", "connectorId"),
        ("missing idTag", "idTag"),
        ("missing meterStart", "meterStart"),
        ("missing timestamp", "timestamp"),
        ("bad date-time timestamp", "timestamp", BAD_TS),
        ("idTag too long", "idTag", "X" * 21),
        ("meterStart wrong type", "meterStart", 1.5),
        ("reservationId wrong type", "reservationId", "9"),
    ),
    "StartTransactionResponse": _cases(
        VALID["StartTransactionResponse"][1],
        ("missing idTagInfo", "idTagInfo"),
        ("missing transactionId", "transactionId"),
        ("transactionId wrong type", "transactionId", "42"),
        ("bad enum idTagInfo.status", "idTagInfo.status", "Rejected"),
    ),
    "StatusNotification": _cases(
        VALID["StatusNotification"][1],
        ("missing connectorId", "connectorId"),
        ("missing errorCode", "errorCode"),
        ("missing status", "status"),
        ("bad enum errorCode", "errorCode", "Error"),
        ("bad enum status", "status", "Occupied"),
        ("info too long", "info", "I" * 51),
        ("vendorId too long", "vendorId", "V" * 256),
        ("vendorErrorCode too long", "vendorErrorCode", "E" * 51),
        ("bad date-time timestamp", "timestamp", BAD_TS),
    ),
    "StopTransaction": _cases(
        _ST,
        ("missing meterStop", "meterStop"),
        ("missing timestamp", "timestamp"),
        ("missing transactionId", "transactionId"),
        ("bad enum reason", "reason", "Unplugged"),
        ("bad date-time timestamp", "timestamp", BAD_TS),
        ("idTag too long", "idTag", "X" * 21),
        ("meterStop wrong type", "meterStop", "2000"),
        ("transactionData wrong type", "transactionData", {}),
        ("missing transactionData timestamp", "transactionData.0.timestamp"),
        ("bad enum transactionData unit", "transactionData.1.sampledValue.0.unit", "kwh"),
        ("transactionData unit Hertz", "transactionData.1.sampledValue.0.unit", "Hertz"),
        ("empty transactionData sampledValue", "transactionData.0.sampledValue", []),
        ("missing transactionData value", "transactionData.1.sampledValue.2.value"),
    ),
    "StopTransactionResponse": _cases(
        VALID["StopTransactionResponse"][1],
        ("missing idTagInfo.status", "idTagInfo.status"),
        ("bad enum idTagInfo.status", "idTagInfo.status", "Stopped"),
    ),
    "TriggerMessage": _cases(
        VALID["TriggerMessage"][1],
        ("missing requestedMessage", "requestedMessage"),
        ("bad enum requestedMessage", "requestedMessage", "Authorize"),
        ("security-only requestedMessage", "requestedMessage", "SignChargePointCertificate"),
        ("connectorId wrong type", "connectorId", "1"),
    ),
    "UnlockConnector": _cases(
        VALID["UnlockConnector"][0],
        ("missing connectorId", "connectorId"),
        ("connectorId wrong type", "connectorId", None),
    ),
    "UpdateFirmware": _cases(
        VALID["UpdateFirmware"][1],
        ("missing location", "location"),
        ("missing retrieveDate", "retrieveDate"),
        ("bad date-time retrieveDate", "retrieveDate", BAD_TS),
        ("retries wrong type", "retries", "2"),
    ),
    "CertificateSigned": _cases(
        VALID["CertificateSigned"][0],
        ("missing certificateChain", "certificateChain"),
        ("certificateChain too long", "certificateChain", "c" * 10001),
    ),
    "DeleteCertificate": _cases(
        VALID["DeleteCertificate"][0],
        ("missing certificateHashData", "certificateHashData"),
        ("missing hashAlgorithm", "certificateHashData.hashAlgorithm"),
        ("missing issuerNameHash", "certificateHashData.issuerNameHash"),
        ("missing issuerKeyHash", "certificateHashData.issuerKeyHash"),
        ("missing serialNumber", "certificateHashData.serialNumber"),
        ("bad enum hashAlgorithm", "certificateHashData.hashAlgorithm", "MD5"),
        ("issuerNameHash too long", "certificateHashData.issuerNameHash", "a" * 129),
        ("issuerKeyHash too long", "certificateHashData.issuerKeyHash", "b" * 129),
        ("serialNumber too long", "certificateHashData.serialNumber", "0" * 41),
        ("extra property in hash data", "certificateHashData.extra", 1),
    ),
    "ExtendedTriggerMessage": _cases(
        VALID["ExtendedTriggerMessage"][2],
        ("missing requestedMessage", "requestedMessage"),
        ("core-only requestedMessage", "requestedMessage", "DiagnosticsStatusNotification"),
        ("connectorId wrong type", "connectorId", "1"),
    ),
    "GetInstalledCertificateIds": _cases(
        VALID["GetInstalledCertificateIds"][0],
        ("missing certificateType", "certificateType"),
        ("bad enum certificateType", "certificateType", "V2GRootCertificate"),
    ),
    "GetInstalledCertificateIdsResponse": _cases(
        VALID["GetInstalledCertificateIdsResponse"][1],
        ("missing status", "status"),
        ("bad enum status", "status", "Rejected"),
        ("missing serialNumber", "certificateHashData.0.serialNumber"),
        ("bad enum hashAlgorithm", "certificateHashData.1.hashAlgorithm", "SHA1"),
        ("serialNumber too long", "certificateHashData.1.serialNumber", "e" * 41),
        ("certificateHashData wrong type", "certificateHashData", {}),
    ),
    "GetLog": _cases(
        VALID["GetLog"][1],
        ("missing log", "log"),
        ("missing logType", "logType"),
        ("missing requestId", "requestId"),
        ("missing remoteLocation", "log.remoteLocation"),
        ("remoteLocation too long", "log.remoteLocation", "l" * 513),
        ("bad date-time oldestTimestamp", "log.oldestTimestamp", BAD_TS),
        ("bad date-time latestTimestamp", "log.latestTimestamp", "2024-05-01T12:30Z"),
        ("bad enum logType", "logType", "DebugLog"),
        ("requestId wrong type", "requestId", "1"),
        ("extra property in log", "log.extra", 1),
    ),
    "GetLogResponse": _cases(
        VALID["GetLogResponse"][1],
        ("missing status", "status"),
        ("bad enum status", "status", "Canceled"),
        ("filename too long", "filename", "f" * 256),
    ),
    "InstallCertificate": _cases(
        VALID["InstallCertificate"][0],
        ("missing certificateType", "certificateType"),
        ("missing certificate", "certificate"),
        ("certificate too long", "certificate", "c" * 5501),
        ("bad enum certificateType", "certificateType", "RootCertificate"),
    ),
    "LogStatusNotification": _cases(
        VALID["LogStatusNotification"][1],
        ("missing status", "status"),
        ("bad enum status", "status", "UploadFailed"),
        ("requestId wrong type", "requestId", "1"),
    ),
    "SecurityEventNotification": _cases(
        VALID["SecurityEventNotification"][1],
        ("missing type", "type"),
        ("missing timestamp", "timestamp"),
        ("type too long", "type", "T" * 51),
        ("techInfo too long", "techInfo", "i" * 256),
        ("bad date-time timestamp", "timestamp", BAD_TS),
    ),
    "SignCertificate": _cases(
        VALID["SignCertificate"][0],
        ("missing csr", "csr"),
        ("csr too long", "csr", "c" * 5501),
        ("csr wrong type", "csr", 1),
    ),
    "SignedFirmwareStatusNotification": _cases(
        VALID["SignedFirmwareStatusNotification"][1],
        ("missing status", "status"),
        ("bad enum status", "status", "SignatureInvalid"),
        ("requestId wrong type", "requestId", "3"),
    ),
    "SignedUpdateFirmware": _cases(
        _SUF,
        ("missing requestId", "requestId"),
        ("missing firmware", "firmware"),
        ("missing location", "firmware.location"),
        ("missing retrieveDateTime", "firmware.retrieveDateTime"),
        ("missing signingCertificate", "firmware.signingCertificate"),
        ("missing signature", "firmware.signature"),
        ("location too long", "firmware.location", "l" * 513),
        ("signingCertificate too long", "firmware.signingCertificate", "c" * 5501),
        ("signature too long", "firmware.signature", "s" * 801),
        ("bad date-time retrieveDateTime", "firmware.retrieveDateTime", BAD_TS),
        ("bad date-time installDateTime", "firmware.installDateTime", "2024-02-30T00:00:60"),
        ("extra property in firmware", "firmware.extra", 1),
        ("retries wrong type", "retries", "3"),
    ),
    "SignedUpdateFirmwareResponse": [
        *_status_cases("SignedUpdateFirmwareResponse"),
        ("core-only status", {"status": "NotSupported"}),
    ],
}

# Every message with a plain ``status`` enum gets the standard status mutations.
for _name, _samples in VALID.items():
    if _name not in _SPECIFIC and set(_samples[0]) == {"status"}:
        _SPECIFIC[_name] = _status_cases(_name)


def _generic(name: str) -> list[tuple[str, Any]]:
    """Mutations that apply to every message: extra property, non-object payloads."""
    return [
        ("extra top-level property", {**VALID[name][0], "unexpectedField": 1}),
        ("payload is a list", [VALID[name][0]]),
        ("payload is a string", "{}"),
        ("payload is null", None),
    ]


INVALID: dict[str, list[tuple[str, Any]]] = {
    name: [*_SPECIFIC.get(name, []), *_generic(name)] for name in VALID
}
