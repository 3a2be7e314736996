"""Helpers shared by the API tests: requests with each kind of authentication.

(Named ``test_api_*`` to live beside the API tests; it holds no tests itself.)
"""

from __future__ import annotations

from typing import Any

import orjson
from tornado.httpclient import AsyncHTTPClient, HTTPResponse

from tests.handlers.test_auth import basic, login

AUTH_KINDS = ("token", "basic", "cookie")


async def auth_for(kind: str, http_url, admin_user, api_token: str) -> dict[str, str]:
    """Headers that authenticate as the admin by ``kind``: token, basic or cookie.

    The cookie variant carries the login cookie, the ``_xsrf`` cookie and the
    matching ``X-XSRFToken`` header, as a browser page would send them.
    """
    if kind == "token":
        return {"Authorization": f"Bearer {api_token}"}
    if kind == "basic":
        return {"Authorization": basic(*admin_user)}
    response, cookies = await login(http_url, *admin_user)
    assert response.code == 302
    xsrf = next(part.split("=", 1)[1] for part in cookies.split("; ") if part.startswith("_xsrf="))
    return {"Cookie": cookies, "X-XSRFToken": xsrf}


async def call(
    http_url,
    path: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    json: Any = None,
    body: bytes | str | None = None,
    **fetch: Any,
) -> HTTPResponse:
    """One request; ``json`` is sent as application/json. Never raises on the status."""
    headers = dict(headers or {})
    if json is not None:
        body = orjson.dumps(json)
        headers.setdefault("Content-Type", "application/json")
    if body is None and method in ("POST", "PUT", "PATCH"):
        body = b""
    return await AsyncHTTPClient().fetch(
        http_url(path), method=method, headers=headers, body=body, raise_error=False,
        follow_redirects=False, **fetch,
    )  # fmt: skip


def data(response: HTTPResponse) -> Any:
    """The JSON body, after checking the Content-Type says JSON."""
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    return orjson.loads(response.body)


def assert_error(response: HTTPResponse, status: int, error: str, field: str | None = None):
    """The response is the JSON error ``error`` with ``status`` (naming ``field``)."""
    assert response.code == status, response.body
    body = data(response)
    assert body["error"] == error, body
    if field is not None:
        assert body["detail"]["field"] == field, body
    return body
