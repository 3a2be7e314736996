"""Charger keys: both forms, salted hashes, cheap enough for a reconnect storm."""

from __future__ import annotations

import math
import string
import time

import pytest

from auth.charger_keys import (
    HEX_FORM,
    TEXT_ALPHABET,
    TEXT_FORM,
    generate_key,
    hash_key,
    key_candidates,
    verify_key,
)


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


def test_text_alphabet_has_no_duplicates():
    assert len(TEXT_ALPHABET) == len(set(TEXT_ALPHABET)) == 86
    assert set(string.ascii_letters + string.digits) <= set(TEXT_ALPHABET)
