"""Security profile 2 over real TLS: a self-signed certificate made for the test (openssl),
the server context of ``--certfile/--keyfile`` (TLS 1.2 minimum), wss:// logins. The
certificate fixtures are in tests/handlers/conftest.py."""

from __future__ import annotations

import shutil
import ssl
import warnings

import pytest
import websockets

from handlers.routes import make_app
from tests.charge_points import OCPP16, raw_charger
from tests.conftest import COOKIE_SECRET
from tests.handlers.chargepoint.test_admission_basic import add_charger, basic, events, refused

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")


@pytest.fixture
def app(services, registry, web_settings):
    """The application, told that TLS is served."""
    return make_app(
        services, registry, web=web_settings, cookie_secret=COOKIE_SECRET,
        ping_interval=None, ping_timeout=None, tls=True,
    )  # fmt: skip


@pytest.fixture
def wss_url(https_server, https_port):
    """Build a wss:// URL on the TLS test server."""
    return lambda path: f"wss://127.0.0.1:{https_port}{path}"


def test_server_context_requires_tls_12(ssl_options):
    assert ssl_options.minimum_version == ssl.TLSVersion.TLSv1_2
    assert ssl_options.options & ssl.OP_NO_COMPRESSION


@pytest.mark.gen_test
async def test_profile_2_connects_over_wss_with_its_key(wss_url, client_tls, services, db):
    key = await add_charger(services, "T2", 2)
    headers = basic("T2", key.hex)
    async with raw_charger(wss_url("/ocpp/T2/"), ssl=client_tls, additional_headers=headers) as cp:
        assert cp.ws.transport.get_extra_info("ssl_object").version() in ("TLSv1.2", "TLSv1.3")
        reply = await cp.boot()
        assert reply[0] == 3 and reply[2]["status"] == "Accepted"
    assert await events(db, "T2") == []


@pytest.mark.gen_test
async def test_profile_1_also_connects_over_wss(wss_url, client_tls, services):
    key = await add_charger(services, "T1", 1)
    headers = basic("T1", key.secret)
    async with raw_charger(wss_url("/T1/"), ssl=client_tls, additional_headers=headers) as cp:
        assert (await cp.boot())[0] == 3


@pytest.mark.gen_test
async def test_wrong_key_over_wss_gets_401(wss_url, client_tls, services, db):
    await add_charger(services, "T2", 2)
    response = await refused(wss_url("/T2/"), basic("T2", "f" * 40), ssl=client_tls)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="csms"'
    [event] = await events(db, "T2")
    assert (event["reason"], event["tls"]) == ("wrong_key", True)


@pytest.mark.gen_test
async def test_tls_11_client_is_refused(wss_url, client_tls, services):
    key = await add_charger(services, "T2", 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        client_tls.minimum_version = ssl.TLSVersion.TLSv1
        client_tls.maximum_version = ssl.TLSVersion.TLSv1_1
    client_tls.set_ciphers("DEFAULT:@SECLEVEL=0")
    with pytest.raises(ssl.SSLError) as info:
        async with websockets.connect(
            wss_url("/T2/"), ssl=client_tls, subprotocols=OCPP16,
            additional_headers=basic("T2", key.hex),
        ):  # fmt: skip
            pass
    assert "ALERT_PROTOCOL_VERSION" in str(info.value)  # the server's alert: it offered 1.1
