"""Load management of sites: gather the inputs, run the allocation, send the profiles.

``LoadManager.event`` is called by the OCPP handlers (start, stop, status, boot, meter
values) and the API (a charger assigned, a site changed); it never waits. Each site
tree (a root site with its circuits) has at most one worker task: events arriving
while it waits or works are merged, so a burst of frames makes one recomputation.

A recomputation reads the sites, their chargers, the open transactions and the
TxProfiles the chargers accepted (``charging_profiles``), asks ``csms.load_allocation``
for the limits, sends the lowers, and only when every lower was accepted the raises
(so the sum never exceeds a limit), then stores the decision in ``allocations``.
A charger that rejects a profile is flagged (``profiles_rejected`` on its document) and
counted at its full rating from then on. On BootNotification a charger in a site gets
a TxDefaultProfile with the site's safe share and its current TxProfiles again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from csms import remote
from csms.load_allocation import (
    Demand,
    Key,
    Node,
    chain,
    effective,
    plan_round,
    safe_share_a,
    site_capacity_a,
)
from csms.registry import ERROR, REJECTED, ConnectionRegistry, Outcome
from csms.services import Services
from csms.smart_charging import (
    LOAD_PROFILE_ID,
    RATE_UNIT_KEY,
    load_profile,
    profile_limit_a,
    rate_unit,
)
from ocppj.timeutil import utcnow

log = logging.getLogger("csms.load")

# Reasons that change the plan at once; a meter reading only refines it (with hold).
IMMEDIATE = frozenset({"start", "stop", "status", "boot", "assign", "site", "rejected"})
# Reasons after which every charger of the tree gets its TxDefaultProfile again.
DEFAULTS = frozenset({"assign", "site"})
_NOT_SUPPORTED = ("NotSupported", "NotImplemented")
REQUESTED_BY = "load management"


@dataclass(slots=True)
class LoadSettings:
    """Tunables of load management."""

    debounce_s: float = 0.2  # after a start, stop, status or limit change
    meter_debounce_s: float = 2.0  # after a meter reading
    hold_s: float = 30.0  # a raise a meter reading asks for waits this long after a profile
    call_timeout: float = 10.0
    connector_max_a: float = 32.0  # a connector's rating unless its charger says otherwise
    min_a: float = 6.0
    record_every_s: float = 10.0  # a meter round that changed nothing is stored this often


class LoadManager:
    """The load management of every site, one worker task per site tree."""

    def __init__(
        self,
        services: Services,
        registry: ConnectionRegistry,
        settings: LoadSettings | None = None,
    ):
        self.services = services
        self.registry = registry
        self.settings = settings or LoadSettings()
        self._root_of: dict[str, str | None] = {}  # charger -> the root of its site tree
        self._routes = 0  # bumped whenever routes may change: a late lookup is not cached
        self._site_count: int | None = None  # 0: no site at all, every event is ignored
        self._measured: dict[Key, tuple[str, float]] = {}  # ("A"|"W", value)
        self._suspended: dict[Key, bool] = {}
        self._pending: dict[str, set[str]] = {}
        self._forced: dict[str, set[str]] = {}
        self._workers: dict[str, asyncio.Task] = {}
        self._recorded_at: dict[str, float] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._closed = False
        # Several instances (csms.instances): True when this instance decides for the
        # site tree of that root now (a lease per site); None: one instance decides all.
        self.gate: Callable[[str], Awaitable[bool]] | None = None

    # --- events ------------------------------------------------------------

    def event(self, charger_id: str, reason: str, **data: Any) -> None:
        """Something about a charger changed; recompute its site soon (never waits)."""
        if reason == "assign":
            self._site_count = None  # an assignment names a site
        if self._closed or self._site_count == 0:
            return
        if reason == "status" and self._root_of.get(charger_id, "") is None:
            return
        if reason == "meter":
            if not self._note_meter(charger_id, data):
                return
        elif reason == "status":
            key = (charger_id, data.get("connector", 0))
            suspended = data.get("status") == "SuspendedEV"
            if self._suspended.get(key, False) == suspended:
                return
            self._suspended[key] = suspended
        elif reason in ("start", "stop"):
            self._measured.pop((charger_id, data.get("connector", 0)), None)
        if reason in ("assign", "boot"):
            self._root_of.pop(charger_id, None)
            self._routes += 1
        root = self._root_of.get(charger_id, "")
        if root is None:
            return  # known to be in no site
        if root:
            self._request(root, reason, charger_id if reason == "boot" else None)
        else:
            self.services.spawn(self._route(charger_id, reason, data.get("previous_site")))

    def site_changed(self, site_id: str | None = None) -> None:
        """A site was created, changed or deleted: forget the routes, recompute every tree
        (sites are few)."""
        self._root_of.clear()
        self._routes += 1
        self._site_count = None
        self.services.spawn(self._route_all())

    def _note_meter(self, charger_id: str, data: dict[str, Any]) -> bool:
        """Keep the connector's measured current (A, the highest phase) or power (W) when
        its charger may be in a site; True when that is worth a recomputation."""
        if self._root_of.get(charger_id, "") is None:
            return False  # in no site: nothing to keep
        current = power = None
        for doc in data.get("readings") or []:  # measurements (models.meter_values)
            if doc.get("current_a"):
                current = max(current or 0.0, *doc["current_a"].values())
            if doc.get("power_w") is not None:
                power = doc["power_w"]
        if current is None and power is None:
            return False
        key = (charger_id, data.get("connector", 0))
        self._measured[key] = ("A", current) if current is not None else ("W", power or 0.0)
        return True

    async def _route(self, charger_id: str, reason: str, previous_site: str | None) -> None:
        routes = self._routes
        sites = {site["_id"]: site for site in await self.services.sites.all()}
        charger = await self.services.chargers.get(charger_id) or {}
        root = _root(sites, charger.get("site"))
        if routes == self._routes:  # no assignment or site change since the look-up began
            self._root_of[charger_id] = root
            self._site_count = len(sites)
        if previous_site is not None:
            old_root = _root(sites, previous_site)
            if old_root is not None and old_root != root:
                self._request(old_root, reason)
        if root is None:
            if reason == "assign":
                await self.clear_profiles(charger_id)
            return
        self._request(root, reason, charger_id if reason in ("boot", "assign") else None)

    async def _route_all(self) -> None:
        sites = {site["_id"]: site for site in await self.services.sites.all()}
        for root in {_root(sites, site_id) for site_id in sites}:
            if root is not None:
                self._request(root, "site")

    def _request(self, root: str, reason: str, forced: str | None = None) -> None:
        if self._closed:
            return
        if reason == "hold":
            self._timers.pop(root, None)
        self._pending.setdefault(root, set()).add(reason)
        if forced is not None:
            self._forced.setdefault(root, set()).add(forced)
        if root not in self._workers:
            self._workers[root] = self.services.spawn(self._worker(root))

    async def _worker(self, root: str) -> None:
        try:
            while self._pending.get(root):
                immediate = self._pending[root] & IMMEDIATE
                settings = self.settings
                await asyncio.sleep(settings.debounce_s if immediate else settings.meter_debounce_s)
                reasons = self._pending.pop(root, set())
                forced = self._forced.pop(root, set())
                try:
                    await self.recompute(root, reasons, forced)
                except Exception:
                    log.exception("load management of site %s failed", root)
        finally:
            self._workers.pop(root, None)

    async def idle(self) -> None:
        """Wait until no recomputation is pending or running (tests, shutdown)."""
        while self._workers:
            await asyncio.gather(*list(self._workers.values()), return_exceptions=True)

    # --- one recomputation ---------------------------------------------------

    async def recompute(self, root: str, reasons: set[str], forced: set[str]) -> None:
        """Allocate the site tree of ``root`` and send what changed (with several
        instances only on the one holding the site's lease)."""
        if self.gate is not None and not await self.gate(root):
            return
        services, settings = self.services, self.settings
        sites = {site["_id"]: site for site in await services.sites.all()}
        if root not in sites:
            return
        nodes = _nodes(sites)
        tree = [site_id for site_id in sites if root in chain(nodes, site_id)]
        await services.chargers.flush()
        chargers = await services.sites.chargers_in(tree)
        if await self._learn_units([c for c in chargers if c["_id"] in forced]):
            chargers = await services.sites.chargers_in(tree)
        now = utcnow()
        demands: list[Demand] = []
        sending: dict[Key, dict[str, Any]] = {}
        for charger in chargers:
            found = await self._demands(charger, sites[charger["site"]])
            for demand, meta in found:
                demands.append(demand)
                sending[demand.key] = meta
        forced_keys = [d.key for d in demands if d.key[0] in forced]
        immediate = bool(reasons & IMMEDIATE)
        stamp = now.timestamp()
        targets, plan = plan_round(
            nodes, demands, stamp, settings.hold_s, immediate, forced_keys, settings.min_a
        )
        if plan.held:
            self._retry(root, demands, plan, stamp)
        refresh = [c for c in chargers if c["_id"] in forced or reasons & DEFAULTS]
        await self._send_defaults(refresh, nodes, chargers, sites)
        states: dict[Key, str] = {}
        lowered = await self._send_all(plan.lower, sending, states)
        if lowered:
            await self._send_all(plan.raise_, sending, states)
        else:
            for key in plan.raise_:
                states[key] = "waiting"
            plan.held.update(plan.raise_)
            plan.raise_ = {}
        for key, meta in sending.items():
            if meta["offline"]:
                states[key] = "offline"
        await self._record(root, tree, nodes, demands, targets, plan, states, reasons, now)

    def _retry(self, root: str, demands: list[Demand], plan: Any, now: float) -> None:
        """Recompute once the first held raise may go out (a timer, cancelled by close)."""
        ready = [
            d.last_sent + self.settings.hold_s - now
            for d in demands
            if d.key in plan.held and d.last_sent is not None
        ]
        delay = max(0.1, min(ready, default=self.settings.hold_s))
        previous = self._timers.pop(root, None)
        if previous is not None:
            previous.cancel()
        loop = asyncio.get_running_loop()
        self._timers[root] = loop.call_later(delay, self._request, root, "hold")

    def close(self) -> None:
        """Shutdown: no new recomputation; the ones running finish."""
        self._closed = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    async def _learn_units(self, chargers: list[dict[str, Any]]) -> bool:
        """Ask chargers that just booted for their ChargingScheduleAllowedChargingRateUnit
        when it is not known yet; True when one was asked."""
        asked = False
        for charger in chargers:
            config = charger.get("ocpp_config") or {}
            known = {item.get("key") for item in config.get("keys", [])}
            known.update(config.get("unknown", []))
            if RATE_UNIT_KEY in known or charger["_id"] not in self.registry:
                continue
            await remote.perform(
                self.services, self.registry, charger["_id"], "get_configuration",
                {"key": [RATE_UNIT_KEY]}, timeout=self.settings.call_timeout,
                requested_by=REQUESTED_BY,
            )  # fmt: skip
            asked = True
        return asked

    async def _demands(
        self, charger: dict[str, Any], site: dict[str, Any]
    ) -> list[tuple[Demand, dict[str, Any]]]:
        """The open transactions of a charger as demands, with what sending needs."""
        services = self.services
        cid = charger["_id"]
        voltage, phases = float(site.get("voltage") or 230), int(site.get("phases") or 3)
        unit = rate_unit(charger)
        transactions = [  # a session whose tag was refused is about to stop: no share
            tx for tx in await services.transactions.open_for_charger(cid)
            if (tx.get("id_tag_info") or {}).get("status", "Accepted") == "Accepted"
        ]  # fmt: skip
        if not transactions:
            return []
        installed = {
            p["connector"]: p
            for p in await services.charging_profiles.for_charger(cid)
            if p["purpose"] == "TxProfile" and p["profile_id"] == LOAD_PROFILE_ID + p["connector"]
        }
        max_a = float(charger.get("max_current_a") or self.settings.connector_max_a)
        # Offline: nothing can be sent; it keeps what it last accepted (its full rating
        # when that is unknown), so it never blocks the others' raises.
        offline = cid not in self.registry
        found = []
        for tx in transactions:
            key = (cid, tx["connector"])
            current = last_sent = None
            profile = installed.get(tx["connector"])
            if profile is not None and profile.get("transaction_id") == tx["_id"]:
                current = profile_limit_a(profile["profile"], voltage, phases)
                last_sent = _aware(profile["ts"]).timestamp()
            fixed = bool(charger.get("profiles_rejected")) or offline
            held = current if offline and current is not None else max_a
            demand = Demand(
                key, charger["site"], (_aware(tx["start_ts"]), tx["_id"]),
                held if fixed else max_a,
                measured_a=self._measured_a(key, voltage, phases), current_a=current,
                last_sent=last_sent, fixed=fixed, suspended_ev=self._suspended.get(key, False),
            )  # fmt: skip
            meta = {"transaction": tx["_id"], "unit": unit, "voltage": voltage, "phases": phases,
                    "offline": offline}  # fmt: skip
            found.append((demand, meta))
        return found

    def _measured_a(self, key: Key, voltage: float, phases: int) -> float | None:
        measured = self._measured.get(key)
        if measured is None:
            return None
        unit, value = measured
        return value if unit == "A" else value / (voltage * phases)

    async def _send_all(
        self, limits: dict[Key, float], sending: dict[Key, dict[str, Any]], states: dict
    ) -> bool:
        """Send these TxProfiles at once; True when every charger accepted."""
        keys = list(limits)
        results = await asyncio.gather(
            *(self._send_tx(key, limits[key], sending[key]) for key in keys)
        )
        for key, ok in zip(keys, results, strict=True):
            states[key] = "sent" if ok else "failed"
        return all(results)

    async def _send_tx(self, key: Key, limit_a: float, meta: dict[str, Any]) -> bool:
        cid, connector = key
        profile = load_profile(
            "TxProfile", limit_a, connector=connector, transaction_id=meta["transaction"],
            unit=meta["unit"], voltage=meta["voltage"], phases=meta["phases"],
        )  # fmt: skip
        return await self._send(cid, connector, profile)

    async def _send(self, cid: str, connector: int, profile: dict[str, Any]) -> bool:
        outcome = await remote.perform(
            self.services, self.registry, cid, "set_charging_profile",
            {"connector_id": connector, "charging_profile": profile},
            timeout=self.settings.call_timeout, requested_by=REQUESTED_BY,
        )  # fmt: skip
        await self._judge(cid, outcome)
        return outcome.ok

    async def _judge(self, cid: str, outcome: Outcome) -> None:
        """Flag a charger that rejects profiles (and recompute without it); unflag one
        that accepts again."""
        chargers = self.services.chargers
        refused = outcome.status == REJECTED or (
            outcome.status == ERROR and outcome.error_code in _NOT_SUPPORTED
        )
        if refused:
            why = outcome.description or outcome.error_code
            await chargers.update(cid, {"profiles_rejected": True, "profiles_rejected_ts": utcnow(),
                                        "profiles_rejected_why": why})  # fmt: skip
            log.warning("%s rejects charging profiles (%s): counted at full rating", cid, why)
            self.event(cid, "rejected")
        elif outcome.ok:
            charger = await chargers.get(cid) or {}
            if charger.get("profiles_rejected"):
                await chargers.update(cid, {"profiles_rejected": False})

    async def _send_defaults(self, targets, nodes, chargers, sites) -> None:
        """Send each of ``targets`` the TxDefaultProfile of its safe share."""
        if not targets:
            return
        connectors: dict[str, int] = {}
        for charger in chargers:
            count = _connector_count(charger)
            for site_id in chain(nodes, charger["site"]):
                connectors[site_id] = connectors.get(site_id, 0) + count
        for charger in targets:
            share = min(
                (safe_share_a(nodes[n].capacity_a, connectors[n], self.settings.min_a)
                 for n in chain(nodes, charger["site"])),
                default=0.0,
            )  # fmt: skip
            site = sites[charger["site"]]
            profile = load_profile(
                "TxDefaultProfile", share, unit=rate_unit(charger),
                voltage=float(site.get("voltage") or 230), phases=int(site.get("phases") or 3),
            )  # fmt: skip
            self.services.spawn(self._send(charger["_id"], 0, profile))

    async def clear_profiles(self, cid: str) -> Outcome:
        """Remove every profile of load management from a charger (it left its site)."""
        return await remote.perform(
            self.services, self.registry, cid, "clear_charging_profile",
            {"stack_level": load_profile("TxDefaultProfile", 0)["stackLevel"]},
            timeout=self.settings.call_timeout, requested_by=REQUESTED_BY,
        )  # fmt: skip

    async def _record(self, root, tree, nodes, demands, targets, plan, states, reasons, now):
        """Store one allocation document per site of the tree."""
        changed = bool(plan.lower or plan.raise_)
        stamp = now.timestamp()
        if not (changed or reasons & IMMEDIATE):
            if stamp - self._recorded_at.get(root, 0.0) < self.settings.record_every_s:
                return
        self._recorded_at[root] = stamp
        limits = effective(demands, plan, targets)
        docs = []
        for site_id in tree:
            rows = []
            for d in demands:
                if site_id not in chain(nodes, d.site):
                    continue
                state = states.get(d.key) or _state(d, plan, limits[d.key])
                rows.append({"charger": d.key[0], "connector": d.key[1], "site": d.site,
                             "transaction": d.arrival[1], "limit_a": limits[d.key],
                             "target_a": targets[d.key], "measured_a": d.measured_a,
                             "state": state})  # fmt: skip
            measured = [r["measured_a"] for r in rows if r["measured_a"] is not None]
            docs.append({
                "ts": now, "site": site_id, "root": root, "reason": sorted(reasons),
                "capacity_a": nodes[site_id].capacity_a,
                "allocated_a": round(sum(r["limit_a"] for r in rows), 1),
                "measured_a": round(sum(measured), 1) if measured else None,
                "connectors": rows,
            })  # fmt: skip
        await self.services.allocations.record(docs)


def _state(demand: Demand, plan: Any, limit: float) -> str:
    if demand.fixed:
        return "rejecting"
    if demand.key in plan.held:
        return "held"
    return "paused" if limit == 0 else "unchanged"


def _aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def _connector_count(charger: dict[str, Any]) -> int:
    keys = [k for k in (charger.get("connectors") or {}) if str(k).isdigit() and int(k) > 0]
    return max(1, len(keys))


def _nodes(sites: dict[str, dict[str, Any]]) -> dict[str, Node]:
    return {
        site_id: Node(site_id, site_capacity_a(site), site.get("parent"))
        for site_id, site in sites.items()
    }


def _root(sites: dict[str, dict[str, Any]], site_id: str | None) -> str | None:
    """The top of ``site_id``'s tree; None when it is no site."""
    if site_id is None or site_id not in sites:
        return None
    return chain(_nodes(sites), site_id)[-1]
