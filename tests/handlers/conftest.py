"""Fixtures of the handler tests that speak TLS: a self-signed certificate made for the
test (openssl), the server's context as server.py builds it, a client trusting it."""

from __future__ import annotations

import ssl
import subprocess

import pytest

from handlers.chargepoint.admission import server_tls_context


@pytest.fixture
def certificate(tmp_path):
    """(certfile, keyfile) of a self-signed certificate for 127.0.0.1."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return str(cert), str(key)


@pytest.fixture
def ssl_options(certificate):
    """The server's TLS context, as server.py builds it (pytest-tornado's https_server)."""
    return server_tls_context(*certificate)


@pytest.fixture
def client_tls(certificate):
    """A client context trusting the test certificate."""
    context = ssl.create_default_context(cafile=certificate[0])
    return context
