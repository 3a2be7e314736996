"""Admin charger pages: list, add, edit (validation that keeps what was typed), delete with
the data purge, and escaping of hostile charger ids."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime

import pytest
import websockets

from models.chargers import new_charger
from ocppj.timeutil import utcnow
from tests.charge_points import raw_charger
from tests.handlers.admin.test_index import (
    admin_browser,
    charger_path,
    field_value,
    page_text,
    textarea,
)

HOSTILE = "<script>alert(1)</script>"
QUOTES = "a\"b' onmouseover=x&y"


async def wait_for(predicate, timeout: float = 5.0) -> None:
    """Poll until ``predicate()`` is true."""
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - the registry has no event to wait on
            await asyncio.sleep(0.02)


def edit_form(**changes) -> dict:
    """A valid edit submission."""
    form = {
        "name": "Garage 1",
        "require_rfid": "on",
        "config": '{"max_current": 32, "phases": [1, 2, 3], "note": "é"}',
        "latitude": "25.67",
        "longitude": "-100.31",
    }
    form.update(changes)
    return {key: value for key, value in form.items() if value is not None}


# ---- list and add ---------------------------------------------------------------------


@pytest.mark.gen_test(timeout=20)
async def test_list_shows_chargers_with_state_and_links(http_url, ws_url, services, admin_user):
    await services.chargers.create("OFF 1", {"name": "Offline one", "require_rfid": True}, utcnow())
    browser = await admin_browser(http_url, admin_user)
    async with raw_charger(ws_url("/ocpp/ON1/")) as charger:
        await charger.boot()
        reply = await charger.call("hb", "Heartbeat", {})
        assert reply[0] == 3
        status = {"connectorId": 1, "errorCode": "NoError", "status": "Charging"}
        assert (await charger.call("st", "StatusNotification", status))[0] == 3
        await services.flush()
        page = page_text(await browser.get("/ocpp/admin/chargers/"))
    on_row = page.split('data-charger="ON1"')[1].split("</tr>")[0]
    off_row = page.split('data-charger="OFF 1"')[1].split("</tr>")[0]
    assert '<span class="online">connected</span>' in on_row
    assert '<span class="status status-Charging" title="NoError">1: Charging</span>' in on_row
    heartbeat = (await services.chargers.get("ON1"))["last_heartbeat"]
    assert heartbeat.strftime("%Y-%m-%d %H:%M:%S UTC") in on_row
    assert '<span class="offline">offline</span>' in off_row
    assert "status-" not in off_row  # no status reported; stale ones say offline:
    await services.chargers.update("OFF 1", {"connectors": {"1": {"status": "Charging"}}})
    page = page_text(await browser.get("/ocpp/admin/chargers/"))
    off_row = page.split('data-charger="OFF 1"')[1].split("</tr>")[0]
    badge = '<span class="status status-Offline" title="last reported: Charging">1: offline'
    assert badge in off_row
    assert "<td>Offline one</td>" in off_row and "<td>yes</td>" in off_row
    assert '<a href="/ocpp/c/OFF%201/">Landing Page</a>' in off_row
    assert '<a href="/ocpp/log/OFF%201/">Log</a>' in off_row
    assert '<a href="/ocpp/admin/chargers/OFF%201/">Edit</a>' in off_row


@pytest.mark.gen_test
async def test_add_a_charger(http_url, services, admin_user):
    browser = await admin_browser(http_url, admin_user)
    response = await browser.post("/ocpp/admin/chargers/", {"id": " Bay-e.2 ", "name": "Bay"})
    assert response.code == 302
    assert response.headers["Location"] == "/ocpp/admin/chargers/Bay-e.2/"
    doc = await services.chargers.get("Bay-e.2")
    assert doc["name"] == "Bay" and doc["config"] == {} and doc["require_rfid"] is False
    assert doc["qr"]["url"].endswith("/ocpp/c/Bay-e.2/")
    page = page_text(await browser.get(response.headers["Location"]))
    assert '<p class="flash" role="status" id="flash">Charger Bay-e.2 added.</p>' in page
    assert 'value="Bay"' in page
    # The flash is shown once.
    assert 'id="flash"' not in page_text(await browser.get(response.headers["Location"]))


@pytest.mark.gen_test
async def test_added_charger_without_name_is_named_after_its_id(http_url, services, admin_user):
    browser = await admin_browser(http_url, admin_user)
    assert (await browser.post("/ocpp/admin/chargers/", {"id": "CP7"})).code == 302
    assert (await services.chargers.get("CP7"))["name"] == "CP7"


@pytest.mark.gen_test
@pytest.mark.parametrize(
    ("typed", "error"),
    [("", "id: required"), ("   ", "id: required"), ("a:b", "id: must not contain &#x27;:&#x27;"),
     ("x" * 49, "id: at most 48 characters (49 given)"),
     ("tab\there", "id: the id must not contain control characters")],
)  # fmt: skip
async def test_add_refuses_ids_a_charger_could_not_use(
    http_url, services, admin_user, typed, error
):
    browser = await admin_browser(http_url, admin_user)
    response = await browser.post("/ocpp/admin/chargers/", {"id": typed, "name": "Kept <b>"})
    assert response.code == 400
    page = page_text(response)
    assert error in page
    assert field_value(page, "name") == "Kept &lt;b&gt;"
    assert await services.chargers.search() == ([], 0)


@pytest.mark.gen_test
async def test_add_refuses_an_existing_id(http_url, services, admin_user):
    await services.chargers.create("CP1", {"name": "Old"}, utcnow())
    browser = await admin_browser(http_url, admin_user)
    response = await browser.post("/ocpp/admin/chargers/", {"id": "CP1", "name": "New"})
    assert response.code == 400
    assert "id: a charger with this id exists already" in page_text(response)
    assert (await services.chargers.get("CP1"))["name"] == "Old"


@pytest.mark.gen_test
async def test_add_without_xsrf_is_refused(http_url, services, admin_user):
    browser = await admin_browser(http_url, admin_user)
    response = await browser.post("/ocpp/admin/chargers/", {"id": "CP1"}, xsrf=False)
    assert response.code == 403
    assert await services.chargers.get("CP1") is None


# ---- edit -------------------------------------------------------------------------------


@pytest.mark.gen_test
async def test_edit_form_shows_stored_values_and_centres_on_monterrey(
    http_url, services, admin_user
):
    await services.chargers.create("CP1", {"name": "One", "config": {"a": [1, 2]}}, utcnow())
    browser = await admin_browser(http_url, admin_user)
    page = page_text(await browser.get(charger_path("CP1")))
    assert field_value(page, "name") == "One"
    assert json.loads(textarea(page, "config").replace("&quot;", '"')) == {"a": [1, 2]}
    assert 'name="require_rfid" value="on" >' in page  # not checked
    assert field_value(page, "latitude") == "" and field_value(page, "longitude") == ""
    assert 'data-lat=""' in page and 'data-lng=""' in page
    assert 'data-default-lat="25.6866"' in page and 'data-default-lng="-100.3161"' in page
    assert 'data-tile-url="https://tile.openstreetmap.org/{z}/{x}/{y}.png"' in page
    assert 'id="map"' in page and 'id="save"' in page
    assert '<a href="/ocpp/c/CP1/">Landing Page</a>' in page
    assert '<a href="/ocpp/log/CP1/">Log</a>' in page
    assert '<img src="/ocpp/c/CP1/qr.svg"' in page


@pytest.mark.gen_test
async def test_valid_save_stores_exact_fields(http_url, services, admin_user):
    await services.chargers.create("CP1", {"name": "One"}, utcnow())
    before = utcnow()
    browser = await admin_browser(http_url, admin_user)
    response = await browser.post(charger_path("CP1"), edit_form())
    assert response.code == 302
    assert response.headers["Location"] == "/ocpp/admin/chargers/CP1/"
    doc = await services.chargers.get("CP1")
    assert doc["name"] == "Garage 1"
    assert doc["require_rfid"] is True
    assert doc["config"] == {"max_current": 32, "phases": [1, 2, 3], "note": "é"}
    assert doc["latitude"] == 25.67 and doc["longitude"] == -100.31
    assert before <= doc["updated"] <= utcnow()
    assert doc["qr"]["url"].endswith("/ocpp/c/CP1/") and doc["qr"]["svg"].startswith("<svg")
    page = page_text(await browser.get("/ocpp/admin/chargers/CP1/"))
    assert 'id="flash">Saved.</p>' in page
    assert 'data-lat="25.67"' in page and 'data-lng="-100.31"' in page
    assert field_value(page, "latitude") == "25.67"
    assert 'name="require_rfid" value="on" checked>' in page


@pytest.mark.gen_test
async def test_unticked_box_and_empty_fields_clear_values(http_url, services, admin_user):
    fields = {"name": "One", "require_rfid": True, "latitude": 1.5, "longitude": 2.5,
              "config": {"x": 1}}  # fmt: skip
    await services.chargers.create("CP1", fields, utcnow())
    browser = await admin_browser(http_url, admin_user)
    form = edit_form(require_rfid=None, config="  ", latitude="", longitude="", name="")
    assert (await browser.post(charger_path("CP1"), form)).code == 302
    doc = await services.chargers.get("CP1")
    assert (doc["require_rfid"], doc["config"], doc["latitude"], doc["longitude"], doc["name"]) == (
        False, {}, None, None, ""
    )  # fmt: skip


@pytest.mark.gen_test
async def test_invalid_json_config_is_400_and_keeps_the_typed_text(http_url, services, admin_user):
    await services.chargers.create("CP1", {"name": "One", "config": {"keep": True}}, utcnow())
    browser = await admin_browser(http_url, admin_user)
    typed = '{\n  "a": 1,\n  "b": </textarea><script>alert(1)</script>\n}'
    response = await browser.post(charger_path("CP1"), edit_form(config=typed, name="Typed"))
    assert response.code == 400
    page = page_text(response)
    assert (
        '<span class="field-error" id="config-error" role="alert">config: invalid JSON: '
        "Expecting value at line 3, column 8</span>"
    ) in page
    assert textarea(page, "config") == (
        "{\n  &quot;a&quot;: 1,\n  &quot;b&quot;: &lt;/textarea&gt;&lt;script&gt;alert(1)"
        "&lt;/script&gt;\n}"
    )
    assert "<script>alert(1)" not in page
    assert field_value(page, "name") == "Typed"
    assert field_value(page, "latitude") == "25.67"
    doc = await services.chargers.get("CP1")
    assert doc["name"] == "One" and doc["config"] == {"keep": True}


@pytest.mark.gen_test
@pytest.mark.parametrize(
    ("typed", "error"),
    [("[1, 2]", "config: must be a JSON object ({...}), not list"),
     ('{"a": NaN}', "config: invalid JSON: NaN is not allowed in JSON"),
     ('{"$set": 1}', "config: key &quot;$set&quot; at $ must not start with"),
     ('{"a": {"b.c": 1}}', "config: key &quot;b.c&quot; at $.a must not start with"),
     ('{"n": 99999999999999999999}', "config: the number at $.n does not fit in 64 bits")],
)  # fmt: skip
async def test_config_must_be_a_storable_object(http_url, services, admin_user, typed, error):
    await services.chargers.create("CP1", {"name": "One"}, utcnow())
    browser = await admin_browser(http_url, admin_user)
    response = await browser.post(charger_path("CP1"), edit_form(config=typed))
    assert response.code == 400
    assert error in page_text(response)
    assert (await services.chargers.get("CP1"))["config"] == {}


@pytest.mark.gen_test
async def test_out_of_range_latitude_is_400_naming_the_field(http_url, services, admin_user):
    await services.chargers.create("CP1", {"name": "One"}, utcnow())
    browser = await admin_browser(http_url, admin_user)
    form = edit_form(latitude="91", longitude="-100.5", name="Typed name", config='{"k": "v"}')
    response = await browser.post(charger_path("CP1"), form)
    assert response.code == 400
    page = page_text(response)
    assert (
        '<span class="field-error" id="latitude-error" role="alert">'
        "latitude: must be between -90 and 90</span>"
    ) in page
    assert 'name="latitude" id="latitude" value="91"' in page
    assert field_value(page, "longitude") == "-100.5"
    assert field_value(page, "name") == "Typed name"
    assert textarea(page, "config") == "{&quot;k&quot;: &quot;v&quot;}"
    assert 'name="require_rfid" value="on" checked>' in page
    assert "longitude-error" not in page
    doc = await services.chargers.get("CP1")
    assert (doc["name"], doc["latitude"], doc["config"]) == ("One", None, {})


@pytest.mark.gen_test
@pytest.mark.parametrize(
    ("changes", "field", "error"),
    [({"longitude": "180.5"}, "longitude", "must be between -180 and 180"),
     ({"latitude": "north"}, "latitude", "must be a number"),
     ({"latitude": "inf"}, "latitude", "must be a finite number"),
     ({"longitude": ""}, "longitude", "give both coordinates, or neither"),
     ({"name": "n" * 101}, "name", "at most 100 characters (101 given)")],
)  # fmt: skip
async def test_other_invalid_fields(http_url, services, admin_user, changes, field, error):
    await services.chargers.create("CP1", {"name": "One"}, utcnow())
    browser = await admin_browser(http_url, admin_user)
    response = await browser.post(charger_path("CP1"), edit_form(**changes))
    assert response.code == 400
    assert f'id="{field}-error" role="alert">{field}: {error}</span>' in page_text(response)
    assert (await services.chargers.get("CP1"))["name"] == "One"


@pytest.mark.gen_test
async def test_edit_without_xsrf_is_refused(http_url, services, admin_user):
    await services.chargers.create("CP1", {"name": "One"}, utcnow())
    browser = await admin_browser(http_url, admin_user)
    response = await browser.post(charger_path("CP1"), edit_form(), xsrf=False)
    assert response.code == 403
    assert (await services.chargers.get("CP1"))["name"] == "One"


@pytest.mark.gen_test(timeout=20)
async def test_edit_page_shows_boot_connectors_and_sessions(http_url, ws_url, services, admin_user):
    browser = await admin_browser(http_url, admin_user)
    async with raw_charger(ws_url("/CP1/")) as charger:
        boot = {"chargePointVendor": "Acme", "chargePointModel": "Volt <9>",
                "chargePointSerialNumber": "SN-1", "firmwareVersion": "1.2.3"}  # fmt: skip
        assert (await charger.call("b", "BootNotification", boot))[2]["status"] == "Accepted"
        status = {"connectorId": 2, "errorCode": "GroundFailure", "status": "Faulted",
                  "info": "earth"}  # fmt: skip
        await charger.call("s", "StatusNotification", status)
        start = {"connectorId": 2, "idTag": "TAG<1>", "meterStart": 1000,
                 "timestamp": "2024-05-01T10:00:00Z"}  # fmt: skip
        tx = (await charger.call("t", "StartTransaction", start))[2]["transactionId"]
        stop = {"transactionId": tx, "meterStop": 13345, "timestamp": "2024-05-01T11:00:00Z",
                "reason": "Local"}  # fmt: skip
        await charger.call("p", "StopTransaction", stop)
        await services.flush()
        page = page_text(await browser.get(charger_path("CP1")))
    assert '<span class="online" id="connection">connected</span>' in page
    assert "<tr><th>Model</th><td>Volt &lt;9&gt;</td></tr>" in page
    assert "<tr><th>Firmware</th><td>1.2.3</td></tr>" in page
    assert "<tr><th>Serial number</th><td>SN-1</td></tr>" in page
    assert "<tr><th>ICCID</th>" not in page
    assert '<span class="status status-Faulted">Faulted</span>' in page
    assert '<td class="error-code">GroundFailure</td>' in page and "<td>earth</td>" in page
    row = page.split('id="sessions"')[1].split("</tbody>")[0]
    assert f"<td>{tx}</td>" in row and "<td>TAG&lt;1&gt;</td>" in row
    assert "<td>2024-05-01 10:00:00 UTC</td>" in row and "<td>2024-05-01 11:00:00 UTC</td>" in row
    assert '<td class="num">12.345</td>' in row and "<td>Local</td>" in row
    assert "1 sessions" in page


# ---- delete ---------------------------------------------------------------------------


async def record_other(db) -> None:
    """Data of another charger that a delete must not touch."""
    ts = datetime(2024, 1, 1, tzinfo=UTC)
    await db.chargers.insert_one({"_id": "OTHER", "name": "Other"})
    await db.transactions.insert_one({"_id": 999, "charger": "OTHER", "start_ts": ts})
    await db.messages.insert_one({"charger": "OTHER", "ts": ts, "frame": "[]"})
    await db.meter_values.insert_one(
        {"ts": ts, "meta": {"charger": "OTHER", "connector": 1, "transaction": None},
         "samples": [{"value": 1.0}]}
    )  # fmt: skip


async def counts(db, charger_id: str) -> dict[str, int]:
    """How many documents each collection holds for a charger."""
    return {
        "chargers": await db.chargers.count_documents({"_id": charger_id}),
        "transactions": await db.transactions.count_documents({"charger": charger_id}),
        "messages": await db.messages.count_documents({"charger": charger_id}),
        "meter_values": await db.meter_values.count_documents({"meta.charger": charger_id}),
    }


@pytest.mark.gen_test(timeout=30)
async def test_delete_purges_the_data_and_disconnects_the_charger(
    http_url, ws_url, services, registry, db, admin_user
):
    await record_other(db)
    browser = await admin_browser(http_url, admin_user)
    async with raw_charger(ws_url("/DEL1/")) as charger:
        await charger.boot()
        start = {"connectorId": 1, "idTag": "T1", "meterStart": 0,
                 "timestamp": "2024-05-01T10:00:00Z"}  # fmt: skip
        tx = (await charger.call("t", "StartTransaction", start))[2]["transactionId"]
        sampled = [{"value": "100"}, {"value": "7.5", "measurand": "Power.Active.Import",
                                      "unit": "kW"}]  # fmt: skip
        meter = {
            "connectorId": 1,
            "transactionId": tx,
            "meterValue": [{"timestamp": "2024-05-01T10:05:00Z", "sampledValue": sampled}],
        }
        assert (await charger.call("m", "MeterValues", meter))[0] == 3
        await services.flush()
        before = await counts(db, "DEL1")  # messages: one exchange (CALL and reply) per CALL
        # The reading's two sampled values are one measurement (models.meter_values).
        assert before == {"chargers": 1, "transactions": 1, "messages": 3, "meter_values": 1}
        page = page_text(await browser.get(charger_path("DEL1")))
        assert "1 sessions, 2 meter readings and\n3 logged message exchanges" in page
        assert "DEL1" in registry

        response = await browser.post(charger_path("DEL1", "delete"), {"confirm": "yes"})
        assert response.code == 302
        assert response.headers["Location"] == "/ocpp/admin/chargers/"
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await charger.recv()
        assert closed.value.rcvd.code == 1000 and closed.value.rcvd.reason == "deleted"
    await wait_for(lambda: "DEL1" not in registry)
    await services.flush()
    await asyncio.sleep(0.1)  # the disconnection's own writes must not re-create anything
    await services.flush()
    assert await counts(db, "DEL1") == {
        "chargers": 0, "transactions": 0, "messages": 0, "meter_values": 0
    }  # fmt: skip
    assert await counts(db, "OTHER") == {
        "chargers": 1, "transactions": 1, "messages": 1, "meter_values": 1
    }  # fmt: skip
    page = page_text(await browser.get("/ocpp/admin/chargers/"))
    assert (
        "Deleted charger DEL1 and its data: chargers 1, transactions 1, meter values 2, "
        "messages 3, commands 0, anomalies 0, security events 0."
    ) in page
    assert 'data-charger="DEL1"' not in page


@pytest.mark.gen_test
async def test_delete_needs_the_confirmation(http_url, services, admin_user, db):
    await services.chargers.create("CP1", {"name": "One"}, utcnow())
    await db.transactions.insert_one({"_id": 5, "charger": "CP1", "start_ts": utcnow()})
    browser = await admin_browser(http_url, admin_user)
    response = await browser.post(charger_path("CP1", "delete"), {})
    assert response.code == 400
    assert "confirm: tick the box to confirm the deletion" in page_text(response)
    assert await counts(db, "CP1") == {
        "chargers": 1, "transactions": 1, "messages": 0, "meter_values": 0
    }  # fmt: skip
    response = await browser.post(charger_path("CP1", "delete"), {"confirm": "yes"}, xsrf=False)
    assert response.code == 403
    assert await services.chargers.get("CP1") is not None


# ---- escaping -------------------------------------------------------------------------


@pytest.mark.gen_test
@pytest.mark.parametrize("charger_id", [HOSTILE, QUOTES])
async def test_hostile_charger_ids_are_shown_as_text(http_url, services, admin_user, charger_id):
    await services.chargers.create(charger_id, {"name": charger_id}, utcnow())
    browser = await admin_browser(http_url, admin_user)
    listing = page_text(await browser.get("/ocpp/admin/chargers/"))
    edit = await browser.get(charger_path(charger_id))
    assert edit.code == 200
    escaped = (
        charger_id.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        .replace('"', "&quot;").replace("'", "&#x27;")
    )  # fmt: skip
    encoded = charger_path(charger_id)
    for page in (listing, page_text(edit)):
        assert charger_id not in page
        assert "<script>alert" not in page and "onmouseover=x" not in page.replace(escaped, "")
        assert f"<code>{escaped}</code>" in page or f'id="charger-id">{escaped}</code>' in page
    assert f'<a href="{encoded}">Edit</a>' in listing
    assert "%3Cscript%3E" in encoded or "%22" in encoded
    edit_page = page_text(edit)
    assert f'action="{encoded}"' in edit_page
    assert f"<title>Charger {escaped} · CSMS</title>" in edit_page
    assert field_value(edit_page, "name") == escaped


@pytest.mark.gen_test
async def test_hostile_id_through_the_add_form(http_url, services, admin_user):
    browser = await admin_browser(http_url, admin_user)
    # Refused like on the charger route (only RFC 3986 unreserved characters, issue 21).
    response = await browser.post("/ocpp/admin/chargers/", {"id": HOSTILE})
    assert response.code == 400
    assert HOSTILE not in page_text(response)
    assert await services.chargers.get(HOSTILE) is None


@pytest.mark.gen_test(timeout=60)
async def test_the_list_pages_past_any_fixed_limit_and_filters(http_url, services, admin_user, db):
    await db.chargers.insert_many(
        [{**new_charger(f"SIM{n:03d}", utcnow()), "search": [f"sim{n:03d}"]} for n in range(105)]
    )
    browser = await admin_browser(http_url, admin_user)
    first = page_text(await browser.get("/ocpp/admin/chargers/"))
    assert len(re.findall(r'<tr data-charger="SIM\d+">', first)) == 100
    assert "page 1 of 2 · 105 in all" in first
    second = page_text(await browser.get("/ocpp/admin/chargers/", {"page": "2"}))
    assert re.findall(r'<tr data-charger="(SIM\d+)">', second) == ["SIM100", "SIM101", "SIM102",
                                                                   "SIM103", "SIM104"]  # fmt: skip
    found = page_text(await browser.get("/ocpp/admin/chargers/", {"q": "SIM10"}))
    assert len(re.findall(r'<tr data-charger="SIM10\d">', found)) == 5
    assert "page 1 of 1 · 5 in all" in found
    offline = page_text(await browser.get("/ocpp/admin/chargers/", {"status": "online"}))
    assert "No charger matches." in offline
