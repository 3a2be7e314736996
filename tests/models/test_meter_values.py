"""MeterValueRepo: batched and immediate inserts, the last energy register, filtered search."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.batch import BatchInserter
from models.meter_values import MeterValueRepo, RecentReadings, reading_key
from ocppj.measurands import ENERGY_REGISTER

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
POWER = "Power.Active.Import"


def sample(value: float | None, at_s: int = 0, charger: str = "CP1", connector: int = 1,
           transaction: int | None = 1, measurand: str = ENERGY_REGISTER,
           phase: str | None = None) -> dict:  # fmt: skip
    return {
        "ts": NOW + timedelta(seconds=at_s),
        "meta": {"charger": charger, "connector": connector, "transaction": transaction,
                 "measurand": measurand, "phase": phase, "unit": "Wh",
                 "context": "Sample.Periodic", "location": "Outlet"},
        "value": value,
    }  # fmt: skip


def make_repo(db) -> MeterValueRepo:
    return MeterValueRepo(db, BatchInserter(db.meter_values, interval=60))


def without_ids(docs: list[dict]) -> list[dict]:
    return [{k: v for k, v in doc.items() if k != "_id"} for doc in docs]


@pytest.mark.gen_test
async def test_add_is_written_on_flush_and_insert_now_at_once(db):
    repo = make_repo(db)
    repo.add([sample(1.0), sample(2.0, at_s=1)])
    assert await db.meter_values.count_documents({}) == 0
    await repo.insert_now([sample(3.0, at_s=2)])
    await repo.insert_now([])  # nothing to write is not an error
    assert without_ids(await db.meter_values.find({}).to_list()) == [
        {"ts": NOW + timedelta(seconds=2),
         "meta": {"charger": "CP1", "connector": 1, "transaction": 1},
         "samples": [{"value": 3.0, "measurand": ENERGY_REGISTER, "phase": None, "unit": "Wh",
                      "context": "Sample.Periodic", "location": "Outlet"}],
         "energy_wh": 3.0}
    ]  # fmt: skip
    await repo.flush()
    assert await db.meter_values.count_documents({}) == 3


@pytest.mark.gen_test
async def test_last_energy_register_of_a_charger_and_transaction(db):
    repo = make_repo(db)
    assert await repo.last_energy_register("CP1", 1) is None
    await repo.insert_now([
        sample(1000.0, at_s=0), sample(1500.0, at_s=20), sample(1200.0, at_s=10),
        sample(9000.0, at_s=30, phase="L1"),  # a phase, not the whole meter
        sample(8000.0, at_s=40, measurand=POWER),
        sample(7000.0, at_s=50, transaction=2),
        sample(6000.0, at_s=60, charger="CP2"),  # another charger's transaction 1
    ])  # fmt: skip
    assert await repo.last_energy_register("CP1", 1) == 1500.0
    assert await repo.last_energy_register("CP1", 2) == 7000.0
    assert await repo.last_energy_register("CP2", 1) == 6000.0
    assert await repo.last_energy_register("CP2", 2) is None


@pytest.mark.gen_test
async def test_last_energy_register_counts_a_missing_phase_as_whole_meter(db):
    repo = make_repo(db)
    doc = sample(42.0)
    del doc["meta"]["phase"]
    await repo.insert_now([doc, sample(1.0, at_s=-5)])
    assert await repo.last_energy_register("CP1", 1) == 42.0


@pytest.mark.gen_test
async def test_last_energy_register_skips_a_newer_reading_that_is_not_a_number(db):
    # Found by this test: a sampled value that is not a number (SignedData, stored with value
    # None and its text in "raw") hid every numeric register before it after a restart;
    # csms/metering.latest(), the in-memory counterpart, skips it, and so does the query now.
    repo = make_repo(db)
    signed = sample(None, at_s=60) | {"raw": "OCMF|{...}", "format": "SignedData"}
    await repo.insert_now([sample(1500.0, at_s=0), signed])
    assert await repo.last_energy_register("CP1", 1) == 1500.0


@pytest.mark.gen_test
async def test_search_filters_newest_first_with_total(db):
    repo = make_repo(db)
    await repo.insert_now([
        sample(1.0, at_s=0), sample(2.0, at_s=10, measurand=POWER),
        sample(3.0, at_s=20, connector=2, transaction=2), sample(4.0, at_s=30),
        sample(5.0, at_s=40, charger="CP2", transaction=None),
    ])  # fmt: skip

    async def values(**kwargs):
        page, total = await repo.search(**kwargs)
        return [doc["value"] for doc in page], total

    assert await values() == ([5.0, 4.0, 3.0, 2.0, 1.0], 5)
    assert await values(charger="CP1") == ([4.0, 3.0, 2.0, 1.0], 4)
    assert await values(charger="CP1", connector=2) == ([3.0], 1)
    assert await values(transaction=1) == ([4.0, 2.0, 1.0], 3)
    assert await values(transaction=1, measurand=ENERGY_REGISTER) == ([4.0, 1.0], 2)
    window = {"ts_from": NOW + timedelta(seconds=10), "ts_to": NOW + timedelta(seconds=30)}
    assert await values(**window) == ([3.0, 2.0], 2)  # from inclusive, to exclusive
    assert await values(ts_from=NOW + timedelta(seconds=30)) == ([5.0, 4.0], 2)
    assert await values(ts_to=NOW + timedelta(seconds=10)) == ([1.0], 1)
    assert await values(charger="CP1", skip=1, limit=2) == ([3.0, 2.0], 4)
    assert await values(charger="CP3") == ([], 0)
    page, _ = await repo.search(charger="CP2")
    assert without_ids(page) == [sample(5.0, at_s=40, charger="CP2", transaction=None)]


@pytest.mark.gen_test
async def test_add_new_keeps_each_reading_key_once(db):
    repo = make_repo(db)
    repo.recent = RecentReadings(horizon=NOW - timedelta(days=1))  # memory covers these
    first = [sample(10, 0), sample(11, 0, phase="L1"), sample(10, 0)]
    assert await repo.add_new(first) == first[:2]  # the same key twice in one message
    assert await repo.add_new([sample(10, 0), sample(12, 60)]) == [sample(12, 60)]
    assert len(repo.recent) == 3
    # Another charger's or connector's reading of the same instant is its own.
    other = [sample(10, 0, charger="CP2"), sample(10, 0, connector=2)]
    assert await repo.add_new(other) == other


@pytest.mark.gen_test
async def test_add_new_asks_the_database_below_the_horizon(db):
    repo = make_repo(db)
    stored = sample(10, 0)
    stored["ts"] = stored["ts"].replace(microsecond=123_456)  # the database keeps ms
    await repo.insert_now([dict(stored)])
    repo.recent = RecentReadings(horizon=NOW + timedelta(days=1))  # "after a restart"
    again = dict(stored, ts=stored["ts"].replace(microsecond=123_999))
    assert await repo.add_new([again, sample(11, 1)]) == [sample(11, 1)]
    # Memory covers what it has seen since: no second question to the database needed.
    assert reading_key(sample(11, 1)) in repo.recent


def test_recent_readings_move_the_horizon_past_what_they_forget():
    recent = RecentReadings(capacity=2, horizon=NOW)
    for at_s in (300, 100, 200):
        recent.add(reading_key(sample(1, at_s)))
    assert recent.horizon == NOW + timedelta(seconds=300)  # the first one was evicted
    assert reading_key(sample(1, 300)) not in recent and len(recent) == 2


def test_a_reading_dated_2099_never_moves_the_horizon_past_the_clock():
    """Else every later reading would be checked against the database."""
    recent = RecentReadings(capacity=1, horizon=NOW)
    future = sample(1, 0)
    future["ts"] = datetime(2099, 1, 1, tzinfo=UTC)
    recent.add(reading_key(future))
    recent.add(reading_key(sample(1, 60)))
    assert NOW < recent.horizon <= datetime.now(UTC)


@pytest.mark.gen_test
async def test_a_reading_is_one_measurement_with_its_common_values_as_numbers(db):
    """Twelve sampled values of a 3-phase reading: one document; the rows read unchanged."""
    repo = make_repo(db)

    def value(measurand: str, number: float | None, unit: str, phase: str | None = None,
              **extra) -> dict:  # fmt: skip
        doc = sample(number, measurand=measurand, phase=phase)
        doc["meta"]["unit"] = unit
        return {**doc, **extra}

    rows = [
        value(ENERGY_REGISTER, 5000.0, "Wh"),
        value(POWER, 11000.0, "W"),
        value("SoC", 62.0, "Percent"),
        *(value("Current.Import", 16.0, "A", phase) for phase in ("L1", "L2", "L3")),
        *(value("Voltage", 230.0, "V", phase) for phase in ("L1-N", "L2-N", "L3-N")),
        value("Temperature", 31.0, "Celsius"),
        value(ENERGY_REGISTER, None, "Wh", raw="ab12==", format="SignedData"),
        value(POWER, 9000.0, "W", excluded="future"),  # never the measurement's power
    ]
    await repo.insert_now(rows)
    (doc,) = await db.meter_values.find({}, {"_id": 0, "samples": 0}).to_list()
    assert doc == {
        "ts": NOW, "meta": {"charger": "CP1", "connector": 1, "transaction": 1},
        "energy_wh": 5000.0, "power_w": 11000.0, "soc": 62.0,
        "current_a": {"L1": 16.0, "L2": 16.0, "L3": 16.0},
        "voltage_v": {"L1-N": 230.0, "L2-N": 230.0, "L3-N": 230.0},
    }  # fmt: skip
    assert await repo.search(charger="CP1") == (rows, 12)
    assert await repo.search(charger="CP1", measurand=POWER) == ([rows[1], rows[-1]], 2)
    assert await repo.search(charger="CP1", skip=9, limit=5) == (rows[9:], 12)
    assert await repo.series(1, "energy_wh", charger="CP1") == [(NOW, 5000.0)]
    assert await repo.series(1, "power_w", charger="CP2") == []
