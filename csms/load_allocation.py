"""The load-management algorithm: who gets how many amps, and which profiles go out first.

Pure functions, no I/O (``csms.load_management`` gathers the inputs and sends the
profiles). Every figure is amps per phase.

Rules:
- Every site in the chain of a connector (its site, that site's parent, ...) is a
  limit: the sum of the connectors beneath it never exceeds its capacity.
- A connector of a charger that rejects profiles is counted at its full rating and
  never controlled.
- Sessions are admitted in arrival order while every level still has room for the
  minimum charging current (6 A, IEC 61851); the others get 0 (paused). So the newest
  are paused when there is not enough, and resume in arrival order.
- The admitted share what is left equally (max-min fair water filling), each never above
  what it can take: its rating, or what it measurably draws plus a margin.
- Limits are rounded down to 0.1 A, so the sum never exceeds the limit.
- ``schedule``: lowers go out before raises; a raise a meter reading asks for waits until
  the connector's last profile is ``hold_s`` old (hysteresis); lowers never wait.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

MIN_CHARGING_A = 6.0  # IEC 61851: the least current a car is offered
GIVE_BACK_BAND_A = 2.0  # a car drawing this much less than its limit gives the rest back
HEADROOM_A = 1.0  # what a car that gives back keeps above what it draws
_EPS = 1e-9

Key = tuple[str, int]  # (charger id, connector id)


@dataclass(frozen=True, slots=True)
class Node:
    """One level of limits: a site or a circuit inside one."""

    id: str
    capacity_a: float
    parent: str | None = None


@dataclass(slots=True)
class Demand:
    """One connector with an open transaction, as the algorithm sees it.

    ``arrival`` orders sessions (older first); ``current_a`` is the limit the connector
    has now (None: none of ours yet); ``last_sent`` when that limit was sent (seconds);
    ``fixed``: its charger rejects profiles; ``suspended_ev``: the car is not charging.
    """

    key: Key
    site: str
    arrival: Any
    max_a: float
    measured_a: float | None = None
    current_a: float | None = None
    last_sent: float | None = None
    fixed: bool = False
    suspended_ev: bool = False


@dataclass(slots=True)
class Schedule:
    """What to send: ``lower`` first (all must succeed), then ``raise_``; ``held`` raises
    wait for the hold time; ``unchanged`` need nothing."""

    lower: dict[Key, float] = field(default_factory=dict)
    raise_: dict[Key, float] = field(default_factory=dict)
    held: dict[Key, float] = field(default_factory=dict)
    unchanged: dict[Key, float] = field(default_factory=dict)


def site_capacity_a(site: Mapping[str, Any]) -> float:
    """A site's capacity in amps per phase: ``limit_a`` (or ``limit_w`` over voltage x
    phases) less ``reserve_a``; never below 0."""
    phases = site.get("phases") or 3
    voltage = site.get("voltage") or 230
    if site.get("limit_a") is not None:
        limit = float(site["limit_a"])
    elif site.get("limit_w") is not None:
        limit = float(site["limit_w"]) / (voltage * phases)
    else:
        limit = 0.0
    return max(0.0, limit - float(site.get("reserve_a") or 0))


def floor_tenth(value: float) -> float:
    """``value`` rounded down to 0.1 (10.666 -> 10.6; 6.0 stays 6.0)."""
    return math.floor(value * 10 + 1e-6) / 10


def chain(nodes: Mapping[str, Node], site: str) -> list[str]:
    """The site and its ancestors, nearest first (an unknown parent ends the chain; a
    cycle is cut)."""
    found: list[str] = []
    current: str | None = site
    while current is not None and current in nodes and current not in found:
        found.append(current)
        current = nodes[current].parent
    return found


def wanted_a(demand: Demand, min_a: float = MIN_CHARGING_A) -> float:
    """The most a connector can use now: its rating; the minimum when the car is
    suspended; what it draws plus headroom when it draws clearly less than its limit."""
    top = max(demand.max_a, 0.0)
    if demand.suspended_ev:
        return min(top, min_a)
    measured, current = demand.measured_a, demand.current_a
    if measured is not None and current is not None and measured < current - GIVE_BACK_BAND_A:
        return min(top, max(min_a, measured + HEADROOM_A))
    return top


def allocate(
    nodes: Mapping[str, Node], demands: Sequence[Demand], min_a: float = MIN_CHARGING_A
) -> dict[Key, float]:
    """The limit of every connector in ``demands`` (amps per phase; 0 = paused)."""
    chains = {d.key: chain(nodes, d.site) for d in demands}
    slack = {node_id: node.capacity_a for node_id, node in nodes.items()}
    result: dict[Key, float] = {}
    for d in demands:
        if d.fixed:
            result[d.key] = d.max_a
            for node_id in chains[d.key]:
                slack[node_id] -= d.max_a
    level: dict[Key, float] = {}
    want: dict[Key, float] = {}
    for d in sorted((d for d in demands if not d.fixed), key=lambda d: d.arrival):
        want[d.key] = wanted_a(d, min_a)
        fits = want[d.key] >= min_a - _EPS and all(
            slack[node_id] >= min_a - _EPS for node_id in chains[d.key]
        )
        if not fits:
            result[d.key] = 0.0
            continue
        level[d.key] = min_a
        for node_id in chains[d.key]:
            slack[node_id] -= min_a
    _fill(level, want, chains, slack)
    for key, value in level.items():
        result[key] = floor_tenth(value)
    return result


def _fill(
    level: dict[Key, float],
    want: Mapping[Key, float],
    chains: Mapping[Key, list[str]],
    slack: dict[str, float],
) -> None:
    """Raise every unsaturated connector by the same amount until each one reaches what
    it wants or a level above it is full."""
    open_keys = {k for k in level if want[k] - level[k] > _EPS}
    while open_keys:
        counts: dict[str, int] = {}
        for key in open_keys:
            for node_id in chains[key]:
                counts[node_id] = counts.get(node_id, 0) + 1
        step = min(want[k] - level[k] for k in open_keys)
        if counts:
            step = min(step, min(slack[n] / c for n, c in counts.items()))
        step = max(step, 0.0)
        for key in open_keys:
            level[key] += step
            for node_id in chains[key]:
                slack[node_id] -= step
        open_keys = {
            k
            for k in open_keys
            if want[k] - level[k] > _EPS and all(slack[n] > _EPS for n in chains[k])
        }


def schedule(
    demands: Iterable[Demand],
    targets: Mapping[Key, float],
    now: float,
    hold_s: float,
    immediate: bool,
    force: Iterable[Key] = (),
) -> Schedule:
    """Sort the changes: a limit that goes down, or a repeat for a connector in ``force``
    (it reconnected and lost it), is in ``lower``; one that goes up is in ``raise_`` when
    ``immediate`` (a start, stop, suspension or limit change asked for this round) or its
    last profile is ``hold_s`` old, else in ``held``. A new session's first limit counts
    as a raise from 0 (it goes out after the lowers), unless it is a pause."""
    forced = set(force)
    plan = Schedule()
    for d in demands:
        if d.fixed:
            continue
        target = targets[d.key]
        current = d.current_a
        if current is None:
            (plan.lower if target <= _EPS else plan.raise_)[d.key] = target
        elif target < current - _EPS or (d.key in forced and target <= current + _EPS):
            plan.lower[d.key] = target
        elif d.key in forced:
            plan.raise_[d.key] = target
        elif abs(target - current) <= _EPS:
            plan.unchanged[d.key] = target
        elif immediate or d.last_sent is None or now - d.last_sent >= hold_s:
            plan.raise_[d.key] = target
        else:
            plan.held[d.key] = target
    return plan


def plan_round(
    nodes: Mapping[str, Node],
    demands: Sequence[Demand],
    now: float,
    hold_s: float,
    immediate: bool,
    force: Iterable[Key] = (),
    min_a: float = MIN_CHARGING_A,
) -> tuple[dict[Key, float], Schedule]:
    """The targets and the schedule of one round. A raise that must wait (hold) keeps
    its connector at its present limit, and the others are allocated around that, so
    no one is lowered to make room for a raise that does not go out yet."""
    forced = list(force)
    targets = allocate(nodes, demands, min_a)
    plan = schedule(demands, targets, now, hold_s, immediate, forced)
    if not plan.held:
        return targets, plan
    pinned = [
        replace(d, fixed=True, max_a=d.current_a or 0.0) if d.key in plan.held else d
        for d in demands
    ]
    around = allocate(nodes, pinned, min_a)
    second = schedule(pinned, around, now, hold_s, immediate, forced)
    second.held = plan.held
    return {**around, **plan.held}, second


def effective(demands: Iterable[Demand], plan: Schedule, targets: Mapping[Key, float]) -> dict:
    """The limit each connector has once ``plan`` went out: held raises keep their
    current limit, rejecting chargers their full rating."""
    result: dict[Key, float] = {}
    for d in demands:
        if d.key in plan.held:
            result[d.key] = d.current_a if d.current_a is not None else 0.0
        else:
            result[d.key] = targets[d.key]
    return result


def safe_share_a(capacity_a: float, connectors: int, min_a: float = MIN_CHARGING_A) -> float:
    """What each of ``connectors`` may take on its own when the Central System is gone
    (the TxDefaultProfile): an equal split, 0 when that is below the minimum."""
    if connectors <= 0:
        return 0.0
    share = floor_tenth(capacity_a / connectors)
    return share if share >= min_a else 0.0
