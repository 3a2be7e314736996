"""Charger keys (OCPP 1.6 security profiles 1-2): generated here, stored as a salted hash.

The key is 16-20 bytes. Chargers send it either as those bytes ("text") or as their hex
encoding of up to 40 characters, as the AuthorizationKey configuration key holds it;
both are accepted. Only a salted hash is stored and keys are never logged.

Why a fast salted hash and not a slow password hash
---------------------------------------------------
Slow hashes (bcrypt, scrypt, PBKDF2 with many rounds) exist to make guessing *low
entropy* secrets from a stolen hash expensive. Our keys are generated here from
``secrets`` with at least 128 bits (hex keys 160 bits), so guessing one from its hash
takes ~2^127 attempts however fast the hash is; stretching adds nothing to that. It
does cost at login: after a restart every charger reconnects at once, and a 0.27 s hash
per login makes 1,000 logins take 270 CPU seconds, which lets none of them through their
handshake timeouts (OCPP_RULES 20). So a key is stored as HMAC-SHA256(salt, key) with a
random 16-byte salt per key (equal keys give different hashes; no precomputed tables),
compared in constant time. It costs microseconds and still runs in a worker thread so
the event loop never hashes. The stored string names its scheme (``hmac-sha256$salt$mac``)
so a different one can be introduced later without breaking stored keys.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from dataclasses import dataclass

KEY_MIN_BYTES = 16
KEY_MAX_BYTES = 20
KEY_BYTES = 20
SALT_BYTES = 16
SCHEME = "hmac-sha256"
HEX_DIGITS = frozenset(string.hexdigits)
# Printable ASCII without space, quotes, backslash, backtick and colon (mangled by
# configuration tools and shells) and & < > (changed by HTML escaping): 86 symbols, 20 of
# them = 128.5 bits. A charger that puts its credentials in its URL should get a hex key.
TEXT_ALPHABET = string.ascii_letters + string.digits + "!#$%()*+,-./;=?@[]^_{|}~"
HEX_FORM = "hex"
TEXT_FORM = "text"


@dataclass(frozen=True, slots=True)
class NewKey:
    """A freshly generated key, to be shown once; ``secret`` is what gets hashed."""

    secret: bytes
    form: str

    @property
    def text(self) -> str | None:
        """The key as the password text (text keys only)."""
        return self.secret.decode("ascii") if self.form == TEXT_FORM else None

    @property
    def hex(self) -> str:
        """The key as AuthorizationKey: hex digits (40 for 20 bytes)."""
        return self.secret.hex()


def generate_key(form: str = HEX_FORM) -> NewKey:
    """A random key: 20 random bytes (hex form) or 20 printable characters (text form)."""
    if form == TEXT_FORM:
        secret = "".join(secrets.choice(TEXT_ALPHABET) for _ in range(KEY_BYTES)).encode()
        return NewKey(secret, TEXT_FORM)
    return NewKey(secrets.token_bytes(KEY_BYTES), HEX_FORM)


def hash_key(key: bytes, salt: bytes | None = None) -> str:
    """The stored form of a key: ``hmac-sha256$<salt hex>$<mac hex>``."""
    if not KEY_MIN_BYTES <= len(key) <= KEY_MAX_BYTES:
        raise ValueError(f"a key has {KEY_MIN_BYTES} to {KEY_MAX_BYTES} bytes")
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    mac = hmac.new(salt, key, hashlib.sha256).hexdigest()
    return f"{SCHEME}${salt.hex()}${mac}"


def key_candidates(password: bytes) -> list[bytes]:
    """The keys a Basic password may stand for: itself when it has 16-20 bytes, and the
    bytes it encodes when it is 32-40 hex digits (the two never overlap)."""
    candidates = []
    if KEY_MIN_BYTES <= len(password) <= KEY_MAX_BYTES:
        candidates.append(password)
    if 2 * KEY_MIN_BYTES <= len(password) <= 2 * KEY_MAX_BYTES and len(password) % 2 == 0:
        text = password.decode("latin-1")
        if all(char in HEX_DIGITS for char in text):
            candidates.append(bytes.fromhex(text))
    return candidates


def verify_key(stored: str, password: bytes) -> bool:
    """True when ``password`` (either form) is the key whose hash is ``stored``."""
    try:
        scheme, salt_hex, mac_hex = stored.split("$")
        salt, expected = bytes.fromhex(salt_hex), bytes.fromhex(mac_hex)
    except (AttributeError, ValueError):
        return False
    if scheme != SCHEME:
        return False
    matched = False
    for candidate in key_candidates(password):
        mac = hmac.new(salt, candidate, hashlib.sha256).digest()
        matched |= hmac.compare_digest(mac, expected)
    return matched
