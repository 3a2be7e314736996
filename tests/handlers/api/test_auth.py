"""API authentication: Bearer token, HTTP Basic and the login cookie on every endpoint;
401 without them; XSRF only for cookie-authenticated writes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tornado.web import RequestHandler

from csms.tariffs import check_terms
from handlers.api.index import NotFoundHandler
from handlers.routes import routes
from tests.handlers.api.support import AUTH_KINDS, assert_error, auth_for, call, data
from tests.handlers.test_auth import basic

GET_PATHS = (
    "/ocpp/chargers/",
    "/ocpp/chargers/CP1/",
    "/ocpp/api/transactions/",
    "/ocpp/api/transactions.csv",
    "/ocpp/api/meter-values/?charger=CP1",
    "/ocpp/api/rfid/",
    "/ocpp/api/rfid/TAG1/",
    "/ocpp/api/openapi.json",
    "/ocpp/api/tariffs/",
    "/ocpp/api/tariffs/T1/",
    "/ocpp/api/tariffs/T1/versions/",
    "/ocpp/api/transactions/1/",
    "/ocpp/api/reports/sessions.csv",
    "/ocpp/api/reports/sessions.json",
    "/ocpp/api/sites/",
    "/ocpp/api/sites/S1/",
    "/ocpp/api/sites/S1/allocations/",
    "/ocpp/api/alerts/",
    "/ocpp/api/alert-rules/",
    "/ocpp/api/alert-channels/",
    "/ocpp/api/alert-deliveries/",
)


@pytest.fixture
def known(io_loop, services, db):
    """A charger CP1, a tag TAG1, a tariff T1, a session 1 and a site S1."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    io_loop.run_sync(lambda: services.chargers.create("CP1", {}, now))
    io_loop.run_sync(lambda: services.rfid.upsert("TAG1"))
    terms = check_terms({"currency": "EUR"})
    io_loop.run_sync(lambda: services.tariffs.store("T1", terms, now, 0))
    session = {"_id": 1, "kind": "session", "charger": "CP1", "start_ts": now, "open": False}
    io_loop.run_sync(lambda: db.transactions.insert_one(session))
    io_loop.run_sync(lambda: services.sites.create({"_id": "S1", "name": "S1", "limit_a": 32}))


def test_every_api_route_is_probed():
    """GET_PATHS covers every GET route of the API (the write methods are below)."""
    getters = [
        route
        for route in routes()
        if isinstance(route, tuple)
        and route[0].startswith(("/ocpp/api/", "/ocpp/chargers/"))
        and route[1].get is not RequestHandler.get
        and route[1] is not NotFoundHandler
    ]  # fmt: skip (the catch-all JSON 404 has its own test in test_chargers)
    assert len(getters) == len(GET_PATHS)


@pytest.mark.parametrize("kind", AUTH_KINDS)
@pytest.mark.gen_test(timeout=30)
async def test_every_get_endpoint_accepts_each_kind(kind, http_url, admin_user, api_token, known):
    headers = await auth_for(kind, http_url, admin_user, api_token)
    for path in GET_PATHS:
        response = await call(http_url, path, headers=headers)
        assert response.code == 200, (path, response.body)


@pytest.mark.gen_test(timeout=30)
async def test_without_credentials_every_endpoint_is_401_json(http_url, known):
    for path in GET_PATHS:
        response = await call(http_url, path)
        body = assert_error(response, 401, "unauthorized")
        assert body["detail"] == "a valid API token, login or session is required"
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="csms", Basic realm="csms"'


@pytest.mark.parametrize(
    "authorization",
    ["Bearer not-a-token", basic("admin", "wrong password"), basic("nobody", "x"),
     "Basic !!!not-base64", "Digest abc"],
)  # fmt: skip
@pytest.mark.gen_test(timeout=30)
async def test_bad_credentials_are_401(authorization, http_url, admin_user):
    response = await call(http_url, "/ocpp/chargers/", headers={"Authorization": authorization})
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="csms", Basic realm="csms"'


@pytest.mark.gen_test(timeout=30)
async def test_bad_token_on_a_write_is_401_not_xsrf(http_url, admin_user):
    response = await call(
        http_url, "/ocpp/api/rfid/", method="POST", json={"id_tag": "T"},
        headers={"Authorization": "Bearer nope"},
    )  # fmt: skip
    assert_error(response, 401, "unauthorized")


@pytest.mark.parametrize("kind", AUTH_KINDS)
@pytest.mark.gen_test(timeout=30)
async def test_writes_with_each_kind(kind, http_url, admin_user, api_token, services):
    headers = await auth_for(kind, http_url, admin_user, api_token)
    path = f"/ocpp/api/rfid/{kind}/"
    created = await call(
        http_url, "/ocpp/api/rfid/", method="POST", json={"id_tag": kind}, headers=headers
    )
    assert created.code == 201, created.body
    replaced = await call(http_url, path, method="PUT", json={"label": "L"}, headers=headers)
    assert replaced.code == 200 and data(replaced)["label"] == "L"
    patched = await call(http_url, path, method="PATCH", json={"status": "blocked"},
                         headers=headers)  # fmt: skip
    assert patched.code == 200 and data(patched)["status"] == "blocked"
    assert (await services.rfid.get(kind))["status"] == "blocked"
    deleted = await call(http_url, path, method="DELETE", headers=headers)
    assert deleted.code == 204 and deleted.body == b""
    assert await services.rfid.get(kind) is None


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.gen_test(timeout=30)
async def test_cookie_write_without_xsrf_header_is_403(
    method, http_url, admin_user, api_token, services
):
    await services.rfid.upsert("TAG1")
    headers = await auth_for("cookie", http_url, admin_user, api_token)
    del headers["X-XSRFToken"]
    path = "/ocpp/api/rfid/" if method == "POST" else "/ocpp/api/rfid/TAG1/"
    body = None if method == "DELETE" else {"id_tag": "TAG1"}
    response = await call(http_url, path, method=method, json=body, headers=headers)
    assert_error(response, 403, "forbidden")
    assert await services.rfid.get("TAG1") is not None
    assert (await services.rfid.get("TAG1"))["label"] == ""


@pytest.mark.gen_test(timeout=30)
async def test_cookie_write_with_a_wrong_xsrf_header_is_403(
    http_url, admin_user, api_token, services
):
    headers = await auth_for("cookie", http_url, admin_user, api_token)
    headers["X-XSRFToken"] = "2|00000000|00000000000000000000000000000000|1"
    response = await call(
        http_url, "/ocpp/api/rfid/", method="POST", json={"id_tag": "X"}, headers=headers
    )
    assert_error(response, 403, "forbidden")
    assert await services.rfid.get("X") is None


@pytest.mark.gen_test(timeout=30)
async def test_header_auth_needs_no_xsrf(http_url, admin_user, api_token, services):
    for headers in ({"Authorization": f"Bearer {api_token}"},
                    {"Authorization": basic(*admin_user)}):  # fmt: skip
        tag = headers["Authorization"].split()[0]
        response = await call(
            http_url, "/ocpp/api/rfid/", method="POST", json={"id_tag": tag}, headers=headers
        )
        assert response.code == 201
    assert [t["id_tag"] for t in await services.rfid.list()] == ["Basic", "Bearer"]


@pytest.mark.gen_test(timeout=30)
async def test_form_encoded_post_is_415(http_url, auth_headers, services):
    response = await call(
        http_url, "/ocpp/api/rfid/", method="POST", body="id_tag=T1",
        headers={**auth_headers, "Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    assert_error(response, 415, "unsupported_media_type")
    assert await services.rfid.get("T1") is None
