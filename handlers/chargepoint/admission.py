"""Charger authentication: OCPP 1.6 security profiles 1 and 2 (HTTP Basic, OCPP_RULES 20-21)
and 3 (a TLS client certificate from our certificate authority).

A charger document may carry ``security: {profile, key_hash, key_set_at, key_form}``;
profile 0 (or no ``security``) needs no credentials. Profile 1 needs HTTP Basic with the
charger id as username and its AuthorizationKey as password; profile 2 needs the same
over TLS and is refused over plain ``ws://`` (no downgrade). Profile 3 needs TLS and a
client certificate issued by the configured CA, valid now, whose commonName is the
charger id; no HTTP Basic.

The key is 16-20 bytes. Chargers send it either as those bytes ("text") or as their hex
encoding of up to 40 characters, as the AuthorizationKey configuration key holds it;
both are accepted. Only a salted hash is stored and keys are never logged.

Keys are generated, hashed and checked in ``auth.charger_keys``; HTTP Basic is parsed
by ``auth.basic``. This module turns them into admission decisions (HTTP statuses).
"""

from __future__ import annotations

import asyncio
import logging
import math
import ssl
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pymongo.errors import PyMongoError

from auth.basic import parse_basic
from auth.charger_keys import verify_key
from csms.certificate_authority import (
    CertificateError,
    OtherChargerCertificate,
    check_client_certificate,
)
from csms.services import Services
from handlers.chargepoint.limits import KeyedBuckets, LimitSettings
from ocppj.timeutil import utcnow

log = logging.getLogger("csms.auth")

REALM = 'Basic realm="csms"'
# Security event type recorded for every refused login (source "csms").
FAILED_LOGIN = "FailedToAuthenticateAtCentralSystem"
# Its reason when the TLS handshake itself refused the client certificate.
TLS_CERTIFICATE_REFUSED = "tls_client_certificate"


# The four TLS 1.2 suites of the Security Whitepaper (A00.FR.317), then ECDHE with RSA
# for browsers on TLS 1.2; TLS 1.3 keeps OpenSSL's own suites.
WHITEPAPER_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "AES128-GCM-SHA256:AES256-GCM-SHA384"
)
TLS_CIPHERS = WHITEPAPER_CIPHERS + ":ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384"
# OpenSSL's X509_V_FLAG_NO_CHECK_TIME: an expired client certificate still completes the
# handshake, so admission can refuse it by name and record it (it checks the dates).
NO_CHECK_TIME = 0x200000


def server_tls_context(
    certfile: str, keyfile: str | None = None, *,
    ecdsa: tuple[str, str | None] | None = None, client_ca: str | None = None,
) -> ssl.SSLContext:  # fmt: skip
    """The server's TLS context: TLS 1.2 or newer with the Whitepaper's suites, the
    certificate of ``--certfile/--keyfile`` and optionally a second one of the other key
    type (``ecdsa``: RSA and ECDSA served together, the client's suites choose).

    ``client_ca`` (PEM): a client certificate is asked for but optional (profile 2
    chargers have none); one that does not chain to this CA fails the handshake, and
    admission requires a valid one of the charger itself for profile 3."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(TLS_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    context.load_cert_chain(certfile, keyfile)
    if ecdsa is not None:
        context.load_cert_chain(*ecdsa)
    if client_ca:
        context.load_verify_locations(cadata=client_ca)
        context.verify_mode = ssl.CERT_OPTIONAL
        # The CA may be an intermediate (the issuer of the leaves): trusted as it is.
        context.verify_flags |= NO_CHECK_TIME | ssl.VERIFY_X509_PARTIAL_CHAIN
    return context


class FailureLimiter:
    """Failed logins per IP: after ``max_failures`` within ``window`` seconds the IP is
    refused (429) until the oldest of them leaves the window.

    Memory is bounded: the last ``max_failures`` times of at most ``max_ips`` addresses,
    the least recently failing address forgotten first. ``max_failures=0``: off.
    """

    def __init__(
        self, max_failures: int, window: float, max_ips: int,
        clock: Callable[[], float] = time.monotonic,
    ):  # fmt: skip
        self.max_failures = max_failures
        self.window = window
        self.max_ips = max(1, max_ips)
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._failures)

    def retry_after(self, ip: str) -> int | None:
        """Whole seconds until ``ip`` may try again, or None when it may now."""
        stamps = self._failures.get(ip)
        if not self.max_failures or stamps is None or len(stamps) < self.max_failures:
            return None
        wait = stamps[0] + self.window - self.clock()
        return math.ceil(wait) if wait > 0 else None

    def failure(self, ip: str) -> None:
        """Count one failed login of ``ip``."""
        if not self.max_failures:
            return
        stamps = self._failures.get(ip)
        if stamps is None:
            stamps = self._failures[ip] = deque(maxlen=self.max_failures)
            while len(self._failures) > self.max_ips:
                self._failures.popitem(last=False)
        else:
            self._failures.move_to_end(ip)
        stamps.append(self.clock())


@dataclass(frozen=True, slots=True)
class Attempt:
    """A charger knocking: the id from its path and what the transport knows."""

    charger_id: str
    path: str
    ip: str
    tls: bool
    authorization: str | None
    client_certificate: bytes | None = None  # DER, from the TLS handshake


@dataclass(frozen=True, slots=True)
class Admission:
    """The verdict: ``status`` 0 lets the upgrade go on; else the HTTP status to answer."""

    status: int = 0
    reason: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    # The charger document admission read (a known charger let in): the connection's
    # record starts from it instead of reading it again (``ChargerRepo.connect``).
    charger: dict[str, Any] | None = None
    # No charger document was found (a new id let in): it is created without a read.
    unknown: bool = False

    @property
    def admitted(self) -> bool:
        """True when the charger may connect."""
        return self.status == 0


ADMITTED = Admission()
NEW_CHARGER = Admission(unknown=True)


class ChargerAuth:
    """Admission of charger connections; holds the per-IP failure limiter (one per
    Application, in its settings as ``charger_auth``)."""

    def __init__(self, limits: LimitSettings | None = None, clock=time.monotonic):
        limits = limits or LimitSettings()
        self.failures = FailureLimiter(
            limits.auth_failures, limits.auth_failure_window, limits.auth_tracked_ips, clock
        )
        # Unknown ids registered on connection: per IP and in all (each is a document).
        self.registrations = KeyedBuckets(
            limits.registration_rate_per_ip, limits.registration_burst_per_ip,
            limits.registration_rate, limits.registration_burst, limits.auth_tracked_ips,
            clock,
        )  # fmt: skip

    async def admit(
        self, attempt: Attempt, services: Services, allow_unknown: bool, now: datetime,
    ) -> Admission:  # fmt: skip
        """Decide before the upgrade: 429 for an IP over its failures (before anything
        else), 404 for an unknown id when those are not allowed, 429 for an unknown id over
        the registration rate (listed as unknown, not registered), 403 for profile 2
        without TLS, 401 for missing or wrong credentials."""
        retry = self.failures.retry_after(attempt.ip)
        if retry is not None:
            return Admission(429, "too many failed attempts; retry later",
                             {"Retry-After": str(retry)})  # fmt: skip
        charger = await services.chargers.get(attempt.charger_id)
        if charger is None:
            if allow_unknown:
                wait = self.registrations.take(attempt.ip)
                if not wait:
                    return NEW_CHARGER
                await self._list_unknown(attempt, services, now, "over the registration rate")
                return Admission(429, "too many new chargers; retry later",
                                 {"Retry-After": str(max(1, math.ceil(wait)))})  # fmt: skip
            self.failures.failure(attempt.ip)
            await self._list_unknown(attempt, services, now, "unknown charger refused")
            return Admission(404, "unknown charger")
        security = charger.get("security") or {}
        profile = security.get("profile") or 0
        if profile == 0:
            return Admission(charger=charger)
        if profile == 3:
            verdict = await self._admit_certificate(attempt, services, now)
            return Admission(charger=charger) if verdict.admitted else verdict
        if profile != 1 and not attempt.tls:
            # Profile 2 (or anything unexpected: fail closed) only over TLS; the key is not
            # even looked at, it crossed the network in the clear.
            clear = " (credentials were sent in the clear: rotate the key)"
            sent = clear if attempt.authorization else ""
            return await self._refuse(attempt, services, now, 403, "tls_required",
                                      "security profile 2 requires wss://" + sent)  # fmt: skip
        if not attempt.authorization:
            return await self._refuse(attempt, services, now, 401, "no_credentials",
                                      "no HTTP Basic credentials")  # fmt: skip
        credentials = parse_basic(attempt.authorization)
        if credentials is None:
            return await self._refuse(attempt, services, now, 401, "malformed_credentials",
                                      "malformed HTTP Basic credentials")  # fmt: skip
        username, password = credentials
        if username != attempt.charger_id:
            return await self._refuse(attempt, services, now, 401, "wrong_username",
                                      "the username is not the charger id")  # fmt: skip
        key_hash = security.get("key_hash")
        if not key_hash:
            return await self._refuse(attempt, services, now, 401, "no_key_set",
                                      "no key is set for this charger")  # fmt: skip
        if not await asyncio.to_thread(verify_key, key_hash, password):
            return await self._refuse(attempt, services, now, 401, "wrong_key",
                                      "wrong key")  # fmt: skip
        return Admission(charger=charger)

    async def _admit_certificate(
        self, attempt: Attempt, services: Services, now: datetime
    ) -> Admission:
        """Profile 3: wss with a client certificate from our CA naming this charger (403
        and a security event else); HTTP Basic is not needed."""
        if not attempt.tls:
            return await self._refuse(attempt, services, now, 403, "tls_required",
                                      "security profile 3 requires wss://")  # fmt: skip
        if not attempt.client_certificate:
            return await self._refuse(attempt, services, now, 403, "no_client_certificate",
                                      "profile 3 requires a client certificate")  # fmt: skip
        ca = services.ca
        if ca is None:
            return await self._refuse(attempt, services, now, 403, "no_ca",
                                      "no certificate authority is configured")  # fmt: skip
        try:
            check_client_certificate(attempt.client_certificate, ca.certificate,
                                     attempt.charger_id, now)  # fmt: skip
        except OtherChargerCertificate as exc:
            return await self._refuse(attempt, services, now, 403,
                                      "certificate_of_another_charger", str(exc))  # fmt: skip
        except CertificateError as exc:
            return await self._refuse(attempt, services, now, 403, "bad_certificate", str(exc))
        return ADMITTED

    async def _list_unknown(
        self, attempt: Attempt, services: Services, now: datetime, why: str
    ) -> None:
        """List a refused unknown id in ``unknown_chargers`` (the operator may accept it)."""
        try:
            await services.unknown_chargers.record(
                attempt.charger_id, attempt.path, attempt.ip, now
            )
        except PyMongoError:
            log.exception("could not record unknown charger %r", attempt.charger_id)
        log.info("%s: %s (%s)", attempt.charger_id, why, attempt.ip)

    async def _refuse(
        self, attempt: Attempt, services: Services, now: datetime, status: int, reason: str,
        tech_info: str,
    ) -> Admission:  # fmt: skip
        """Count the failure for the IP, record a security event, and answer ``status``."""
        self.failures.failure(attempt.ip)
        log.warning("%s: login refused from %s: %s", attempt.charger_id, attempt.ip, reason)
        try:
            await services.security_events.record(
                attempt.charger_id, FAILED_LOGIN, now, tech_info, source="csms",
                ip=attempt.ip, reason=reason, tls=attempt.tls,
            )  # fmt: skip
        except PyMongoError:
            log.exception("could not record the failed login of %r", attempt.charger_id)
        services.bus.publish("security_event", attempt.charger_id, event=FAILED_LOGIN)
        headers = {"WWW-Authenticate": REALM} if status == 401 else {}
        body = "unauthorized" if status == 401 else tech_info
        return Admission(status, body, headers)


def tls_refusal_recorder(services: Services) -> Callable[[str, str], None]:
    """What ``GuardedHTTPServer`` calls when a TLS handshake refused a client certificate
    (it does not chain to our CA, e.g. self-signed): a security event without a charger
    (the handshake ends before the charger id is known) naming the IP and the reason."""

    async def record(ip: str, why: str) -> None:
        log.warning("TLS handshake from %s refused its client certificate: %s", ip, why)
        try:
            await services.security_events.record(
                "", FAILED_LOGIN, utcnow(), f"TLS client certificate refused: {why}",
                source="csms", ip=ip, reason=TLS_CERTIFICATE_REFUSED, tls=True,
            )  # fmt: skip
        except PyMongoError:
            log.exception("could not record the refused TLS handshake of %s", ip)
        services.bus.publish("security_event", "", event=FAILED_LOGIN)

    def refused(ip: str, why: str) -> None:
        services.spawn(record(ip, why))

    return refused
