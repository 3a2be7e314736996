"""Security profile 3 over real TLS on loopback: a charger gets its certificate
(SignCertificate, CertificateSigned), reconnects with it as its TLS client certificate
and is admitted; without one, with a self-signed one, an expired one or another charger's
it is refused, each with a security event. The listener serves an RSA and an ECDSA
certificate together and completes TLS 1.2 handshakes offering a single Whitepaper suite.
Every key and certificate is made in the test (cryptography)."""

from __future__ import annotations

import asyncio
import ssl
from datetime import timedelta

import pytest
import websockets

from csms.certificate_authority import check_csr, sign_csr
from csms.security import set_security
from handlers.chargepoint.admission import FAILED_LOGIN, TLS_CERTIFICATE_REFUSED, server_tls_context
from handlers.routes import make_app
from ocppj.timeutil import utcnow
from tests.certificate_helpers import (
    client_context,
    csr_pem,
    intermediate_ca,
    make_pki,
    self_signed,
    tls_listener,
    write_pair,
)
from tests.charge_points import raw_charger
from tests.conftest import COOKIE_SECRET
from tests.handlers.chargepoint.test_admission_basic import events, refused

SUITES = ("ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
          "AES128-GCM-SHA256", "AES256-GCM-SHA384")  # fmt: skip


@pytest.fixture
def pki(request, tmp_path):
    """Server certificates and the charger CA (``make_pki``); parametrized with
    "intermediate", the charger CA is an intermediate issued by another CA."""
    made = make_pki(tmp_path)
    if getattr(request, "param", None) == "intermediate":
        made["ca"] = intermediate_ca(made["ca"])
    return made


@pytest.fixture
def app(services, registry, web_settings, pki):
    """The application with the charger CA in its services, told that TLS is served."""
    services.ca, services.registry = pki["ca"], registry
    return make_app(
        services, registry, web=web_settings, cookie_secret=COOKIE_SECRET,
        ping_interval=None, ping_timeout=None, tls=True,
    )  # fmt: skip


@pytest.fixture
def tls_port(io_loop, app, pki, services):
    """The port of the TLS listener (``tls_listener``)."""
    server, port = tls_listener(app, pki, services)
    yield port
    server.stop()
    io_loop.run_sync(server.close_all_connections)


@pytest.fixture
def wss(tls_port):
    return lambda charger_id: f"wss://127.0.0.1:{tls_port}/ocpp/{charger_id}"


def trusting(pki, certificate=None, cipher=None):
    """A charger's context trusting both server certificates."""
    return client_context([pki["rsa"][0], pki["ecdsa"][0]], certificate, cipher)


async def profile_3(services, charger_id):
    """A charger document in profile 3."""
    await services.chargers.create(charger_id, {}, utcnow())
    await services.chargers.update(charger_id, {"security": {"profile": 3}})


def client_certificate(pki, charger_id, now=None, days=30, stem=None):
    """Files of a client certificate our CA issued to ``charger_id``."""
    pem, key = csr_pem(charger_id)
    leaf = sign_csr(pki["ca"], check_csr(pem, charger_id), now or utcnow(), days=days)
    return write_pair(pki["dir"], stem or charger_id, leaf, key)


async def refusal(db, charger_id, tls=True):
    """The one security event of a refused charger."""
    [event] = await events(db, charger_id)
    assert (event["type"], event["source"], event["tls"]) == (FAILED_LOGIN, "csms", tls)
    return event


@pytest.mark.gen_test(timeout=30)
async def test_a_charger_gets_its_certificate_and_is_admitted_with_it(wss, pki, services, db):
    await services.chargers.create("CP3", {}, utcnow())
    pem, key = csr_pem("CP3")
    async with raw_charger(wss("CP3"), ssl=trusting(pki)) as cp:  # profile 0, no certificate
        await cp.boot()
        assert await cp.call("s", "SignCertificate", {"csr": pem}) == [
            3, "s", {"status": "Accepted"},
        ]  # fmt: skip
        frame = await cp.recv()
        assert frame[2] == "CertificateSigned"
        await cp.send([3, frame[1], {"status": "Accepted"}])
    chain_path = pki["dir"] / "cp3-chain.pem"
    chain_path.write_text(frame[3]["certificateChain"])
    key_path = write_pair(pki["dir"], "cp3", *self_signed("unused", key))[1]  # the key file
    charger = await services.chargers.get("CP3")
    await set_security(services, charger, 3, False, "hex", "admin", utcnow())
    context = trusting(pki, (str(chain_path), key_path))
    async with raw_charger(wss("CP3"), ssl=context) as cp:  # no HTTP Basic needed
        reply = await cp.boot()
        assert reply[0] == 3 and reply[2]["status"] == "Accepted"
    kinds = [event["type"] for event in await events(db, "CP3")]
    assert kinds == ["SecuritySettingsChanged"]  # no refusal


@pytest.mark.gen_test(timeout=30)
@pytest.mark.parametrize("pki", ["intermediate"], indirect=True)
async def test_a_certificate_from_an_intermediate_ca_is_admitted(wss, pki, services, db):
    await profile_3(services, "CP3")
    files = client_certificate(pki, "CP3")
    async with raw_charger(wss("CP3"), ssl=trusting(pki, files)) as cp:
        assert (await cp.boot())[2]["status"] == "Accepted"
    assert await events(db, "CP3") == []


@pytest.mark.gen_test(timeout=30)
async def test_without_a_client_certificate_profile_3_is_refused(wss, pki, services, db):
    await profile_3(services, "CP3")
    response = await refused(wss("CP3"), ssl=trusting(pki))
    assert (response.status_code, response.body) == (
        403,
        b"profile 3 requires a client certificate",
    )
    event = await refusal(db, "CP3")
    assert event["reason"] == "no_client_certificate"


@pytest.mark.gen_test(timeout=30)
async def test_a_self_signed_client_certificate_fails_the_handshake_and_is_recorded(
    wss, pki, services, db
):
    await profile_3(services, "CP3")
    own = write_pair(pki["dir"], "own", *self_signed("CP3"))
    with pytest.raises((ssl.SSLError, ConnectionError, websockets.exceptions.WebSocketException)):
        async with raw_charger(wss("CP3"), ssl=trusting(pki, own)) as cp:
            await cp.boot()
    query = {"charger": "", "reason": TLS_CERTIFICATE_REFUSED}
    for _ in range(200):  # recorded by a task once the handshake failed
        event = await db.security_events.find_one(query)
        if event is not None:
            break
        await asyncio.sleep(0.02)
    assert (event["type"], event["ip"], event["tls"]) == (FAILED_LOGIN, "127.0.0.1", True)
    assert event["tech_info"] == "TLS client certificate refused: self-signed certificate"
    assert await services.chargers.get("CP3") is not None and await events(db, "CP3") == []


@pytest.mark.gen_test(timeout=30)
async def test_an_expired_client_certificate_is_refused(wss, pki, services, db):
    await profile_3(services, "CP3")
    old = client_certificate(pki, "CP3", utcnow() - timedelta(days=400), days=30)
    response = await refused(wss("CP3"), ssl=trusting(pki, old))
    assert response.status_code == 403
    event = await refusal(db, "CP3")
    assert event["reason"] == "bad_certificate"
    assert event["tech_info"].startswith("the client certificate expired at ")


@pytest.mark.gen_test(timeout=30)
async def test_the_valid_certificate_of_another_charger_is_refused(wss, pki, services, db):
    await profile_3(services, "CP3")
    other = client_certificate(pki, "CP9")
    response = await refused(wss("CP3"), ssl=trusting(pki, other))
    assert response.status_code == 403
    event = await refusal(db, "CP3")
    assert event["reason"] == "certificate_of_another_charger"
    assert event["tech_info"] == "the client certificate names CP9, not the charger CP3"


@pytest.mark.gen_test(timeout=30)
async def test_profile_3_over_plain_ws_is_refused(ws_url, pki, services, db):
    await profile_3(services, "CP3")
    response = await refused(ws_url("/ocpp/CP3"))
    assert response.status_code == 403
    assert (await refusal(db, "CP3", tls=False))["reason"] == "tls_required"


@pytest.mark.gen_test(timeout=30)
async def test_a_profile_2_charger_still_connects_without_a_certificate(wss, pki, services):
    from tests.handlers.chargepoint.test_admission_basic import add_charger, basic

    key = await add_charger(services, "CP2", 2)
    async with raw_charger(wss("CP2"), ssl=trusting(pki),
                           additional_headers=basic("CP2", key.hex)) as cp:  # fmt: skip
        assert (await cp.boot())[2]["status"] == "Accepted"


@pytest.mark.gen_test(timeout=30)
@pytest.mark.parametrize("suite", SUITES)
async def test_a_tls_12_client_offering_one_whitepaper_suite_completes_the_handshake(
    wss, pki, services, suite
):
    async with raw_charger(wss("CP0"), ssl=trusting(pki, cipher=suite)) as cp:
        ssl_object = cp.ws.transport.get_extra_info("ssl_object")
        assert (ssl_object.version(), ssl_object.cipher()[0]) == ("TLSv1.2", suite)
        assert (await cp.boot())[2]["status"] == "Accepted"


def test_the_context_offers_the_four_suites_on_tls_12_and_newer(pki):
    context = server_tls_context(*pki["rsa"], ecdsa=pki["ecdsa"], client_ca=pki["ca"].pem)
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.verify_mode == ssl.CERT_OPTIONAL
    names = [cipher["name"] for cipher in context.get_ciphers()]
    assert set(SUITES) <= set(names)
    assert not [name for name in names if "CBC" in name or "SHA" == name[-3:]]
