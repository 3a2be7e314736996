"""The simulated charge point's own certificate (security profile 3): a key and a CSR
for SignCertificate, the chain from CertificateSigned kept, and both used as the TLS
client certificate of the next connection.

Files in ``SimulatorConfig.certificate_dir``/<charger id>/ (so a fleet can share one
folder): ``pending-key.pem`` (the key of the last CSR), then ``key.pem`` and
``cert.pem`` (the chain, leaf first) once the certificate for that key arrived. Keys are
EC P-256, written with mode 0600.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PENDING_KEY = "pending-key.pem"
KEY = "key.pem"
CERT = "cert.pem"


class ChargerCertificates:
    """The certificate files of one simulated charger."""

    def __init__(self, folder: str | Path, charger_id: str):
        self.folder = Path(folder) / charger_id
        self.charger_id = charger_id

    def new_csr(self) -> str:
        """A new key (kept as pending) and its CSR naming the charger id (PEM)."""
        key = ec.generate_private_key(ec.SECP256R1())
        self.folder.mkdir(parents=True, exist_ok=True)
        _write_private(self.folder / PENDING_KEY, key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ))  # fmt: skip
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.charger_id)])
        csr = (
            x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
        )
        return csr.public_bytes(serialization.Encoding.PEM).decode()

    def store(self, chain: str) -> bool:
        """Keep a signed chain whose leaf is for the pending key and names this charger;
        False (nothing changed) for anything else."""
        pending = self.folder / PENDING_KEY
        try:
            leaf = x509.load_pem_x509_certificates(chain.encode())[0]
            key = serialization.load_pem_private_key(pending.read_bytes(), password=None)
        except (ValueError, IndexError, OSError):
            return False
        names = [a.value for a in leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
        if _spki(leaf.public_key()) != _spki(key.public_key()) or self.charger_id not in names:
            return False
        (self.folder / CERT).write_text(chain)
        os.replace(pending, self.folder / KEY)
        return True

    def client_files(self) -> tuple[str, str] | None:
        """(certificate chain, key) for the TLS client certificate, or None before one
        arrived."""
        cert, key = self.folder / CERT, self.folder / KEY
        return (str(cert), str(key)) if cert.exists() and key.exists() else None


def _spki(public_key) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
