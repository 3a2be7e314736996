"""HTTP Basic parsing."""

from __future__ import annotations

import base64

from auth.basic import parse_basic


def basic(user: bytes, password: bytes) -> str:
    return "Basic " + base64.b64encode(user + b":" + password).decode()


def test_parse_basic():
    assert parse_basic(basic(b"CP1", b"secret:with:colons")) == ("CP1", b"secret:with:colons")
    assert parse_basic(basic("été".encode(), b"\x00\xff")) == ("été", b"\x00\xff")
    assert parse_basic("basic " + base64.b64encode(b"a:b").decode()) == ("a", b"b")
    assert parse_basic("Bearer abc") is None
    assert parse_basic("Basic !!!") is None
    assert parse_basic("Basic " + base64.b64encode(b"no colon").decode()) is None
    assert parse_basic(basic(b"\xff", b"x")) is None
    assert parse_basic("") is None
