"""MeterValues (csms.metering): one numeric document per sampled value, units
normalised, values of a transaction the sender does not own kept against the sender."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from csms.metering import latest, sample_documents
from models.meter_values import RecentReadings
from ocppj.measurands import ENERGY_REGISTER, POWER
from tests.csms.charger_helpers import booted_charger, reading
from tests.meter_rows import stored_rows


@pytest.fixture
def charger(ws_url):
    """Factory: a booted raw charger as an async context manager."""
    return booted_charger(ws_url)


@pytest.mark.gen_test
async def test_meter_values_units_and_signed_data(charger, services, db):
    async with charger() as cp:
        mv = {"connectorId": 2, "meterValue": [{"timestamp": "2026-01-01T10:00:00Z",
              "sampledValue": [
                  {"value": "11", "measurand": "Power.Active.Import", "unit": "kW",
                   "phase": "L1", "location": "Inlet"},
                  {"value": "16.5", "measurand": "Current.Import", "unit": "A"},
                  {"value": "ab12==", "format": "SignedData"},
              ]}]}  # fmt: skip
        assert await cp.call("m", "MeterValues", mv) == [3, "m", {}]
    await services.flush()
    docs = await stored_rows(db)
    by_measurand = {(d["meta"]["measurand"], d.get("format")): d for d in docs}
    power = by_measurand[("Power.Active.Import", None)]
    assert power["value"] == 11000.0
    assert power["meta"] == {
        "charger": "CP1", "connector": 2, "transaction": None, "measurand": "Power.Active.Import",
        "phase": "L1", "unit": "W", "context": "Sample.Periodic", "location": "Inlet",
    }  # fmt: skip
    assert by_measurand[("Current.Import", None)]["value"] == 16.5
    signed = by_measurand[("Energy.Active.Import.Register", "SignedData")]
    assert (signed["value"], signed["raw"]) == (None, "ab12==")
    charger_doc = await db.chargers.find_one({"_id": "CP1"})
    assert charger_doc["last_meter_values"]["connectorId"] == 2


@pytest.mark.gen_test
async def test_meter_values_for_unknown_transaction_are_kept_and_flagged(charger, services, db):
    async with charger() as cp:
        mv = {"connectorId": 1, "transactionId": 4242,
              "meterValue": [reading("2026-01-01T10:00:00Z", "10")]}  # fmt: skip
        assert await cp.call("m1", "MeterValues", mv) == [3, "m1", {}]
        mv["meterValue"] = [reading("2026-01-01T10:01:00Z", "11")]
        assert await cp.call("m2", "MeterValues", mv) == [3, "m2", {}]
    await services.flush()
    # Kept against the sender, not under an id nobody owns; the claimed id stays visible.
    assert await db.meter_values.count_documents({"meta.transaction": 4242}) == 0
    kept = await db.meter_values.find({"charger_tx_id": 4242}).to_list()  # one per reading
    assert [(d["meta"]["charger"], d["meta"]["transaction"]) for d in kept] == [("CP1", None)] * 2
    assert await db.anomalies.count_documents({"kind": "meter_values_unknown_transaction"}) == 1


def test_sampled_values_get_the_spec_defaults():
    docs = sample_documents(
        [{"timestamp": "2026-01-01T10:00:00+01:00", "sampledValue": [{"value": "12.5"}]}],
        "CP1", 1, 7,
    )  # fmt: skip
    assert docs == [{
        "ts": datetime(2026, 1, 1, 9, 0, tzinfo=UTC),
        "meta": {"charger": "CP1", "connector": 1, "transaction": 7,
                 "measurand": "Energy.Active.Import.Register", "phase": None, "unit": "Wh",
                 "context": "Sample.Periodic", "location": "Outlet"},
        "value": 12.5,
    }]  # fmt: skip


@pytest.mark.parametrize(
    ("unit", "value", "normalised"),
    [("kvarh", "1.5", ("varh", 1500.0)), ("kvar", "2", ("var", 2000.0)),
     ("kVA", "0.25", ("VA", 250.0)), ("V", "230", ("V", 230.0)),
     ("Percent", "80", ("Percent", 80.0))],
)  # fmt: skip
def test_kilo_units_are_normalised_and_others_kept(unit, value, normalised):
    [doc] = sample_documents([reading("2026-01-01T10:00:00Z", value, unit)], "CP1", 1, None)
    assert (doc["meta"]["unit"], doc["value"]) == normalised


@pytest.mark.parametrize("text", ["12,5", ""])
def test_a_value_that_is_no_number_is_kept_raw(text):
    [doc] = sample_documents([reading("2026-01-01T10:00:00Z", text, "kWh")], "CP1", 1, None)
    assert (doc["value"], doc["raw"], doc["format"]) == (None, text, "Raw")
    assert doc["meta"]["unit"] == "Wh" and "excluded" not in doc


@pytest.mark.parametrize(
    ("text", "unit"),
    [("NaN", "Wh"), ("inf", "kWh"), ("-Infinity", "Wh"), ("1e306", "kWh"), ("-1e306", "kvarh")],
)
def test_a_number_that_is_not_finite_once_scaled_is_kept_as_text_only(text, unit):
    """ "1e306" kWh is finite, but not in Wh: it must never become inf."""
    [doc] = sample_documents([reading("2026-01-01T10:00:00Z", text, unit)], "CP1", 1, 7)
    assert (doc["value"], doc["raw"], doc["excluded"]) == (None, text, "non_finite")
    assert "format" not in doc
    assert latest([doc], doc["meta"]["measurand"]) is None


def test_latest_is_the_newest_whole_meter_number_of_a_measurand():
    docs = sample_documents(
        [{"timestamp": "2026-01-01T10:00:00Z", "sampledValue": [{"value": "100"}]},
         {"timestamp": "2026-01-01T10:05:00Z",
          "sampledValue": [{"value": "300", "phase": "L1"}, {"value": "x", "format": "SignedData"},
                           {"value": "7", "measurand": "Power.Active.Import"}]},
         {"timestamp": "2026-01-01T10:02:00Z", "sampledValue": [{"value": "0.2", "unit": "kWh"}]}],
        "CP1", 1, None,
    )  # fmt: skip
    assert latest(docs, ENERGY_REGISTER) == (datetime(2026, 1, 1, 10, 2, tzinfo=UTC), 200.0)
    assert latest(docs, POWER) == (datetime(2026, 1, 1, 10, 5, tzinfo=UTC), 7.0)
    assert latest(docs, "Voltage") is None


@pytest.mark.gen_test
async def test_meter_values_are_published_with_energy_and_power(charger, services):
    queue = services.bus.subscribe()
    try:
        async with charger() as cp:
            mv = {"connectorId": 2, "meterValue": [{"timestamp": "2026-01-01T10:00:00Z",
                  "sampledValue": [{"value": "1.5", "unit": "kWh"},
                                   {"value": "7.4", "measurand": "Power.Active.Import",
                                    "unit": "kW"}]}]}  # fmt: skip
            assert await cp.call("m", "MeterValues", mv) == [3, "m", {}]
            voltage = reading("2026-01-01T10:00:00Z", "230", "V", measurand="Voltage")
            mv = {"connectorId": 1, "meterValue": [voltage]}
            assert await cp.call("v", "MeterValues", mv) == [3, "v", {}]
    finally:
        services.bus.unsubscribe(queue)
    events = [queue.get_nowait() for _ in range(queue.qsize())]
    published = [event for event in events if event["type"] == "meter"]
    assert published == [
        {"type": "meter", "charger": "CP1", "connector": 2, "transaction": None,
         "energy_wh": 1500.0, "power_w": 7400.0},
        {"type": "meter", "charger": "CP1", "connector": 1, "transaction": None,
         "energy_wh": None, "power_w": None},
    ]  # fmt: skip


@pytest.mark.gen_test
async def test_meter_values_resent_after_a_lost_reply_are_stored_once(charger, services, db):
    """The attack seen: a MeterValues resent after a lost reply (on a new connection,
    so the CALL cache does not know it) was stored twice."""
    mv = {"connectorId": 1, "meterValue": [
        {"timestamp": "2026-01-01T10:00:00Z", "sampledValue": [
            {"value": "100"}, {"value": "7", "measurand": "Power.Active.Import"},
            {"value": "3", "measurand": "Power.Active.Import", "phase": "L1"},
            {"value": "90", "location": "Inlet"},
            {"value": "100", "context": "Sample.Clock"},
        ]}]}  # fmt: skip
    async with charger() as cp:
        assert await cp.call("m1", "MeterValues", mv) == [3, "m1", {}]
    async with charger() as cp:  # the reply was lost: the charger reconnects and resends
        assert await cp.call("m1", "MeterValues", mv) == [3, "m1", {}]
        assert await cp.call("m2", "MeterValues", mv) == [3, "m2", {}]
        mv["meterValue"].append(reading("2026-01-01T10:01:00Z", "110"))
        assert await cp.call("m3", "MeterValues", mv) == [3, "m3", {}]
    await services.flush()
    # After a restart memory is empty: the database says what was stored.
    services.meter_values.recent = RecentReadings()
    async with charger() as cp:
        assert await cp.call("m3", "MeterValues", mv) == [3, "m3", {}]
    await services.flush()
    docs = sorted(await stored_rows(db), key=lambda d: (d["ts"], d["value"]))
    assert [(d["ts"].minute, d["meta"]["measurand"][:5], d["meta"]["phase"],
             d["meta"]["location"], d["meta"]["context"], d["value"]) for d in docs] == [
        (0, "Power", "L1", "Outlet", "Sample.Periodic", 3.0),
        (0, "Power", None, "Outlet", "Sample.Periodic", 7.0),
        (0, "Energ", None, "Inlet", "Sample.Periodic", 90.0),
        (0, "Energ", None, "Outlet", "Sample.Periodic", 100.0),
        (0, "Energ", None, "Outlet", "Sample.Clock", 100.0),
        (1, "Energ", None, "Outlet", "Sample.Periodic", 110.0),
    ]  # fmt: skip
