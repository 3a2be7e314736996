"""The fleet overview (csms.fleet): counts, the order by attention, search, filters,
markers, and keeping current from bus events and the repository's changed chargers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from csms.fleet import Fleet
from models.chargers import new_charger
from ocppj.timeutil import utcnow

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


def charger(cid: str, statuses: dict[int, str], connected: bool = True, **fields) -> dict:
    """A charger document with connector statuses (and boot info, site, position)."""
    doc = new_charger(cid, NOW) | fields
    doc["connectors"] = {
        str(n): {"status": status, "error_code": "NoError"} for n, status in statuses.items()
    }
    doc["connected"] = connected
    return doc


@pytest.fixture
def fleet(services):
    """A fleet overview that reloads only when asked (events keep it current)."""
    return Fleet(services.chargers, services.transactions, services.sites, services.bus, 3600)


async def seed(db):
    await db.sites.insert_one({"_id": "garage", "name": "North Garage"})
    await db.chargers.insert_many([
        charger("A-AVAIL", {1: "Available"}, latitude=25.1, longitude=-100.1,
                boot={"vendor": "Acme", "model": "X1", "serial": "SN-1"}),
        charger("B-CHARGE", {1: "Charging", 2: "Available"}, site="garage"),
        charger("C-FAULT", {1: "Faulted", 2: "Charging"}, latitude=25.2, longitude=-100.2),
        charger("D-OFF", {1: "Faulted"}, connected=False),
        charger("E-UNAV", {0: "Unavailable"}, boot={"vendor": "Voltix", "model": "V",
                                                   "serial": "XYZ-9"}),
    ])  # fmt: skip


@pytest.mark.gen_test
async def test_counts_and_the_order_by_what_needs_attention(fleet, db):
    await seed(db)
    await fleet.current()
    assert fleet.counts() == {
        "total": 5, "online": 4, "faulted": 1, "offline": 1, "charging": 1, "unavailable": 1,
        "available": 1, "power_w": 0.0, "energy_today_wh": 0.0,
    }  # fmt: skip
    # Faulted, offline (its stale Faulted does not count), charging, unavailable, the rest.
    assert fleet.page() == (["C-FAULT", "D-OFF", "B-CHARGE", "E-UNAV", "A-AVAIL"], 5)
    assert fleet.page(skip=1, limit=2) == (["D-OFF", "B-CHARGE"], 5)


@pytest.mark.gen_test
async def test_search_by_id_vendor_model_serial_and_site_and_filters(fleet, db):
    await seed(db)
    await fleet.current()
    assert fleet.page("voltix") == (["E-UNAV"], 1)
    assert fleet.page("sn-1") == (["A-AVAIL"], 1)
    assert fleet.page("NORTH gar") == (["B-CHARGE"], 1)  # the site's name
    assert fleet.page("garage") == (["B-CHARGE"], 1)  # its id
    assert fleet.page("fault") == (["C-FAULT"], 1)
    assert fleet.page(status="faulted") == (["C-FAULT"], 1)
    assert fleet.page(status="Faulted") == (["C-FAULT"], 1)  # a connected one's connector
    assert fleet.page(status="Charging") == (["C-FAULT", "B-CHARGE"], 2)
    assert fleet.page(status="charging") == (["B-CHARGE"], 1)
    assert fleet.page(status="offline") == (["D-OFF"], 1)
    assert fleet.page(status="online")[1] == 4
    assert fleet.page("acme", status="offline") == ([], 0)


@pytest.mark.gen_test
async def test_bus_events_keep_it_current(fleet, db, services):
    await seed(db)
    await fleet.current()
    version = fleet.version
    fleet.apply({"type": "status", "charger": "A-AVAIL", "connector": 1, "status": "Faulted"})
    fleet.apply({"type": "meter", "charger": "B-CHARGE", "connector": 1, "power_w": 7400.0})
    fleet.apply({"type": "meter", "charger": "C-FAULT", "connector": 2, "power_w": 3000.0})
    fleet.apply({"type": "disconnected", "charger": "C-FAULT"})
    fleet.apply({"type": "transaction_stopped", "charger": "B-CHARGE", "connector": 2,
                 "energy_wh": 1250})  # fmt: skip
    fleet.apply({"type": "status", "charger": "NOT-KNOWN", "connector": 1, "status": "Faulted"})
    assert fleet.version > version  # the stream sends the overview again
    counts = fleet.counts()
    assert (counts["faulted"], counts["offline"], counts["online"]) == (1, 2, 3)
    assert (counts["power_w"], counts["energy_today_wh"]) == (7400.0, 1250.0)
    assert fleet.page()[0][:3] == ["A-AVAIL", "C-FAULT", "D-OFF"]


@pytest.mark.gen_test
async def test_chargers_the_repository_changes_are_read_again(fleet, db, services):
    await seed(db)
    await fleet.current()
    await services.chargers.create("F-NEW", {"name": "Depot 7"}, NOW)
    await services.chargers.update("A-AVAIL", {"name": "Front door"})
    await services.chargers.delete_with_data("E-UNAV")
    await fleet.current()
    assert fleet.page("depot")[0] == ["F-NEW"]
    assert fleet.page("front door")[0] == ["A-AVAIL"]
    assert "E-UNAV" not in fleet.rows
    assert fleet.counts()["total"] == 5


@pytest.mark.gen_test
async def test_markers_of_the_located_chargers(fleet, db):
    await seed(db)
    await fleet.current()
    fleet.apply({"type": "meter", "charger": "C-FAULT", "connector": 2, "power_w": 11040.0})
    assert fleet.markers() == [
        ["A-AVAIL", 25.1, -100.1, "available", 0.0, ""],
        ["C-FAULT", 25.2, -100.2, "faulted", 11.0, ""],
    ]


@pytest.mark.gen_test
async def test_energy_today_counts_the_sessions_stopped_today(fleet, db):
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    await db.transactions.insert_many([
        {"_id": 1, "charger": "X", "open": False, "start_ts": today - timedelta(hours=3),
         "stop_ts": today + timedelta(minutes=1), "energy_wh": 4000},
        {"_id": 2, "charger": "X", "open": False, "start_ts": today - timedelta(hours=5),
         "stop_ts": today - timedelta(hours=1), "energy_wh": 9000},  # stopped yesterday
        {"_id": 3, "charger": "X", "open": True, "start_ts": today, "energy_wh": None},
    ])  # fmt: skip
    await fleet.current()
    assert fleet.counts()["energy_today_wh"] == 4000.0
