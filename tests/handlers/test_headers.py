"""Security headers on every response: pages, API, static and vendor files, 404s, errors."""

from __future__ import annotations

import re

import pytest
from tornado.httpclient import AsyncHTTPClient

from handlers.headers import content_security_policy, tile_source
from handlers.routes import ROOT


@pytest.mark.parametrize(
    ("url", "source"),
    [("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "https://tile.openstreetmap.org"),
     ("https://{s}.tile.example:8443/{z}/{x}/{y}.png", "https://*.tile.example:8443"),
     ("http://127.0.0.1:9/static/{z}.png", "http://127.0.0.1:9"),
     ("https://{sub}.example/{z}.png", "https:"), ("/relative/{z}.png", "")],
)  # fmt: skip
def test_tile_source(url, source):
    assert tile_source(url) == source


def test_policy_allows_no_inline_code_and_the_tiles():
    policy = content_security_policy("https://tile.openstreetmap.org/{z}/{x}/{y}.png")
    assert "script-src 'self';" in policy and "style-src 'self';" in policy
    assert "img-src 'self' data: https://tile.openstreetmap.org;" in policy
    assert "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy


def test_no_template_has_inline_script_or_style():
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text()
        # A JSON data block (type="application/json") is data, not script (CSP allows it).
        executable = r'<script(?![^>]*\b(?:src=|type="application/json"))[^>]*>'
        assert not re.search(executable, text), path
        assert "<style" not in text and " style=" not in text, path
        assert not re.search(r"\son[a-z]+=", text), path


@pytest.mark.gen_test
@pytest.mark.parametrize(
    ("path", "status"),
    [("/ocpp/login", 200), ("/ocpp/admin/chargers/", 302), ("/static/css/app.css", 200),
     ("/vendor/leaflet/leaflet.js", 200), ("/no/such/page", 404), ("/static/missing.css", 404),
     ("/static/x%00.txt", 400), ("/ocpp/api/chargers/", 401), ("/ocpp/api/nothing", 401),
     ("/healthz", 200)],
)  # fmt: skip
async def test_every_response_carries_the_headers(http_url, path, status):
    response = await AsyncHTTPClient().fetch(
        http_url(path), follow_redirects=False, raise_error=False
    )
    assert response.code == status
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "script-src 'self';" in headers["Content-Security-Policy"]
    assert "Server" not in headers
    assert "Strict-Transport-Security" not in headers  # plain http: no HSTS


def test_hsts_only_over_https():
    from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine

    from handlers.headers import HSTS, SecurityHeaders

    request = HTTPServerRequest(
        start_line=RequestStartLine("GET", "/", "HTTP/1.1"), headers=HTTPHeaders({"Host": "h"})
    )
    request.protocol = "https"
    headers = HTTPHeaders({"Server": "TornadoServer/6.6.1"})
    _, out, _ = SecurityHeaders(request, policy="default-src 'self'").transform_first_chunk(
        200, headers, b"", True
    )
    assert out["Strict-Transport-Security"] == HSTS and "Server" not in out
    request.protocol = "http"
    _, out, _ = SecurityHeaders(request, policy="x").transform_first_chunk(
        200, HTTPHeaders(), b"", True
    )
    assert "Strict-Transport-Security" not in out
