"""HTTP Basic credentials (RFC 7617), for charger logins and the API alike."""

from __future__ import annotations

import base64
import binascii


def parse_basic(header: str) -> tuple[str, bytes] | None:
    """(username, password bytes) of an HTTP Basic Authorization header, or None."""
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, colon, password = raw.partition(b":")
    if not colon:
        return None
    try:
        return user.decode("utf-8"), password
    except UnicodeDecodeError:
        return None
