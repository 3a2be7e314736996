"""Leases of several instances: named leases (one holder at a time), the charger's lease
on its document (renewed and expired in one update each), relayed events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from models.leases import EventLog, LeaseRepo, storable
from tests.models.test_chargers import make_repo

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def lease_of(instance: str, seconds: float = 10.0):
    """The ``lease`` hook of ChargerRepo as csms.instances builds it."""
    return lambda now: {"holder": instance, "held_since": now,
                        "lease_until": now + timedelta(seconds=seconds)}  # fmt: skip


@pytest.mark.gen_test
async def test_a_named_lease_has_one_holder_until_it_expires(db):
    leases = LeaseRepo(db)
    assert await leases.acquire("site:S1", "A", NOW, 10)
    assert not await leases.acquire("site:S1", "B", NOW + timedelta(seconds=5), 10)
    assert await leases.acquire("site:S1", "A", NOW + timedelta(seconds=5), 10)  # renewed
    assert not await leases.acquire("site:S1", "B", NOW + timedelta(seconds=14), 10)
    assert await leases.acquire("site:S1", "B", NOW + timedelta(seconds=16), 10)  # expired
    assert await leases.get("site:S1") == {
        "_id": "site:S1", "holder": "B", "until": NOW + timedelta(seconds=26)}  # fmt: skip
    await leases.release("site:S1", "A")  # not A's any more: nothing happens
    assert (await leases.get("site:S1"))["holder"] == "B"
    await leases.release("site:S1", "B")
    assert await leases.get("site:S1") is None


@pytest.mark.gen_test
async def test_a_connection_records_its_holder_and_renewal_and_expiry_are_one_update(db):
    on_a, on_b = make_repo(db), make_repo(db)
    on_a.lease, on_b.lease = lease_of("A"), lease_of("B")
    for charger in ("CP1", "CP2"):
        await on_a.connect(charger, f"/{charger}", NOW)
    await on_b.connect("CP3", "/CP3", NOW)
    doc = await db.chargers.find_one({"_id": "CP1"})
    assert (doc["holder"], doc["held_since"], doc["lease_until"], doc["connected"]) == (
        "A", NOW, NOW + timedelta(seconds=10), True)  # fmt: skip
    assert await on_a.renew_leases("A", NOW + timedelta(seconds=12)) == 2
    assert await on_a.held_by_others("A") == {"CP3": "B"}
    # B stopped renewing: 11 s later its charger is offline, A's are not.
    assert await on_a.expire_leases(NOW + timedelta(seconds=11)) == 1
    states = {d["_id"]: d["connected"] async for d in db.chargers.find({}, {"connected": 1})}
    assert states == {"CP1": True, "CP2": True, "CP3": False}
    assert await on_a.held_by_others("A") == {}
    # A closed CP2's socket: its lease is given up and renewals leave it offline.
    await on_a.disconnected("CP2", NOW + timedelta(seconds=1), NOW)
    assert await on_a.renew_leases("A", NOW + timedelta(seconds=14)) == 1
    doc = await db.chargers.find_one({"_id": "CP2"})
    assert (doc["connected"], doc["holder"]) == (False, None)
    # A restarts: what its earlier run held is not connected, nor what a single-instance
    # server left connected; B's documents are left alone.
    await make_repo(db).connect("CP4", "/CP4", NOW)
    await on_a.release_all("A", NOW + timedelta(seconds=20))
    assert (await db.chargers.find_one({"_id": "CP4"}))["connected"] is False
    doc = await db.chargers.find_one({"_id": "CP1"})
    assert (doc["connected"], doc["holder"]) == (False, None)
    assert (await db.chargers.find_one({"_id": "CP3"}))["holder"] == "B"


@pytest.mark.gen_test
async def test_without_the_lease_hook_a_connection_writes_no_lease_fields(db):
    repo = make_repo(db)
    await repo.connect("CP1", "/CP1", NOW)
    await repo.disconnected("CP1", NOW, NOW)
    doc = await db.chargers.find_one({"_id": "CP1"})
    assert not {"holder", "held_since", "lease_until"} & set(doc)


@pytest.mark.gen_test
async def test_events_are_recorded_for_the_other_instances_in_a_batch(db):
    log = EventLog(db, "A", interval=60)
    log.record({"type": "transaction_stopped", "charger": "CP1", "cost": Decimal("1.20")}, NOW)
    assert await db.events.count_documents({}) == 0  # batched
    await log.writer.flush()
    doc = await db.events.find_one({}, {"_id": 0})
    event = {"type": "transaction_stopped", "charger": "CP1", "cost": "1.20"}
    assert doc == {"instance": "A", "ts": NOW, "event": event}


def test_storable_makes_plain_what_bson_cannot_hold():
    assert storable({"a": Decimal("2.5"), "b": (1, {2}), 3: None}) == {
        "a": "2.5", "b": [1, [2]], "3": None}  # fmt: skip
