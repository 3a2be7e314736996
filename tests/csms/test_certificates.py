"""Charger certificates (csms.certificates): SignCertificate answered, CertificateSigned
following it with a chain that verifies, CSRs kept for an external CA and the upload of
what it signed, renewal before expiry, and profile 3 only for a charger with a
certificate. The charger is a raw WebSocket client; every key is made in the test."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from cryptography import x509

from csms.certificate_authority import (
    check_csr,
    create_ca,
    parse_chain,
    pem,
    serial_hex,
    sign_csr,
    signed_by,
)
from csms.certificates import (
    INVALID_CSR,
    UploadError,
    renewal_check,
    renewal_loop,
    store_issued,
    upload_signed,
)
from csms.security import set_security
from ocppj.timeutil import utcnow
from tests.certificate_helpers import csr_pem, rsa_key
from tests.charge_points import raw_charger


@pytest.fixture
def ca(services, registry):
    """Services with a CA that signs and the registry to call chargers with."""
    authority = create_ca("Test CA", utcnow())
    services.ca, services.registry = authority, registry
    return authority


async def sign(cp, csr):
    """Send SignCertificate and return its reply."""
    return await cp.call("s1", "SignCertificate", {"csr": csr})


@pytest.mark.gen_test(timeout=20)
async def test_a_csr_is_accepted_and_the_signed_chain_follows(ws_url, ca, db):
    pem, key = csr_pem("CP1")
    async with raw_charger(ws_url("/CP1/")) as cp:
        await cp.boot()
        assert await sign(cp, pem) == [3, "s1", {"status": "Accepted"}]
        frame = await cp.recv()
        assert frame[0] == 2 and frame[2] == "CertificateSigned"
        assert list(frame[3]) == ["certificateChain"]
        await cp.send([3, frame[1], {"status": "Accepted"}])
    leaf, root = parse_chain(frame[3]["certificateChain"])
    assert root == ca.certificate
    assert leaf.issuer == ca.certificate.subject
    assert signed_by(leaf, ca.certificate)
    assert leaf.subject.rfc4514_string() == "CN=CP1"
    assert leaf.public_key().public_numbers() == key.public_key().public_numbers()
    stored = await db.certificates.find({"kind": "issued"}).to_list()
    assert [(d["_id"], d["charger"], d["subject"], d["source"], d["current"]) for d in stored] == [
        (serial_hex(leaf), "CP1", "CN=CP1", "ca", True)
    ]
    assert stored[0]["not_after"] == leaf.not_valid_after_utc
    command = await db.commands.find_one({"action": "CertificateSigned"})
    assert (command["charger"], command["status"]) == ("CP1", "accepted")


@pytest.mark.gen_test(timeout=20)
async def test_a_csr_with_a_1024_bit_key_is_rejected_and_recorded(ws_url, ca, db):
    pem, _ = csr_pem("CP1", rsa_key(1024))
    async with raw_charger(ws_url("/CP1/")) as cp:
        await cp.boot()
        assert await sign(cp, pem) == [3, "s1", {"status": "Rejected"}]
    events = await db.security_events.find({"type": INVALID_CSR}).to_list()
    assert [(e["charger"], e["source"], e["tech_info"]) for e in events] == [
        ("CP1", "csms", "RSA key of 1024 bits: at least 2048 needed")
    ]
    assert await db.certificates.count_documents({}) == 0
    assert await db.commands.count_documents({"action": "CertificateSigned"}) == 0


@pytest.mark.gen_test(timeout=20)
async def test_a_csr_naming_another_charger_is_rejected_and_recorded(ws_url, ca, db):
    async with raw_charger(ws_url("/CP1/")) as cp:
        await cp.boot()
        assert await sign(cp, csr_pem("CP2")[0]) == [3, "s1", {"status": "Rejected"}]
    event = await db.security_events.find_one({"type": INVALID_CSR})
    assert event["tech_info"] == "the CSR's commonName (CP2) is not the charger id CP1"


@pytest.mark.gen_test(timeout=20)
async def test_a_malformed_csr_is_rejected_and_recorded(ws_url, ca, db):
    garbage = "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----"
    async with raw_charger(ws_url("/CP1/")) as cp:
        await cp.boot()
        assert await sign(cp, garbage) == [3, "s1", {"status": "Rejected"}]
    event = await db.security_events.find_one({"type": INVALID_CSR})
    assert event["tech_info"] == "not a PEM certificate signing request"


@pytest.mark.gen_test(timeout=20)
async def test_without_a_ca_a_csr_is_rejected(ws_url, db):
    async with raw_charger(ws_url("/CP1/")) as cp:
        await cp.boot()
        assert await sign(cp, csr_pem("CP1")[0]) == [3, "s1", {"status": "Rejected"}]
    assert await db.certificates.count_documents({}) == 0


@pytest.mark.gen_test(timeout=20)
async def test_an_external_ca_gets_the_csr_and_its_certificate_is_sent(ws_url, services,
                                                                      registry, db):  # fmt: skip
    external = create_ca("External CA", utcnow())
    services.ca = type(external)(external.certificate)  # its certificate only, no key
    services.registry = registry
    services.settings.external_ca = True
    pem, _ = csr_pem("CP1")
    async with raw_charger(ws_url("/CP1/")) as cp:
        await cp.boot()
        assert await sign(cp, pem) == [3, "s1", {"status": "Accepted"}]
        kept = await db.certificates.find_one({"kind": "csr"})
        assert (kept["charger"], kept["csr"], kept["status"]) == ("CP1", pem, "pending")
        # The operator has the external CA sign it and uploads the certificate alone.
        leaf = sign_csr(external, x509.load_pem_x509_csr(pem.encode()), utcnow())
        upload = services.spawn(upload_signed(services, str(kept["_id"]), _pem(leaf), utcnow()))
        frame = await cp.recv()
        assert frame[2] == "CertificateSigned"
        await cp.send([3, frame[1], {"status": "Accepted"}])
        doc, outcome = await upload
    assert outcome.status == "accepted"
    assert parse_chain(frame[3]["certificateChain"]) == [leaf, external.certificate]
    assert (doc["charger"], doc["source"], doc["serial"]) == ("CP1", "external", serial_hex(leaf))
    signed = await db.certificates.find_one({"kind": "csr"})
    assert (signed["status"], signed["serial"]) == ("signed", serial_hex(leaf))


@pytest.mark.gen_test(timeout=20)
async def test_an_upload_for_another_key_is_refused(services, registry, db):
    external = create_ca("External CA", utcnow())
    services.ca, services.registry = type(external)(external.certificate), registry
    csr_id = await services.certificates.add_csr("CP1", csr_pem("CP1")[0], "CN=CP1", utcnow())
    other = sign_csr(external, check_csr(csr_pem("CP1")[0], "CP1"), utcnow())
    with pytest.raises(UploadError, match="not for the key of this CSR"):
        await upload_signed(services, csr_id, _pem(other), utcnow())
    assert (await services.certificates.get_csr(csr_id))["status"] == "pending"
    assert await db.certificates.count_documents({"kind": "issued"}) == 0


def _pem(certificate):
    return pem(certificate)


async def issue(services, ca, charger_id, now, days):
    leaf = sign_csr(ca, check_csr(csr_pem(charger_id)[0], charger_id), now, days=days)
    return await store_issued(services, charger_id, leaf, now, "ca")


@pytest.mark.gen_test(timeout=20)
async def test_a_certificate_near_expiry_makes_the_charger_send_a_new_csr(ws_url, services, ca,
                                                                          db):  # fmt: skip
    now = utcnow()
    soon = await issue(services, ca, "CP1", now, days=10)
    await issue(services, ca, "CP2", now, days=200)  # far from expiry: not asked
    async with raw_charger(ws_url("/CP1/")) as cp:
        await cp.boot()
        check = services.spawn(renewal_check(services, now))
        frame = await cp.recv()
        assert frame[2:] == ["ExtendedTriggerMessage",
                             {"requestedMessage": "SignChargePointCertificate"}]  # fmt: skip
        await cp.send([3, frame[1], {"status": "Accepted"}])
        assert await check == 1
        assert await renewal_check(services, now) == 0  # asked once per certificate
    doc = await db.certificates.find_one({"_id": soon["_id"]})
    assert doc["renewal_requested"] is not None
    # The renewed certificate is the current one and is not due.
    await issue(services, ca, "CP1", now, days=365)
    assert await services.certificates.expiring(now + timedelta(days=30)) == []


@pytest.mark.gen_test(timeout=20)
async def test_an_offline_charger_is_asked_later(services, ca, db):
    now = utcnow()
    await issue(services, ca, "CP1", now, days=10)
    assert await renewal_check(services, now) == 0
    assert await db.commands.count_documents({}) == 0
    assert len(await services.certificates.expiring(now + timedelta(days=30))) == 1


@pytest.mark.gen_test
async def test_profile_3_needs_a_certificate_from_us(services, ca, db):
    now = utcnow()
    await services.chargers.create("SEC3", {}, now)
    charger = await services.chargers.get("SEC3")
    with pytest.raises(ValueError, match="profile 3 needs a certificate from us first"):
        await set_security(services, charger, 3, False, "hex", "admin", now)
    assert (await services.chargers.get("SEC3")).get("security") is None
    await issue(services, ca, "SEC3", now, days=100)
    assert await set_security(services, charger, 3, False, "hex", "admin", now) is None  # no key
    stored = await services.chargers.get("SEC3")
    assert stored["security"]["profile"] == 3 and "key_hash" not in stored["security"]
    event = await db.security_events.find_one({"type": "SecuritySettingsChanged"})
    assert event["tech_info"] == "profile 0 -> 3 by admin"


@pytest.mark.gen_test(timeout=20)
async def test_the_renewal_loop_checks_at_start(ws_url, services, ca, db):
    await issue(services, ca, "CP1", utcnow(), days=5)
    async with raw_charger(ws_url("/CP1/")) as cp:
        await cp.boot()
        loop = services.spawn(renewal_loop(services))
        try:
            frame = await cp.recv()
            assert frame[2:] == ["ExtendedTriggerMessage",
                                 {"requestedMessage": "SignChargePointCertificate"}]  # fmt: skip
            await cp.send([3, frame[1], {"status": "Accepted"}])
            query = {"charger": "CP1", "renewal_requested": {"$exists": True}}
            for _ in range(250):  # the loop marks it after the reply
                if await db.certificates.count_documents(query):
                    break
                await asyncio.sleep(0.02)
            assert await db.certificates.count_documents(query) == 1
        finally:
            loop.cancel()
