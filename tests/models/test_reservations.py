"""ReservationRepo: ids from a counter (operator ids claimed), store/replace, status, look-ups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.counters import Counters
from models.reservations import ACCEPTED, CANCELLED, ReservationRepo

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def reservation(rid: int, charger: str = "CP1", connector: int = 1, status: str = ACCEPTED,
                expiry_min: int = 30, ts_s: int = 0) -> dict:  # fmt: skip
    return {
        "_id": rid, "charger": charger, "connector": connector, "id_tag": "abc",
        "id_tag_key": "ABC", "parent_id_tag": None,
        "expiry": NOW + timedelta(minutes=expiry_min), "status": status,
        "ts": NOW + timedelta(seconds=ts_s), "command_id": f"c{rid}", "updated": NOW,
    }  # fmt: skip


@pytest.mark.gen_test
async def test_next_id_counts_up_and_claimed_ids_are_never_handed_out(db):
    repo = ReservationRepo(db, Counters(db))
    assert await repo.next_id() == 1
    assert await repo.next_id() == 2
    await repo.claim_id(10)
    assert await repo.next_id() == 11
    await repo.claim_id(5)  # lower than what was handed out: nothing changes
    assert await repo.next_id() == 12


@pytest.mark.gen_test
async def test_store_creates_then_replaces_the_whole_document(db):
    repo = ReservationRepo(db, Counters(db))
    assert await repo.get(3) is None
    await repo.store(reservation(3))
    assert await repo.get(3) == reservation(3)
    replacement = {"_id": 3, "charger": "CP2", "connector": 2, "status": "occupied"}
    await repo.store(replacement)
    assert await repo.get(3) == replacement  # fields of the old one are gone
    assert await db.reservations.count_documents({}) == 1


@pytest.mark.gen_test
async def test_set_status_updates_existing_only(db):
    repo = ReservationRepo(db, Counters(db))
    await repo.store(reservation(1))
    later = NOW + timedelta(minutes=5)
    assert await repo.set_status(1, CANCELLED, later, command_id="cancel-1") is True
    assert await repo.get(1) == {**reservation(1), "status": CANCELLED, "updated": later,
                                 "command_id": "cancel-1"}  # fmt: skip
    assert await repo.set_status(2, CANCELLED, later) is False
    assert await repo.get(2) is None


@pytest.mark.gen_test
async def test_active_is_accepted_and_unexpired_of_one_charger_soonest_expiry_first(db):
    repo = ReservationRepo(db, Counters(db))
    await repo.store(reservation(1, expiry_min=50))
    await repo.store(reservation(2, expiry_min=10, connector=2))
    await repo.store(reservation(3, expiry_min=-1))  # expired
    await repo.store(reservation(4, status=CANCELLED))
    await repo.store(reservation(5, status="unconfirmed"))
    await repo.store(reservation(6, charger="CP2"))
    await repo.store(reservation(7, expiry_min=0))  # expires right now: not active
    assert [doc["_id"] for doc in await repo.active("CP1", NOW)] == [2, 1]
    assert [doc["_id"] for doc in await repo.active("CP1", NOW + timedelta(minutes=20))] == [1]
    assert [doc["_id"] for doc in await repo.active("CP2", NOW)] == [6]
    assert await repo.active("CP3", NOW) == []


@pytest.mark.gen_test
async def test_for_charger_is_newest_request_first_and_limited(db):
    repo = ReservationRepo(db, Counters(db))
    for rid, ts_s in ((1, 5), (2, 1), (3, 9), (4, 3)):
        await repo.store(reservation(rid, ts_s=ts_s, status=CANCELLED if rid == 3 else ACCEPTED))
    await repo.store(reservation(5, charger="CP2", ts_s=100))
    assert [doc["_id"] for doc in await repo.for_charger("CP1")] == [3, 1, 4, 2]
    assert [doc["_id"] for doc in await repo.for_charger("CP1", limit=2)] == [3, 1]
    assert [doc["_id"] for doc in await repo.for_charger("CP2")] == [5]
