"""What remote operations check before sending and do with the charger's answer.

A ``prepare`` hook completes the payload from the database (RemoteStop's
transaction, ReserveNow's id, SendLocalList's list) or refuses the request
with ParameterError/Refused before anything is sent. An ``apply`` hook uses
the outcome:

- GetConfiguration fills ``chargers.ocpp_config`` = ``{keys: [{key, value,
  readonly}], unknown: [...], ts, command_id}``; an accepted
  ChangeConfiguration updates the key there. It is a separate field so the
  operator's own ``config`` JSON is never overwritten by what a charger
  reports. Keys are a sorted list, not an object: vendor keys may contain
  ``.`` or ``$``, which MongoDB field names must not.
- SendLocalList / GetLocalListVersion keep ``local_lists`` (models.local_list).
- ReserveNow / CancelReservation keep ``reservations``.
- SetChargingProfile / ClearChargingProfile (and RemoteStart's TxProfile)
  keep ``charging_profiles``.
- Accepted UpdateFirmware, SignedUpdateFirmware, GetDiagnostics and GetLog
  become ``chargers.requests.<firmware|diagnostics|log>`` = ``{command_id,
  action, request_id, file_name, ts, status, status_ts, done}``;
  ``link_status_notification`` attaches the status notifications that follow
  to that command.
- GetInstalledCertificateIds fills ``chargers.certificates.<type>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from csms.authorization import tag_info
from csms.registry import DISCONNECTED, TIMEOUT, Outcome
from csms.remote_params import ParameterError, Refused
from csms.services import Services
from models.local_list import differential, entries_from_tags, merged
from models.rfid import tag_key
from ocppj.timeutil import parse_datetime

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


@dataclass(slots=True)
class Request:
    """One remote operation on its way: checked values, the payload, scratch space."""

    services: Services
    charger_id: str
    action: str
    values: dict[str, Any]
    payload: dict[str, Any]
    now: datetime
    meta: dict[str, Any] = field(default_factory=dict)  # extra fields of the command doc
    scratch: dict[str, Any] = field(default_factory=dict)


async def _authorize(req: Request, name: str, starting: bool) -> dict[str, Any]:
    """The tag's idTagInfo; refuse a tag that would fail authorization on this charger
    (``csms.authorization``)."""
    info = await tag_info(req.services, req.charger_id, req.values[name], req.now, starting)
    if info["status"] != "Accepted":
        raise Refused(name, f"the tag is not authorized on this charger ({info['status']})", info)
    return info


# --- remote start / stop ---------------------------------------------------


async def check_remote_start(req: Request) -> None:
    """A TxProfile only, without a transaction id; the tag must pass authorization."""
    profile = req.payload.get("chargingProfile")
    if profile is not None:
        if profile.get("chargingProfilePurpose") != "TxProfile":
            raise ParameterError("charging_profile", "chargingProfilePurpose must be TxProfile")
        if "transactionId" in profile:
            raise ParameterError("charging_profile", "must not carry a transactionId")
    await _authorize(req, "id_tag", starting=True)


async def after_remote_start(req: Request, outcome: Outcome) -> None:
    """An accepted start with a profile installs that TxProfile."""
    profile = req.payload.get("chargingProfile")
    if outcome.ok and profile is not None:
        connector = req.payload.get("connectorId", 0)
        await req.services.charging_profiles.install(
            req.charger_id, connector, profile, req.now, outcome.command_id
        )


async def target_transaction(req: Request) -> None:
    """Fill RemoteStop's transactionId: the given one, the connector's, or the only open one."""
    tx_id = req.values.get("transaction_id")
    connector = req.values.get("connector_id")
    transactions = req.services.transactions
    if tx_id is not None:
        tx = await transactions.get(tx_id)
        if tx is not None:  # an id we never issued is the charger's business
            if tx.get("charger") != req.charger_id:
                raise ParameterError(
                    "transaction_id", f"transaction {tx_id} is not on {req.charger_id}"
                )
            if not tx.get("open"):
                raise ParameterError("transaction_id", f"transaction {tx_id} is already stopped")
            if connector is not None and tx.get("connector") != connector:
                raise ParameterError("connector_id", f"transaction {tx_id} is not on {connector}")
        return
    if connector is not None:
        tx = await transactions.open_on_connector(req.charger_id, connector)
        if tx is None:
            raise ParameterError("connector_id", f"no open transaction on connector {connector}")
    else:
        # {charger, open: true} is served by the partial index one_open_per_connector.
        found = await (
            req.services.db.transactions.find(
                {"charger": req.charger_id, "open": True}, {"_id": 1, "connector": 1}
            )
            .limit(2)
            .to_list()
        )
        if not found:
            raise ParameterError("connector_id", "the charger has no open transaction")
        if len(found) > 1:
            raise ParameterError("connector_id", "several transactions are open: choose one")
        tx = found[0]
    req.payload["transactionId"] = tx["_id"]


# --- reservations ------------------------------------------------------------


async def _own_reservation(req: Request, reservation_id: int) -> dict[str, Any] | None:
    existing = await req.services.reservations.get(reservation_id)
    if existing is not None and existing.get("charger") != req.charger_id:
        raise ParameterError("reservation_id", f"reservation {reservation_id} is another charger's")
    return existing


async def prepare_reservation(req: Request) -> None:
    """Expiry in the future, an authorized tag, a reservation id (new unless given)."""
    if parse_datetime(req.payload["expiryDate"]) <= req.now:
        raise ParameterError("expiry_date", "must be in the future")
    info = await _authorize(req, "id_tag", starting=False)
    if "parentIdTag" not in req.payload and "parentIdTag" in info:
        # The charger may then let any tag of the same group use the reservation.
        req.payload["parentIdTag"] = info["parentIdTag"]
    repo = req.services.reservations
    reservation_id = req.values.get("reservation_id")
    if reservation_id is None:
        reservation_id = await repo.next_id()
    else:
        req.scratch["existing"] = await _own_reservation(req, reservation_id)
        await repo.claim_id(reservation_id)
    req.payload["reservationId"] = reservation_id
    req.meta["reservation_id"] = reservation_id


async def after_reservation(req: Request, outcome: Outcome) -> None:
    """Store the reservation with what the charger said (a refused one keeps the old)."""
    existing = req.scratch.get("existing")
    if not outcome.ok and existing is not None and existing.get("status") == "accepted":
        return
    if outcome.answered:
        status = str(outcome.payload["status"]).lower()
    else:
        status = "unconfirmed" if outcome.status in (TIMEOUT, DISCONNECTED) else "failed"
    payload = req.payload
    await req.services.reservations.store(
        {
            "_id": payload["reservationId"],
            "charger": req.charger_id,
            "connector": payload["connectorId"],
            "id_tag": payload["idTag"],
            "id_tag_key": tag_key(payload["idTag"]),
            "parent_id_tag": payload.get("parentIdTag"),
            "expiry": parse_datetime(payload["expiryDate"]),
            "status": status,
            "ts": req.now,
            "updated": req.now,
            "command_id": outcome.command_id,
        }
    )


async def check_cancel(req: Request) -> None:
    """A reservation we know must be this charger's."""
    await _own_reservation(req, req.payload["reservationId"])


async def after_cancel(req: Request, outcome: Outcome) -> None:
    """An accepted cancel marks the reservation cancelled."""
    if outcome.ok:
        await req.services.reservations.set_status(
            req.payload["reservationId"], "cancelled", req.now, cancel_command_id=outcome.command_id
        )


# --- configuration -----------------------------------------------------------


async def _config(req: Request) -> tuple[dict[str, dict], list[str]]:
    charger = await req.services.chargers.get(req.charger_id)
    current = (charger or {}).get("ocpp_config") or {}
    keys = {item["key"]: item for item in current.get("keys", [])}
    return keys, list(current.get("unknown", []))


async def _save_config(req, keys: dict, unknown, command_id: str | None) -> None:
    config = {
        "keys": [keys[name] for name in sorted(keys)],
        "unknown": sorted(set(unknown)),
        "ts": req.now,
        "command_id": command_id,
    }
    await req.services.chargers.update(req.charger_id, {"ocpp_config": config})


async def after_get_configuration(req: Request, outcome: Outcome) -> None:
    """Keep the reported keys: all of them, or merged in when only some were asked for."""
    if not outcome.answered:
        return
    partial = bool(req.payload.get("key"))
    keys, unknown = await _config(req) if partial else ({}, [])
    for item in outcome.payload.get("configurationKey", []):
        keys[item["key"]] = {
            "key": item["key"],
            "value": item.get("value"),
            "readonly": item["readonly"],
        }
    reported_unknown = outcome.payload.get("unknownKey", [])
    for name in reported_unknown:
        keys.pop(name, None)
    unknown = [name for name in unknown if name not in keys] + reported_unknown
    await _save_config(req, keys, unknown, outcome.command_id)


async def after_change_configuration(req: Request, outcome: Outcome) -> None:
    """An accepted change (or RebootRequired) updates the key's value in ocpp_config."""
    if not outcome.ok:
        return
    keys, unknown = await _config(req)
    name = req.payload["key"]
    item = keys.get(name) or {"key": name, "readonly": False}
    item = {**item, "value": req.payload["value"]}
    if outcome.payload.get("status") == "RebootRequired":
        item["reboot_required"] = True
    keys[name] = item
    await _save_config(req, keys, [n for n in unknown if n != name], outcome.command_id)


# --- local authorization list ---------------------------------------------------


def _limit(config_keys: dict[str, dict], name: str) -> int | None:
    value = (config_keys.get(name) or {}).get("value")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


async def prepare_local_list(req: Request) -> None:
    """Build the list from ``rfid_tags``: Full, or the Differential against what we sent."""
    repo = req.services.local_lists
    state = await repo.get(req.charger_id) or {}
    held = state.get("entries", [])
    update_type = req.values.get("update_type", "Full")
    id_tags = req.values.get("id_tags")
    wanted = await entries_from_tags(req.services.db, req.now, id_tags)
    if update_type == "Full":
        missing = [entry["idTag"] for entry in wanted if "idTagInfo" not in entry]
        if missing:
            raise ParameterError("id_tags", f"not in the RFID list: {', '.join(missing)[:200]}")
        update, after = wanted, wanted
    else:
        update = wanted if id_tags is not None else differential(held, wanted)
        after = merged(held, update)
    keys, _ = await _config(req)
    most = _limit(keys, "SendLocalListMaxLength")
    if most is not None and len(update) > most:
        raise ParameterError("id_tags", f"{len(update)} entries; the charger takes {most} at once")
    most = _limit(keys, "LocalAuthListMaxLength")
    if most is not None and len(after) > most:
        raise ParameterError("id_tags", f"the list would hold {len(after)}; the charger {most}")
    version = req.values.get("list_version")
    if version is None:
        version = max(state.get("version") or 0, state.get("charger_version") or 0) + 1
    req.payload.update(
        {"listVersion": version, "updateType": update_type, "localAuthorizationList": update}
    )
    req.scratch["after"] = after


async def after_local_list(req: Request, outcome: Outcome) -> None:
    """Remember the answer; an accepted list becomes the charger's version and entries."""
    if not outcome.answered:
        return
    repo = req.services.local_lists
    if outcome.ok:
        await repo.record_sent(
            req.charger_id,
            req.payload["listVersion"],
            req.scratch["after"],
            req.payload["updateType"],
            req.now,
            outcome.command_id,
        )
    else:
        await repo.record_answer(req.charger_id, outcome.payload["status"], req.now)


async def after_local_list_version(req: Request, outcome: Outcome) -> None:
    """Record the version the charger reports."""
    if outcome.answered:
        version = outcome.payload["listVersion"]
        await req.services.local_lists.record_version(req.charger_id, version, req.now)


# --- charging profiles ---------------------------------------------------------


async def check_charging_profile(req: Request) -> None:
    """ChargePointMaxProfile only on connector 0; TxProfile only on a real connector."""
    purpose = req.payload["csChargingProfiles"].get("chargingProfilePurpose")
    connector = req.payload["connectorId"]
    if purpose == "ChargePointMaxProfile" and connector != 0:
        raise ParameterError("connector_id", "a ChargePointMaxProfile goes on connector 0")
    if purpose == "TxProfile" and connector == 0:
        raise ParameterError("connector_id", "a TxProfile goes on a connector above 0")


async def after_set_charging_profile(req: Request, outcome: Outcome) -> None:
    """Store an accepted profile on its connector."""
    if outcome.ok:
        await req.services.charging_profiles.install(
            req.charger_id,
            req.payload["connectorId"],
            req.payload["csChargingProfiles"],
            req.now,
            outcome.command_id,
        )


async def after_clear_charging_profile(req: Request, outcome: Outcome) -> None:
    """Accepted (or Unknown: the charger has none of them) removes the matching profiles."""
    if outcome.answered and outcome.payload["status"] in ("Accepted", "Unknown"):
        payload = req.payload
        await req.services.charging_profiles.clear(
            req.charger_id,
            profile_id=payload.get("id"),
            connector=payload.get("connectorId"),
            purpose=payload.get("chargingProfilePurpose"),
            stack_level=payload.get("stackLevel"),
        )


# --- firmware, diagnostics, logs -----------------------------------------------


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


async def after_installed_certificates(req: Request, outcome: Outcome) -> None:
    """Keep the hashes of the installed certificates of the type asked for."""
    if outcome.answered:
        kind = req.payload["certificateType"]
        entry = {
            "status": outcome.payload["status"],
            "hashes": outcome.payload.get("certificateHashData", []),
            "ts": req.now,
        }
        await req.services.chargers.update(req.charger_id, {f"certificates.{kind}": entry})
