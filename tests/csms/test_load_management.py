"""Load management end to end: chargers of the ``ocpp`` library on a real database.

Every TxProfile a charger receives is checked the moment it arrives: the limits the
chargers of the site hold then never sum above the site's limit, and each is 0 or at
least 6 A.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import pytest
import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action

from csms.smart_charging import LOAD_PROFILE_ID, LOAD_STACK_LEVEL
from tests.charge_points import OCPP16


class Board:
    """What every charger of a test holds: (charger, connector) -> (transaction, limit)."""

    def __init__(self, limit: float):
        self.limit = limit
        self.holding: dict[tuple[str, int], tuple[int | None, float]] = {}
        self.defaults: dict[str, float] = {}
        self.log: list[tuple[str, int, float]] = []
        self.open: set[int] = set()
        self.violations: list[str] = []

    def receive(self, charger: str, connector: int, profile: dict) -> None:
        """A profile arrived: record it and check the sum of what open sessions hold."""
        limit = float(profile["charging_schedule"]["charging_schedule_period"][0]["limit"])
        purpose = profile["charging_profile_purpose"]
        if purpose == "TxDefaultProfile":
            self.defaults[charger] = limit
            return
        self.holding[(charger, connector)] = (profile.get("transaction_id"), limit)
        self.log.append((charger, connector, limit))
        # The TxProfiles of open sessions (a session without one yet holds none).
        total = sum(lim for tx, lim in self.holding.values() if tx in self.open)
        if total > self.limit + 1e-6:
            self.violations.append(f"{total} A > {self.limit} A after {charger} got {limit}")
        if 0 < limit < 6:
            self.violations.append(f"{charger} got {limit} A")

    def limit_of(self, charger: str, connector: int = 1) -> float | None:
        """The TxProfile limit a charger's connector holds."""
        held = self.holding.get((charger, connector))
        return None if held is None else held[1]


class Charger(ChargePoint):
    """Answers SetChargingProfile with ``answer`` and reports it to the board."""

    board: Board
    answer = "Accepted"

    @on(Action.set_charging_profile)
    async def on_set_charging_profile(self, connector_id, cs_charging_profiles, **_):
        if self.answer == "Accepted":
            self.board.receive(self.id, connector_id, cs_charging_profiles)
        return call_result.SetChargingProfile(status=self.answer)

    @on(Action.clear_charging_profile)
    async def on_clear_charging_profile(self, **_):
        return call_result.ClearChargingProfile(status="Accepted")


@contextlib.asynccontextmanager
async def chargers(url, board, ids, answers=None):
    """Connected, booted chargers, by id."""
    async with contextlib.AsyncExitStack() as stack:
        found = {}
        for cid in ids:
            ws = await stack.enter_async_context(
                websockets.connect(url(f"/{cid}"), subprotocols=OCPP16)
            )
            cp = Charger(cid, ws)
            cp.board = board
            cp.answer = (answers or {}).get(cid, "Accepted")
            task = asyncio.create_task(cp.start())
            stack.callback(task.cancel)
            await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
            found[cid] = cp
        yield found


async def make_site(services, site_id="S1", limit_a=32, parent=None, chargers=()):
    now = datetime.now(UTC)
    await services.sites.create({"_id": site_id, "name": site_id, "limit_a": limit_a,
                                 "limit_w": None, "phases": 3, "voltage": 230, "reserve_a": 0,
                                 "parent": parent, "tariff": None, "timezone": "UTC",
                                 "created": now, "updated": now})  # fmt: skip
    services.load.site_changed(site_id)
    for cid in chargers:
        await services.chargers.update(cid, {"site": site_id})
        services.load_event(cid, "assign")


async def start(cp, board, connector=1, tag="T1"):
    reply = await cp.call(call.StartTransaction(
        connector_id=connector, id_tag=tag, meter_start=0,
        timestamp=datetime.now(UTC).isoformat().replace("+00:00", "Z")))  # fmt: skip
    board.open.add(reply.transaction_id)
    return reply.transaction_id


async def stop(cp, board, tx):
    board.open.discard(tx)
    await cp.call(call.StopTransaction(
        transaction_id=tx, meter_stop=1000,
        timestamp=datetime.now(UTC).isoformat().replace("+00:00", "Z")))  # fmt: skip


async def until(predicate, timeout=8.0):
    """Wait for ``predicate()`` to hold (a condition on received frames, not a duration)."""
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 (frames of another library's task)
            await asyncio.sleep(0.02)


@pytest.mark.gen_test(timeout=60)
async def test_three_chargers_share_32_a_and_are_raised_after_a_stop(ws_url, services, db):
    board = Board(32)
    async with chargers(ws_url, board, ["A", "B", "C"]) as cps:
        await make_site(services, chargers=["A", "B", "C"])
        await until(lambda: len(board.defaults) == 3)
        assert board.defaults == {"A": 10.6, "B": 10.6, "C": 10.6}
        tx_a = await start(cps["A"], board)
        await until(lambda: board.limit_of("A") == 32)
        tx_b = await start(cps["B"], board)
        await until(lambda: board.limit_of("A") == 16 and board.limit_of("B") == 16)
        await start(cps["C"], board)
        await until(lambda: [board.limit_of(c) for c in "ABC"] == [10.6] * 3)
        assert board.log.index(("A", 1, 10.6)) < board.log.index(("C", 1, 10.6))
        await stop(cps["A"], board, tx_a)
        await until(lambda: board.limit_of("B") == 16 and board.limit_of("C") == 16)
        assert board.violations == []
        await services.load.idle()
        # Stored: the profiles, and the decision of every recomputation.
        stored = await db.charging_profiles.find({"charger": "B", "connector": 1}).to_list()
        assert [(p["profile_id"], p["stack_level"], p["transaction_id"]) for p in stored] == [
            (LOAD_PROFILE_ID + 1, LOAD_STACK_LEVEL, tx_b)
        ]
        assert stored[0]["profile"]["chargingSchedule"] == {
            "chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}]
        }  # fmt: skip
        await services.load.idle()
        latest = await services.allocations.latest("S1")
        assert latest["capacity_a"] == 32.0 and latest["allocated_a"] == 32.0
        assert sorted((r["charger"], r["limit_a"]) for r in latest["connectors"]) == [
            ("B", 16.0), ("C", 16.0)
        ]  # fmt: skip


@pytest.mark.gen_test(timeout=60)
async def test_lowering_the_limit_lowers_everyone_before_raising_anyone(ws_url, services, db):
    board = Board(32)
    async with chargers(ws_url, board, ["A", "B", "C", "D"]) as cps:
        await make_site(services, chargers=["A", "B", "C", "D"])
        for cid in "ABCDE"[:4]:
            await start(cps[cid], board)
        # 32 A for four: 8 A each.
        await until(lambda: [board.limit_of(c) for c in "ABCD"] == [8.0] * 4)
        mark = len(board.log)
        await services.sites.update("S1", {"limit_a": 16})
        services.load.site_changed("S1")
        # 16 A: two at 8 A, the two newest paused (never four at 4 A).
        await until(lambda: [board.limit_of(c) for c in "ABCD"] == [8.0, 8.0, 0.0, 0.0])
        board.limit = 16  # the lowers are in: from now on the sum stays within 16 A
        assert sorted(board.log[mark:]) == [("C", 1, 0.0), ("D", 1, 0.0)]
        board.limit = 20
        await services.sites.update("S1", {"limit_a": 20})
        services.load.site_changed("S1")
        await until(lambda: [board.limit_of(c) for c in "ABCD"] == [6.6, 6.6, 6.6, 0.0])
        after = board.log[mark + 2 :]
        lowers = [i for i, (c, _, lim) in enumerate(after) if c in "AB"]
        raises = [i for i, (c, _, lim) in enumerate(after) if c == "C"]
        assert max(lowers) < min(raises)
        assert board.violations == []


@pytest.mark.gen_test(timeout=60)
async def test_a_rejecting_charger_counts_at_full_rating_and_is_flagged(ws_url, services, db):
    board = Board(48)
    async with chargers(ws_url, board, ["A", "B"], answers={"A": "Rejected"}) as cps:
        await make_site(services, limit_a=48, chargers=["A", "B"])
        await start(cps["A"], board)
        await start(cps["B"], board)

        async def flagged():
            doc = await services.chargers.get("A")
            return doc.get("profiles_rejected")

        async with asyncio.timeout(8):
            while not await flagged():  # noqa: ASYNC110 (a stored flag, no event to wait on)
                await asyncio.sleep(0.02)
        # A takes its 32 A whatever we say; B gets the 16 A left.
        await until(lambda: board.limit_of("B") == 16)
        await services.load.idle()
        latest = await services.allocations.latest("S1")
        rows = {r["charger"]: (r["limit_a"], r["state"]) for r in latest["connectors"]}
        assert rows["A"] == (32.0, "rejecting") and rows["B"][0] == 16.0
        assert board.limit_of("A") is None  # nothing it refused is counted as held


@pytest.mark.gen_test(timeout=60)
async def test_nested_circuit_holds_inside_its_site(ws_url, services, db):
    board = Board(40)
    async with chargers(ws_url, board, ["A", "B", "C"]) as cps:
        await make_site(services, "S1", 40, chargers=["C"])
        await make_site(services, "C1", 16, parent="S1", chargers=["A", "B"])
        for cid in "ABC":
            await start(cps[cid], board)
        await until(lambda: [board.limit_of(c) for c in "ABC"] == [8.0, 8.0, 24.0])
        assert board.limit_of("A") + board.limit_of("B") <= 16
        assert board.violations == []


@pytest.mark.gen_test(timeout=60)
async def test_a_reconnecting_charger_gets_its_profile_again(ws_url, services, db):
    board = Board(32)
    async with chargers(ws_url, board, ["A", "B"]) as cps:
        await make_site(services, chargers=["A", "B"])
        await start(cps["A"], board)
        await start(cps["B"], board)
        await until(lambda: board.limit_of("A") == 16 and board.limit_of("B") == 16)
        await services.load.idle()  # the answers are in: stored as accepted
    board.holding.clear()
    board.defaults.clear()
    async with chargers(ws_url, board, ["A"]):
        await until(lambda: board.limit_of("A") == 16 and "A" in board.defaults)
        assert board.defaults == {"A": 16.0}
        assert board.limit_of("B") is None  # B did not reconnect and got nothing


@pytest.mark.gen_test(timeout=60)
async def test_an_offline_charger_keeps_its_share_and_blocks_nobody(ws_url, services, db):
    board = Board(32)
    async with chargers(ws_url, board, ["A", "C"]) as cps:
        async with chargers(ws_url, board, ["B"]) as gone:
            await make_site(services, chargers=["A", "B", "C"])
            await start(cps["A"], board)
            await start(gone["B"], board)
            await until(lambda: board.limit_of("A") == 16 and board.limit_of("B") == 16)
            await services.load.idle()
        # B dropped its link with its session open: it keeps its 16 A; A and C share the rest.
        await start(cps["C"], board)
        await until(lambda: board.limit_of("A") == 8 and board.limit_of("C") == 8)
        assert board.violations == []
        await services.load.idle()
        latest = await services.allocations.latest("S1")
        rows = {r["charger"]: (r["limit_a"], r["state"]) for r in latest["connectors"]}
        assert rows["B"] == (16.0, "offline")


@pytest.mark.gen_test(timeout=60)
async def test_a_suspended_car_keeps_the_minimum_and_the_others_get_the_rest(ws_url, services):
    board = Board(32)
    async with chargers(ws_url, board, ["A", "B"]) as cps:
        await make_site(services, chargers=["A", "B"])
        await start(cps["A"], board)
        await start(cps["B"], board)
        await until(lambda: board.limit_of("A") == 16 and board.limit_of("B") == 16)
        await cps["B"].call(call.StatusNotification(
            connector_id=1, error_code="NoError", status="SuspendedEV"))  # fmt: skip
        await until(lambda: board.limit_of("A") == 26 and board.limit_of("B") == 6)
        assert board.log[-2:] == [("B", 1, 6.0), ("A", 1, 26.0)]  # the lower first
        await cps["B"].call(call.StatusNotification(
            connector_id=1, error_code="NoError", status="Charging"))  # fmt: skip
        await until(lambda: board.limit_of("A") == 16 and board.limit_of("B") == 16)
        assert board.violations == []


def meter(tx, amps):
    stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return call.MeterValues(connector_id=1, transaction_id=tx, meter_value=[{
        "timestamp": stamp, "sampledValue": [
            {"value": str(amps), "measurand": "Current.Import", "unit": "A", "phase": phase}
            for phase in ("L1", "L2", "L3")]}])  # fmt: skip


@pytest.mark.gen_test(timeout=60)
async def test_measured_draw_gives_the_rest_back_after_the_hold(ws_url, services, db):
    services.load.settings.hold_s = 1.0
    services.load.settings.meter_debounce_s = 0.1
    board = Board(32)
    async with chargers(ws_url, board, ["A", "B"]) as cps:
        await make_site(services, chargers=["A", "B"])
        tx_a = await start(cps["A"], board)
        await start(cps["B"], board)
        await until(lambda: board.limit_of("A") == 16 and board.limit_of("B") == 16)
        # A draws 9 A of its 16: it keeps 10, B gets the 22 left (once B's hold is over).
        await cps["A"].call(meter(tx_a, 9))
        await until(lambda: board.limit_of("A") == 10 and board.limit_of("B") == 22)
        assert board.log.index(("A", 1, 10.0)) < board.log.index(("B", 1, 22.0))
        assert board.violations == []
        await services.load.idle()
        latest = await services.allocations.latest("S1")
        assert latest["measured_a"] == 9.0  # B sent no meter values


class PowerCharger(Charger):
    """Takes profiles in W only, and says so in its configuration."""

    @on(Action.get_configuration)
    async def on_get_configuration(self, key=None, **_):
        return call_result.GetConfiguration(configuration_key=[{
            "key": "ChargingScheduleAllowedChargingRateUnit", "readonly": True,
            "value": "Power"}])  # fmt: skip

    @on(Action.set_charging_profile)
    async def on_set_charging_profile(self, connector_id, cs_charging_profiles, **_):
        self.board.units.append(cs_charging_profiles["charging_schedule"]["charging_rate_unit"])
        return await super().on_set_charging_profile(connector_id, cs_charging_profiles)


@pytest.mark.gen_test(timeout=60)
async def test_a_charger_that_takes_watts_gets_its_limits_in_watts(ws_url, services, db):
    board = Board(32 * 230 * 3)
    board.units = []
    async with contextlib.AsyncExitStack() as stack:
        ws = await stack.enter_async_context(websockets.connect(ws_url("/W1"), subprotocols=OCPP16))
        cp = PowerCharger("W1", ws)
        cp.board = board
        task = asyncio.create_task(cp.start())
        stack.callback(task.cancel)
        await make_site(services, chargers=[])
        await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        await services.chargers.update("W1", {"site": "S1", "max_current_a": 16})
        services.load_event("W1", "boot")
        await start(cp, board)
        # The boot's TxDefaultProfile and the session's TxProfile may come in either
        # order: the start can be recomputed before the boot's route has been looked up.
        await until(lambda: board.limit_of("W1") == 16 * 230 * 3 and "W1" in board.defaults)
        assert board.defaults == {"W1": 32 * 230 * 3}
        assert set(board.units) == {"W"}
        doc = await services.chargers.get("W1")
        assert doc["ocpp_config"]["keys"][0]["value"] == "Power"


@pytest.mark.gen_test(timeout=30)
async def test_without_any_site_events_cost_nothing(ws_url, services, db):
    board = Board(32)
    async with chargers(ws_url, board, ["A"]) as cps:
        await until(lambda: services.load._site_count == 0)  # the boot's look-up found none
        await start(cps["A"], board)
        services.load_event("A", "boot")
        assert not any("_route" in repr(task) for task in services._spawned)
        assert await db.allocations.count_documents({}) == 0
        # The first site (by the API or the admin) wakes it up again.
        await make_site(services, chargers=["A"])
        await until(lambda: board.limit_of("A") == 32)
