"""Authorization of idTags (csms.authorization): Authorize and the idTagInfo of
StartTransaction, operator decisions, require_rfid and ConcurrentTx."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from csms.authorization import tag_info
from tests.csms.charger_helpers import booted_charger, require_rfid, start


@pytest.fixture
def charger(ws_url):
    """Factory: a booted raw charger as an async context manager."""
    return booted_charger(ws_url)


@pytest.mark.gen_test
async def test_require_rfid_statuses(charger, services, db):
    await require_rfid(db)
    now = datetime.now(UTC)
    await services.rfid.upsert("GOOD", parent_id_tag="FLEET")
    await services.rfid.upsert("LATER", expiry=now + timedelta(days=1))
    await services.rfid.upsert("OLD", expiry=now - timedelta(days=1))
    await services.rfid.upsert("STOLEN", status="blocked")
    async with charger() as cp:

        async def authorize(tag):
            return (await cp.call(f"a-{tag}", "Authorize", {"idTag": tag}))[2]["idTagInfo"]

        assert await authorize("good") == {"status": "Accepted", "parentIdTag": "FLEET"}
        later = await authorize("LATER")
        assert later["status"] == "Accepted" and later["expiryDate"].endswith("Z")
        assert (await authorize("OLD"))["status"] == "Expired"
        assert (await authorize("STOLEN"))["status"] == "Blocked"
        assert await authorize("NOBODY") == {"status": "Invalid"}


@pytest.mark.gen_test
async def test_rejected_tag_still_gets_a_transaction_id(charger, db):
    await require_rfid(db)
    async with charger() as cp:
        reply = await cp.call("s", "StartTransaction", start(tag="NOBODY"))
        assert reply == [3, "s", {"transactionId": 1, "idTagInfo": {"status": "Invalid"}}]
    doc = await db.transactions.find_one({"_id": 1})
    assert doc["id_tag_info"] == {"status": "Invalid"}


@pytest.mark.gen_test
async def test_concurrent_tx_for_a_tag_already_charging(charger, services, db):
    await require_rfid(db)
    await services.rfid.upsert("GOOD")
    async with charger() as cp:
        first = await cp.call("s1", "StartTransaction", start(tag="GOOD", connector=1))
        second = await cp.call("s2", "StartTransaction", start(tag="GOOD", connector=2))
        auth = await cp.call("a", "Authorize", {"idTag": "GOOD"})
    assert first[2]["idTagInfo"] == {"status": "Accepted"}
    assert second[2]["idTagInfo"] == {"status": "ConcurrentTx"}
    assert auth[2]["idTagInfo"] == {"status": "Accepted"}  # Authorize may be for stopping


@pytest.mark.gen_test
async def test_without_require_rfid_an_unknown_tag_is_accepted(charger, services, db):
    async with charger() as cp:
        reply = await cp.call("a", "Authorize", {"idTag": "NOBODY"})
        start_reply = await cp.call("s", "StartTransaction", start(tag="NOBODY"))
    assert reply[2] == {"idTagInfo": {"status": "Accepted"}}
    assert start_reply[2]["idTagInfo"] == {"status": "Accepted"}


@pytest.mark.gen_test
async def test_operator_decisions_hold_on_every_charger_without_require_rfid(charger, services, db):
    now = datetime.now(UTC)
    await services.rfid.upsert("STOLEN", status="blocked", parent_id_tag="FLEET")
    await services.rfid.upsert("OLD", expiry=now - timedelta(days=1))
    await services.rfid.upsert("ONCE", max_active_transactions=1)
    async with charger() as cp:
        blocked = await cp.call("a", "Authorize", {"idTag": "stolen"})
        expired = await cp.call("b", "Authorize", {"idTag": "OLD"})
        started = await cp.call("s1", "StartTransaction", start(tag="STOLEN", connector=1))
        first = await cp.call("s2", "StartTransaction", start(tag="ONCE", connector=2))
        second = await cp.call("s3", "StartTransaction", start(tag="ONCE", connector=3))
    assert blocked[2] == {"idTagInfo": {"status": "Blocked", "parentIdTag": "FLEET"}}
    assert expired[2]["idTagInfo"]["status"] == "Expired"
    assert started[2]["idTagInfo"] == {"status": "Blocked", "parentIdTag": "FLEET"}
    assert first[2]["idTagInfo"] == {"status": "Accepted"}
    # A charger without require_rfid accepts any tag text: its sessions use up nothing.
    assert second[2]["idTagInfo"] == {"status": "Accepted"}
    stored = await db.transactions.find_one({"_id": started[2]["transactionId"]})
    assert stored["id_tag_info"] == {"status": "Blocked", "parentIdTag": "FLEET"}


@pytest.mark.gen_test
async def test_a_tag_expires_at_its_expiry_instant(services, db):
    expiry = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    await services.rfid.upsert("EDGE", expiry=expiry)
    before = await tag_info(services, "CP1", "EDGE", expiry - timedelta(milliseconds=1))
    at = await tag_info(services, "CP1", "EDGE", expiry)
    assert before == {"status": "Accepted", "expiryDate": "2026-01-01T12:00:00.000Z"}
    assert at == {"status": "Expired", "expiryDate": "2026-01-01T12:00:00.000Z"}


@pytest.mark.gen_test
async def test_blocked_wins_over_expired_and_keeps_the_record_fields(services, db):
    now = datetime(2026, 1, 1, tzinfo=UTC)
    await services.rfid.upsert("BAD", status="blocked", expiry=now - timedelta(days=1),
                               parent_id_tag="FLEET")  # fmt: skip
    assert await tag_info(services, "CP1", "bad", now, starting=True) == {
        "status": "Blocked", "expiryDate": "2025-12-31T00:00:00.000Z", "parentIdTag": "FLEET",
    }  # fmt: skip


@pytest.mark.gen_test
async def test_a_tag_may_hold_as_many_sessions_as_its_record_allows(charger, services, db):
    await require_rfid(db)
    await services.rfid.upsert("FLEET", max_active_transactions=2)
    async with charger() as cp:
        for n in (1, 2):
            await cp.call(f"s{n}", "StartTransaction", start(tag="FLEET", connector=n))
    now = datetime.now(UTC)
    assert await tag_info(services, "CP1", "FLEET", now, starting=True) == {
        "status": "ConcurrentTx"
    }
    assert await tag_info(services, "CP1", "FLEET", now) == {"status": "Accepted"}
    assert await tag_info(services, "OTHER", "NOBODY", now, starting=True) == {
        "status": "Accepted"
    }  # unknown tag on a charger nobody configured


@pytest.mark.gen_test
async def test_sessions_on_a_charger_without_require_rfid_never_use_up_a_tag(charger, services, db):
    """The attack: an open charger (any idTag text accepted) started a session with a
    driver's tag, and the driver's own charger, which checks tags, answered ConcurrentTx."""
    await require_rfid(db, "CHECKS")
    await db.chargers.insert_one({"_id": "OPEN", "require_rfid": False, "boot": None})
    await services.rfid.upsert("DRIVER", max_active_transactions=1)
    async with charger("/OPEN/") as attacker:
        planted = await attacker.call("s1", "StartTransaction", start(tag="DRIVER"))
        assert planted[2]["idTagInfo"] == {"status": "Accepted"}
    async with charger("/CHECKS/") as own:
        real = await own.call("s2", "StartTransaction", start(tag="DRIVER", connector=1))
        assert real[2]["idTagInfo"] == {"status": "Accepted"}
        # The other side of the rule: a session where the tag was checked does count,
        # on every charger.
        again = await own.call("s3", "StartTransaction", start(tag="DRIVER", connector=2))
        assert again[2]["idTagInfo"] == {"status": "ConcurrentTx"}
    async with charger("/OPEN/") as open_charger:
        third = await open_charger.call("s4", "StartTransaction", start(tag="DRIVER", connector=2))
        assert third[2]["idTagInfo"] == {"status": "ConcurrentTx"}
    flags = {d["charger"]: d["tag_checked"] async for d in db.transactions.find({}) if
             d["connector"] == 1}  # fmt: skip
    assert flags == {"OPEN": False, "CHECKS": True}
