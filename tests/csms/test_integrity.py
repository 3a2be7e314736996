"""One charger never changes another charger's data; energy stays plausible.

A transaction is addressed by (charger, transactionId): readings and stops
that name another charger's transaction are kept against the sender with
transaction null and an anomaly ``foreign_transaction``, and answered as
usual. Energy beyond what a connector can deliver in the elapsed time is
never used.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import pytest

from tests.charge_points import raw_charger


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def start(ts: datetime, meter: int, connector: int = 1, tag: str = "TAG1") -> dict:
    return {"connectorId": connector, "idTag": tag, "meterStart": meter, "timestamp": iso(ts)}


def register(tx: int | None, ts: datetime, wh: float, connector: int = 1) -> dict:
    payload = {"connectorId": connector,
               "meterValue": [{"timestamp": iso(ts), "sampledValue": [{"value": str(wh)}]}]}
    if tx is not None:
        payload["transactionId"] = tx
    return payload  # fmt: skip


@contextlib.asynccontextmanager
async def booted(ws_url, charger_id: str):
    async with raw_charger(ws_url(f"/{charger_id}/")) as cp:
        assert (await cp.boot())[0] == 3
        yield cp


async def anomalies(db, charger: str) -> list[tuple[str, int | None]]:
    docs = await db.anomalies.find({"charger": charger}).sort("_id", 1).to_list()
    return [(d["kind"], d.get("charger_tx_id", d.get("transaction"))) for d in docs]


@pytest.mark.gen_test(timeout=30)
async def test_a_planted_register_never_reaches_the_victims_session(ws_url, services, db):
    """The attack seen: another charger plants 999,999 kWh on the victim's transaction,
    then the victim's session is superseded by a new start."""
    t0 = datetime.now(UTC) - timedelta(minutes=30)
    async with booted(ws_url, "VICTIM") as victim, booted(ws_url, "ATTACKER") as attacker:
        tx = (await victim.call("s1", "StartTransaction", start(t0, 1000)))[2]["transactionId"]
        await victim.call("m1", "MeterValues", register(tx, t0 + timedelta(minutes=10), 4000))
        planted = register(tx, t0 + timedelta(minutes=20), 999_999_000)
        assert await attacker.call("p1", "MeterValues", planted) == [3, "p1", {}]
        # The lost stop: a new start on the same connector closes the old session.
        again = start(t0 + timedelta(minutes=25), 4000)
        second = await victim.call("s2", "StartTransaction", again)
        assert second[2]["transactionId"] != tx
    await services.flush()
    superseded = await db.transactions.find_one({"_id": tx})
    assert superseded["open"] is False
    assert superseded["energy_wh"] == 3000  # the victim's own 4000 Wh reading, not the plant
    assert superseded["last_register_wh"] == 4000
    under_tx = await db.meter_values.find({"meta.transaction": tx}).to_list()
    assert [(d["meta"]["charger"], d["value"]) for d in under_tx] == [("VICTIM", 4000)]
    plant = await db.meter_values.find_one({"meta.charger": "ATTACKER"})
    assert plant["meta"]["transaction"] is None and plant["charger_tx_id"] == tx
    assert plant["value"] == 999_999_000
    assert await anomalies(db, "ATTACKER") == [("foreign_transaction", tx)]
    assert await anomalies(db, "VICTIM") == [("superseded_by_new_start", tx)]


@pytest.mark.gen_test(timeout=30)
async def test_a_foreign_reading_is_not_published_under_the_transaction(ws_url, services, db):
    queue = services.bus.subscribe()
    try:
        t0 = datetime.now(UTC) - timedelta(minutes=5)
        async with booted(ws_url, "VICTIM") as victim, booted(ws_url, "ATTACKER") as attacker:
            tx = (await victim.call("s1", "StartTransaction", start(t0, 0)))[2]["transactionId"]
            await attacker.call("p1", "MeterValues", register(tx, t0, 5))
            await attacker.call("p2", "MeterValues", register(tx, t0 + timedelta(seconds=1), 6))
    finally:
        services.bus.unsubscribe(queue)
    events = [queue.get_nowait() for _ in range(queue.qsize())]
    meters = [e for e in events if e["type"] == "meter"]
    assert [(e["charger"], e["transaction"], e["energy_wh"]) for e in meters] == [
        ("ATTACKER", None, 5.0), ("ATTACKER", None, 6.0),
    ]  # fmt: skip
    # Recorded once per connection and id, not once per message.
    assert await anomalies(db, "ATTACKER") == [("foreign_transaction", tx)]


@pytest.mark.gen_test(timeout=30)
async def test_a_stop_for_another_chargers_transaction_changes_nothing_of_it(ws_url, services, db):
    t0 = datetime.now(UTC) - timedelta(minutes=30)
    async with booted(ws_url, "VICTIM") as victim, booted(ws_url, "ATTACKER") as attacker:
        tx = (await victim.call("s1", "StartTransaction", start(t0, 1000)))[2]["transactionId"]
        before = await db.transactions.find_one({"_id": tx})
        forged = {"transactionId": tx, "meterStop": 1_000_002_000, "timestamp": iso(t0)}
        assert await attacker.call("x", "StopTransaction", forged) == [3, "x", {}]
        assert await db.transactions.find_one({"_id": tx}) == before
        # The victim's own stop still closes it with its own figures.
        own = {"transactionId": tx, "meterStop": 6000,
               "timestamp": iso(t0 + timedelta(minutes=20))}  # fmt: skip
        assert await victim.call("y", "StopTransaction", own) == [3, "y", {}]
    closed = await db.transactions.find_one({"_id": tx})
    assert (closed["open"], closed["energy_wh"], closed["meter_stop"]) == (False, 5000, 6000)
    record = await db.transactions.find_one({"charger": "ATTACKER"})
    assert record["kind"] == "orphan_stop" and record["charger_tx_id"] == tx
    assert [a["kind"] for a in record["anomalies"]] == ["foreign_transaction"]
    assert await anomalies(db, "ATTACKER") == [("foreign_transaction", tx)]


@pytest.mark.gen_test(timeout=30)
async def test_an_implausible_estimate_is_not_used_for_a_superseded_session(
    ws_url, services, db
):
    """Its own charger's register, but more than 400 kW could deliver since the start."""
    t0 = datetime.now(UTC) - timedelta(minutes=10)
    async with booted(ws_url, "CP1") as cp:
        tx = (await cp.call("s1", "StartTransaction", start(t0, 0)))[2]["transactionId"]
        await cp.call("m1", "MeterValues", register(tx, t0 + timedelta(minutes=5), 999_999_000))
        await cp.call("s2", "StartTransaction", start(t0 + timedelta(minutes=9), 0))
    superseded = await db.transactions.find_one({"_id": tx})
    assert superseded["energy_wh"] is None and superseded["last_register_wh"] == 999_999_000
    kinds = [a["kind"] for a in superseded["anomalies"]]
    assert kinds == ["superseded_by_new_start", "implausible_register"]
    assert superseded["anomalies"][0]["estimated_energy"] is None
    recorded = await anomalies(db, "CP1")
    assert ("register_jump", tx) not in recorded  # one reading: nothing to jump from
    assert ("implausible_register", tx) in recorded


@pytest.mark.gen_test(timeout=30)
async def test_a_register_jump_beyond_the_connector_is_flagged(ws_url, services, db):
    t0 = datetime.now(UTC) - timedelta(minutes=10)
    async with booted(ws_url, "CP1") as cp:
        tx = (await cp.call("s1", "StartTransaction", start(t0, 0)))[2]["transactionId"]
        await cp.call("m1", "MeterValues", register(tx, t0 + timedelta(minutes=1), 1000))
        # 400 kW for 61 s plus a minute's slack is ~13.4 kWh: 11 kWh is fine, 50 kWh is not.
        await cp.call("m2", "MeterValues", register(tx, t0 + timedelta(minutes=2), 12_000))
        await cp.call("m3", "MeterValues", register(tx, t0 + timedelta(minutes=3), 62_000))
    jumps = await db.anomalies.find({"kind": "register_jump"}).to_list()
    assert [(j["transaction"], j["from_wh"], j["to_wh"]) for j in jumps] == [(tx, 12_000, 62_000)]


@pytest.mark.gen_test(timeout=30)
async def test_a_stop_beyond_the_connector_is_capped_and_flagged(ws_url, services, db):
    t0 = datetime.now(UTC) - timedelta(hours=1)
    services.settings.max_connector_power_w = 22_000
    async with booted(ws_url, "CP1") as cp:
        tx = (await cp.call("s1", "StartTransaction", start(t0, 1000)))[2]["transactionId"]
        stop = {"transactionId": tx, "meterStop": 1_000_002_000,
                "timestamp": iso(t0 + timedelta(minutes=30))}  # fmt: skip
        assert await cp.call("x", "StopTransaction", stop) == [3, "x", {}]
    closed = await db.transactions.find_one({"_id": tx})
    limit = 22_000 * (1800 + 60) / 3600  # 30 minutes at 22 kW, plus a minute's slack
    assert closed["meter_stop"] == 1_000_002_000  # the charger's figure is kept
    assert closed["energy_wh"] == pytest.approx(limit)
    flagged = [a for a in closed["anomalies"] if a["kind"] == "implausible_energy"]
    assert len(flagged) == 1 and flagged[0]["claimed_wh"] == 1_000_001_000
    assert ("implausible_energy", tx) in await anomalies(db, "CP1")
