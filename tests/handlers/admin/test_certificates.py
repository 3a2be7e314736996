"""Admin pages of the certificate authority: the CA's fingerprint on the security page,
its PEM download, CSRs kept for an external CA (download, upload of the signed
certificate, sent with CertificateSigned), and a charger's issued certificates."""

from __future__ import annotations

import asyncio

import pytest
from tornado.httpclient import AsyncHTTPClient

from csms.certificate_authority import (
    check_csr,
    create_ca,
    parse_chain,
    pem,
    serial_hex,
    sign_csr,
)
from csms.certificates import store_issued
from ocppj.timeutil import utcnow
from tests.certificate_helpers import csr_pem
from tests.charge_points import raw_charger
from tests.handlers.admin.test_index import admin_browser, page_text

SECURITY = "/ocpp/admin/security/"


@pytest.fixture
def ca(services, registry):
    authority = create_ca("Admin Test CA", utcnow())
    services.ca, services.registry = authority, registry
    return authority


@pytest.mark.gen_test
async def test_the_security_page_shows_the_ca_and_offers_its_pem(http_url, admin_user, ca):
    browser = await admin_browser(http_url, admin_user)
    page = page_text(await browser.get(SECURITY))
    assert f'<code id="ca-fingerprint">{ca.fingerprint}</code>' in page
    assert '<td id="ca-subject">O=CSMS,CN=Admin Test CA</td>' in page
    assert "by this server, at once" in page
    response = await browser.get(SECURITY + "ca.pem")
    assert response.code == 200
    assert response.headers["Content-Type"] == "application/x-pem-file"
    assert response.body.decode() == ca.pem


@pytest.mark.gen_test
async def test_without_a_ca_the_page_says_so_and_there_is_no_pem(http_url, admin_user):
    browser = await admin_browser(http_url, admin_user)
    assert 'id="no-ca"' in page_text(await browser.get(SECURITY))
    assert (await browser.get(SECURITY + "ca.pem")).code == 404


@pytest.mark.gen_test
async def test_the_pem_needs_a_login(http_url, ca):
    response = await AsyncHTTPClient().fetch(
        http_url(SECURITY + "ca.pem"), follow_redirects=False, raise_error=False
    )
    assert response.code == 302


@pytest.mark.gen_test(timeout=20)
async def test_a_kept_csr_is_signed_elsewhere_uploaded_and_sent(http_url, ws_url, admin_user,
                                                               services, registry, db):  # fmt: skip
    external = create_ca("External CA", utcnow())
    services.ca, services.registry = type(external)(external.certificate), registry
    services.settings.external_ca = True
    csr, _ = csr_pem("CP1")
    browser = await admin_browser(http_url, admin_user)
    async with raw_charger(ws_url("/CP1/")) as cp:
        await cp.boot()
        assert await cp.call("s", "SignCertificate", {"csr": csr}) == [
            3, "s", {"status": "Accepted"},
        ]  # fmt: skip
        kept = await db.certificates.find_one({"kind": "csr"})
        page = page_text(await browser.get(SECURITY))
        assert f'href="{SECURITY}csrs/{kept["_id"]}.pem"' in page
        download = await browser.get(f"{SECURITY}csrs/{kept['_id']}.pem")
        assert download.body.decode() == csr
        leaf = sign_csr(external, check_csr(csr, "CP1"), utcnow())
        upload = asyncio.ensure_future(browser.post(
            f"{SECURITY}csrs/{kept['_id']}/certificate", {"certificate": pem(leaf)}
        ))  # fmt: skip
        frame = await cp.recv()
        assert frame[2] == "CertificateSigned"
        await cp.send([3, frame[1], {"status": "Accepted"}])
        response = await upload
    assert response.code == 302
    assert parse_chain(frame[3]["certificateChain"]) == [leaf, external.certificate]
    page = page_text(await browser.get(SECURITY))
    assert f"Certificate {serial_hex(leaf)} stored for CP1; CertificateSigned: accepted." in page
    assert (await db.certificates.find_one({"kind": "csr"}))["status"] == "signed"


@pytest.mark.gen_test(timeout=20)
async def test_an_upload_that_does_not_fit_is_refused_and_nothing_sent(
    http_url, admin_user, services, registry, db
):
    external = create_ca("External CA", utcnow())
    services.ca, services.registry = type(external)(external.certificate), registry
    services.settings.external_ca = True
    csr_id = await services.certificates.add_csr("CP1", csr_pem("CP1")[0], "CN=CP1", utcnow())
    browser = await admin_browser(http_url, admin_user)
    response = await browser.post(f"{SECURITY}csrs/{csr_id}/certificate", {"certificate": "x"})
    assert response.code == 302
    page = page_text(await browser.get(SECURITY))
    assert "Certificate not accepted: the certificate must be PEM (the leaf first)" in page
    assert (await services.certificates.get_csr(csr_id))["status"] == "pending"
    assert await db.commands.count_documents({}) == 0
    missing = await browser.post(f"{SECURITY}csrs/{'0' * 24}/certificate", {"certificate": "x"})
    assert missing.code == 404


@pytest.mark.gen_test
async def test_the_charger_page_lists_its_certificates(http_url, admin_user, services, ca):
    now = utcnow()
    await services.chargers.create("CP1", {}, now)
    leaf = sign_csr(ca, check_csr(csr_pem("CP1")[0], "CP1"), now)
    doc = await store_issued(services, "CP1", leaf, now, "ca")
    browser = await admin_browser(http_url, admin_user)
    page = page_text(await browser.get("/ocpp/admin/chargers/CP1/security/"))
    assert f'<code>{doc["serial"]}</code> <span class="muted">(current)</span>' in page
    assert '<input type="radio" name="profile" value="3"' in page
    response = await browser.post("/ocpp/admin/chargers/CP1/security/",
                                  {"profile": "3", "key_form": "hex"})  # fmt: skip
    assert response.code == 302
    assert (await services.chargers.get("CP1"))["security"]["profile"] == 3
