"""Salted scrypt password hashes and API token digests (auth.passwords)."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from auth.passwords import hash_password, new_token, token_digest, verify_password

SALT = base64.b64encode(b"s" * 16).decode()
DIGEST = base64.b64encode(b"d" * 32).decode()


def test_password_hashes_are_salted_and_verified():
    first, second = hash_password("pw", n=2**10), hash_password("pw", n=2**10)
    assert first != second
    assert verify_password("pw", first) and not verify_password("PW", first)
    assert not verify_password("pw", "garbage")


def test_the_stored_form_names_scheme_and_parameters():
    stored = hash_password("pw", n=2**10)
    prefix, n, r, p, salt, digest = stored.split("$")
    assert (prefix, n, r, p) == ("scrypt", "1024", "8", "1")
    assert len(base64.b64decode(salt)) == 16
    expected = hashlib.scrypt(b"pw", salt=base64.b64decode(salt), n=1024, r=8, p=1, dklen=32)
    assert base64.b64decode(digest) == expected


def test_the_default_cost_is_n_2_to_the_14():
    stored = hash_password("long enough")
    assert stored.split("$")[1] == "16384"
    assert verify_password("long enough", stored)


def test_an_empty_password_is_hashed_like_any_other():
    stored = hash_password("", n=2**10)
    assert verify_password("", stored) and not verify_password(" ", stored)


@pytest.mark.parametrize(
    "stored",
    [
        f"bcrypt$1024$8$1${SALT}${DIGEST}",  # another scheme
        f"scrypt$1024$8${SALT}${DIGEST}",  # a part missing
        f"scrypt$1024$8$1${SALT}${DIGEST}$x",  # a part too many
        f"scrypt$ten$8$1${SALT}${DIGEST}",  # n not a number
        f"scrypt$1000$8$1${SALT}${DIGEST}",  # n not a power of 2
        f"scrypt$1024$8$1$!!$${DIGEST}",  # salt not base64
        f"scrypt$1024$8$1${SALT}$",  # no digest: nothing would compare equal to nothing
        f"scrypt${2**30}$8$1${SALT}${DIGEST}",  # beyond the memory bound, refused at once
        "",
    ],
)
def test_unusable_stored_hashes_never_verify(stored):
    assert verify_password("pw", stored) is False


def test_tokens_are_random_and_prefixed():
    tokens = {new_token() for _ in range(20)}
    assert len(tokens) == 20
    assert all(re.fullmatch(r"csms_[A-Za-z0-9_-]{43}", token) for token in tokens)


def test_token_digest_is_the_sha256_hex_of_the_token():
    token = "csms_example"
    assert token_digest(token) == hashlib.sha256(b"csms_example").hexdigest()
    assert token_digest(token) == token_digest(token)
    assert token_digest(token) != token_digest(token + "x")
