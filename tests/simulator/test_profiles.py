"""The simulated charge point obeys charging profiles: the store picks the limit in
effect, the meter charges at min(car, limit), and on a site of the Central System two
simulators share its limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from simulator import ChargePointSimulator
from simulator.meter import MeterModel
from simulator.profiles import ProfileStore
from tests.simulator.helpers import sim_config, started, wait_for

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def profile(pid, purpose, limit, unit="A", stack=0, kind="Relative", **extra):
    periods = [{"startPeriod": 0, "limit": limit}]
    return {"chargingProfileId": pid, "stackLevel": stack, "chargingProfilePurpose": purpose,
            "chargingProfileKind": kind, **extra,
            "chargingSchedule": {"chargingRateUnit": unit,
                                 "chargingSchedulePeriod": periods}}  # fmt: skip


def test_tx_profile_beats_the_default_and_the_max_profile_caps_both():
    store = ProfileStore()
    assert store.set(0, profile(1, "TxDefaultProfile", 16), None)
    assert store.limit_w(1, None, None, T0, 230, 3) == 16 * 230 * 3
    assert store.set(1, profile(2, "TxDefaultProfile", 10), None)  # the connector's own wins
    assert store.limit_w(1, 5, T0, T0, 230, 3) == 10 * 230 * 3
    assert store.set(1, profile(3, "TxProfile", 6, transactionId=5), 5)
    assert store.limit_w(1, 5, T0, T0, 230, 1) == 6 * 230
    assert store.set(0, profile(4, "ChargePointMaxProfile", 3000, unit="W"), None)
    assert store.limit_w(1, 5, T0, T0, 230, 3) == 3000
    # The same id replaces, a TxProfile needs the running transaction, Max goes on 0 only.
    assert store.set(1, profile(3, "TxProfile", 8, transactionId=5), 5)
    assert len([i for i in store.installed if i.purpose == "TxProfile"]) == 1
    assert not store.set(1, profile(9, "TxProfile", 8, transactionId=6), 5)
    assert not store.set(1, profile(9, "TxProfile", 8), None)
    assert not store.set(1, profile(9, "ChargePointMaxProfile", 8), None)
    store.end_transaction(1)
    assert [i.profile["chargingProfileId"] for i in store.installed] == [1, 2, 4]
    assert store.clear({"chargingProfilePurpose": "TxDefaultProfile", "connectorId": 1})
    assert [i.profile["chargingProfileId"] for i in store.installed] == [1, 4]
    assert not store.clear({"id": 77})
    assert store.clear({"stackLevel": 0}) and store.installed == []


def test_periods_follow_the_clock_of_their_kind():
    store = ProfileStore()
    timed = profile(1, "TxDefaultProfile", 0, kind="Absolute")
    timed["chargingSchedule"]["startSchedule"] = "2026-12-01T10:00:00Z"
    timed["chargingSchedule"]["chargingSchedulePeriod"].append({"startPeriod": 600, "limit": 20})
    store.set(1, timed, None)
    assert store.limit_w(1, None, None, T0 + timedelta(minutes=5), 230, 1) == 0
    assert store.limit_w(1, None, None, T0 + timedelta(minutes=11), 230, 1) == 20 * 230


def test_the_meter_charges_at_the_lower_of_car_and_limit():
    model = MeterModel(1000, target_wh=10_000, duration=100, voltage_v=230, phases=3)
    assert model.power_w == 360_000 and model.remaining_s(0) == 100
    model.set_limit(10, 6900)  # 10 A on three phases from 10 s on
    assert model.energy_at(10) == 1000
    assert model.power_w == 6900 and model.reading(10).current_a == 10.0
    assert model.energy_at(10 + 3600) == 1000 + 6900
    model.set_limit(3610, 0)  # paused: no more energy, never finished
    assert model.energy_at(99_999) == 7900 and model.remaining_s(99_999) == float("inf")
    model.set_limit(99_999, None)  # the car's own power again
    assert model.remaining_s(99_999) == pytest.approx(2100 * 3600 / 360_000)
    assert model.final_reading().energy_wh == 10_000


@pytest.mark.gen_test(timeout=60)
async def test_two_simulators_share_a_site_limit(http_server, http_port, services, db):
    now = datetime.now(UTC)
    await services.sites.create({"_id": "S1", "name": "S1", "limit_a": 16, "limit_w": None,
                                 "phases": 3, "voltage": 230, "reserve_a": 0, "parent": None,
                                 "tariff": None, "timezone": "UTC", "created": now,
                                 "updated": now})  # fmt: skip
    sims = [ChargePointSimulator(sim_config(http_port, f"L{n}/", duration=600,
                                            kwh_min=50, kwh_max=50, phases=3, interval=0.3))
            for n in (1, 2)]  # fmt: skip
    async with started(sims[0]), started(sims[1]):
        for n in (1, 2):
            await services.chargers.update(f"L{n}", {"site": "S1"})
            services.load_event(f"L{n}", "assign")

        async def current(cid):
            doc = await db.meter_values.find_one(
                {"meta.charger": cid, "current_a": {"$exists": True}}, sort=[("ts", -1)]
            )
            return doc and max(doc["current_a"].values())

        async def both_at_8():
            await services.meter_values.writer.flush()
            return [await current("L1"), await current("L2")] == [8.0, 8.0]

        assert await wait_for(both_at_8, 20)
        power = await db.meter_values.find_one(
            {"meta.charger": "L1", "power_w": {"$exists": True}}, sort=[("ts", -1)]
        )
        assert power["power_w"] == 8 * 230 * 3
        assert sims[0].state.sessions[1].energy_wh < 50_000
