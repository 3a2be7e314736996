"""Keys, CSRs and certificates made in the test with ``cryptography`` (none is stored in
the repository)."""

from __future__ import annotations

import ipaddress
import ssl
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from ocppj.timeutil import utcnow


def ec_key(curve=None):
    return ec.generate_private_key(curve or ec.SECP256R1())


def rsa_key(bits=2048):
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def csr_pem(cn: str, key=None) -> tuple[str, object]:
    """(PEM CSR with commonName ``cn``, its key)."""
    key = key or ec_key()
    csr = x509.CertificateSigningRequestBuilder().subject_name(name(cn)).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode(), key


def self_signed(cn: str, key=None, now: datetime | None = None, days: int = 30,
                san_ip: str | None = None) -> tuple[x509.Certificate, object]:  # fmt: skip
    """A self-signed certificate (optionally for an IP address) and its key."""
    key = key or ec_key()
    now = now or utcnow()
    builder = (
        x509.CertificateBuilder().subject_name(name(cn)).issuer_name(name(cn))
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=days))
    )  # fmt: skip
    if san_ip:
        san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(san_ip))])
        builder = builder.add_extension(san, critical=False)
    return builder.sign(key, hashes.SHA256()), key


def write_pair(folder: Path, stem: str, certificate: x509.Certificate, key) -> tuple[str, str]:
    """Write ``stem``-cert.pem and ``stem``-key.pem; their paths."""
    cert_path, key_path = folder / f"{stem}-cert.pem", folder / f"{stem}-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))  # fmt: skip
    return str(cert_path), str(key_path)


def client_context(server_certs: list[str], certificate: tuple[str, str] | None = None,
                   cipher: str | None = None) -> ssl.SSLContext:  # fmt: skip
    """A charger's TLS context trusting the server's certificates, with an optional client
    certificate, and optionally TLS 1.2 with one cipher suite only."""
    context = ssl.create_default_context()
    for path in server_certs:
        context.load_verify_locations(path)
    if certificate:
        context.load_cert_chain(*certificate)
    if cipher:
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers(cipher)
    return context


def make_pki(folder: Path) -> dict:
    """The server's RSA and ECDSA certificates (self-signed for 127.0.0.1, also in one
    bundle for clients) and a charger CA."""
    from csms.certificate_authority import create_ca

    rsa_cert, rsa_private = self_signed("127.0.0.1", rsa_key(), san_ip="127.0.0.1")
    ec_cert, ec_private = self_signed("127.0.0.1", ec_key(), san_ip="127.0.0.1")
    rsa_files = write_pair(folder, "rsa", rsa_cert, rsa_private)
    ec_files = write_pair(folder, "ecdsa", ec_cert, ec_private)
    bundle = folder / "server-bundle.pem"
    bundle.write_text(Path(rsa_files[0]).read_text() + Path(ec_files[0]).read_text())
    return {"rsa": rsa_files, "ecdsa": ec_files, "bundle": str(bundle),
            "ca": create_ca("Charger CA", utcnow()), "dir": folder}  # fmt: skip


def tls_listener(app, pki: dict, services):
    """(server, port): the TLS listener as server.py builds it, with both certificates,
    client certificates checked against the charger CA and refused handshakes recorded."""
    from tornado.testing import bind_unused_port

    from handlers.chargepoint.admission import server_tls_context, tls_refusal_recorder
    from handlers.chargepoint.guard import GuardedHTTPServer

    context = server_tls_context(*pki["rsa"], ecdsa=pki["ecdsa"], client_ca=pki["ca"].pem)
    server = GuardedHTTPServer(
        app, ssl_options=context, on_certificate_refused=tls_refusal_recorder(services)
    )
    sock, port = bind_unused_port()
    server.add_socket(sock)
    return server, port


def intermediate_ca(root):
    """A CA issued by ``root`` (a CertificateAuthority) that issues charger certificates."""
    from cryptography.x509.oid import NameOID as Oid

    from csms.certificate_authority import CertificateAuthority

    key = ec_key()
    now = utcnow()
    subject = x509.Name([x509.NameAttribute(Oid.COMMON_NAME, "Charger issuing CA")])
    certificate = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(root.certificate.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(root.key, hashes.SHA256())
    )  # fmt: skip
    return CertificateAuthority(certificate, key)
