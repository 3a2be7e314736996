"""Admin page of a charger's remote operations: a generated form per operation, the outcome
shown next to the form (accepted, invalid, refused, not connected, timeout), the recent
commands, escaping of hostile ids, login and XSRF."""

from __future__ import annotations

import html
import re
from urllib.parse import urlencode

import pytest
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call
from ocpp.v16 import call_result as result
from ocpp.v16.enums import Action
from tornado.httpclient import AsyncHTTPClient

from csms.operation_groups import title_of
from csms.remote import describe_operations
from handlers.base import WebSettings
from ocppj.timeutil import utcnow
from tests.charge_points import ocpp_charge_point, raw_charger
from tests.handlers.admin.test_index import (
    admin_browser,
    charger_path,
    field_value,
    page_text,
    textarea,
)

HOSTILE = '<script>alert("x")</script> é'


@pytest.fixture
def web_settings(http_port):
    """A short action timeout so the 504 test is quick."""
    return WebSettings(public_url=f"http://127.0.0.1:{http_port}", action_timeout=1.0)


class Charger(ChargePoint):
    """Records the Reset payloads it receives and accepts them."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.received: list[tuple[str, dict]] = []

    @on(Action.reset)
    def on_reset(self, **payload):
        self.received.append(("Reset", payload))
        return result.Reset(status="Accepted")


async def boot(cp) -> None:
    """BootNotification, accepted."""
    reply = await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
    assert reply.status == "Accepted"


def ops_path(charger_id: str, name: str = "") -> str:
    """The operations page of a charger, or the POST target of one operation."""
    return charger_path(charger_id, "operations/" + name)


def form_html(page: str, name: str) -> str:
    """The HTML of one operation's form."""
    match = re.search(r'<form [^>]*id="form-' + name + r'".*?</form>', page, re.S)
    assert match is not None, name
    return match[0]


def section(page: str, name: str) -> str:
    """The card of one operation (outcome and form)."""
    return page.split(f'id="op-{name}"', 1)[1].split("</section>", 1)[0]


def control(form: str, param: str) -> str:
    """The tag name of the control named ``param`` in a form."""
    match = re.search(r'<(input|select|textarea)\b[^>]*\bname="' + param + '"', form)
    assert match is not None, param
    if match[1] != "input":
        return match[1]
    kind = re.search(r'type="(\w+)"', match[0])
    return "input:" + (kind[1] if kind else "text")


@pytest.mark.gen_test
async def test_login_required(http_url, services):
    await services.chargers.create("CP1", {"name": "CP1"}, utcnow())
    client = AsyncHTTPClient()
    page = await client.fetch(http_url(ops_path("CP1")), follow_redirects=False, raise_error=False)
    assert page.code == 302
    assert page.headers["Location"] == "/ocpp/login?" + urlencode({"next": ops_path("CP1")})
    form = await client.fetch(http_url("/ocpp/login"))
    cookies = "; ".join(c.split(";")[0] for c in form.headers.get_list("Set-Cookie"))
    xsrf = re.search(r"_xsrf=([^;]+)", cookies)[1]
    post = await client.fetch(
        http_url(ops_path("CP1", "reset")), method="POST",
        body=urlencode({"_xsrf": xsrf, "type": "Soft"}), headers={"Cookie": cookies},
        follow_redirects=False, raise_error=False,
    )  # fmt: skip
    assert post.code == 403
    assert await services.db.commands.count_documents({}) == 0


@pytest.mark.gen_test
async def test_the_page_has_a_form_for_every_operation(http_url, services, admin_user):
    await services.chargers.create("CP1", {"name": "CP1"}, utcnow())
    browser = await admin_browser(http_url, admin_user)
    edit = page_text(await browser.get(charger_path("CP1")))
    assert '<a href="/ocpp/admin/chargers/CP1/operations/" id="operations-link">' in edit
    response = await browser.get(ops_path("CP1"))
    assert response.code == 200
    page = page_text(response)
    assert '<span class="offline" id="connection">offline</span>' in page
    assert 'id="not-connected"' in page
    assert 'id="no-commands"' in page
    assert '<a href="/ocpp/log/CP1/" id="log-link">' in page
    widgets = {"select": "select", "integer": "input:number", "string": "input:text",
               "object": "textarea", "array": "textarea", "boolean": "input:checkbox"}  # fmt: skip
    operations = describe_operations()
    assert len(re.findall(r'<form [^>]*id="form-', page)) == len(operations) == 26
    for name, op in operations.items():
        form = form_html(page, name)
        action = f'action="/ocpp/admin/chargers/CP1/operations/{name}#op-{name}"'
        assert action in form
        assert 'name="_xsrf"' in form
        assert f">{title_of(name)}</button>" in form
        properties = op["parameters"]["properties"]
        assert len(re.findall(r'<(?:input|select|textarea)\b[^>]*\bname="(?!_xsrf)', form)) == len(
            properties
        )
        for param, schema in properties.items():
            expected = widgets["select" if "enum" in schema else schema["type"]]
            assert control(form, param) == expected, (name, param)
            for choice in schema.get("enum", ()):
                assert f'<option value="{choice}" >{choice}</option>' in form
    reset = form_html(page, "reset")
    assert '<option value="">(default: Soft)</option>' in reset
    availability = form_html(page, "change_availability")
    assert '<option value="">choose…</option>' in availability
    unlock = form_html(page, "unlock_connector")
    assert re.search(r'name="connector_id"[^>]*step="1"\s+min="1"', unlock)
    get_log = form_html(page, "get_log")
    assert 'placeholder="2026-01-31T10:00:00Z"' in get_log
    assert 'maxlength="512"' in get_log


@pytest.mark.gen_test(timeout=30)
async def test_reset_soft_reaches_the_charger_and_shows_accepted(
    http_url, ws_url, services, admin_user, db
):
    browser = await admin_browser(http_url, admin_user)
    async with ocpp_charge_point(ws_url("/CP1/"), "CP1", Charger) as cp:
        await boot(cp)
        listed = page_text(await browser.get(ops_path("CP1")))
        assert '<span class="online" id="connection">connected</span>' in listed
        assert 'id="not-connected"' not in listed
        response = await browser.post(ops_path("CP1", "reset"), {"type": "Soft"})
        assert cp.received == [("Reset", {"type": "Soft"})]
    assert response.code == 200
    page = page_text(response)
    command = await db.commands.find_one({})
    assert command["action"] == "Reset"
    assert command["payload"] == {"type": "Soft"}
    assert command["status"] == "accepted"
    assert command["requested_by"] == "admin"
    card = section(page, "reset")
    assert "<details open>" in card
    assert '<span class="outcome-status" id="reset-status">accepted</span>' in card
    assert f'<code id="reset-command">{command["_id"]}</code>' in card
    assert '<pre id="reset-reply">{\n  &quot;status&quot;: &quot;Accepted&quot;\n}</pre>' in card
    assert '<pre id="reset-request">{\n  &quot;type&quot;: &quot;Soft&quot;\n}</pre>' in card
    assert '<a href="/ocpp/log/CP1/">Message log of CP1</a>' in card
    assert '<option value="Soft" selected>Soft</option>' in card
    assert "<details open>" not in section(page, "clear_cache")
    # The recent commands list it, newest first.
    row = page.split(f'<tr data-command="{command["_id"]}">', 1)[1].split("</tr>", 1)[0]
    assert "reset" in row and "Reset" in row and ">accepted<" in row and "admin" in row


@pytest.mark.gen_test(timeout=30)
async def test_bad_parameters_are_400_next_to_the_field_with_the_typed_values(
    http_url, ws_url, services, admin_user, db
):
    browser = await admin_browser(http_url, admin_user)
    async with ocpp_charge_point(ws_url("/CP1/"), "CP1", Charger) as cp:
        await boot(cp)
        low = await browser.post(ops_path("CP1", "unlock_connector"), {"connector_id": "0"})
        medium = await browser.post(ops_path("CP1", "reset"), {"type": "Medium"})
        typed = '{"chargingProfileId": <1>'
        broken = await browser.post(
            ops_path("CP1", "set_charging_profile"),
            {"connector_id": "1", "charging_profile": typed},
        )
        missing = await browser.post(
            ops_path("CP1", "data_transfer"), {"vendor_id": "", "message_id": '<b>"m"</b>'}
        )
        assert cp.received == []
    assert await db.commands.count_documents({}) == 0
    for response in (low, medium, broken, missing):
        assert response.code == 400
    page = page_text(low)
    card = section(page, "unlock_connector")
    assert "Nothing was sent: please correct the fields marked below." in card
    assert (
        '<span class="field-error" id="unlock_connector-connector_id-error" role="alert">'
        "connector_id: must be at least 1</span>"
    ) in card
    assert field_value(form_html(page, "unlock_connector"), "connector_id") == "0"
    assert 'aria-invalid="true"' in form_html(page, "unlock_connector")
    card = section(page_text(medium), "reset")
    assert "type: must be one of Hard, Soft</span>" in card
    assert '<option value="Medium" selected>Medium</option>' in card
    page = page_text(broken)
    card = section(page, "set_charging_profile")
    assert "charging_profile: must be a JSON object</span>" in card
    assert textarea(form_html(page, "set_charging_profile"), "charging_profile") == html.escape(
        typed, quote=True
    ).replace("&#x27;", "&#39;")
    assert field_value(form_html(page, "set_charging_profile"), "connector_id") == "1"
    page = page_text(missing)
    card = section(page, "data_transfer")
    assert "vendor_id: is required</span>" in card
    kept = field_value(form_html(page, "data_transfer"), "message_id")
    assert kept == "&lt;b&gt;&quot;m&quot;&lt;/b&gt;"
    assert '<b>"m"</b>' not in page


@pytest.mark.gen_test(timeout=30)
async def test_a_refused_remote_start_shows_why(http_url, ws_url, services, admin_user, db):
    await services.rfid.upsert("BAD", status="blocked")
    browser = await admin_browser(http_url, admin_user)
    async with ocpp_charge_point(ws_url("/CP1/"), "CP1", Charger) as cp:
        await boot(cp)
        await db.chargers.update_one({"_id": "CP1"}, {"$set": {"require_rfid": True}})
        response = await browser.post(
            ops_path("CP1", "remote_start"), {"id_tag": "bad", "connector_id": "1"}
        )
    assert response.code == 400
    page = page_text(response)
    card = section(page, "remote_start")
    assert "<strong>Refused.</strong>" in card
    assert "id_tag: the tag is not authorized on this charger (Blocked)</span>" in card
    assert (
        '<code id="remote_start-refused">{&quot;status&quot;: &quot;Blocked&quot;}</code>' in card
    )
    assert field_value(form_html(page, "remote_start"), "id_tag") == "bad"
    assert await db.commands.count_documents({}) == 0


@pytest.mark.gen_test(timeout=30)
async def test_not_connected_is_409_and_recorded(http_url, services, admin_user, db):
    await services.chargers.create(HOSTILE, {"name": "x"}, utcnow())
    browser = await admin_browser(http_url, admin_user)
    response = await browser.post(ops_path(HOSTILE, "clear_cache"), {})
    assert response.code == 409
    page = page_text(response)
    card = section(page, "clear_cache")
    assert '<span class="outcome-status" id="clear_cache-status">not_connected</span>' in card
    assert "The charger is not connected: nothing was sent." in card
    command = await db.commands.find_one({})
    assert (command["charger"], command["status"]) == (HOSTILE, "not_connected")
    assert f'<code id="clear_cache-command">{command["_id"]}</code>' in card
    # The hostile id is escaped everywhere and percent-encoded in links.
    assert HOSTILE not in page and "<script>alert" not in page
    assert html.escape(HOSTILE).replace("&#x27;", "&#39;") in page
    encoded = "%3Cscript%3Ealert%28%22x%22%29%3C%2Fscript%3E%20%C3%A9"
    assert f'action="/ocpp/admin/chargers/{encoded}/operations/reset#op-reset"' in page
    assert f'href="/ocpp/log/{encoded}/"' in page


@pytest.mark.gen_test(timeout=30)
async def test_no_reply_in_time_is_504_with_the_command_id(http_url, ws_url, admin_user, db):
    browser = await admin_browser(http_url, admin_user)
    async with raw_charger(ws_url("/MUTE/")) as cp:
        await cp.boot()
        response = await browser.post(ops_path("MUTE", "reset"), {"type": "Hard"})
        frame = await cp.recv()
    assert frame[2:] == ["Reset", {"type": "Hard"}]
    assert response.code == 504
    card = section(page_text(response), "reset")
    assert '<span class="outcome-status" id="reset-status">timeout</span>' in card
    assert f'<code id="reset-command">{frame[1]}</code>' in card
    assert "no reply in 1 s" in card
    assert (await db.commands.find_one({"_id": frame[1]}))["status"] == "timeout"


@pytest.mark.gen_test
async def test_xsrf_missing_is_403(http_url, services, admin_user, db):
    await services.chargers.create("CP1", {"name": "CP1"}, utcnow())
    browser = await admin_browser(http_url, admin_user)
    response = await browser.post(ops_path("CP1", "reset"), {"type": "Soft"}, xsrf=False)
    assert response.code == 403
    assert await db.commands.count_documents({}) == 0


@pytest.mark.gen_test
async def test_unknown_charger_or_operation_is_404(http_url, services, admin_user):
    await services.chargers.create("CP1", {"name": "CP1"}, utcnow())
    browser = await admin_browser(http_url, admin_user)
    assert (await browser.get(ops_path("NOPE"))).code == 404
    assert (await browser.post(ops_path("NOPE", "reset"), {"type": "Soft"})).code == 404
    assert (await browser.post(ops_path("CP1", "fly"), {})).code == 404
