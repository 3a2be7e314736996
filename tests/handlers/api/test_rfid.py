"""RFID tags in the API: list, create, read, replace, change, delete; bad input."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from tests.handlers.api.support import assert_error, call, data

RFID = "/ocpp/api/rfid/"
DEFAULTS = {"label": "", "status": "accepted", "expiry": None, "parent_id_tag": None,
            "max_active_transactions": 1, "tariff": None}  # fmt: skip


async def create(http_url, headers, body):
    return await call(http_url, RFID, method="POST", json=body, headers=headers)


@pytest.mark.gen_test
async def test_create_read_and_list(http_url, auth_headers, db):
    body = {"id_tag": "abc123", "label": "Van 7", "status": "Blocked",
            "expiry": "2027-01-31T23:00:00-01:00", "parent_id_tag": "FLEET",
            "max_active_transactions": 3}  # fmt: skip
    response = await create(http_url, auth_headers, body)
    assert response.code == 201
    assert response.headers["Location"] == "/ocpp/api/rfid/abc123/"
    expected = {**body, "status": "blocked", "expiry": "2027-02-01T00:00:00.000Z", "tariff": None}
    assert data(response) == expected
    assert await db.rfid_tags.find_one({"_id": "ABC123"}) == {
        "_id": "ABC123", "id_tag": "abc123", "label": "Van 7", "status": "blocked",
        "expiry": datetime(2027, 2, 1, tzinfo=UTC), "parent_id_tag": "FLEET",
        "max_active_transactions": 3, "tariff": None,
    }  # fmt: skip
    # Tags are case-insensitive; the spelling given at creation is kept.
    assert data(await call(http_url, f"{RFID}ABC123/", headers=auth_headers)) == expected
    await create(http_url, auth_headers, {"id_tag": "0001"})
    listed = data(await call(http_url, RFID, headers=auth_headers))
    assert listed == {"total": 2, "items": [{"id_tag": "0001", **DEFAULTS}, expected]}


@pytest.mark.gen_test
async def test_create_of_an_existing_tag_is_409(http_url, auth_headers, services):
    await services.rfid.upsert("abc", label="first")
    response = await create(http_url, auth_headers, {"id_tag": "ABC", "label": "second"})
    assert assert_error(response, 409, "already_exists", "id_tag")["detail"] == {
        "field": "id_tag", "message": "this tag exists already"
    }  # fmt: skip
    assert (await services.rfid.get("abc"))["label"] == "first"


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [({}, "id_tag", "is required"),
     ({"id_tag": None}, "id_tag", "must be a string"),
     ({"id_tag": ""}, "id_tag", "must not be empty"),
     ({"id_tag": 12}, "id_tag", "must be a string"),
     ({"id_tag": "x" * 21}, "id_tag", "at most 20 characters"),
     ({"id_tag": " x"}, "id_tag", "must not start or end with whitespace"),
     ({"id_tag": "a\nb"}, "id_tag", "must not contain control characters"),
     ({"id_tag": "T", "status": "maybe"}, "status", "must be 'accepted' or 'blocked'"),
     ({"id_tag": "T", "status": None}, "status", "must be 'accepted' or 'blocked'"),
     ({"id_tag": "T", "expiry": "tomorrow"}, "expiry",
      "must be an RFC 3339 date-time with an offset, or null"),
     ({"id_tag": "T", "expiry": "2027-01-01T00:00:00"}, "expiry",
      "must be an RFC 3339 date-time with an offset, or null"),
     ({"id_tag": "T", "expiry": 1700000000}, "expiry",
      "must be an RFC 3339 date-time with an offset, or null"),
     ({"id_tag": "T", "parent_id_tag": "p" * 21}, "parent_id_tag", "at most 20 characters"),
     ({"id_tag": "T", "parent_id_tag": 5}, "parent_id_tag", "must be a string or null"),
     ({"id_tag": "T", "max_active_transactions": 0}, "max_active_transactions",
      "must be between 1 and 1000"),
     ({"id_tag": "T", "max_active_transactions": "2"}, "max_active_transactions",
      "must be an integer"),
     ({"id_tag": "T", "max_active_transactions": True}, "max_active_transactions",
      "must be an integer"),
     ({"id_tag": "T", "max_active_transactions": 1.5}, "max_active_transactions",
      "must be an integer"),
     ({"id_tag": "T", "label": "l" * 201}, "label", "at most 200 characters"),
     ({"id_tag": "T", "colour": "red"}, "colour", "unknown field")],
)  # fmt: skip
@pytest.mark.gen_test
async def test_invalid_fields_are_400_naming_the_field(body, field, message, http_url,
                                                       auth_headers, db):  # fmt: skip
    response = await create(http_url, auth_headers, body)
    detail = assert_error(response, 400, "invalid_field", field)["detail"]
    assert detail == {"field": field, "message": message}
    assert await db.rfid_tags.count_documents({}) == 0


@pytest.mark.parametrize(
    ("raw", "detail"),
    [(b'{"id_tag": "T",', "the body is not valid JSON"),
     (b"[1, 2]", "the body must be a JSON object"),
     (b'"T"', "the body must be a JSON object"), (b"\xff", "the body is not valid JSON")],
)  # fmt: skip
@pytest.mark.parametrize(("method", "path"), [("POST", RFID), ("PUT", f"{RFID}T/"),
                                              ("PATCH", f"{RFID}T/")])  # fmt: skip
@pytest.mark.gen_test
async def test_malformed_json_is_400(method, path, raw, detail, http_url, auth_headers, services):
    await services.rfid.upsert("T")
    response = await call(http_url, path, method=method, body=raw,
                          headers={**auth_headers, "Content-Type": "application/json"})  # fmt: skip
    body = assert_error(response, 400, "invalid_json")
    assert body["detail"].startswith(detail)


@pytest.mark.gen_test
async def test_put_replaces_every_field(http_url, auth_headers, services):
    await services.rfid.upsert("abc", label="L", status="blocked", max_active_transactions=4,
                               parent_id_tag="P")  # fmt: skip
    response = await call(http_url, f"{RFID}ABC/", method="PUT", json={"label": "M"},
                          headers=auth_headers)  # fmt: skip
    assert data(response) == {**DEFAULTS, "id_tag": "abc", "label": "M"}
    # id_tag may change the spelling of the same tag, not name another one.
    response = await call(http_url, f"{RFID}abc/", method="PUT", json={"id_tag": "ABC"},
                          headers=auth_headers)  # fmt: skip
    assert data(response)["id_tag"] == "ABC"
    response = await call(http_url, f"{RFID}abc/", method="PUT", json={"id_tag": "other"},
                          headers=auth_headers)  # fmt: skip
    assert assert_error(response, 400, "invalid_field", "id_tag")["detail"]["message"] == (
        "must name the tag in the path (case may differ)"
    )
    assert (await services.rfid.get("abc"))["id_tag"] == "ABC"


@pytest.mark.gen_test
async def test_patch_changes_only_the_given_fields(http_url, auth_headers, services):
    expiry = datetime(2027, 1, 1, tzinfo=UTC)
    await services.rfid.upsert("abc", label="L", expiry=expiry, max_active_transactions=4)
    path = f"{RFID}abc/"
    response = await call(http_url, path, method="PATCH", json={"status": "blocked"},
                          headers=auth_headers)  # fmt: skip
    assert data(response) == {"id_tag": "abc", "label": "L", "status": "blocked",
                              "expiry": "2027-01-01T00:00:00.000Z", "parent_id_tag": None,
                              "max_active_transactions": 4, "tariff": None}  # fmt: skip
    response = await call(http_url, path, method="PATCH", json={"expiry": None, "label": None},
                          headers=auth_headers)  # fmt: skip
    assert (data(response)["expiry"], data(response)["label"]) == (None, "")
    response = await call(http_url, path, method="PATCH",
                          json={"label": "X", "max_active_transactions": -1},
                          headers=auth_headers)  # fmt: skip
    assert_error(response, 400, "invalid_field", "max_active_transactions")
    stored = await services.rfid.get("abc")
    assert (stored["label"], stored["max_active_transactions"]) == ("", 4)


@pytest.mark.gen_test
async def test_delete(http_url, auth_headers, services):
    await services.rfid.upsert("abc")
    response = await call(http_url, f"{RFID}ABC/", method="DELETE", headers=auth_headers)
    assert response.code == 204
    assert await services.rfid.get("abc") is None
    response = await call(http_url, f"{RFID}ABC/", method="DELETE", headers=auth_headers)
    assert assert_error(response, 404, "not_found")["detail"] == "no RFID tag 'ABC'"


@pytest.mark.parametrize(("method", "body"), [("GET", None), ("PUT", {}), ("PATCH", {}),
                                              ("DELETE", None)])  # fmt: skip
@pytest.mark.gen_test
async def test_unknown_tag_is_404(method, body, http_url, auth_headers, db):
    response = await call(http_url, f"{RFID}nope/", method=method, json=body,
                          headers=auth_headers)  # fmt: skip
    assert assert_error(response, 404, "not_found")["detail"] == "no RFID tag 'nope'"
    assert await db.rfid_tags.count_documents({}) == 0


@pytest.mark.parametrize("tag", ["a/b c", "<b>x</b>", "é?#&%"])
@pytest.mark.gen_test
async def test_odd_tags_in_paths(tag, http_url, auth_headers, services):
    response = await create(http_url, auth_headers, {"id_tag": tag})
    assert response.code == 201
    assert response.headers["Location"] == f"{RFID}{quote(tag, safe='')}/"
    response = await call(http_url, response.headers["Location"], headers=auth_headers)
    assert data(response)["id_tag"] == tag
