"""Firmware, diagnostics and log requests linked to their notifications (csms/firmware.py)."""

from __future__ import annotations

import pytest

from csms.firmware import link_status_notification
from csms.remote import ParameterError, perform
from ocppj.timeutil import utcnow
from tests.csms.test_remote import booted, check

# --- firmware, diagnostics, logs -------------------------------------------------------


@pytest.mark.gen_test(timeout=20)
async def test_firmware_request_is_linked_to_the_status_notifications(
    ws_url, services, registry, db
):
    async with booted(ws_url) as cp:
        with pytest.raises(ParameterError) as bad:
            await perform(
                services, registry, "CP1", "update_firmware",
                {"location": "fw.bin", "retrieve_date": "2026-01-01T00:00:00Z"},
            )  # fmt: skip
        assert bad.value.field == "location"
        outcome = await perform(
            services, registry, "CP1", "update_firmware",
            {"location": "ftp://fw.example/fw.bin", "retrieve_date": "2026-01-01T01:00:00+01:00",
             "retries": "3", "retry_interval": 60},
        )  # fmt: skip
    payload = {
        "location": "ftp://fw.example/fw.bin", "retrieveDate": "2026-01-01T00:00:00.000Z",
        "retries": 3, "retryInterval": 60,
    }  # fmt: skip
    await check(db, cp, outcome, "update_firmware", "UpdateFirmware", payload, "accepted")
    charger = await db.chargers.find_one({"_id": "CP1"})
    assert charger["requests"]["firmware"]["command_id"] == outcome.command_id
    now = utcnow()
    link = link_status_notification
    assert await link(services, "CP1", "firmware", {"status": "Idle"}, now) is None
    assert await link(services, "CP1", "firmware", {"status": "Downloading"}, now) == (
        outcome.command_id
    )
    assert await link(services, "CP1", "firmware", {"status": "Installed"}, now) == (
        outcome.command_id
    )
    assert await link(services, "CP1", "firmware", {"status": "Downloading"}, now) is None
    assert await link(services, "CP1", "diagnostics", {"status": "Uploading"}, now) is None
    doc = await db.commands.find_one({"_id": outcome.command_id})
    assert doc["notifications"] == [
        {"status": "Downloading", "ts": now},
        {"status": "Installed", "ts": now},
    ]
    assert doc["progress"] == "Installed"
    request = (await db.chargers.find_one({"_id": "CP1"}))["requests"]["firmware"]
    assert (request["status"], request["done"]) == ("Installed", True)


@pytest.mark.gen_test(timeout=20)
async def test_diagnostics_and_log_requests(ws_url, services, registry, db):
    async with booted(ws_url) as cp:
        cp.replies["GetDiagnostics"] = {"fileName": "diag.zip"}
        diagnostics = await perform(
            services, registry, "CP1", "get_diagnostics",
            {"location": "https://up.example/d", "start_time": "2026-01-01T00:00:00Z",
             "stop_time": "2026-01-02T00:00:00Z", "retries": 1},
        )  # fmt: skip
        payload = {
            "location": "https://up.example/d", "startTime": "2026-01-01T00:00:00.000Z",
            "stopTime": "2026-01-02T00:00:00.000Z", "retries": 1,
        }  # fmt: skip
        await check(db, cp, diagnostics, "get_diagnostics", "GetDiagnostics", payload,
                    "accepted", {"fileName": "diag.zip"})  # fmt: skip
        cp.replies["GetLog"] = {"status": "Accepted", "filename": "log.tgz"}
        log = await perform(
            services, registry, "CP1", "get_log",
            {"log_type": "SecurityLog", "remote_location": "ftp://up.example/logs",
             "oldest_timestamp": "2026-01-01T00:00:00Z"},
        )  # fmt: skip
        payload = {
            "logType": "SecurityLog", "requestId": 1,
            "log": {"remoteLocation": "ftp://up.example/logs",
                    "oldestTimestamp": "2026-01-01T00:00:00.000Z"},
        }  # fmt: skip
        await check(db, cp, log, "get_log", "GetLog", payload, "accepted",
                    {"status": "Accepted", "filename": "log.tgz"})  # fmt: skip
        signed = await perform(
            services, registry, "CP1", "signed_update_firmware",
            {"location": "https://fw.example/x", "retrieve_date_time": "2026-02-01T00:00:00Z",
             "signing_certificate": "PEM", "signature": "c2ln", "retries": 2},
        )  # fmt: skip
        payload = {
            "requestId": 2, "retries": 2,
            "firmware": {"location": "https://fw.example/x",
                         "retrieveDateTime": "2026-02-01T00:00:00.000Z",
                         "signingCertificate": "PEM", "signature": "c2ln"},
        }  # fmt: skip
        await check(db, cp, signed, "signed_update_firmware", "SignedUpdateFirmware", payload,
                    "accepted")  # fmt: skip
    requests = (await db.chargers.find_one({"_id": "CP1"}))["requests"]
    assert requests["diagnostics"]["file_name"] == "diag.zip"
    assert requests["log"]["request_id"] == 1
    assert requests["log"]["file_name"] == "log.tgz"
    assert requests["firmware"]["request_id"] == 2
    now = utcnow()
    link = link_status_notification
    assert await link(services, "CP1", "log", {"status": "Uploading", "requestId": 7}, now) is None
    assert await link(services, "CP1", "log", {"status": "Uploaded", "requestId": 1}, now) == (
        log.command_id
    )
    assert await link(services, "CP1", "diagnostics", {"status": "Uploaded"}, now) == (
        diagnostics.command_id
    )
    status = {"status": "SignatureVerified", "requestId": 2}
    assert await link(services, "CP1", "firmware", status, now) == signed.command_id
    doc = await db.commands.find_one({"_id": log.command_id})
    assert doc["notifications"] == [{"status": "Uploaded", "ts": now, "request_id": 1}]
