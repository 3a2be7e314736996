"""The pure load-management algorithm: fair share, minimum, pausing, nesting, ordering."""

from __future__ import annotations

import itertools
import random

import pytest

from csms.load_allocation import (
    Demand,
    Node,
    allocate,
    chain,
    effective,
    floor_tenth,
    plan_round,
    safe_share_a,
    schedule,
    site_capacity_a,
    wanted_a,
)

SITE = {"S1": Node("S1", 32.0)}


def demand(n: int, site: str = "S1", **kw) -> Demand:
    """Connector 1 of charger CPn, arrived n-th, rated 32 A."""
    kw.setdefault("max_a", 32.0)
    return Demand((f"CP{n}", 1), site, n, **kw)


def test_capacity_from_amps_watts_and_reserve():
    assert site_capacity_a({"limit_a": 32, "phases": 3, "voltage": 230}) == 32.0
    assert site_capacity_a({"limit_a": 32, "reserve_a": 10}) == 22.0
    assert site_capacity_a({"limit_w": 22080, "phases": 3, "voltage": 230}) == pytest.approx(32.0)
    assert site_capacity_a({"limit_w": 7360, "phases": 1, "voltage": 230}) == pytest.approx(32.0)
    assert site_capacity_a({"limit_a": 10, "reserve_a": 16}) == 0.0


def test_one_car_gets_its_rating_not_the_whole_site():
    assert allocate(SITE, [demand(1, max_a=16)]) == {("CP1", 1): 16.0}


def test_equal_split_rounded_down_to_a_tenth():
    result = allocate(SITE, [demand(1), demand(2), demand(3)])
    assert result == {("CP1", 1): 10.6, ("CP2", 1): 10.6, ("CP3", 1): 10.6}
    assert sum(result.values()) <= 32


def test_a_small_connector_leaves_the_rest_to_the_others():
    result = allocate(SITE, [demand(1, max_a=10), demand(2), demand(3)])
    assert result == {("CP1", 1): 10.0, ("CP2", 1): 11.0, ("CP3", 1): 11.0}


def test_newest_are_paused_rather_than_all_below_the_minimum():
    # 32 A: five at 6 A fit (30), the sixth and seventh get 0, never 4.5 A each.
    result = allocate(SITE, [demand(n) for n in range(1, 8)])
    assert [result[(f"CP{n}", 1)] for n in range(1, 8)] == [6.4] * 5 + [0.0, 0.0]


def test_paused_resume_in_arrival_order():
    demands = [demand(n) for n in (3, 1, 7, 5, 2, 6, 4)]  # any order in, arrival decides
    result = allocate({"S1": Node("S1", 12.0)}, demands)
    assert {k for k, v in result.items() if v > 0} == {("CP1", 1), ("CP2", 1)}
    after_stop = allocate({"S1": Node("S1", 12.0)}, [d for d in demands if d.key != ("CP1", 1)])
    assert {k for k, v in after_stop.items() if v > 0} == {("CP2", 1), ("CP3", 1)}


def test_measured_draw_gives_the_rest_back():
    slow = demand(1, measured_a=4.0, current_a=16.0)
    result = allocate(SITE, [slow, demand(2, current_a=16.0)])
    # The slow car keeps the minimum (4 + 1 headroom is below 6), the other gets the rest.
    assert result == {("CP1", 1): 6.0, ("CP2", 1): 26.0}
    drawing = demand(1, measured_a=9.0, current_a=16.0)
    assert allocate(SITE, [drawing, demand(2)]) == {("CP1", 1): 10.0, ("CP2", 1): 22.0}


def test_measured_within_the_band_changes_nothing():
    near = demand(1, measured_a=14.5, current_a=16.0)
    assert wanted_a(near) == 32.0


def test_suspended_ev_keeps_only_the_minimum():
    result = allocate(SITE, [demand(1, suspended_ev=True), demand(2)])
    assert result == {("CP1", 1): 6.0, ("CP2", 1): 26.0}


def test_rejecting_charger_counts_at_full_rating():
    result = allocate(SITE, [demand(1, fixed=True, max_a=16), demand(2), demand(3)])
    assert result == {("CP1", 1): 16.0, ("CP2", 1): 8.0, ("CP3", 1): 8.0}
    crowded = allocate(SITE, [demand(1, fixed=True), demand(2)])
    assert crowded == {("CP1", 1): 32.0, ("CP2", 1): 0.0}


def test_nested_circuit_holds_inside_its_site():
    nodes = {"S1": Node("S1", 32.0), "C1": Node("C1", 12.0, "S1")}
    demands = [demand(1, "C1"), demand(2, "C1"), demand(3, "S1")]
    result = allocate(nodes, demands)
    assert result == {("CP1", 1): 6.0, ("CP2", 1): 6.0, ("CP3", 1): 20.0}
    assert chain(nodes, "C1") == ["C1", "S1"]


def test_a_child_limit_above_its_parent_is_bounded_by_the_parent():
    nodes = {"S1": Node("S1", 16.0), "C1": Node("C1", 100.0, "S1")}
    result = allocate(nodes, [demand(1, "C1"), demand(2, "C1")])
    assert result == {("CP1", 1): 8.0, ("CP2", 1): 8.0}


def test_full_circuit_pauses_its_newest_but_not_other_circuits():
    nodes = {"S1": Node("S1", 40.0), "C1": Node("C1", 10.0, "S1")}
    demands = [demand(1, "C1"), demand(2, "C1"), demand(3, "S1")]
    result = allocate(nodes, demands)
    assert result == {("CP1", 1): 10.0, ("CP2", 1): 0.0, ("CP3", 1): 30.0}


def test_cycle_in_parents_is_cut():
    nodes = {"A": Node("A", 20.0, "B"), "B": Node("B", 10.0, "A")}
    assert chain(nodes, "A") == ["A", "B"]
    assert allocate(nodes, [demand(1, "A")]) == {("CP1", 1): 10.0}


@pytest.mark.parametrize("seed", range(40))
def test_random_sites_never_exceed_any_level_and_respect_the_minimum(seed):
    rng = random.Random(seed)
    nodes = {"S": Node("S", rng.choice([16, 32, 63, 100]))}
    for i in range(rng.randint(0, 3)):
        nodes[f"C{i}"] = Node(f"C{i}", rng.choice([10, 16, 20, 40]), rng.choice(list(nodes)))
    demands = []
    for n in range(rng.randint(1, 20)):
        demands.append(
            Demand(
                (f"CP{n}", rng.randint(1, 2)), rng.choice(list(nodes)), n,
                max_a=rng.choice([6, 10, 16, 32]),
                measured_a=rng.choice([None, rng.uniform(0, 32)]),
                current_a=rng.choice([None, 16.0]),
                fixed=rng.random() < 0.1, suspended_ev=rng.random() < 0.1,
            )
        )  # fmt: skip
    demands = list({d.key: d for d in demands}.values())
    result = allocate(nodes, demands)
    controlled = [d for d in demands if not d.fixed]
    for d in controlled:
        assert result[d.key] == 0.0 or result[d.key] >= 6.0
        assert result[d.key] <= d.max_a
    fixed_load = {n: 0.0 for n in nodes}
    for d in demands:
        if d.fixed:
            for n in chain(nodes, d.site):
                fixed_load[n] += d.max_a
    for node_id, node in nodes.items():
        under = [d for d in controlled if node_id in chain(nodes, d.site)]
        total = sum(result[d.key] for d in under)
        if fixed_load[node_id] + 6 <= node.capacity_a:
            assert total + fixed_load[node_id] <= node.capacity_a + 1e-6
        else:
            assert total == 0.0 or total + fixed_load[node_id] <= node.capacity_a + 1e-6
    # Arrival order: a paused session never is older than an admitted one on the same chain
    # unless the older one is in a full circuit the newer one is not in.
    for older, newer in itertools.combinations(sorted(controlled, key=lambda d: d.arrival), 2):
        if result[older.key] == 0 and result[newer.key] > 0 and older.site == newer.site:
            assert wanted_a(older) < 6


def test_schedule_lowers_before_raises_and_holds_meter_raises():
    demands = [
        demand(1, current_a=16.0, last_sent=100.0),
        demand(2, current_a=16.0, last_sent=100.0),
        demand(3),
        demand(4, current_a=10.0, last_sent=60.0),
        demand(5, current_a=8.0, last_sent=100.0),
        demand(6, fixed=True),
    ]
    targets = {d.key: v for d, v in zip(demands, [10.0, 16.0, 10.0, 12.0, 9.0, 32.0], strict=True)}
    plan = schedule(demands, targets, now=110.0, hold_s=30.0, immediate=False)
    assert plan.lower == {("CP1", 1): 10.0}
    assert plan.unchanged == {("CP2", 1): 16.0}
    # CP3 is new: its first limit goes out with the raises, after the lowers.
    assert plan.raise_ == {("CP3", 1): 10.0, ("CP4", 1): 12.0}
    assert plan.held == {("CP5", 1): 9.0}
    assert effective(demands, plan, targets)[("CP5", 1)] == 8.0
    now = schedule(demands, targets, now=110.0, hold_s=30.0, immediate=True)
    assert now.raise_ == {("CP3", 1): 10.0, ("CP4", 1): 12.0, ("CP5", 1): 9.0}
    assert not now.held
    forced = schedule(demands, targets, 110.0, 30.0, False, force=[("CP2", 1), ("CP5", 1)])
    assert forced.lower == {("CP1", 1): 10.0, ("CP2", 1): 16.0}
    assert forced.raise_ == {("CP3", 1): 10.0, ("CP4", 1): 12.0, ("CP5", 1): 9.0}
    pause = schedule([demand(7)], {("CP7", 1): 0.0}, 110.0, 30.0, False)
    assert pause.lower == {("CP7", 1): 0.0}


def test_safe_share_and_rounding():
    assert safe_share_a(32.0, 3) == 10.6
    assert safe_share_a(32.0, 6) == 0.0
    assert safe_share_a(32.0, 0) == 0.0
    assert floor_tenth(6.0) == 6.0 and floor_tenth(10.666) == 10.6


def test_a_held_raise_lowers_nobody_to_make_room():
    # A was lowered to 10 for drawing 9; now it draws its 10 and wants more, but its hold
    # is not over: B is not lowered for it, and A waits at 10.
    a = demand(1, current_a=10.0, measured_a=10.0, last_sent=100.0)
    b = demand(2, current_a=22.0, last_sent=50.0)
    targets, plan = plan_round(SITE, [a, b], now=110.0, hold_s=30.0, immediate=False)
    assert plan.held == {("CP1", 1): 16.0}
    assert plan.lower == {} and plan.raise_ == {}
    assert plan.unchanged == {("CP2", 1): 22.0}
    assert targets == {("CP1", 1): 16.0, ("CP2", 1): 22.0}
    # Once the hold is over: B goes down first, then A up.
    targets, plan = plan_round(SITE, [a, b], now=131.0, hold_s=30.0, immediate=False)
    assert plan.lower == {("CP2", 1): 16.0} and plan.raise_ == {("CP1", 1): 16.0}
    # A start (immediate) never waits.
    _, plan = plan_round(SITE, [a, b], now=110.0, hold_s=30.0, immediate=True)
    assert plan.raise_ == {("CP1", 1): 16.0} and not plan.held
