"""The certificate authority of charger certificates (security profile 3), with the
``cryptography`` package: create or load the CA, check a charger's CSR, sign it, and
verify a client certificate against the CA. Pure: no Tornado, no database.

Rules (OCPP 1.6 Security Whitepaper, A00.FR.4xx and the charger certificate profile):
the CSR's signature must verify, its subject must name the charger (the charger id as
the commonName), and its key must be RSA of at least 2048 bits or EC on P-256/P-384.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

MIN_RSA_BITS = 2048
EC_CURVES = ("secp256r1", "secp384r1")
CA_DAYS = 20 * 365
LEAF_DAYS = 365
CA_CERT_FILE = "ca-cert.pem"
CA_KEY_FILE = "ca-key.pem"


class CsrError(ValueError):
    """A CSR we do not sign; the message says why (it goes into the security event)."""


class CertificateError(ValueError):
    """A client certificate that does not admit the charger; the message says why."""


class OtherChargerCertificate(CertificateError):
    """A valid client certificate of another charger."""


@dataclass(frozen=True, slots=True)
class CertificateAuthority:
    """The CA of charger certificates: its certificate, and its private key when we sign
    (None: an external CA signs, its certificate only verifies chargers)."""

    certificate: x509.Certificate
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | None = None

    @property
    def can_sign(self) -> bool:
        """True when we hold the key."""
        return self.key is not None

    @property
    def pem(self) -> str:
        """The CA certificate as PEM (to install as a trusted root elsewhere)."""
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    @property
    def fingerprint(self) -> str:
        """SHA-256 fingerprint of the CA certificate, as colon-separated hex."""
        return fingerprint(self.certificate)

    @property
    def subject(self) -> str:
        """The CA's subject (RFC 4514)."""
        return self.certificate.subject.rfc4514_string()


def fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 fingerprint of ``certificate``, upper-case hex pairs joined by ``:``."""
    digest = certificate.fingerprint(hashes.SHA256()).hex().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def create_ca(common_name: str, now: datetime) -> CertificateAuthority:
    """A new self-signed CA (EC P-256) valid for CA_DAYS from ``now``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "CSMS")])  # fmt: skip
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertificateAuthority(certificate, key)


def load_ca(
    certfile: str | Path, keyfile: str | Path | None = None, with_key: bool = True
) -> CertificateAuthority:
    """The operator's CA from PEM files (the key inside the certfile when no keyfile;
    ``with_key=False``: the certificate alone, for an external CA); ValueError when the
    key does not belong to the certificate."""
    cert_pem = Path(certfile).read_bytes()
    certificate = x509.load_pem_x509_certificate(cert_pem)
    if not with_key:
        return CertificateAuthority(certificate)
    key_pem = Path(keyfile).read_bytes() if keyfile else cert_pem
    key = serialization.load_pem_private_key(key_pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError("the CA key must be RSA or EC")
    if public_der(key.public_key()) != public_der(certificate.public_key()):
        raise ValueError(f"{keyfile or certfile}: the key does not belong to {certfile}")
    return CertificateAuthority(certificate, key)


def load_or_create_ca(folder: Path, now: datetime) -> CertificateAuthority:
    """The built-in CA under ``folder`` (ca-cert.pem, ca-key.pem with mode 0600), created
    on first use."""
    cert_path, key_path = folder / CA_CERT_FILE, folder / CA_KEY_FILE
    if cert_path.exists() and key_path.exists():
        key_path.chmod(0o600)
        return load_ca(cert_path, key_path)
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    ca = create_ca("CSMS charger CA", now)
    key_pem = ca.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )  # fmt: skip
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key_pem)
    cert_path.write_text(ca.pem)
    return ca


def public_der(key) -> bytes:
    """The DER SubjectPublicKeyInfo of a public key (to compare keys)."""
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def check_key(key) -> str:
    """``"RSA 2048"`` / ``"EC secp256r1"`` for an acceptable public key; CsrError else."""
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise CsrError(f"RSA key of {key.key_size} bits: at least {MIN_RSA_BITS} needed")
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in EC_CURVES:
            raise CsrError(f"EC curve {key.curve.name}: only P-256 or P-384")
        return f"EC {key.curve.name}"
    raise CsrError("the key must be RSA (>= 2048 bits) or EC (P-256, P-384)")


def common_names(name: x509.Name) -> list[str]:
    """The commonName values of a subject."""
    return [str(attr.value) for attr in name.get_attributes_for_oid(NameOID.COMMON_NAME)]


def check_csr(pem: str, charger_id: str) -> x509.CertificateSigningRequest:
    """The charger's CSR, parsed and checked: a PEM CSR, a valid signature, the charger
    id as its commonName, an acceptable key. CsrError says what is wrong."""
    try:
        csr = x509.load_pem_x509_csr(pem.encode())
    except ValueError:
        raise CsrError("not a PEM certificate signing request") from None
    try:
        valid = csr.is_signature_valid
    except (ValueError, InvalidSignature):  # an algorithm cryptography cannot check
        valid = False
    if not valid:
        raise CsrError("the CSR's signature does not verify")
    try:
        key = csr.public_key()
    except ValueError:
        raise CsrError("the CSR's key cannot be read") from None
    check_key(key)
    names = common_names(csr.subject)
    if charger_id not in names:
        shown = ", ".join(names) or "none"
        raise CsrError(f"the CSR's commonName ({shown}) is not the charger id {charger_id}")
    return csr


def sign_csr(
    ca: CertificateAuthority, csr: x509.CertificateSigningRequest, now: datetime,
    days: int = LEAF_DAYS,
) -> x509.Certificate:  # fmt: skip
    """A client certificate for the CSR's subject and key, signed by ``ca`` (``days``
    valid, no longer than the CA)."""
    if ca.key is None:
        raise ValueError("this CA has no key: an external CA signs")
    not_after = min(now + timedelta(days=days), ca.certificate.not_valid_after_utc)
    public = csr.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(ca.certificate.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, True, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
        .sign(ca.key, hashes.SHA256())
    )


def pem(certificate: x509.Certificate) -> str:
    """A certificate as PEM text."""
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def chain_pem(ca: CertificateAuthority, leaf: x509.Certificate) -> str:
    """The certificateChain of CertificateSigned: the leaf, then the CA."""
    return pem(leaf) + ca.pem


def signed_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    """True when ``certificate`` is issued by ``issuer`` and its signature verifies."""
    if certificate.issuer != issuer.subject:
        return False
    key = issuer.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(certificate.signature, certificate.tbs_certificate_bytes,
                       padding.PKCS1v15(), certificate.signature_hash_algorithm)  # fmt: skip
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(certificate.signature, certificate.tbs_certificate_bytes,
                       ec.ECDSA(certificate.signature_hash_algorithm))  # fmt: skip
        else:
            return False
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def check_client_certificate(
    der: bytes, ca_certificate: x509.Certificate, charger_id: str, now: datetime
) -> x509.Certificate:
    """The TLS client certificate of a profile 3 charger, checked: issued by the CA, valid
    at ``now``, and naming ``charger_id`` as its commonName. CertificateError else."""
    try:
        certificate = x509.load_der_x509_certificate(der)
    except ValueError:
        raise CertificateError("the client certificate cannot be read") from None
    if not signed_by(certificate, ca_certificate):
        raise CertificateError("the client certificate is not issued by our CA")
    if now < certificate.not_valid_before_utc:
        raise CertificateError("the client certificate is not valid yet")
    if now > certificate.not_valid_after_utc:
        expired = certificate.not_valid_after_utc.isoformat()
        raise CertificateError(f"the client certificate expired at {expired}")
    names = common_names(certificate.subject)
    if charger_id not in names:
        shown = ", ".join(names) or "none"
        raise OtherChargerCertificate(
            f"the client certificate names {shown}, not the charger {charger_id}"
        )
    return certificate


def serial_hex(certificate: x509.Certificate) -> str:
    """The serial number as upper-case hex (how certificates are listed and found)."""
    return format(certificate.serial_number, "X")


def parse_chain(text: str) -> list[x509.Certificate]:
    """Every certificate in a PEM text, in order; ValueError when there is none."""
    certificates = x509.load_pem_x509_certificates(text.encode())
    if not certificates:
        raise ValueError("no certificate in the text")
    return certificates
