"""Charger certificates (security profile 3): the charger's SignCertificate, the
CertificateSigned that follows it, certificates signed by an external CA, and renewal
before expiry (ExtendedTriggerMessage SignChargePointCertificate).

The CA itself (keys, signing, checks) is ``csms.certificate_authority``; issued
certificates and kept CSRs are ``models.certificates``.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from cryptography import x509
from pymongo.errors import PyMongoError

from csms.certificate_authority import (
    CsrError,
    chain_pem,
    check_csr,
    common_names,
    parse_chain,
    pem,
    public_der,
    serial_hex,
    sign_csr,
    signed_by,
)
from csms.context import CallContext
from csms.registry import NOT_CONNECTED, Outcome
from ocppj.timeutil import utcnow

if TYPE_CHECKING:
    from csms.services import Services

log = logging.getLogger("csms.certificates")

# Our security event for a CSR we do not sign (source "csms").
INVALID_CSR = "InvalidCertificateSigningRequest"
SIGN_CHARGE_POINT_CERTIFICATE = "SignChargePointCertificate"


class UploadError(ValueError):
    """A certificate uploaded for a kept CSR that does not fit it; the message says why."""


async def sign_certificate(ctx: CallContext, payload: dict[str, Any]) -> dict:
    """A charger's CSR: Rejected (and a security event) when it is bad or no CA is
    configured; else Accepted, with the certificate signed and stored before the answer
    and sent as CertificateSigned after it, or the CSR kept for an external CA."""
    services, charger_id = ctx.services, ctx.charger_id
    try:
        csr = check_csr(payload["csr"], charger_id)
    except CsrError as exc:
        log.warning("%s: CSR rejected: %s", charger_id, exc)
        await _record(services, charger_id, INVALID_CSR, ctx.now, str(exc))
        return {"status": "Rejected"}
    ca = services.ca
    if ca is None:
        log.info("%s: SignCertificate rejected: no certificate authority", charger_id)
        return {"status": "Rejected"}
    if services.settings.external_ca or not ca.can_sign:
        await services.certificates.add_csr(
            charger_id, payload["csr"], csr.subject.rfc4514_string(), ctx.now
        )
        return {"status": "Accepted"}
    leaf = sign_csr(ca, csr, ctx.now, services.settings.certificate_days)
    await store_issued(services, charger_id, leaf, ctx.now, "ca")
    # Never awaited here: the charger reads our CALL only after this CALLRESULT.
    services.spawn(send_certificate_signed(services, charger_id, chain_pem(ca, leaf)))
    return {"status": "Accepted"}


async def store_issued(
    services: Services, charger_id: str, leaf: x509.Certificate, now: datetime, source: str
) -> dict[str, Any]:
    """Store a certificate issued to the charger (it becomes its current one)."""
    return await services.certificates.add_issued(
        charger_id, serial_hex(leaf), leaf.subject.rfc4514_string(), leaf.not_valid_before_utc,
        leaf.not_valid_after_utc, pem(leaf), now, source,
    )  # fmt: skip


async def send_certificate_signed(services: Services, charger_id: str, chain: str) -> Outcome:
    """Send the charger its certificate chain (leaf first) with CertificateSigned."""
    registry = services.registry
    if registry is None:
        return Outcome(NOT_CONNECTED, description="no connection registry")
    outcome = await registry.call(
        charger_id, "CertificateSigned", {"certificateChain": chain}, requested_by="csms"
    )
    if not outcome.ok:
        log.warning("%s: CertificateSigned %s %s", charger_id, outcome.status,
                    outcome.description)  # fmt: skip
    return outcome


async def upload_signed(
    services: Services, csr_id: str, text: str, now: datetime
) -> tuple[dict[str, Any], Outcome]:
    """A certificate the external CA signed for the kept CSR ``csr_id``: checked (the
    CSR's key and charger, issued by the configured CA), stored, and sent to the charger
    with CertificateSigned. UploadError says what does not fit; LookupError when there
    is no such pending CSR. The stored document and the outcome of the call."""
    kept = await services.certificates.get_csr(csr_id)
    if kept is None or kept.get("status") != "pending":
        raise LookupError(f"no pending CSR {csr_id}")
    try:
        chain = parse_chain(text)
    except ValueError:
        raise UploadError("the certificate must be PEM (the leaf first)") from None
    leaf = chain[0]
    csr = x509.load_pem_x509_csr(kept["csr"].encode())
    if public_der(leaf.public_key()) != public_der(csr.public_key()):
        raise UploadError("the certificate is not for the key of this CSR")
    charger_id = kept["charger"]
    if charger_id not in common_names(leaf.subject):
        raise UploadError(f"the certificate's commonName is not the charger id {charger_id}")
    ca = services.ca
    # Admission checks the leaf against the configured CA itself (which may be an
    # intermediate): a certificate it would refuse is not worth sending.
    if ca is not None and not signed_by(leaf, ca.certificate):
        raise UploadError("the certificate is not issued by the configured CA")
    if ca is not None and len(chain) == 1:
        text = pem(leaf) + ca.pem  # the chain the charger needs: leaf + CA
    doc = await store_issued(services, charger_id, leaf, now, "external")
    await services.certificates.csr_signed(csr_id, doc["serial"], now)
    outcome = await send_certificate_signed(services, charger_id, text)
    return doc, outcome


async def renewal_check(services: Services, now: datetime) -> int:
    """Ask each connected charger whose current certificate expires within
    ``renewal_days`` for a new CSR (ExtendedTriggerMessage SignChargePointCertificate);
    a charger that answers is not asked again for that certificate. How many were asked."""
    registry = services.registry
    window = now + timedelta(days=services.settings.renewal_days)
    asked = 0
    for doc in await services.certificates.expiring(window):
        if registry is None or doc["charger"] not in registry:
            continue  # asked when it is connected at a later check
        payload = {"requestedMessage": SIGN_CHARGE_POINT_CERTIFICATE}
        outcome = await registry.call(
            doc["charger"], "ExtendedTriggerMessage", payload, requested_by="renewal"
        )
        if outcome.answered:
            await services.certificates.renewal_requested(doc["_id"], now)
            asked += 1
    return asked


async def renewal_loop(services: Services) -> None:
    """``renewal_check`` at start and every ``renewal_check_interval`` seconds."""
    while True:
        try:
            await renewal_check(services, utcnow())
        except Exception:
            log.exception("certificate renewal check failed")
        await asyncio.sleep(services.settings.renewal_check_interval)


async def _record(
    services: Services, charger_id: str, kind: str, now: datetime, tech_info: str
) -> None:
    try:
        await services.security_events.record(charger_id, kind, now, tech_info, source="csms")
    except PyMongoError:
        log.exception("could not store security event %s of %s", kind, charger_id)
    services.bus.publish("security_event", charger_id, event=kind)
