"""Charger keys (both forms, salted hashes, cheap enough for a reconnect storm), HTTP Basic
parsing, and the per-IP failure limiter with a fake clock."""

from __future__ import annotations

import base64
import math
import string
import time

import pytest

from handlers.chargepoint.admission import (
    HEX_FORM,
    TEXT_ALPHABET,
    TEXT_FORM,
    FailureLimiter,
    generate_key,
    hash_key,
    key_candidates,
    parse_basic,
    verify_key,
)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_hex_key_is_20_random_bytes_shown_as_40_hex_digits():
    key = generate_key(HEX_FORM)
    assert len(key.secret) == 20
    assert key.hex == key.secret.hex() and len(key.hex) == 40
    assert key.text is None
    assert generate_key(HEX_FORM).secret != key.secret


def test_text_key_is_20_printable_characters_with_at_least_128_bits():
    key = generate_key(TEXT_FORM)
    assert len(key.text) == 20 and all(char in TEXT_ALPHABET for char in key.text)
    assert key.hex == key.text.encode().hex()
    assert 20 * math.log2(len(set(TEXT_ALPHABET))) >= 128
    assert not set(" '\"\\`:&<>") & set(TEXT_ALPHABET)


def test_hash_is_salted_and_names_its_scheme():
    secret = generate_key().secret
    first, second = hash_key(secret), hash_key(secret)
    assert first != second
    scheme, salt, mac = first.split("$")
    assert scheme == "hmac-sha256" and len(salt) == 32 and len(mac) == 64
    assert secret.hex() not in first


def test_both_forms_of_a_hex_key_verify():
    key = generate_key(HEX_FORM)
    stored = hash_key(key.secret)
    assert verify_key(stored, key.secret)
    assert verify_key(stored, key.hex.encode())
    assert verify_key(stored, key.hex.upper().encode())


def test_both_forms_of_a_text_key_verify():
    key = generate_key(TEXT_FORM)
    stored = hash_key(key.secret)
    assert verify_key(stored, key.text.encode())
    assert verify_key(stored, key.hex.encode())


@pytest.mark.parametrize(
    "mangle",
    [
        lambda key: key[:-1],
        lambda key: key + b"0",
        lambda key: key.hex()[:-2].encode(),
        lambda key: " ".join(f"{b:02x}" for b in key).encode(),
        lambda key: b"",
        lambda key: bytes([key[0] ^ 1]) + key[1:],
    ],
)
def test_wrong_keys_do_not_verify(mangle):
    secret = generate_key().secret
    assert not verify_key(hash_key(secret), mangle(secret))


@pytest.mark.parametrize("stored", ["", "nonsense", "md5$00$00", "hmac-sha256$zz$00", None])
def test_broken_stored_hashes_never_verify(stored):
    assert not verify_key(stored, b"0123456789abcdef")


def test_candidates_cover_16_to_20_bytes_and_32_to_40_hex_digits():
    assert key_candidates(b"x" * 15) == []
    assert key_candidates(b"x" * 16) == [b"x" * 16]
    assert key_candidates(b"x" * 21) == []
    assert key_candidates(b"ab" * 16) == [bytes.fromhex("ab" * 16)]
    assert key_candidates(b"ab" * 20) == [bytes.fromhex("ab" * 20)]
    assert key_candidates(b"ab" * 21) == []
    assert key_candidates(b"a" * 33) == []
    assert key_candidates(b"zz" * 16) == []


def test_hash_refuses_keys_of_the_wrong_length():
    with pytest.raises(ValueError):
        hash_key(b"short")


def test_a_thousand_logins_cost_well_under_a_second():
    """A reconnect storm of 1,000 chargers must not be slowed down by hashing (rule 20)."""
    keys = [generate_key() for _ in range(1000)]
    stored = [hash_key(key.secret) for key in keys]
    start = time.perf_counter()
    assert all(verify_key(h, key.hex.encode()) for h, key in zip(stored, keys, strict=True))
    assert time.perf_counter() - start < 0.5


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


def test_limiter_blocks_after_n_failures_until_the_oldest_leaves_the_window():
    clock = Clock()
    limiter = FailureLimiter(3, 60.0, 100, clock)
    for _ in range(2):
        limiter.failure("10.0.0.1")
        clock.now += 1
    assert limiter.retry_after("10.0.0.1") is None
    limiter.failure("10.0.0.1")
    assert limiter.retry_after("10.0.0.1") == 58
    assert limiter.retry_after("10.0.0.2") is None
    clock.now += 57.5
    assert limiter.retry_after("10.0.0.1") == 1
    clock.now += 1
    assert limiter.retry_after("10.0.0.1") is None
    limiter.failure("10.0.0.1")  # the 2nd and 3rd are still in the window
    assert limiter.retry_after("10.0.0.1") == 1


def test_limiter_memory_is_bounded_least_recent_ip_first():
    clock = Clock()
    limiter = FailureLimiter(2, 60.0, 3, clock)
    for ip in ("a", "b", "c"):
        limiter.failure(ip)
    limiter.failure("a")  # a is now the most recent
    limiter.failure("d")  # b goes
    assert len(limiter) == 3
    assert limiter.retry_after("a") == 60
    limiter.failure("b")
    assert limiter.retry_after("b") is None  # forgotten: counting from 1 again
    assert len(limiter._failures["b"]) == 1


def test_limiter_off_with_zero():
    limiter = FailureLimiter(0, 60.0, 10)
    for _ in range(100):
        limiter.failure("a")
    assert limiter.retry_after("a") is None
    assert len(limiter) == 0


def test_text_alphabet_has_no_duplicates():
    assert len(TEXT_ALPHABET) == len(set(TEXT_ALPHABET)) == 86
    assert set(string.ascii_letters + string.digits) <= set(TEXT_ALPHABET)
