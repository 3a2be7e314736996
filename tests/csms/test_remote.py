"""Every remote operation against a charge point built on the independent ``ocpp`` library.

Each test asserts the frame the charger received, the outcome and the
stored command (and what the answer changed in the database).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ocpp.charge_point import camel_to_snake_case
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action

from csms.remote import perform
from models.commands import CommandRepo
from ocppj.timeutil import format_datetime, utcnow
from tests.charge_points import ocpp_charge_point

DEFAULT_REPLIES: dict[str, dict[str, Any]] = {
    "CancelReservation": {"status": "Accepted"},
    "CertificateSigned": {"status": "Accepted"},
    "ChangeAvailability": {"status": "Accepted"},
    "ChangeConfiguration": {"status": "Accepted"},
    "ClearCache": {"status": "Accepted"},
    "ClearChargingProfile": {"status": "Accepted"},
    "DataTransfer": {"status": "Accepted"},
    "DeleteCertificate": {"status": "Accepted"},
    "ExtendedTriggerMessage": {"status": "Accepted"},
    "GetCompositeSchedule": {"status": "Rejected"},
    "GetConfiguration": {},
    "GetDiagnostics": {},
    "GetInstalledCertificateIds": {"status": "NotFound"},
    "GetLocalListVersion": {"listVersion": 0},
    "GetLog": {"status": "Accepted"},
    "InstallCertificate": {"status": "Accepted"},
    "RemoteStartTransaction": {"status": "Accepted"},
    "RemoteStopTransaction": {"status": "Accepted"},
    "ReserveNow": {"status": "Accepted"},
    "Reset": {"status": "Accepted"},
    "SendLocalList": {"status": "Accepted"},
    "SetChargingProfile": {"status": "Accepted"},
    "SignedUpdateFirmware": {"status": "Accepted"},
    "TriggerMessage": {"status": "Accepted"},
    "UnlockConnector": {"status": "Unlocked"},
    "UpdateFirmware": {},
}
CLOSE = "close the connection instead of answering"


class RecordingChargePoint(ChargePoint):
    """Records every CALL it receives (exact frames) and answers from ``replies``.

    ``replies[action]`` is the CALLRESULT payload (camelCase, as on the wire),
    an exception to raise (the library answers a CALLERROR), or CLOSE.
    ``delays[action]`` makes the answer wait.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.frames: list[list] = []
        self.replies: dict[str, Any] = {}
        self.delays: dict[str, float] = {}
        self.answering = 0
        self.most_answering = 0

    async def route_message(self, raw_msg):
        frame = json.loads(raw_msg)
        if frame[0] == 2:
            self.frames.append(frame)
        await super().route_message(raw_msg)

    async def answer(self, action: str):
        self.answering += 1
        self.most_answering = max(self.most_answering, self.answering)
        try:
            await asyncio.sleep(self.delays.get(action, 0))
            reply = self.replies.get(action, DEFAULT_REPLIES[action])
            if reply is CLOSE:
                await self._connection.close()
                raise ConnectionError("closed on purpose")
            if isinstance(reply, Exception):
                raise reply
            return getattr(call_result, action)(**camel_to_snake_case(reply))
        finally:
            self.answering -= 1

    @on(Action.cancel_reservation)
    async def on_cancel_reservation(self, **_):
        return await self.answer("CancelReservation")

    @on(Action.certificate_signed)
    async def on_certificate_signed(self, **_):
        return await self.answer("CertificateSigned")

    @on(Action.change_availability)
    async def on_change_availability(self, **_):
        return await self.answer("ChangeAvailability")

    @on(Action.change_configuration)
    async def on_change_configuration(self, **_):
        return await self.answer("ChangeConfiguration")

    @on(Action.clear_cache)
    async def on_clear_cache(self, **_):
        return await self.answer("ClearCache")

    @on(Action.clear_charging_profile)
    async def on_clear_charging_profile(self, **_):
        return await self.answer("ClearChargingProfile")

    @on(Action.data_transfer)
    async def on_data_transfer(self, **_):
        return await self.answer("DataTransfer")

    @on(Action.delete_certificate)
    async def on_delete_certificate(self, **_):
        return await self.answer("DeleteCertificate")

    @on(Action.extended_trigger_message)
    async def on_extended_trigger_message(self, **_):
        return await self.answer("ExtendedTriggerMessage")

    @on(Action.get_composite_schedule)
    async def on_get_composite_schedule(self, **_):
        return await self.answer("GetCompositeSchedule")

    @on(Action.get_configuration)
    async def on_get_configuration(self, **_):
        return await self.answer("GetConfiguration")

    @on(Action.get_diagnostics)
    async def on_get_diagnostics(self, **_):
        return await self.answer("GetDiagnostics")

    @on(Action.get_installed_certificate_ids)
    async def on_get_installed_certificate_ids(self, **_):
        return await self.answer("GetInstalledCertificateIds")

    @on(Action.get_local_list_version)
    async def on_get_local_list_version(self, **_):
        return await self.answer("GetLocalListVersion")

    @on(Action.get_log)
    async def on_get_log(self, **_):
        return await self.answer("GetLog")

    @on(Action.install_certificate)
    async def on_install_certificate(self, **_):
        return await self.answer("InstallCertificate")

    @on(Action.remote_start_transaction)
    async def on_remote_start_transaction(self, **_):
        return await self.answer("RemoteStartTransaction")

    @on(Action.remote_stop_transaction)
    async def on_remote_stop_transaction(self, **_):
        return await self.answer("RemoteStopTransaction")

    @on(Action.reserve_now)
    async def on_reserve_now(self, **_):
        return await self.answer("ReserveNow")

    @on(Action.reset)
    async def on_reset(self, **_):
        return await self.answer("Reset")

    @on(Action.send_local_list)
    async def on_send_local_list(self, **_):
        return await self.answer("SendLocalList")

    @on(Action.set_charging_profile)
    async def on_set_charging_profile(self, **_):
        return await self.answer("SetChargingProfile")

    @on(Action.signed_update_firmware)
    async def on_signed_update_firmware(self, **_):
        return await self.answer("SignedUpdateFirmware")

    @on(Action.trigger_message)
    async def on_trigger_message(self, **_):
        return await self.answer("TriggerMessage")

    @on(Action.unlock_connector)
    async def on_unlock_connector(self, **_):
        return await self.answer("UnlockConnector")

    @on(Action.update_firmware)
    async def on_update_firmware(self, **_):
        return await self.answer("UpdateFirmware")


def soon(hours: float = 1) -> datetime:
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(microsecond=0)


async def start_tx(cp, connector: int, id_tag: str = "T1") -> int:
    started = await cp.call(
        call.StartTransaction(
            connector_id=connector, id_tag=id_tag, meter_start=0,
            timestamp=format_datetime(utcnow()),
        )
    )  # fmt: skip
    return started.transaction_id


@contextlib.asynccontextmanager
async def booted(ws_url, charger_id="CP1", cls=RecordingChargePoint):
    """A recording charge point that has sent its BootNotification."""
    async with ocpp_charge_point(ws_url(f"/{charger_id}"), charger_id, cls) as cp:
        boot = await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        assert boot.status == "Accepted"
        yield cp


async def check(db, cp, outcome, name, action, payload, status, reply=None):
    """The charger got exactly ``[2, command id, action, payload]``; the command is stored."""
    assert outcome.status == status, outcome
    assert cp.frames[-1] == [2, outcome.command_id, action, payload]
    doc = await db.commands.find_one({"_id": outcome.command_id})
    assert doc["charger"] == "CP1"
    assert doc["action"] == action
    assert doc["name"] == name
    assert doc["unique_id"] == outcome.command_id
    assert doc["payload"] == payload
    assert doc["status"] == status
    expected_reply = DEFAULT_REPLIES[action] if reply is None else reply
    assert doc["reply"] == (expected_reply or None)
    assert doc["charger_status"] == expected_reply.get("status")
    assert doc["error_code"] is None
    assert doc["ts"] <= doc["sent_ts"] <= doc["finished_ts"]
    assert outcome.payload == expected_reply
    return doc


PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"
SCHEDULE = {
    "chargingRateUnit": "W",
    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000.0}],
}
HASH = {
    "hashAlgorithm": "SHA256",
    "issuerNameHash": "aa",
    "issuerKeyHash": "bb",
    "serialNumber": "01",
}

# name, params, action, payload the charger receives, its reply, outcome status
SIMPLE = [
    ("change_availability", {"connector_id": 0, "type": "Inoperative"}, "ChangeAvailability",
     {"connectorId": 0, "type": "Inoperative"}, {"status": "Scheduled"}, "accepted"),
    ("clear_cache", {}, "ClearCache", {}, {"status": "Rejected"}, "rejected"),
    ("data_transfer", {"vendor_id": "Acme", "message_id": "ping", "data": '{"a": 1}'},
     "DataTransfer", {"vendorId": "Acme", "messageId": "ping", "data": '{"a": 1}'},
     {"status": "Accepted", "data": "pong"}, "accepted"),
    ("data_transfer", {"vendor_id": "Other"}, "DataTransfer", {"vendorId": "Other"},
     {"status": "UnknownVendorId"}, "rejected"),
    ("get_composite_schedule", {"connector_id": 1, "duration": 3600, "charging_rate_unit": "W"},
     "GetCompositeSchedule", {"connectorId": 1, "duration": 3600, "chargingRateUnit": "W"},
     {"status": "Accepted", "connectorId": 1, "scheduleStart": "2026-01-01T00:00:00Z",
      "chargingSchedule": SCHEDULE}, "accepted"),
    ("reset", {"type": "Hard"}, "Reset", {"type": "Hard"}, {"status": "Accepted"}, "accepted"),
    ("reset", {"action": "reset", "type": "Soft"}, "Reset", {"type": "Soft"},
     {"status": "Rejected"}, "rejected"),
    ("trigger_message", {"requested_message": "StatusNotification", "connector_id": 1},
     "TriggerMessage", {"requestedMessage": "StatusNotification", "connectorId": 1},
     {"status": "NotImplemented"}, "rejected"),
    ("unlock_connector", {"connector_id": "2"}, "UnlockConnector", {"connectorId": 2},
     {"status": "Unlocked"}, "accepted"),
    ("unlock_connector", {"connector_id": 1}, "UnlockConnector", {"connectorId": 1},
     {"status": "UnlockFailed"}, "rejected"),
    ("extended_trigger_message", {"requested_message": "SignChargePointCertificate"},
     "ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"},
     {"status": "Accepted"}, "accepted"),
    ("install_certificate", {"certificate_type": "CentralSystemRootCertificate",
                             "certificate": PEM},
     "InstallCertificate", {"certificateType": "CentralSystemRootCertificate",
                            "certificate": PEM}, {"status": "Accepted"}, "accepted"),
    ("delete_certificate", {"hash_algorithm": "SHA256", "issuer_name_hash": "aa",
                            "issuer_key_hash": "bb", "serial_number": "01"},
     "DeleteCertificate", {"certificateHashData": HASH}, {"status": "NotFound"}, "rejected"),
    ("certificate_signed", {"certificate_chain": PEM}, "CertificateSigned",
     {"certificateChain": PEM}, {"status": "Accepted"}, "accepted"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "params", "action", "payload", "reply", "status"), SIMPLE)
@pytest.mark.gen_test(timeout=20)
async def test_simple_operations(
    ws_url, services, registry, db, name, params, action, payload, reply, status
):
    async with booted(ws_url) as cp:
        cp.replies[action] = reply
        outcome = await perform(services, registry, "CP1", name, params)
    await check(db, cp, outcome, name, action, payload, status, reply)
    assert outcome.as_dict()["reply"] == reply


@pytest.mark.gen_test(timeout=20)
async def test_the_frames_are_in_the_message_log_under_the_command_id(
    ws_url, services, registry, db
):
    async with booted(ws_url) as cp:
        outcome = await perform(services, registry, "CP1", "reset", {"type": "Soft"})
    await services.flush()
    command = await db.commands.find_one({"_id": outcome.command_id})
    logged = await CommandRepo(db).frames(command)
    assert [(m["direction"], m["action"]) for m in logged] == [("out", "Reset"), ("in", "Reset")]
    assert json.loads(logged[0]["frame"]) == cp.frames[-1]
    assert json.loads(logged[1]["frame"]) == [3, outcome.command_id, {"status": "Accepted"}]


@pytest.mark.gen_test(timeout=20)
async def test_get_configuration_fills_ocpp_config(ws_url, services, registry, db):
    await db.chargers.update_one({"_id": "CP1"}, {"$set": {"config": {"site": "A"}}}, upsert=True)
    full = {
        "configurationKey": [
            {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
            {"key": "Vendor.Serial", "readonly": True, "value": "S1"},
            {"key": "NoValue", "readonly": True},
        ]
    }
    async with booted(ws_url) as cp:
        cp.replies["GetConfiguration"] = full
        outcome = await perform(services, registry, "CP1", "get_configuration", {})
        await check(db, cp, outcome, "get_configuration", "GetConfiguration", {}, "accepted", full)
        partial = {
            "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "60"}],
            "unknownKey": ["Bogus"],
        }
        cp.replies["GetConfiguration"] = partial
        second = await perform(
            services, registry, "CP1", "get_configuration", {"key": "HeartbeatInterval, Bogus"}
        )
        payload = {"key": ["HeartbeatInterval", "Bogus"]}
        await check(db, cp, second, "get_configuration", "GetConfiguration", payload, "accepted",
                    partial)  # fmt: skip
        changed = await perform(
            services, registry, "CP1", "change_configuration",
            {"key": "MeterValueSampleInterval", "value": "30"},
        )  # fmt: skip
        payload = {"key": "MeterValueSampleInterval", "value": "30"}
        await check(db, cp, changed, "change_configuration", "ChangeConfiguration", payload,
                    "accepted")  # fmt: skip
        cp.replies["ChangeConfiguration"] = {"status": "RebootRequired"}
        reboot = await perform(
            services, registry, "CP1", "change_configuration",
            {"key": "HeartbeatInterval", "value": "120"},
        )  # fmt: skip
        assert reboot.status == "accepted"
        cp.replies["ChangeConfiguration"] = {"status": "Rejected"}
        refused = await perform(
            services, registry, "CP1", "change_configuration",
            {"key": "Vendor.Serial", "value": "X"},
        )  # fmt: skip
        assert refused.status == "rejected"
        assert refused.description == "Rejected"
    charger = await db.chargers.find_one({"_id": "CP1"})
    assert charger["config"] == {"site": "A"}  # the operator's config is untouched
    assert charger["ocpp_config"]["keys"] == [
        {"key": "HeartbeatInterval", "value": "120", "readonly": False, "reboot_required": True},
        {"key": "MeterValueSampleInterval", "value": "30", "readonly": False},
        {"key": "NoValue", "value": None, "readonly": True},
        {"key": "Vendor.Serial", "value": "S1", "readonly": True},
    ]
    assert charger["ocpp_config"]["unknown"] == ["Bogus"]
    assert charger["ocpp_config"]["command_id"] == reboot.command_id


@pytest.mark.gen_test(timeout=20)
async def test_get_installed_certificate_ids_are_kept(ws_url, services, registry, db):
    reply = {"status": "Accepted", "certificateHashData": [HASH]}
    async with booted(ws_url) as cp:
        cp.replies["GetInstalledCertificateIds"] = reply
        params = {"certificate_type": "ManufacturerRootCertificate"}
        outcome = await perform(services, registry, "CP1", "get_installed_certificate_ids", params)
    payload = {"certificateType": "ManufacturerRootCertificate"}
    await check(db, cp, outcome, "get_installed_certificate_ids", "GetInstalledCertificateIds",
                payload, "accepted", reply)  # fmt: skip
    charger = await db.chargers.find_one({"_id": "CP1"})
    kept = charger["certificates"]["ManufacturerRootCertificate"]
    assert kept["status"] == "Accepted"
    assert kept["hashes"] == [HASH]


def in_an_hour() -> datetime:
    return (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
