"""One charger never changes another charger's data; energy stays plausible.

A transaction is addressed by (charger, transactionId): readings and stops
that name another charger's transaction are kept against the sender with
transaction null and an anomaly ``foreign_transaction``, and answered as
usual. Energy beyond what a connector can deliver in the elapsed time is
never used.
"""

from __future__ import annotations

import contextlib
import math
from datetime import UTC, datetime, timedelta

import pytest

from tests.charge_points import raw_charger
from tests.meter_rows import stored_rows


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def start(ts: datetime, meter: int, connector: int = 1, tag: str = "TAG1") -> dict:
    return {"connectorId": connector, "idTag": tag, "meterStart": meter, "timestamp": iso(ts)}


def register(tx: int | None, ts: datetime, wh: float, connector: int = 1) -> dict:
    payload = {
        "connectorId": connector,
        "meterValue": [{"timestamp": iso(ts), "sampledValue": [{"value": str(wh)}]}],
    }
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
    under_tx = await stored_rows(db, {"meta.transaction": tx})
    assert [(d["meta"]["charger"], d["value"]) for d in under_tx] == [("VICTIM", 4000)]
    plant = (await stored_rows(db, {"meta.charger": "ATTACKER"}))[0]
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
async def test_an_implausible_estimate_is_not_used_for_a_superseded_session(ws_url, services, db):
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


# ---- issue 21: billing integrity ---------------------------------------------------------


def reading_at(tx: int | None, ts: datetime, text: str, unit: str = "Wh") -> dict:
    payload = {
        "connectorId": 1,
        "meterValue": [{"timestamp": iso(ts), "sampledValue": [{"value": text, "unit": unit}]}],
    }
    if tx is not None:
        payload["transactionId"] = tx
    return payload  # fmt: skip


@pytest.mark.gen_test(timeout=30)
async def test_a_reading_dated_in_2099_does_not_pin_the_last_register(ws_url, services, db):
    """The attack seen: a reading dated 2099 became the "last register" for good, so the
    session's own later readings never counted (20,000 Wh used, 0 stored)."""
    t0 = datetime.now(UTC) - timedelta(hours=2)
    async with booted(ws_url, "CP1") as cp:
        tx = (await cp.call("s1", "StartTransaction", start(t0, 1000)))[2]["transactionId"]
        pin = register(tx, datetime(2099, 1, 1, tzinfo=UTC), 1000)
        assert await cp.call("p", "MeterValues", pin) == [3, "p", {}]
        early = register(tx, t0 - timedelta(hours=1), 1000)  # before the session began
        assert await cp.call("e", "MeterValues", early) == [3, "e", {}]
        for n, minutes in enumerate((30, 60, 90)):
            wh = 1000 + 20_000 * minutes / 90
            await cp.call(f"m{n}", "MeterValues", register(tx, t0 + timedelta(minutes=minutes), wh))
        await services.flush()  # the register must not come from the database either
        services.registers.pop("CP1", tx)
        await cp.call("s2", "StartTransaction", start(t0 + timedelta(minutes=100), 21_000))
    superseded = await db.transactions.find_one({"_id": tx})
    assert (superseded["energy_wh"], superseded["last_register_wh"]) == (20_000, 21_000)
    kept = [row for row in await stored_rows(db) if "excluded" in row]
    assert [(d["ts"].year, d["value"], d["excluded"]) for d in kept] == [
        (t0.year, 1000, "before_start"), (2099, 1000, "future"),
    ]  # fmt: skip
    recorded = await anomalies(db, "CP1")
    assert ("reading_future", tx) in recorded and ("reading_before_start", tx) in recorded


@pytest.mark.gen_test(timeout=30)
async def test_a_future_reading_within_the_skew_still_counts(ws_url, services, db):
    """A charger clock a few hours fast is within --max-clock-skew-hours (default 24)."""
    t0 = datetime.now(UTC)
    async with booted(ws_url, "CP1") as cp:
        tx = (await cp.call("s1", "StartTransaction", start(t0, 0)))[2]["transactionId"]
        await cp.call("m", "MeterValues", register(tx, t0 + timedelta(hours=23), 500))
        services.settings.max_clock_skew_s = 3600
        await cp.call("n", "MeterValues", register(tx, t0 + timedelta(hours=23, seconds=1), 900))
    assert services.registers.last("CP1", tx)[1] == 500
    assert [k for k, _ in await anomalies(db, "CP1")] == ["reading_future"]


@pytest.mark.gen_test(timeout=30)
async def test_readings_planted_on_the_next_id_never_reach_the_victim(
    ws_url, http_url, services, db
):
    """The attack seen: ids are predictable, so readings were planted on the NEXT id
    before the victim's session began (1,000 Wh used, 123,416,789 stored and shown on
    the public landing page)."""
    t0 = datetime.now(UTC) - timedelta(minutes=30)
    next_id = (await services.counters.next("transactions")) + 1
    async with booted(ws_url, "VICTIM") as victim, booted(ws_url, "ATTACKER") as attacker:
        planted = register(next_id, t0 + timedelta(minutes=5), 123_416_789)
        assert await attacker.call("p", "MeterValues", planted) == [3, "p", {}]
        tx = (await victim.call("s1", "StartTransaction", start(t0, 0)))[2]["transactionId"]
        assert tx == next_id
        await victim.call("m", "MeterValues", register(tx, t0 + timedelta(minutes=10), 600))
        await attacker.call("q", "MeterValues", register(tx, t0 + timedelta(minutes=15), 9e8))
        await services.flush()
        services.registers.pop("VICTIM", tx)  # the database must not hand it out either
        stop = {
            "transactionId": tx,
            "meterStop": 1000,
            "timestamp": iso(t0 + timedelta(minutes=20)),
        }
        assert await victim.call("x", "StopTransaction", stop) == [3, "x", {}]
    closed = await db.transactions.find_one({"_id": tx})
    assert (closed["energy_wh"], closed["last_register_wh"], closed["anomalies"]) == (1000, 600, [])
    plants = await stored_rows(db, {"meta.charger": "ATTACKER"})
    assert {(d["meta"]["transaction"], d["charger_tx_id"]) for d in plants} == {(None, tx)}
    page = (await http_client_get(http_url("/ocpp/c/VICTIM/"))).body.decode()
    assert '<strong id="energy-total">1.00 kWh</strong>' in page
    assert f"#{tx}" not in page and "data-transaction" not in page
    assert "123" not in page.split("<h2>Sessions</h2>")[1]


async def http_client_get(url: str):
    from tornado.httpclient import AsyncHTTPClient

    return await AsyncHTTPClient().fetch(url, raise_error=False)


@pytest.mark.gen_test(timeout=30)
async def test_a_stop_dated_2099_cannot_widen_the_plausible_energy(ws_url, services, db):
    """The attack seen: meterStop 1,000,002,000 stored as 1,000,000,000 Wh with no anomaly
    (the session "lasted" until 2099, so 400 kW made anything plausible)."""
    t0 = datetime.now(UTC) - timedelta(minutes=30)
    async with booted(ws_url, "CP1") as cp:
        tx = (await cp.call("s1", "StartTransaction", start(t0, 2000)))[2]["transactionId"]
        stop = {"transactionId": tx, "meterStop": 1_000_002_000,
                "timestamp": "2099-01-01T00:00:00Z"}  # fmt: skip
        assert await cp.call("x", "StopTransaction", stop) == [3, "x", {}]
    closed = await db.transactions.find_one({"_id": tx})
    elapsed = (closed["updated"] - closed["start_ts"]).total_seconds()  # the server's clock
    limit = 400_000 * (elapsed + 60) / 3600
    assert closed["meter_stop"] == 1_000_002_000 and closed["energy_claimed_wh"] == 1_000_000_000
    assert closed["energy_wh"] == pytest.approx(limit) and closed["energy_wh"] < 250_000
    assert [a["kind"] for a in closed["anomalies"]] == ["stop_in_future", "implausible_energy"]
    assert closed["anomalies"][1]["claimed_wh"] == 1_000_000_000
    assert ("implausible_energy", tx) in await anomalies(db, "CP1")


@pytest.mark.gen_test(timeout=30)
async def test_a_start_dated_in_the_future_counts_from_its_arrival(ws_url, services, db):
    services.settings.max_connector_power_w = 22_000
    now = datetime.now(UTC)
    async with booted(ws_url, "CP1") as cp:
        future = start(now + timedelta(days=400), 0)
        tx = (await cp.call("s1", "StartTransaction", future))[2]["transactionId"]
        stop = {"transactionId": tx, "meterStop": 50_000,
                "timestamp": iso(now + timedelta(days=800))}  # fmt: skip
        await cp.call("x", "StopTransaction", stop)
    closed = await db.transactions.find_one({"_id": tx})
    assert [a["kind"] for a in closed["anomalies"]] == [
        "start_in_future", "stop_in_future", "implausible_energy",
    ]  # fmt: skip
    assert closed["energy_claimed_wh"] == 50_000 and closed["energy_wh"] < 22_000 * 120 / 3600


@pytest.mark.gen_test(timeout=30)
async def test_a_meter_going_backwards_is_billed_zero_and_the_claim_kept(ws_url, services, db):
    t0 = datetime.now(UTC) - timedelta(minutes=30)
    async with booted(ws_url, "CP1") as cp:
        tx = (await cp.call("s1", "StartTransaction", start(t0, 5000)))[2]["transactionId"]
        stop = {"transactionId": tx, "meterStop": 1000, "timestamp": iso(t0 + timedelta(minutes=9))}
        await cp.call("x", "StopTransaction", stop)
    closed = await db.transactions.find_one({"_id": tx})
    assert (closed["energy_wh"], closed["energy_claimed_wh"], closed["meter_stop"]) == (
        0,
        -4000,
        1000,
    )
    assert [(a["kind"], a["difference_wh"]) for a in closed["anomalies"]] == [
        ("meter_backwards", -4000)
    ]


@pytest.mark.gen_test(timeout=30)
async def test_a_value_that_overflows_in_wh_is_kept_as_text_and_never_energy(ws_url, services, db):
    """The attack seen: "1e306" kWh became energy inf ("inf kWh" on the landing page)."""
    queue = services.bus.subscribe()
    t0 = datetime.now(UTC) - timedelta(minutes=30)
    try:
        async with booted(ws_url, "CP1") as cp:
            tx = (await cp.call("s1", "StartTransaction", start(t0, 0)))[2]["transactionId"]
            await cp.call(
                "m1", "MeterValues", reading_at(tx, t0 + timedelta(minutes=5), "2.5", "kWh")
            )
            boom = reading_at(tx, t0 + timedelta(minutes=6), "1e306", "kWh")
            assert await cp.call("m2", "MeterValues", boom) == [3, "m2", {}]
            data = [{"timestamp": iso(t0 + timedelta(minutes=7)),
                     "sampledValue": [{"value": "NaN", "context": "Transaction.End"}]}]  # fmt: skip
            stop = {"transactionId": tx, "meterStop": 3000, "transactionData": data,
                    "timestamp": iso(t0 + timedelta(minutes=8))}  # fmt: skip
            assert await cp.call("x", "StopTransaction", stop) == [3, "x", {}]
    finally:
        services.bus.unsubscribe(queue)
    await services.flush()
    closed = await db.transactions.find_one({"_id": tx})
    assert (closed["energy_wh"], closed["last_register_wh"]) == (3000, 2500)
    rows = await stored_rows(db)
    odd = [row for row in rows if row.get("excluded") == "non_finite"]
    assert [(d["value"], d["raw"]) for d in odd] == [(None, "1e306"), (None, "NaN")]
    numbers = [row["value"] for row in rows if isinstance(row["value"], float)]
    assert all(math.isfinite(v) for v in numbers) and numbers == [2500.0]
    events = [queue.get_nowait() for _ in range(queue.qsize())]
    assert [e["energy_wh"] for e in events if e["type"] == "meter"] == [2500.0, None]
    kinds = [k for k, _ in await anomalies(db, "CP1")]
    assert kinds.count("reading_non_finite") == 2


@pytest.mark.gen_test(timeout=30)
async def test_a_late_stop_after_a_supersede_replaces_the_estimate(ws_url, services, db):
    """The attack seen: the real stop arriving after a new start had closed the session
    with an estimate was dropped without a trace."""
    t0 = datetime.now(UTC) - timedelta(hours=1)
    async with booted(ws_url, "CP1") as cp:
        tx = (await cp.call("s1", "StartTransaction", start(t0, 1000)))[2]["transactionId"]
        await cp.call("m", "MeterValues", register(tx, t0 + timedelta(minutes=10), 3000))
        await cp.call("s2", "StartTransaction", start(t0 + timedelta(minutes=40), 9000))
        estimated = await db.transactions.find_one({"_id": tx})
        assert (estimated["energy_wh"], estimated["stop_ts"]) == (2000, None)
        late = {"transactionId": tx, "meterStop": 9000, "reason": "EVDisconnected",
                "timestamp": iso(t0 + timedelta(minutes=30))}  # fmt: skip
        assert await cp.call("x", "StopTransaction", late) == [3, "x", {}]
        resent = {**late, "meterStop": 99_000}
        assert await cp.call("y", "StopTransaction", resent) == [3, "y", {}]
    closed = await db.transactions.find_one({"_id": tx})
    assert (closed["open"], closed["energy_wh"], closed["meter_stop"]) == (False, 8000, 9000)
    late_ts = (t0 + timedelta(minutes=30)).replace(microsecond=0)  # iso() has whole seconds
    assert (closed["stop_ts"], closed["stop_reason"]) == (late_ts, "EVDisconnected")
    assert [a["kind"] for a in closed["anomalies"]] == [
        "superseded_by_new_start", "late_stop_after_supersede",
    ]  # fmt: skip
    assert closed["anomalies"][1]["estimated_energy"] == 2000
    assert ("late_stop_after_supersede", tx) in await anomalies(db, "CP1")
