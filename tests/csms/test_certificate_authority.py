"""The certificate authority (csms.certificate_authority): CSR checks, signing, the client
certificate check of profile 3, and the built-in CA on disk. Every key is made here."""

from __future__ import annotations

import stat
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from csms.certificate_authority import (
    CertificateError,
    CsrError,
    OtherChargerCertificate,
    chain_pem,
    check_client_certificate,
    check_csr,
    create_ca,
    fingerprint,
    load_ca,
    load_or_create_ca,
    parse_chain,
    sign_csr,
    signed_by,
)
from ocppj.timeutil import utcnow
from tests.certificate_helpers import csr_pem, ec_key, rsa_key, self_signed, write_pair


def der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


@pytest.fixture(scope="module")
def ca():
    return create_ca("Test CA", utcnow())


def test_a_csr_is_signed_into_a_client_certificate_of_the_charger(ca):
    pem, key = csr_pem("CP1")
    now = utcnow()
    leaf = sign_csr(ca, check_csr(pem, "CP1"), now, days=30)
    assert signed_by(leaf, ca.certificate)
    assert leaf.subject.rfc4514_string() == "CN=CP1"
    assert leaf.issuer == ca.certificate.subject
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == timedelta(days=30, minutes=5)
    assert leaf.public_key().public_numbers() == key.public_key().public_numbers()
    usage = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert [oid.dotted_string for oid in usage] == ["1.3.6.1.5.5.7.3.2"]  # clientAuth
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    chain = parse_chain(chain_pem(ca, leaf))
    assert [c.serial_number for c in chain] == [leaf.serial_number, ca.certificate.serial_number]


@pytest.mark.parametrize("key", [rsa_key(2048), ec_key(ec.SECP384R1())], ids=["rsa", "p384"])
def test_rsa_2048_and_p384_keys_are_accepted(key):
    pem, _ = csr_pem("CP1", key)
    assert check_csr(pem, "CP1").subject.rfc4514_string() == "CN=CP1"


def test_a_1024_bit_rsa_key_is_refused():
    pem, _ = csr_pem("CP1", rsa_key(1024))
    with pytest.raises(CsrError, match="RSA key of 1024 bits: at least 2048 needed"):
        check_csr(pem, "CP1")


def test_a_curve_other_than_p256_or_p384_is_refused():
    pem, _ = csr_pem("CP1", ec_key(ec.SECP521R1()))
    with pytest.raises(CsrError, match="EC curve secp521r1: only P-256 or P-384"):
        check_csr(pem, "CP1")


def test_a_csr_for_another_charger_is_refused():
    pem, _ = csr_pem("CP2")
    with pytest.raises(CsrError, match=r"commonName \(CP2\) is not the charger id CP1"):
        check_csr(pem, "CP1")


def test_a_csr_whose_signature_does_not_verify_is_refused():
    pem, _ = csr_pem("CP1")
    body = "".join(pem.splitlines()[1:-1])
    # Flip one character inside the signature (the end of the DER).
    index = len(body) - 10
    flipped = body[:index] + ("A" if body[index] != "A" else "B") + body[index + 1 :]
    broken = (
        "-----BEGIN CERTIFICATE REQUEST-----\n" + flipped + "\n-----END CERTIFICATE REQUEST-----\n"
    )
    with pytest.raises(CsrError):
        check_csr(broken, "CP1")


def test_text_that_is_no_csr_is_refused():
    with pytest.raises(CsrError, match="not a PEM certificate signing request"):
        check_csr(
            "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----", "CP1"
        )


def test_the_client_certificate_of_the_charger_from_our_ca_is_valid(ca):
    leaf = sign_csr(ca, check_csr(csr_pem("CP1")[0], "CP1"), utcnow())
    assert check_client_certificate(der(leaf), ca.certificate, "CP1", utcnow()) == leaf


def test_a_client_certificate_of_another_charger_is_refused(ca):
    leaf = sign_csr(ca, check_csr(csr_pem("CP2")[0], "CP2"), utcnow())
    with pytest.raises(OtherChargerCertificate, match="names CP2, not the charger CP1"):
        check_client_certificate(der(leaf), ca.certificate, "CP1", utcnow())


def test_an_expired_client_certificate_is_refused(ca):
    then = utcnow() - timedelta(days=400)
    leaf = sign_csr(ca, check_csr(csr_pem("CP1")[0], "CP1"), then, days=30)
    with pytest.raises(CertificateError, match="expired at"):
        check_client_certificate(der(leaf), ca.certificate, "CP1", utcnow())


def test_a_self_signed_client_certificate_is_refused(ca):
    certificate, _ = self_signed("CP1")
    with pytest.raises(CertificateError, match="not issued by our CA"):
        check_client_certificate(der(certificate), ca.certificate, "CP1", utcnow())


def test_a_certificate_of_another_ca_with_the_same_name_is_refused(ca):
    impostor = create_ca("Test CA", utcnow())  # same subject, other key
    leaf = sign_csr(impostor, check_csr(csr_pem("CP1")[0], "CP1"), utcnow())
    with pytest.raises(CertificateError, match="not issued by our CA"):
        check_client_certificate(der(leaf), ca.certificate, "CP1", utcnow())


def test_the_built_in_ca_is_created_once_with_a_private_key(tmp_path):
    folder = tmp_path / "ca"
    first = load_or_create_ca(folder, utcnow())
    assert stat.S_IMODE((folder / "ca-key.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    again = load_or_create_ca(folder, utcnow())
    assert again.fingerprint == first.fingerprint == fingerprint(first.certificate)
    assert len(first.fingerprint) == 95 and first.fingerprint.count(":") == 31
    assert (
        again.can_sign
        and first.certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    )


def test_an_operator_ca_is_loaded_and_a_wrong_key_refused(tmp_path, ca):
    cert_path, key_path = write_pair(tmp_path, "ca", ca.certificate, ca.key)
    loaded = load_ca(cert_path, key_path)
    assert loaded.fingerprint == ca.fingerprint and loaded.can_sign
    assert not load_ca(cert_path, with_key=False).can_sign
    other = create_ca("Other", utcnow())
    _, wrong_key = write_pair(tmp_path, "other", other.certificate, other.key)
    with pytest.raises(ValueError, match="the key does not belong"):
        load_ca(cert_path, wrong_key)
