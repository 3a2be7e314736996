"""Salted password hashes with hashlib.scrypt, and API token digests.

Hashing is deliberately slow; callers on the event loop run it in a thread
(``asyncio.to_thread``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

N, R, P = 2**14, 8, 1
MIN_PASSWORD = 8  # characters, for every password a person chooses
_PREFIX = "scrypt"


# A hash of a password nobody knows: an unknown user name is checked against it, so it
# costs as much as a known one (no user enumeration by timing).
DUMMY_HASH = (
    "scrypt$16384$8$1$xIof23GrM0ucfHHbaJ6qBw==$ev9FWd9HAXcdIC/7f22E8wwvXFjjFZPIxQK32YkuvBY="
)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def hash_password(password: str, n: int = N) -> str:
    """``scrypt$n$r$p$salt$hash`` for storage."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=R, p=P, dklen=32)
    return f"{_PREFIX}${n}${R}${P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches the stored hash (constant-time compare)."""
    try:
        prefix, n, r, p, salt, digest = stored.split("$")
        if prefix != _PREFIX:
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
            dklen=len(expected), maxmem=2**26,
        )  # fmt: skip
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def new_token() -> str:
    """A fresh random API token (shown once, stored as a digest)."""
    return "csms_" + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """The stored form of a token: SHA-256 is enough for 256 random bits."""
    return hashlib.sha256(token.encode()).hexdigest()
