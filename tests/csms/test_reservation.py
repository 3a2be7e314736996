"""ReserveNow and CancelReservation (csms/reservation.py)."""

from __future__ import annotations

import pytest

from csms.remote import ParameterError, perform
from ocppj.timeutil import format_datetime
from tests.csms.test_remote import booted, check, soon

# --- reservations ----------------------------------------------------------------


@pytest.mark.gen_test(timeout=20)
async def test_reservations_are_stored_with_status_and_expiry(ws_url, services, registry, db):
    expiry = soon()
    params = {"connector_id": 1, "expiry_date": expiry.isoformat(), "id_tag": "TAG1"}
    await db.reservations.insert_one({"_id": 50, "charger": "CP9", "status": "accepted"})
    async with booted(ws_url) as cp:
        with pytest.raises(ParameterError) as past:
            await perform(
                services, registry, "CP1", "reserve_now",
                {**params, "expiry_date": "2020-01-01T00:00:00Z"},
            )  # fmt: skip
        assert past.value.field == "expiry_date"
        with pytest.raises(ParameterError) as other:
            await perform(services, registry, "CP1", "cancel_reservation", {"reservation_id": 50})
        assert other.value.field == "reservation_id"
        first = await perform(services, registry, "CP1", "reserve_now", params)
        payload = {
            "connectorId": 1, "expiryDate": format_datetime(expiry), "idTag": "TAG1",
            "reservationId": 1,
        }  # fmt: skip
        await check(db, cp, first, "reserve_now", "ReserveNow", payload, "accepted")
        assert (await db.commands.find_one({"_id": first.command_id}))["reservation_id"] == 1
        cp.replies["ReserveNow"] = {"status": "Occupied"}
        occupied = await perform(
            services, registry, "CP1", "reserve_now", {**params, "parent_id_tag": "P"}
        )
        assert occupied.status == "rejected"
        assert occupied.request["reservationId"] == 2
        assert occupied.request["parentIdTag"] == "P"
        # Re-using id 1 for a refused request keeps the accepted reservation.
        cp.replies["ReserveNow"] = {"status": "Rejected"}
        await perform(services, registry, "CP1", "reserve_now", {**params, "reservation_id": 1})
        assert cp.frames[-1][3]["reservationId"] == 1
        cancelled = await perform(
            services, registry, "CP1", "cancel_reservation", {"reservation_id": 1}
        )
        await check(db, cp, cancelled, "cancel_reservation", "CancelReservation",
                    {"reservationId": 1}, "accepted")  # fmt: skip
        # An operator-chosen id moves the counter past it.
        await perform(services, registry, "CP1", "reserve_now", {**params, "reservation_id": 9})
        cp.replies["ReserveNow"] = {"status": "Accepted"}
        after = await perform(services, registry, "CP1", "reserve_now", params)
        assert after.request["reservationId"] == 10
    one = await db.reservations.find_one({"_id": 1})
    assert one["status"] == "cancelled"
    assert one["expiry"] == expiry
    assert one["id_tag"] == "TAG1"
    assert one["command_id"] == first.command_id
    assert one["cancel_command_id"] == cancelled.command_id
    two = await db.reservations.find_one({"_id": 2})
    assert (two["status"], two["parent_id_tag"], two["connector"]) == ("occupied", "P", 1)
    assert (await db.reservations.find_one({"_id": 9}))["status"] == "rejected"
    assert (await db.reservations.find_one({"_id": 10}))["status"] == "accepted"


@pytest.mark.gen_test(timeout=20)
async def test_reserve_now_sends_the_tags_parent_from_its_record(ws_url, services, registry, db):
    """Without a parent_id_tag given, the tag's own record supplies parentIdTag."""
    await services.rfid.upsert("DRIVER", parent_id_tag="FLEET7")
    params = {"connector_id": 1, "expiry_date": soon().isoformat(), "id_tag": "driver"}
    async with booted(ws_url) as cp:
        from_record = await perform(services, registry, "CP1", "reserve_now", params)
        given = await perform(
            services, registry, "CP1", "reserve_now", {**params, "parent_id_tag": "OTHER"}
        )
        anyone = await perform(
            services, registry, "CP1", "reserve_now", {**params, "id_tag": "nobody"}
        )
    sent = [frame[3] for frame in cp.frames if frame[2] == "ReserveNow"]
    assert [p.get("parentIdTag") for p in sent] == ["FLEET7", "OTHER", None]
    assert from_record.request["parentIdTag"] == "FLEET7" and given.ok and anyone.ok
    stored = await db.reservations.find_one({"_id": from_record.request["reservationId"]})
    assert stored["parent_id_tag"] == "FLEET7"
