"""Every remote operation over HTTP: ``POST /ocpp/chargers/<cid>/action/`` against a charge
point built on the independent ``ocpp`` library that answers every action.

Each operation is its own test: the HTTP status and body, the exact CALL the charger
received and the stored command document.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from ocpp.v16 import call

from csms.remote import describe_operations
from ocppj.timeutil import format_datetime, utcnow
from tests.csms.test_remote import HASH, PEM, SIMPLE, booted, in_an_hour
from tests.csms.test_smart_charging import profile
from tests.csms.test_transactions_remote import PROFILE
from tests.handlers.api.support import call as api
from tests.handlers.api.support import data

Setup = Callable[[Any, Any], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Case:
    """One operation: request parameters, the CALL payload expected, the charger's reply,
    the outcome status. ``setup(services, cp)`` prepares the database or the charger and
    returns values a callable ``payload`` uses."""

    name: str
    params: dict[str, Any]
    action: str
    payload: dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]]
    reply: dict[str, Any]
    status: str
    setup: Setup | None = None

    def expected_payload(self, ctx: dict[str, Any]) -> dict[str, Any]:
        """The payload the charger must receive."""
        return self.payload(ctx) if callable(self.payload) else self.payload


async def open_transaction(services, cp) -> dict[str, Any]:
    """A transaction open on connector 1."""
    started = await cp.call(
        call.StartTransaction(
            connector_id=1, id_tag="T1", meter_start=0, timestamp=format_datetime(utcnow())
        )
    )
    return {"tx": started.transaction_id}


async def rfid_tags(services, cp) -> dict[str, Any]:
    """Two tags in the RFID list."""
    await services.rfid.upsert("Alpha")
    await services.rfid.upsert("Beta", status="blocked")
    return {}


EXPIRY = in_an_hour()
MAX_PROFILE = profile(12, "ChargePointMaxProfile")
CONFIG = {"configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}]}

MORE = [
    Case("cancel_reservation", {"reservation_id": 5}, "CancelReservation",
         {"reservationId": 5}, {"status": "Rejected"}, "rejected"),
    Case("change_configuration", {"key": "HeartbeatInterval", "value": "60"},
         "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "60"},
         {"status": "RebootRequired"}, "accepted"),
    Case("clear_charging_profile", {"profile_id": 3, "stack_level": 0}, "ClearChargingProfile",
         {"id": 3, "stackLevel": 0}, {"status": "Unknown"}, "rejected"),
    Case("get_configuration", {"key": ["HeartbeatInterval"]}, "GetConfiguration",
         {"key": ["HeartbeatInterval"]}, CONFIG, "accepted"),
    Case("get_diagnostics", {"location": "ftp://up.example/d", "retries": 2,
                             "retry_interval": 30, "start_time": "2026-01-01T00:00:00Z"},
         "GetDiagnostics", {"location": "ftp://up.example/d", "retries": 2, "retryInterval": 30,
                            "startTime": "2026-01-01T00:00:00.000Z"},
         {"fileName": "diag.zip"}, "accepted"),
    Case("get_local_list_version", {}, "GetLocalListVersion", {}, {"listVersion": 3},
         "accepted"),
    Case("remote_start", {"id_tag": "T1", "connector_id": 1, "charging_profile": PROFILE},
         "RemoteStartTransaction", {"idTag": "T1", "connectorId": 1, "chargingProfile": PROFILE},
         {"status": "Accepted"}, "accepted"),
    Case("remote_stop", {"connector_id": 1}, "RemoteStopTransaction",
         lambda ctx: {"transactionId": ctx["tx"]}, {"status": "Accepted"}, "accepted",
         open_transaction),
    Case("reserve_now", {"connector_id": 1, "expiry_date": EXPIRY.isoformat(), "id_tag": "T1"},
         "ReserveNow", {"connectorId": 1, "expiryDate": format_datetime(EXPIRY), "idTag": "T1",
                        "reservationId": 1}, {"status": "Occupied"}, "rejected"),
    Case("send_local_list", {}, "SendLocalList",
         {"listVersion": 1, "updateType": "Full", "localAuthorizationList": [
             {"idTag": "Alpha", "idTagInfo": {"status": "Accepted"}},
             {"idTag": "Beta", "idTagInfo": {"status": "Blocked"}}]},
         {"status": "Accepted"}, "accepted", rfid_tags),
    Case("set_charging_profile", {"connector_id": 0, "charging_profile": MAX_PROFILE},
         "SetChargingProfile", {"connectorId": 0, "csChargingProfiles": MAX_PROFILE},
         {"status": "Accepted"}, "accepted"),
    Case("update_firmware", {"location": "https://fw.example/f.bin",
                             "retrieve_date": "2026-03-01T12:00:00+02:00"},
         "UpdateFirmware", {"location": "https://fw.example/f.bin",
                            "retrieveDate": "2026-03-01T10:00:00.000Z"}, {}, "accepted"),
    Case("get_log", {"log_type": "DiagnosticsLog", "remote_location": "ftp://up.example/l",
                     "latest_timestamp": "2026-01-02T00:00:00Z", "retries": 1},
         "GetLog", {"logType": "DiagnosticsLog", "requestId": 1, "retries": 1,
                    "log": {"remoteLocation": "ftp://up.example/l",
                            "latestTimestamp": "2026-01-02T00:00:00.000Z"}},
         {"status": "Accepted", "filename": "l.tgz"}, "accepted"),
    Case("signed_update_firmware", {"location": "https://fw.example/s",
                                    "retrieve_date_time": "2026-02-01T00:00:00Z",
                                    "signing_certificate": PEM, "signature": "c2ln",
                                    "request_id": 7},
         "SignedUpdateFirmware", {"requestId": 7, "firmware": {
             "location": "https://fw.example/s", "retrieveDateTime": "2026-02-01T00:00:00.000Z",
             "signingCertificate": PEM, "signature": "c2ln"}},
         {"status": "InvalidCertificate"}, "rejected"),
    Case("get_installed_certificate_ids", {"certificate_type": "CentralSystemRootCertificate"},
         "GetInstalledCertificateIds", {"certificateType": "CentralSystemRootCertificate"},
         {"status": "Accepted", "certificateHashData": [HASH]}, "accepted"),
]  # fmt: skip


def all_cases() -> list[Case]:
    """The first case of each operation in the domain tests' table, then the others."""
    cases: dict[str, Case] = {}
    for name, params, action, payload, reply, status in SIMPLE:
        cases.setdefault(name, Case(name, params, action, payload, reply, status))
    for case in MORE:
        assert case.name not in cases, case.name
        cases[case.name] = case
    return list(cases.values())


CASES = all_cases()


def test_every_operation_has_a_case():
    assert sorted(case.name for case in CASES) == sorted(describe_operations())
    for case in CASES:
        assert describe_operations()[case.name]["action"] == case.action


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
@pytest.mark.gen_test(timeout=30)
async def test_operation_over_http(case, ws_url, http_url, auth_headers, services, db):
    async with booted(ws_url) as cp:
        ctx = await case.setup(services, cp) if case.setup is not None else {}
        cp.replies[case.action] = case.reply
        response = await api(
            http_url, "/ocpp/chargers/CP1/action/", method="POST", headers=auth_headers,
            json={"action": case.name, **case.params},
        )  # fmt: skip
    payload = case.expected_payload(ctx)
    assert response.code == 200, response.body
    body = data(response)
    command_id = body["command_id"]
    assert body == {
        "status": case.status, "command_id": command_id, "sent": True, "request": payload,
        "reply": case.reply or None, "error_code": None,
        "description": "" if case.status == "accepted" else case.reply["status"],
        "details": None,
    }  # fmt: skip
    assert cp.frames == [[2, command_id, case.action, payload]]
    command = await db.commands.find_one({"_id": command_id})
    assert command["charger"] == "CP1"
    assert command["name"] == case.name
    assert command["action"] == case.action
    assert command["payload"] == payload
    assert command["status"] == case.status
    assert command["reply"] == (case.reply or None)
    assert command["charger_status"] == case.reply.get("status")
    assert command["error_code"] is None
    assert command["requested_by"] == "admin"
    assert command["ts"] <= command["sent_ts"] <= command["finished_ts"]


@pytest.mark.gen_test(timeout=30)
async def test_a_callerror_reply_is_200_with_the_error(ws_url, http_url, auth_headers, db):
    from ocpp.exceptions import NotSupportedError

    async with booted(ws_url) as cp:
        cp.replies["ClearCache"] = NotSupportedError("no cache here")
        response = await api(
            http_url, "/ocpp/chargers/CP1/action/", method="POST", headers=auth_headers,
            json={"action": "clear_cache"},
        )  # fmt: skip
    assert response.code == 200
    body = data(response)
    assert (body["status"], body["error_code"], body["reply"]) == ("error", "NotSupported", None)
    assert body["description"] == "no cache here"
    assert cp.frames == [[2, body["command_id"], "ClearCache", {}]]
    command = await db.commands.find_one({"_id": body["command_id"]})
    assert (command["status"], command["error_code"]) == ("error", "NotSupported")
