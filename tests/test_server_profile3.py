"""server.py with charger certificates (security profile 3): the built-in CA under the
data dir, RSA and ECDSA server certificates on one TLS port, and the certificate flags'
errors. Every key and certificate is made in the test."""

from __future__ import annotations

import asyncio
import ssl
import stat
import subprocess
import sys

import pytest

import server_options
from csms.certificate_authority import create_ca, load_ca
from ocppj.timeutil import utcnow
from tests.certificate_helpers import client_context, ec_key, rsa_key, self_signed, write_pair
from tests.test_server import ROOT, start_server, stop, wait_listening


def server_certificates(folder):
    rsa_files = write_pair(folder, "rsa", *self_signed("127.0.0.1", rsa_key(), san_ip="127.0.0.1"))
    ec_files = write_pair(folder, "ec", *self_signed("127.0.0.1", ec_key(), san_ip="127.0.0.1"))
    return rsa_files, ec_files


async def handshake(port, context):
    """(TLS version, cipher) of a completed handshake with the server."""
    _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    ssl_object = writer.get_extra_info("ssl_object")
    result = ssl_object.version(), ssl_object.cipher()[0]
    writer.close()
    return result


def test_the_built_in_ca_and_both_server_certificates(tmp_path):
    data = tmp_path / "data"
    (rsa_cert, rsa_key_file), (ec_cert, ec_key_file) = server_certificates(tmp_path)
    flags = ("--certfile", rsa_cert, "--keyfile", rsa_key_file, "--ecdsa-certfile", ec_cert,
             "--ecdsa-keyfile", ec_key_file, "--admin-password", "pw-123456")  # fmt: skip
    process, port = start_server(data, *flags)
    try:
        wait_listening(process)
        key = data / "ca" / "ca-key.pem"
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        fingerprint = load_ca(data / "ca" / "ca-cert.pem", key).fingerprint
        trust = [rsa_cert, ec_cert]
        for suite in ("AES128-GCM-SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"):
            context = client_context(trust, cipher=suite)
            assert asyncio.run(handshake(port, context)) == ("TLSv1.2", suite)
        with pytest.raises(ssl.SSLError):  # a suite outside the Whitepaper's
            asyncio.run(handshake(port, client_context(trust, cipher="ECDHE-RSA-AES128-SHA")))
    finally:
        assert stop(process) == 0
    process, _ = start_server(data, *flags)  # the same CA at the next start
    try:
        wait_listening(process)
        assert load_ca(data / "ca" / "ca-cert.pem", key).fingerprint == fingerprint
    finally:
        assert stop(process) == 0


def test_a_ca_key_that_does_not_fit_is_one_line_and_exit_2(tmp_path):
    ca, other = create_ca("A", utcnow()), create_ca("B", utcnow())
    cert_file, _ = write_pair(tmp_path, "a", ca.certificate, ca.key)
    _, wrong_key = write_pair(tmp_path, "b", other.certificate, other.key)
    result = subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "--data-dir", str(tmp_path / "d"),
         "--ca-certfile", cert_file, "--ca-keyfile", wrong_key],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert (
        lines[0]
        == f"error: certificate authority: {wrong_key}: the key does not belong to {cert_file}"
    )
    assert not (tmp_path / "d" / "db").exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [(["--ca-keyfile", "k.pem"], "--ca-keyfile needs --ca-certfile"),
     (["--external-ca"], "--external-ca needs --ca-certfile"),
     (["--ecdsa-certfile", "e.pem"], "--ecdsa-certfile needs --certfile"),
     (["--certificate-days", "0"], "--certificate-days must be >= 1")],
)  # fmt: skip
def test_certificate_flags_that_cannot_work_are_refused(flags, message, capsys):
    with pytest.raises(SystemExit):
        server_options.parse_args(flags)
    assert message in capsys.readouterr().err


def test_certificate_flags_from_the_environment(monkeypatch):
    monkeypatch.setenv("CSMS_CA_CERTFILE", "/ca.pem")
    monkeypatch.setenv("CSMS_EXTERNAL_CA", "yes")
    monkeypatch.setenv("CSMS_CERTIFICATE_RENEWAL_DAYS", "14")
    args = server_options.parse_args([])
    assert (args.ca_certfile, args.external_ca, args.certificate_renewal_days) == (
        "/ca.pem", True, 14,
    )  # fmt: skip
    assert server_options.parse_args(["--no-external-ca"]).external_ca is False
