"""Remote operations: every OCPP 1.6 call a Central System sends a charge point.

``OPERATIONS`` maps a snake_case name (``remote_start``, ``reset``, ...) to
the OCPP action and its parameters. ``perform`` is the one entry point for
the REST API, the admin pages and scripts::

    outcome = await perform(services, registry, "CP1", "reset", {"type": "Soft"})

It checks the parameters (ParameterError naming the field, before anything
is sent; Refused when a rule forbids the request), completes the payload
from the database, calls the charger through ``registry.call`` (which
stores the command) and uses the answer (the hooks of each functional block: ``csms.transactions``,
``csms.reservation``, ``csms.configuration``, ``csms.local_list``,
``csms.smart_charging``, ``csms.firmware``, ``csms.security``).
``describe_operations`` and ``request_body_schema`` describe every
operation for the OpenAPI document and the admin forms.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from auth.roles import ADMIN, OPERATOR
from csms import configuration, firmware, local_list, reservation, security, smart_charging
from csms import transactions as tx
from csms.registry import ConnectionRegistry, Outcome
from csms.remote_params import (
    DATETIME,
    INTEGER,
    OBJECT,
    OBJECTS,
    STRINGS,
    URI,
    Param,
    ParameterError,
    Refused,
    build_payload,
    field_for,
    params_schema,
    parse_params,
)
from csms.request import Request
from csms.services import Services
from ocppj import errors
from ocppj.timeutil import utcnow

__all__ = [
    "OPERATIONS",
    "Operation",
    "ParameterError",
    "Refused",
    "describe_operations",
    "needed_role",
    "operation",
    "perform",
    "request_body_schema",
]

log = logging.getLogger("csms.remote")

Prepare = Callable[[Request], Awaitable[None]]
Apply = Callable[[Request, Outcome], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Operation:
    """One CS -> CP operation: its name, OCPP action, parameters and hooks."""

    name: str
    action: str
    profile: str
    summary: str
    params: tuple[Param, ...] = ()
    prepare: Prepare | None = None
    apply: Apply | None = None

    def describe(self) -> dict[str, Any]:
        """Name, action, profile, summary and the JSON schema of the parameters."""
        return {
            "name": self.name,
            "action": self.action,
            "profile": self.profile,
            "summary": self.summary,
            "parameters": params_schema(self.params),
        }


def _connector(required: bool = False, minimum: int = 0, ocpp: str | None = "") -> Param:
    what = "connector id (0 = the whole charger)" if minimum == 0 else "connector id"
    return Param("connector_id", INTEGER, required, ocpp, minimum=minimum, description=what)


def _id_tag(name: str = "id_tag", required: bool = True) -> Param:
    return Param(name, required=required, max_length=20, description="RFID tag (idToken)")


_RETRIES = (
    Param("retries", INTEGER, minimum=0, description="how often the charger retries"),
    Param("retry_interval", INTEGER, minimum=0, description="seconds between retries"),
)
_PURPOSES = ("ChargePointMaxProfile", "TxDefaultProfile", "TxProfile")
_CERT_TYPES = ("CentralSystemRootCertificate", "ManufacturerRootCertificate")
_TRIGGERS = (
    "BootNotification",
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "MeterValues",
    "StatusNotification",
)
_EXT_TRIGGERS = (
    "BootNotification",
    "LogStatusNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "MeterValues",
    "SignChargePointCertificate",
    "StatusNotification",
)
_PROFILE_DOC = "an OCPP 1.6 ChargingProfile object, camelCase fields as in the specification"

_TABLE = (
    Operation(
        "cancel_reservation", "CancelReservation", "Reservation", "Cancel a reservation.",
        (Param("reservation_id", INTEGER, True, minimum=0),),
        reservation.check_cancel, reservation.after_cancel,
    ),
    Operation(
        "change_availability", "ChangeAvailability", "Core",
        "Make a connector (or the charger: 0) operative or inoperative.",
        (_connector(True), Param("type", required=True, enum=("Inoperative", "Operative"))),
    ),
    Operation(
        "change_configuration", "ChangeConfiguration", "Core", "Set a configuration key.",
        (
            Param("key", required=True, max_length=50),
            Param("value", required=True, max_length=500, empty_ok=True),
        ),
        apply=configuration.after_change_configuration,
    ),
    Operation("clear_cache", "ClearCache", "Core", "Clear the authorization cache."),
    Operation(
        "clear_charging_profile", "ClearChargingProfile", "SmartCharging",
        "Remove charging profiles: one by id, or those matching the other fields (all if none).",
        (
            Param("profile_id", INTEGER, ocpp="id", description="chargingProfileId"),
            _connector(),
            Param("charging_profile_purpose", enum=_PURPOSES),
            Param("stack_level", INTEGER, minimum=0),
        ),
        apply=smart_charging.after_clear_charging_profile,
    ),
    Operation(
        "data_transfer", "DataTransfer", "Core", "Send vendor-specific data.",
        (
            Param("vendor_id", required=True, max_length=255),
            Param("message_id", max_length=50),
            Param("data", description="free text (often JSON)"),
        ),
    ),
    Operation(
        "get_composite_schedule", "GetCompositeSchedule", "SmartCharging",
        "Ask for the schedule that results from all profiles.",
        (
            _connector(True),
            Param("duration", INTEGER, True, minimum=0, description="seconds"),
            Param("charging_rate_unit", enum=("A", "W")),
        ),
    ),
    Operation(
        "get_configuration", "GetConfiguration", "Core",
        "Read configuration keys (all when none are named); stored as the charger's ocpp_config.",
        (Param("key", STRINGS, max_length=50, description="keys to read"),),
        apply=configuration.after_get_configuration,
    ),
    Operation(
        "get_diagnostics", "GetDiagnostics", "FirmwareManagement",
        "Upload a diagnostics file to a location.",
        (
            Param("location", URI, True),
            *_RETRIES,
            Param("start_time", DATETIME),
            Param("stop_time", DATETIME),
        ),
        apply=firmware.after_file_request,
    ),
    Operation(
        "get_local_list_version", "GetLocalListVersion", "LocalAuthListManagement",
        "Ask for the version of the local authorization list.",
        apply=local_list.after_local_list_version,
    ),
    Operation(
        "remote_start", "RemoteStartTransaction", "Core",
        "Start a transaction for a tag (refused first when the charger requires RFID and "
        "the tag is not authorized).",
        (
            _id_tag(),
            _connector(minimum=1),
            Param("charging_profile", OBJECT, description=f"TxProfile: {_PROFILE_DOC}"),
        ),
        tx.check_remote_start, tx.after_remote_start,
    ),
    Operation(
        "remote_stop", "RemoteStopTransaction", "Core",
        "Stop a transaction: the given one, the one on the connector, or the only open one.",
        (
            Param("transaction_id", INTEGER),
            _connector(minimum=1, ocpp=None),
        ),
        tx.target_transaction,
    ),
    Operation(
        "reserve_now", "ReserveNow", "Reservation",
        "Reserve a connector for a tag until the expiry date.",
        (
            _connector(True),
            Param("expiry_date", DATETIME, True),
            _id_tag(),
            _id_tag("parent_id_tag", required=False),
            Param("reservation_id", INTEGER, minimum=0, description="new one when omitted"),
        ),
        reservation.prepare_reservation, reservation.after_reservation,
    ),
    Operation(
        "reset", "Reset", "Core", "Reboot the charger (Soft unless Hard is asked for).",
        (Param("type", enum=("Hard", "Soft"), default="Soft"),),
    ),
    Operation(
        "send_local_list", "SendLocalList", "LocalAuthListManagement",
        "Send the local authorization list built from the RFID tags: Full, or Differential "
        "(the changes since the list last accepted, or the named tags).",
        (
            Param("update_type", ocpp=None, enum=("Full", "Differential"),
                  description="default Full"),
            Param("list_version", INTEGER, ocpp=None, minimum=1,
                  description="default: one above the last known"),
            Param("id_tags", STRINGS, ocpp=None, max_length=20,
                  description="only these tags (default: all RFID tags)"),
            Param("entries", OBJECTS, ocpp=None,
                  description="OCPP AuthorizationData items to send as they are, instead of "
                  "the list built from the RFID tags (an item without idTagInfo removes "
                  "the tag in a Differential update)"),
        ),
        local_list.prepare_local_list, local_list.after_local_list,
    ),
    Operation(
        "set_charging_profile", "SetChargingProfile", "SmartCharging",
        "Install a charging profile on a connector (0: the whole charger).",
        (
            _connector(True),
            Param("charging_profile", OBJECT, True, "csChargingProfiles", description=_PROFILE_DOC),
        ),
        smart_charging.check_charging_profile, smart_charging.after_set_charging_profile,
    ),
    Operation(
        "trigger_message", "TriggerMessage", "RemoteTrigger",
        "Ask the charger to send a message now.",
        (Param("requested_message", required=True, enum=_TRIGGERS), _connector()),
    ),
    Operation(
        "unlock_connector", "UnlockConnector", "Core", "Unlock a connector.",
        (_connector(True, minimum=1),),
    ),
    Operation(
        "update_firmware", "UpdateFirmware", "FirmwareManagement",
        "Download and install firmware from a location.",
        (Param("location", URI, True), Param("retrieve_date", DATETIME, True), *_RETRIES),
        apply=firmware.after_file_request,
    ),
    Operation(
        "extended_trigger_message", "ExtendedTriggerMessage", "Security",
        "Ask the charger to send a message now (security extension).",
        (Param("requested_message", required=True, enum=_EXT_TRIGGERS), _connector()),
    ),
    Operation(
        "get_log", "GetLog", "Security", "Upload a diagnostics or security log to a location.",
        (
            Param("log_type", required=True, enum=("DiagnosticsLog", "SecurityLog")),
            Param("remote_location", URI, True, "log.remoteLocation", max_length=512),
            Param("oldest_timestamp", DATETIME, ocpp="log.oldestTimestamp"),
            Param("latest_timestamp", DATETIME, ocpp="log.latestTimestamp"),
            Param("request_id", INTEGER, minimum=0, description="new one when omitted"),
            *_RETRIES,
        ),
        firmware.assign_request_id, firmware.after_file_request,
    ),
    Operation(
        "signed_update_firmware", "SignedUpdateFirmware", "Security",
        "Install signed firmware (security extension).",
        (
            Param("location", URI, True, "firmware.location", max_length=512),
            Param("retrieve_date_time", DATETIME, True, "firmware.retrieveDateTime"),
            Param("install_date_time", DATETIME, ocpp="firmware.installDateTime"),
            Param("signing_certificate", required=True, ocpp="firmware.signingCertificate",
                  max_length=5500, description="PEM"),
            Param("signature", required=True, ocpp="firmware.signature", max_length=800,
                  description="base64"),
            Param("request_id", INTEGER, minimum=0, description="new one when omitted"),
            *_RETRIES,
        ),
        firmware.assign_request_id, firmware.after_file_request,
    ),
    Operation(
        "install_certificate", "InstallCertificate", "Security", "Install a root certificate.",
        (
            Param("certificate_type", required=True, enum=_CERT_TYPES),
            Param("certificate", required=True, max_length=5500, description="PEM"),
        ),
    ),
    Operation(
        "get_installed_certificate_ids", "GetInstalledCertificateIds", "Security",
        "List the installed root certificates of a type.",
        (Param("certificate_type", required=True, enum=_CERT_TYPES),),
        apply=security.after_installed_certificates,
    ),
    Operation(
        "delete_certificate", "DeleteCertificate", "Security", "Delete a root certificate.",
        (
            Param("hash_algorithm", required=True, ocpp="certificateHashData.hashAlgorithm",
                  enum=("SHA256", "SHA384", "SHA512")),
            Param("issuer_name_hash", required=True, ocpp="certificateHashData.issuerNameHash",
                  max_length=128),
            Param("issuer_key_hash", required=True, ocpp="certificateHashData.issuerKeyHash",
                  max_length=128),
            Param("serial_number", required=True, ocpp="certificateHashData.serialNumber",
                  max_length=40),
        ),
    ),
    Operation(
        "certificate_signed", "CertificateSigned", "Security",
        "Send the charger its signed certificate chain (after SignCertificate).",
        (Param("certificate_chain", required=True, max_length=10000, description="PEM"),),
    ),
)  # fmt: skip

OPERATIONS: Mapping[str, Operation] = MappingProxyType({op.name: op for op in _TABLE})
_BY_ACTION: Mapping[str, Operation] = MappingProxyType({op.action: op for op in _TABLE})

# What only an admin may send (the ROLE CONTRACT): the charger's root certificates and
# certificate chain, and the configuration keys of its security profile and its key.
ADMIN_OPERATIONS = frozenset(
    {"install_certificate", "get_installed_certificate_ids", "delete_certificate",
     "certificate_signed"}
)  # fmt: skip
ADMIN_CONFIGURATION_KEYS = frozenset({"authorizationkey", "securityprofile"})


def needed_role(name: object, params: Mapping[str, Any]) -> str:
    """The role needed to send operation ``name`` (a name or an OCPP action) with
    ``params``: admin for certificates and security keys, else operator."""
    op = (OPERATIONS.get(name) or _BY_ACTION.get(name)) if isinstance(name, str) else None
    if op is not None and op.name in ADMIN_OPERATIONS:
        return ADMIN
    if op is not None and op.name == "change_configuration":
        key = params.get("key")
        if isinstance(key, str) and key.strip().casefold() in ADMIN_CONFIGURATION_KEYS:
            return ADMIN
    return OPERATOR


def operation(name: Any) -> Operation:
    """The operation called ``name`` (snake_case, or the OCPP action name); ParameterError
    on the ``action`` field when there is none."""
    if name is None or name == "":
        raise ParameterError("action", "is required")
    found = (OPERATIONS.get(name) or _BY_ACTION.get(name)) if isinstance(name, str) else None
    if found is None:
        raise ParameterError("action", f"unknown action {str(name)[:60]!r}")
    return found


async def perform(
    services: Services,
    registry: ConnectionRegistry,
    charger_id: str,
    action: str,
    params: Mapping[str, Any] | None = None,
    *,
    timeout: float | None = None,
    requested_by: str | None = None,
) -> Outcome:
    """Run operation ``action`` on a charger with snake_case ``params``; the typed outcome.

    ``params`` may be the whole request body: an ``action`` key in it is
    ignored. Raises ParameterError (or its subclass Refused) before anything
    is sent or stored. Otherwise the command is stored and the outcome
    (accepted, rejected, error, timeout, not_connected, disconnected) carries
    its ``command_id``. ``timeout`` defaults to the call timeout setting.
    """
    op = operation(action)
    raw = {key: value for key, value in (params or {}).items() if key != "action"}
    values = parse_params(op.params, raw)
    payload = build_payload(op.params, values)
    req = Request(services, charger_id, op.action, values, payload, utcnow())
    if op.prepare is not None:
        await op.prepare(req)
    meta: dict[str, Any] = {"name": op.name, **req.meta}
    if requested_by is not None:
        meta["requested_by"] = requested_by
    if timeout is None:
        timeout = services.settings.call_timeout
    try:
        outcome = await registry.call(charger_id, op.action, req.payload, timeout, **meta)
    except errors.OcppError as exc:  # the payload breaks the request schema
        raise ParameterError(field_for(op.params, exc.description), exc.description) from None
    if op.apply is not None:
        try:
            await op.apply(req, outcome)
        except Exception:  # the outcome stands even if recording its effects failed
            log.exception("%s: using the result of %s failed", charger_id, op.action)
    return outcome


def describe_operations() -> dict[str, dict[str, Any]]:
    """Every operation by name: action, profile, summary and a JSON schema of its parameters."""
    return {name: op.describe() for name, op in OPERATIONS.items()}


def request_body_schema() -> dict[str, Any]:
    """The schema of ``{"action": name, ...parameters}`` for every operation (OpenAPI 3:
    ``oneOf`` with an ``action`` discriminator)."""
    variants = []
    for name, op in OPERATIONS.items():
        schema = params_schema(op.params)
        action = {"type": "string", "enum": [name]}
        schema["properties"] = {"action": action, **schema["properties"]}
        schema["required"] = ["action", *schema["required"]]
        schema["title"] = name
        schema["description"] = op.summary
        variants.append(schema)
    return {"oneOf": variants, "discriminator": {"propertyName": "action"}}
