"""Admin RFID tags: create, edit, delete, with validation that keeps what was typed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.handlers.admin.test_index import admin_browser, field_value, page_text

LIST = "/ocpp/admin/rfid/"


def tag_form(**changes) -> dict:
    """A valid create submission."""
    form = {
        "id_tag": "Card-01",
        "label": "Fleet <van>",
        "status": "accepted",
        "expiry": "2030-06-30T12:30",
        "parent_id_tag": "FLEET",
        "max_active_transactions": "2",
    }
    form.update(changes)
    return form


@pytest.mark.gen_test
async def test_create_a_tag_stores_exact_fields(http_url, services, admin_user):
    browser = await admin_browser(http_url, admin_user)
    response = await browser.post(LIST, tag_form())
    assert response.code == 302
    assert response.headers["Location"] == LIST
    assert await services.rfid.get("card-01") == {
        "_id": "CARD-01",
        "id_tag": "Card-01",
        "label": "Fleet <van>",
        "status": "accepted",
        "expiry": datetime(2030, 6, 30, 12, 30, tzinfo=UTC),
        "parent_id_tag": "FLEET",
        "max_active_transactions": 2,
        "tariff": None,
    }
    page = page_text(await browser.get(LIST))
    assert 'id="flash">Tag Card-01 added.</p>' in page
    row = page.split('id="tags"')[1].split("</tr>")[1]
    assert '<a href="/ocpp/admin/rfid/Card-01/"><code>Card-01</code></a>' in row
    assert "<td>Fleet &lt;van&gt;</td>" in row
    assert "<td>2030-06-30 12:30:00 UTC</td>" in row and "<td>FLEET</td>" in row
    assert '<td class="num">2</td>' in row


@pytest.mark.gen_test
async def test_optional_fields_may_be_empty(http_url, services, admin_user):
    browser = await admin_browser(http_url, admin_user)
    form = tag_form(label="", expiry="", parent_id_tag="  ", status="blocked")
    assert (await browser.post(LIST, form)).code == 302
    tag = await services.rfid.get("CARD-01")
    assert (tag["label"], tag["expiry"], tag["parent_id_tag"], tag["status"]) == (
        "",
        None,
        None,
        "blocked",
    )


@pytest.mark.gen_test
@pytest.mark.parametrize(
    ("changes", "field", "error"),
    [
        ({"id_tag": ""}, "id_tag", "required"),
        ({"id_tag": "X" * 21}, "id_tag", "at most 20 characters (21 given)"),
        ({"status": "maybe"}, "status", "must be one of accepted, blocked"),
        ({"expiry": "next week"}, "expiry", "must be a date (YYYY-MM-DD) or a date and time"),
        ({"parent_id_tag": "P" * 21}, "parent_id_tag", "at most 20 characters (21 given)"),
        ({"parent_id_tag": "card-01"}, "parent_id_tag", "a tag cannot be its own parent"),
        ({"max_active_transactions": "0"}, "max_active_transactions", "must be at least 1"),
        ({"max_active_transactions": "two"}, "max_active_transactions", "must be a whole number"),
        ({"label": "L" * 101}, "label", "at most 100 characters (101 given)"),
    ],
)
async def test_create_validation_keeps_what_was_typed(
    http_url, services, admin_user, changes, field, error
):
    browser = await admin_browser(http_url, admin_user)
    response = await browser.post(LIST, tag_form(**changes))
    assert response.code == 400
    page = page_text(response)
    assert f'id="{field}-error" role="alert">{field}: {error}' in page
    typed = tag_form(**changes)
    for name in ("id_tag", "label", "expiry", "parent_id_tag", "max_active_transactions"):
        escaped = typed[name].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        assert field_value(page, name) == escaped.strip() or field_value(page, name) == escaped
    if field != "status":
        assert '<option value="accepted" selected>' in page
    assert await services.rfid.list() == []


@pytest.mark.gen_test
async def test_a_tag_exists_in_any_letter_case(http_url, services, admin_user):
    await services.rfid.upsert("CARD-01", label="First")
    browser = await admin_browser(http_url, admin_user)
    response = await browser.post(LIST, tag_form(id_tag="card-01"))
    assert response.code == 400
    assert "id_tag: this tag exists already (tags ignore letter case)" in page_text(response)
    assert (await services.rfid.get("CARD-01"))["label"] == "First"


@pytest.mark.gen_test
async def test_edit_a_tag(http_url, services, admin_user):
    await services.rfid.upsert("Card/1", label="Old", max_active_transactions=1)
    browser = await admin_browser(http_url, admin_user)
    path = "/ocpp/admin/rfid/Card%2F1/"
    page = page_text(await browser.get(path))
    assert field_value(page, "label") == "Old"
    assert f'action="{path}"' in page
    fields = tag_form(label="New", status="blocked", expiry="2031-01-02", parent_id_tag="")
    del fields["id_tag"]
    response = await browser.post(path, fields | {"id_tag": "HIJACK"})
    assert response.code == 302
    tag = await services.rfid.get("CARD/1")
    assert tag == {
        "_id": "CARD/1",
        "id_tag": "Card/1",
        "label": "New",
        "status": "blocked",
        "expiry": datetime(2031, 1, 2, tzinfo=UTC),
        "parent_id_tag": None,
        "max_active_transactions": 2,
        "tariff": None,
    }
    assert await services.rfid.get("HIJACK") is None
    page = page_text(await browser.get(path))
    assert field_value(page, "expiry") == "2031-01-02T00:00"
    assert '<option value="blocked" selected>' in page


@pytest.mark.gen_test
async def test_invalid_edit_is_400_and_keeps_what_was_typed(http_url, services, admin_user):
    await services.rfid.upsert("CARD-01", label="Old")
    browser = await admin_browser(http_url, admin_user)
    fields = {"label": "Typed", "status": "accepted", "expiry": "2030-13-01",
              "parent_id_tag": "", "max_active_transactions": "-3"}  # fmt: skip
    response = await browser.post("/ocpp/admin/rfid/CARD-01/", fields)
    assert response.code == 400
    page = page_text(response)
    assert 'id="expiry-error"' in page and 'id="max_active_transactions-error"' in page
    assert field_value(page, "label") == "Typed"
    assert field_value(page, "expiry") == "2030-13-01"
    assert field_value(page, "max_active_transactions") == "-3"
    assert (await services.rfid.get("CARD-01"))["label"] == "Old"
    response = await browser.post("/ocpp/admin/rfid/CARD-01/", fields, xsrf=False)
    assert response.code == 403


@pytest.mark.gen_test
async def test_delete_a_tag(http_url, services, admin_user):
    await services.rfid.upsert("CARD-01")
    await services.rfid.upsert("CARD-02")
    browser = await admin_browser(http_url, admin_user)
    assert (await browser.post("/ocpp/admin/rfid/card-01/delete", {}, xsrf=False)).code == 403
    response = await browser.post("/ocpp/admin/rfid/card-01/delete", {})
    assert response.code == 302 and response.headers["Location"] == LIST
    assert await services.rfid.get("CARD-01") is None
    assert await services.rfid.get("CARD-02") is not None
    assert 'id="flash">Tag CARD-01 deleted.</p>' in page_text(await browser.get(LIST))
    assert (await browser.post("/ocpp/admin/rfid/card-01/delete", {})).code == 404


@pytest.mark.gen_test
async def test_hostile_tag_is_shown_as_text(http_url, services, admin_user):
    await services.rfid.upsert('<b id="x">', label="<script>alert(1)</script>")
    browser = await admin_browser(http_url, admin_user)
    listing = page_text(await browser.get(LIST))
    assert "<b id" not in listing and "<script>alert" not in listing
    assert "<code>&lt;b id=&quot;x&quot;&gt;</code>" in listing
    assert 'href="/ocpp/admin/rfid/%3Cb%20id%3D%22x%22%3E/"' in listing
    edit = await browser.get("/ocpp/admin/rfid/%3Cb%20id%3D%22x%22%3E/")
    assert edit.code == 200
    assert 'id="tag-id">&lt;b id=&quot;x&quot;&gt;</code>' in page_text(edit)


@pytest.mark.gen_test
async def test_the_list_states_both_authorization_rules(http_url, services, admin_user):
    browser = await admin_browser(http_url, admin_user)
    for default, shown in ((False, "off"), (True, "on")):
        services.settings.require_rfid_default = default
        page = page_text(await browser.get("/ocpp/admin/rfid/"))
        rules = " ".join(page.split('id="auth-rules"')[1].split("</div>")[0].split())
        assert "follows its record on <strong>every</strong> charger" in rules
        assert "Blocked when blocked" in rules and "ConcurrentTx" in rules
        assert "unless the charger has <em>require RFID</em> on: then it is Invalid" in rules
        assert f"New chargers get require RFID {shown} (server option" in rules
