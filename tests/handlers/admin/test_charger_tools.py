"""The charger page's tools (handlers/admin/charger_tools.py): quick actions, the
configuration table, the charging profile form and the local list table, against an
``ocpp`` charge point that records the raw payloads it gets."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from ocpp.v16 import call
from tornado.httpclient import AsyncHTTPClient

from csms import remote
from handlers.admin.charger_tools import ConfigurationHandler, QuickActionHandler
from handlers.admin.operations import OperationHandler
from handlers.admin.security import ChargerSecurityHandler
from handlers.base import WebSettings
from ocppj.timeutil import utcnow
from tests.charge_points import RecordingChargePoint, ocpp_charge_point
from tests.handlers.admin.test_index import admin_browser, charger_path, field_value, page_text
from tests.handlers.admin.test_operations import boot

KEYS = [
    {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
    {"key": "NumberOfConnectors", "readonly": True, "value": "2"},
]


@pytest.fixture
def web_settings(http_port):
    """A short action timeout."""
    return WebSettings(public_url=f"http://127.0.0.1:{http_port}", action_timeout=2.0)


async def start(cp, connector: int = 1) -> int:
    """Report the connector Charging and start a transaction on it; its id."""
    await cp.call(
        call.StatusNotification(connector_id=connector, error_code="NoError", status="Charging")
    )
    started = await cp.call(call.StartTransaction(
        connector_id=connector, id_tag="TAG1", meter_start=0, timestamp="2026-01-05T10:00:00Z"
    ))  # fmt: skip
    return started.transaction_id


TOOLS = ["configuration", "profile", "local-list"]


@pytest.mark.gen_test
@pytest.mark.parametrize("suffix", TOOLS)
async def test_tool_pages_need_a_login(http_url, services, suffix):
    await services.chargers.create("CP1", {"name": "CP1"}, utcnow())
    path = charger_path("CP1", suffix)
    response = await AsyncHTTPClient().fetch(
        http_url(path), follow_redirects=False, raise_error=False
    )
    assert response.code == 302
    assert response.headers["Location"] == "/ocpp/login?" + urlencode({"next": path})


@pytest.mark.gen_test
@pytest.mark.parametrize("suffix", [*TOOLS, "quick/reset"])
async def test_tool_forms_refuse_a_missing_xsrf_token(http_url, services, admin_user, db, suffix):
    await services.chargers.create("CP1", {"name": "CP1"}, utcnow())
    browser = await admin_browser(http_url, admin_user)
    response = await browser.post(charger_path("CP1", suffix), {"type": "Soft"}, xsrf=False)
    assert response.code == 403
    assert await db.commands.count_documents({}) == 0


@pytest.mark.gen_test(timeout=30)
async def test_quick_actions_reach_the_charger(http_url, ws_url, services, admin_user, db):
    await services.rfid.upsert("TAG1")
    browser = await admin_browser(http_url, admin_user)
    async with ocpp_charge_point(ws_url("/CP1/"), "CP1", RecordingChargePoint) as cp:
        await boot(cp)
        cp.replies["UnlockConnector"] = {"status": "Unlocked"}
        tx = await start(cp, 2)
        page = page_text(await browser.get(charger_path("CP1")))
        assert '<option value="TAG1">' in page
        assert f'id="quick-stop-{tx}"' in page and 'id="quick-unlock-2"' in page
        assert 'data-stream="/ocpp/live/events?charger=CP1"' in page
        sent = {
            "reset": {"type": "Hard"},
            "unlock_connector": {"connector_id": "2"},
            "change_availability": {"connector_id": "0", "type": "Inoperative"},
            "remote_start": {"id_tag": "TAG1", "connector_id": ""},
            "remote_stop": {"transaction_id": str(tx)},
        }
        pages = {}
        for name, fields in sent.items():
            response = await browser.post(charger_path("CP1", f"quick/{name}"), fields)
            assert response.code == 200, name
            pages[name] = page_text(response)
        assert cp.calls == [
            ("Reset", {"type": "Hard"}),
            ("UnlockConnector", {"connectorId": 2}),
            ("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"}),
            ("RemoteStartTransaction", {"idTag": "TAG1"}),
            ("RemoteStopTransaction", {"transactionId": tx}),
        ]
    for name, page in pages.items():
        assert f'<span class="outcome-status" id="{name}-status">accepted</span>' in page
        assert 'id="quick-actions"' in page and 'id="settings"' in page
    assert await db.commands.count_documents({"requested_by": "admin"}) == 5


@pytest.mark.gen_test(timeout=30)
async def test_quick_action_errors(http_url, services, admin_user, db):
    await services.chargers.create("CP1", {"name": "CP1"}, utcnow())
    browser = await admin_browser(http_url, admin_user)
    other = await browser.post(charger_path("CP1", "quick/clear_cache"))
    assert other.code == 404
    bad = await browser.post(charger_path("CP1", "quick/unlock_connector"), {"connector_id": "0"})
    assert bad.code == 400
    assert "connector_id: must be at least 1" in page_text(bad)
    assert await db.commands.count_documents({}) == 0
    offline = await browser.post(charger_path("CP1", "quick/reset"), {"type": "Soft"})
    assert offline.code == 409
    assert 'id="reset-status">not_connected</span>' in page_text(offline)
    unknown = await browser.post(charger_path("NOPE", "quick/reset"), {"type": "Soft"})
    assert unknown.code == 404


@pytest.mark.gen_test(timeout=30)
async def test_configuration_table_sends_only_changed_keys(
    http_url, ws_url, services, admin_user, db
):
    browser = await admin_browser(http_url, admin_user)
    path = charger_path("CP1", "configuration")
    async with ocpp_charge_point(ws_url("/CP1/"), "CP1", RecordingChargePoint) as cp:
        await boot(cp)
        empty = page_text(await browser.get(path))
        assert 'id="no-keys"' in empty
        cp.replies["GetConfiguration"] = {"configurationKey": KEYS, "unknownKey": []}
        read = await browser.post(path, {"do": "read"})
        assert read.code == 200
        page = page_text(read)
        assert 'id="read-status">accepted</span>' in page
        assert field_value(page, "key:HeartbeatInterval") == "300"
        assert 'name="key:NumberOfConnectors"' not in page
        assert 'aria-label="NumberOfConnectors (read-only)"' in page
        unchanged = await browser.post(path, {"key:HeartbeatInterval": "300"})
        assert unchanged.code == 200 and 'id="change-results"' not in page_text(unchanged)
        readonly = await browser.post(path, {"key:NumberOfConnectors": "3"})
        assert readonly.code == 400
        assert "NumberOfConnectors: is read-only on the charger" in page_text(readonly)
        cp.replies["ChangeConfiguration"] = {"status": "Rejected"}
        rejected = await browser.post(path, {"key:HeartbeatInterval": "5"})
        cp.replies["ChangeConfiguration"] = {"status": "RebootRequired"}
        reboot = await browser.post(path, {"key:HeartbeatInterval": "60"})
        assert cp.received("ChangeConfiguration") == [
            {"key": "HeartbeatInterval", "value": "5"},
            {"key": "HeartbeatInterval", "value": "60"},
        ]
    page = page_text(rejected)
    assert '<span class="key-result key-result-Rejected">Rejected</span>' in page
    assert field_value(page, "key:HeartbeatInterval") == "5"  # kept as typed
    page = page_text(reboot)
    assert '<span class="key-result key-result-RebootRequired">RebootRequired</span>' in page
    assert field_value(page, "key:HeartbeatInterval") == "60"
    assert "reboot required" in page
    stored = (await db.chargers.find_one({"_id": "CP1"}))["ocpp_config"]["keys"]
    assert stored[0] == {"key": "HeartbeatInterval", "value": "60", "readonly": False,
                         "reboot_required": True}  # fmt: skip


@pytest.mark.gen_test(timeout=30)
async def test_profile_form_errors_keep_what_was_typed(http_url, ws_url, services, admin_user, db):
    browser = await admin_browser(http_url, admin_user)
    path = charger_path("CP1", "profile")
    async with ocpp_charge_point(ws_url("/CP1/"), "CP1", RecordingChargePoint) as cp:
        await boot(cp)
        tx = await start(cp)
        form = page_text(await browser.get(path))
        assert field_value(form, "transaction_id") == str(tx)
        assert f'<option value="{tx}" label="connector 1">' in form
        assert '<option value="TxProfile" selected>' in form
        typed = {"profile_id": "3", "connector_id": "1", "purpose": "TxProfile",
                 "stack_level": "<x>", "kind": "Absolute", "unit": "A", "transaction_id": "",
                 "period-start_period": "0", "period-limit": "16.25"}  # fmt: skip
        bad = await browser.post(path, typed)
        assert bad.code == 400
        good = {**typed, "stack_level": "1", "purpose": "ChargePointMaxProfile",
                "connector_id": "0", "unit": "W", "period-limit": "11000"}  # fmt: skip
        sent = await browser.post(path, good)
        assert sent.code == 200
        assert cp.received("SetChargingProfile") == [{
            "connectorId": 0,
            "csChargingProfiles": {
                "chargingProfileId": 3, "stackLevel": 1,
                "chargingProfilePurpose": "ChargePointMaxProfile",
                "chargingProfileKind": "Absolute",
                "chargingSchedule": {"chargingRateUnit": "W",
                                     "chargingSchedulePeriod": [{"startPeriod": 0,
                                                                 "limit": 11000.0}]},
            },
        }]  # fmt: skip
    page = page_text(bad)
    assert 'id="profile-errors"' in page
    error = '<span class="field-error" id="stack_level-error" role="alert">must be an integer'
    assert error in page
    assert "a TxProfile is for one transaction: give its id" in page
    assert "at most one decimal (OCPP: multiple of 0.1)" in page
    assert field_value(page, "stack_level") == "&lt;x&gt;"
    assert field_value(page, "period-limit") == "16.25"
    assert 'id="profile-status">accepted</span>' in page_text(sent)
    stored = await db.charging_profiles.count_documents({})
    assert stored == 1


@pytest.mark.gen_test(timeout=30)
async def test_local_list_table(http_url, ws_url, services, admin_user, db):
    await services.rfid.upsert("Alpha")
    await services.rfid.upsert("Beta", status="blocked")
    browser = await admin_browser(http_url, admin_user)
    path = charger_path("CP1", "local-list")
    async with ocpp_charge_point(ws_url("/CP1/"), "CP1", RecordingChargePoint) as cp:
        await boot(cp)
        page = page_text(await browser.get(path))
        assert page.count('name="tag-id_tag"') == 3  # two tags and an empty row
        assert field_value(page, "tag-id_tag") == "Alpha"
        typed = {"update_type": "Differential", "tag-id_tag": "Gamma", "tag-status": "Accepted",
                 "tag-expiry": "soon"}  # fmt: skip
        bad = await browser.post(path, typed)
        assert bad.code == 400
        sent = await browser.post(path, {"update_type": "Differential", "tag-id_tag": "Gamma",
                                         "tag-status": "Blocked", "list_version": "4"})  # fmt: skip
        assert sent.code == 200
        assert cp.received("SendLocalList") == [{
            "listVersion": 4, "updateType": "Differential",
            "localAuthorizationList": [{"idTag": "Gamma", "idTagInfo": {"status": "Blocked"}}],
        }]  # fmt: skip
    page = page_text(bad)
    assert "must be an RFC 3339 date-time" in page
    assert field_value(page, "tag-expiry") == "soon"
    assert 'id="local-list-status">accepted</span>' in page_text(sent)
    assert (await db.local_lists.find_one({"_id": "CP1"}))["version"] == 4


def test_roles_of_the_tools():
    assert (ChargerSecurityHandler.read_role, ChargerSecurityHandler.write_role) == (
        "admin", "admin"
    )  # fmt: skip
    for handler in (QuickActionHandler, ConfigurationHandler, OperationHandler):
        assert getattr(handler, "read_role", "viewer") == "viewer"
        assert getattr(handler, "write_role", "operator") == "operator"
    # Certificates need an admin: OperationHandler asks remote.needed_role per operation.
    assert remote.needed_role("install_certificate", {}) == "admin"
    assert remote.needed_role("get_installed_certificate_ids", {}) == "admin"
    assert remote.needed_role("reset", {}) == "operator"
