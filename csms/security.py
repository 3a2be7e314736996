"""Security: the security extension's notifications from chargers, and each charger's
security profile (0: none, 1: HTTP Basic, 2: HTTP Basic over TLS, 3: TLS with a client
certificate from our CA) with its key. Charger certificates are ``csms.certificates``."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pymongo.errors import PyMongoError

from auth.charger_keys import NewKey, generate_key, hash_key
from csms.context import CallContext
from csms.registry import Outcome
from csms.request import Request
from ocppj.timeutil import parse_datetime

log = logging.getLogger("csms.security")

if TYPE_CHECKING:
    from csms.services import Services

PROFILES = (0, 1, 2, 3)
CERTIFICATE_PROFILE = 3  # needs a certificate we issued (or the external CA did)
KEY_PROFILES = (1, 2)  # need an AuthorizationKey


async def profile_problem(services: Services, charger_id: str, profile: int) -> str | None:
    """Why ``profile`` cannot be set for the charger now, or None: profile 3 only once
    the charger has a certificate from us (else it could never connect again)."""
    if profile == CERTIFICATE_PROFILE and not await services.certificates.has_issued(charger_id):
        return (
            "profile 3 needs a certificate from us first: let the charger send"
            " SignCertificate (ExtendedTriggerMessage SignChargePointCertificate)"
        )
    return None


async def security_event_notification(ctx: CallContext, payload: dict[str, Any]) -> dict:
    """Store the event; always confirmed (OCPP_RULES 22), even if storing it fails."""
    try:
        await ctx.services.security_events.record(
            ctx.charger_id,
            payload["type"],
            parse_datetime(payload["timestamp"]),
            payload.get("techInfo"),
            received=ctx.now,
            source="charger",
        )
    except PyMongoError:
        log.exception("could not store security event %s of %s", payload["type"], ctx.charger_id)
    ctx.services.bus.publish("security_event", ctx.charger_id, event=payload["type"])
    return {}


async def set_security(
    services: Services, charger: dict[str, Any], profile: int, rotate: bool, form: str,
    actor: str, now: datetime,
) -> NewKey | None:  # fmt: skip
    """Set a charger's profile; generate a key when asked or when the profile needs one and
    none is set. Returns the new key (to show once) or None; LookupError when the charger
    is gone; ValueError for a profile it may not have (``profile_problem``). Recorded as a
    security event."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}")
    problem = await profile_problem(services, charger["_id"], profile)
    if problem:
        raise ValueError(problem)
    security = charger.get("security") or {}
    key = None
    if rotate or (profile in KEY_PROFILES and not security.get("key_hash")):
        key = generate_key(form)
    fields: dict[str, Any] = {"security.profile": profile, "updated": now}
    if key is not None:
        fields["security.key_hash"] = await asyncio.to_thread(hash_key, key.secret)
        fields["security.key_set_at"] = now
        fields["security.key_form"] = key.form
    if not await services.chargers.update(charger["_id"], fields):
        raise LookupError(f"charger {charger['_id']!r} no longer exists")
    old = security.get("profile") or 0
    changes = [f"profile {old} -> {profile}"] if old != profile else []
    if key is not None:
        changes.append("new key")
    if changes:
        await services.security_events.record(
            charger["_id"], "SecuritySettingsChanged", now, ", ".join(changes) + f" by {actor}",
            source="csms", user=actor,
        )  # fmt: skip
    return key


async def after_installed_certificates(req: Request, outcome: Outcome) -> None:
    """Keep the hashes of the installed certificates of the type asked for."""
    if outcome.answered:
        kind = req.payload["certificateType"]
        entry = {
            "status": outcome.payload["status"],
            "hashes": outcome.payload.get("certificateHashData", []),
            "ts": req.now,
        }
        await req.services.chargers.update(req.charger_id, {f"certificates.{kind}": entry})
