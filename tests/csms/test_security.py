"""Security (csms.security): the security extension's messages from chargers, each
charger's security profile and key (``set_security``), and the installed certificate ids
kept from GetInstalledCertificateIds (through csms.remote.perform).

The admin pages that call ``set_security`` are tested in tests/handlers/admin/test_security.py;
the storing of a SecurityEventNotification in test_session.py."""

from __future__ import annotations

from datetime import datetime

import pytest
from ocpp.exceptions import NotSupportedError

from auth.charger_keys import TEXT_ALPHABET, verify_key
from csms.remote import perform
from csms.security import set_security
from ocppj.timeutil import utcnow
from tests.charge_points import raw_charger
from tests.csms.test_remote import HASH, booted, check


async def certificates(db):
    return (await db.chargers.find_one({"_id": "CP1"})).get("certificates")


async def events(db):
    found = await db.security_events.find({"type": "SecuritySettingsChanged"}).to_list()
    return [(e["charger"], e["tech_info"], e["source"], e["user"]) for e in found]


@pytest.mark.gen_test(timeout=20)
async def test_installed_certificate_ids_are_kept_per_type(ws_url, services, registry, db):
    async with booted(ws_url) as cp:
        cp.replies["GetInstalledCertificateIds"] = {"status": "NotFound"}
        params = {"certificate_type": "CentralSystemRootCertificate"}
        none = await perform(services, registry, "CP1", "get_installed_certificate_ids", params)
        payload = {"certificateType": "CentralSystemRootCertificate"}
        await check(db, cp, none, "get_installed_certificate_ids", "GetInstalledCertificateIds",
                    payload, "rejected", {"status": "NotFound"})  # fmt: skip
        reply = {"status": "Accepted", "certificateHashData": [HASH]}
        cp.replies["GetInstalledCertificateIds"] = reply
        params = {"certificate_type": "ManufacturerRootCertificate"}
        some = await perform(services, registry, "CP1", "get_installed_certificate_ids", params)
    assert some.status == "accepted"
    kept = await certificates(db)
    assert set(kept) == {"CentralSystemRootCertificate", "ManufacturerRootCertificate"}
    central = kept["CentralSystemRootCertificate"]
    assert (central["status"], central["hashes"]) == ("NotFound", [])  # answered: kept too
    assert isinstance(central["ts"], datetime)
    assert kept["ManufacturerRootCertificate"]["hashes"] == [HASH]


@pytest.mark.gen_test(timeout=20)
async def test_an_unanswered_certificate_request_stores_nothing(ws_url, services, registry, db):
    async with booted(ws_url) as cp:
        cp.replies["GetInstalledCertificateIds"] = NotSupportedError("no")
        params = {"certificate_type": "ManufacturerRootCertificate"}
        outcome = await perform(services, registry, "CP1", "get_installed_certificate_ids", params)
    assert outcome.status == "error"
    assert await certificates(db) is None


@pytest.mark.gen_test
async def test_a_security_event_is_published(ws_url, services):
    queue = services.bus.subscribe()
    try:
        async with raw_charger(ws_url("/CP1/")) as cp:
            await cp.boot()
            payload = {"type": "InvalidFirmwareSignature", "timestamp": "2026-01-01T00:00:00Z"}
            assert await cp.call("e", "SecurityEventNotification", payload) == [3, "e", {}]
    finally:
        services.bus.unsubscribe(queue)
    published = [queue.get_nowait() for _ in range(queue.qsize())]
    assert {"type": "security_event", "charger": "CP1", "event": "InvalidFirmwareSignature"} in (
        published
    )


@pytest.fixture
def charger(io_loop, services):
    """A charger without security settings."""
    io_loop.run_sync(lambda: services.chargers.create("SEC1", {}, utcnow()))
    return "SEC1"


@pytest.mark.gen_test
async def test_profile_0_needs_no_key_and_changes_nothing_worth_an_event(services, db, charger):
    doc = await services.chargers.get(charger)
    assert await set_security(services, doc, 0, False, "hex", "alice", utcnow()) is None
    stored = (await db.chargers.find_one({"_id": charger}))["security"]
    assert stored == {"profile": 0}
    assert await events(db) == []


@pytest.mark.gen_test
async def test_raising_the_profile_keeps_an_existing_key(services, db, charger):
    first = await set_security(
        services, await services.chargers.get(charger), 1, False, "hex", "alice", utcnow()
    )
    assert first is not None and len(first.secret) == 20
    again = await set_security(
        services, await services.chargers.get(charger), 2, False, "hex", "bob", utcnow()
    )
    assert again is None
    security = (await db.chargers.find_one({"_id": charger}))["security"]
    assert security["profile"] == 2
    assert verify_key(security["key_hash"], first.hex.encode())
    assert await events(db) == [
        (charger, "profile 0 -> 1, new key by alice", "csms", "alice"),
        (charger, "profile 1 -> 2 by bob", "csms", "bob"),
    ]


@pytest.mark.gen_test
async def test_rotating_makes_a_new_key_even_at_profile_0(services, db, charger):
    now = utcnow()
    key = await set_security(services, await services.chargers.get(charger), 0, True, "text",
                             "alice", now)  # fmt: skip
    assert key.form == "text" and len(key.text) == 20 and set(key.text) <= set(TEXT_ALPHABET)
    security = (await db.chargers.find_one({"_id": charger}))["security"]
    assert (security["profile"], security["key_form"], security["key_set_at"]) == (0, "text", now)
    assert verify_key(security["key_hash"], key.secret)
    assert key.text not in str(security)
    assert await events(db) == [(charger, "new key by alice", "csms", "alice")]


@pytest.mark.gen_test
@pytest.mark.parametrize("profile", [4, -1])
async def test_an_unknown_profile_is_refused_before_anything_is_stored(
    services, db, charger, profile
):
    doc = await services.chargers.get(charger)
    with pytest.raises(ValueError, match=r"profile must be one of \(0, 1, 2, 3\)"):
        await set_security(services, doc, profile, True, "hex", "alice", utcnow())
    assert "security" not in await db.chargers.find_one({"_id": charger})
    assert await events(db) == []


@pytest.mark.gen_test
async def test_a_charger_deleted_meanwhile_is_a_lookup_error(services, db, charger):
    doc = await services.chargers.get(charger)
    await db.chargers.delete_one({"_id": charger})
    with pytest.raises(LookupError, match="no longer exists"):
        await set_security(services, doc, 1, False, "hex", "alice", utcnow())
    assert await events(db) == []
