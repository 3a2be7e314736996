"""The alert rules: their defaults, the checks of an operator's changes, and the sweep
that evaluates the rules which depend on time passing (``Sweep``).

Rules that a charger's message decides (a connector Faulted, a clock off, a reboot loop)
are evaluated where the message is handled (``csms.alerts``); the sweep reconciles the
others with the database every ``AlertSettings.interval`` seconds: it opens an alert for
each charger whose condition holds and closes the open alerts whose condition cleared.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from csms.alerts import AlertService

# name -> (title, default parameters). Every rule is on by default.
RULES: dict[str, tuple[str, dict[str, float]]] = {
    "charger_offline": ("Charger offline", {"minutes": 10, "clear_minutes": 2}),
    "connector_faulted": ("Connector faulted", {}),
    "no_energy": ("Charging without energy", {"minutes": 15}),
    "long_transaction": ("Transaction open too long", {"hours": 24, "stale_hours": 4}),
    "reboot_loop": ("Reboot loop", {"boots": 5, "window_minutes": 60}),
    "clock_skew": ("Charger clock off", {"minutes": 5}),
    "security_events": ("Repeated security events", {"count": 5, "window_minutes": 60}),
    "energy_anomalies": ("Energy anomalies", {"window_minutes": 60}),
    # Renewal is asked for 30 days before expiry (csms.certificates); a charger that still
    # has its old certificate this close to the end needs a person.
    "certificate_expiring": ("Charger certificate expiring", {"days": 14}),
}
# The security events that count for the "security_events" rule.
SECURITY_EVENT_TYPES = (
    "InvalidCentralSystemCertificate", "InvalidChargePointCertificate",
    "FailedToAuthenticateAtCentralSystem", "InvalidFirmwareSignature", "InvalidTLSVersion",
    "InvalidTLSCipherSuite", "MessageRateExceeded", "ConnectionReplacedDuringTransaction",
)  # fmt: skip
# Anomalies about a transaction's energy (``csms.transactions``, ``csms.metering``).
ENERGY_ANOMALIES = (
    "meter_backwards", "implausible_energy", "implausible_register", "register_jump",
    "register_above_meter_stop",
)  # fmt: skip
MAX_PARAMETER = 1_000_000


def defaults() -> dict[str, dict[str, Any]]:
    """Every rule's settings before the operator changed any."""
    return {name: {"enabled": True, **params} for name, (_, params) in RULES.items()}


def check_changes(rule: str, changes: Any) -> dict[str, Any]:
    """The valid settings among ``changes`` of ``rule``; ValueError(field, message)
    naming the first bad one."""
    if rule not in RULES:
        raise ValueError(rule, f"unknown rule; one of {', '.join(RULES)}")
    if not isinstance(changes, dict):
        raise ValueError(rule, "must be an object of settings")
    allowed = RULES[rule][1]
    checked: dict[str, Any] = {}
    for name, value in changes.items():
        field = f"{rule}.{name}"
        if name == "enabled":
            if not isinstance(value, bool):
                raise ValueError(field, "must be true or false")
        elif name in allowed:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(field, "must be a number")
            if not 0 < value <= MAX_PARAMETER:
                raise ValueError(field, f"must be greater than 0 and at most {MAX_PARAMETER}")
        else:
            known = ", ".join(["enabled", *allowed])
            raise ValueError(field, f"unknown setting; {rule} has {known}")
        checked[name] = value
    return checked


class Sweep:
    """One evaluation of the time-based rules; ``alerts`` opens and closes."""

    def __init__(self, alerts: AlertService, now: datetime):
        self.alerts = alerts
        self.services = alerts.services
        self.now = now

    def ago(self, **delta: float) -> datetime:
        """``now`` minus a duration."""
        return self.now - timedelta(**delta)

    async def run(self) -> None:
        """Evaluate every enabled time-based rule."""
        rules = self.alerts.rules
        checks = {
            "charger_offline": self.offline, "no_energy": self.no_energy,
            "long_transaction": self.long_transactions, "reboot_loop": self.reboots_cleared,
            "security_events": self.security_events, "energy_anomalies": self.energy_anomalies,
            "certificate_expiring": self.certificates_expiring,
        }  # fmt: skip
        for name, check in checks.items():
            if rules[name]["enabled"]:
                await check(rules[name])

    async def reconcile(self, rule: str, firing: dict[str, dict[str, Any]]) -> None:
        """Open ``rule``'s alert for each charger in ``firing`` (charger -> detail) and
        close its open alerts of every other charger."""
        for charger, detail in firing.items():
            await self.alerts.raise_alert(rule, charger, detail, self.now)
        for alert in await self.alerts.repo.open_of_rule(rule):
            if alert["charger"] not in firing:
                await self.alerts.clear_alert(rule, alert["charger"], self.now)

    async def offline(self, params: dict[str, Any]) -> None:
        """Offline longer than ``minutes``; cleared after ``clear_minutes`` online (so a
        flapping connection keeps one alert open instead of opening many)."""
        cutoff = self.ago(minutes=params["minutes"])
        for charger in await self.services.chargers.offline_since(cutoff):
            await self.alerts.raise_alert(
                "charger_offline", charger["_id"], {"last_seen": charger.get("last_seen")},
                self.now,
            )  # fmt: skip
        settled = self.ago(minutes=params["clear_minutes"])
        for alert in await self.alerts.repo.open_of_rule("charger_offline"):
            doc = await self.services.chargers.get(alert["charger"])
            if doc is None or (
                doc.get("connected") and doc.get("connected_at", self.now) <= settled
            ):
                await self.alerts.clear_alert("charger_offline", alert["charger"], self.now)

    async def no_energy(self, params: dict[str, Any]) -> None:
        """A connector Charging whose energy register has not risen for ``minutes``."""
        progress = self.alerts.energy_progress
        firing: dict[str, dict[str, Any]] = {}
        seen = set()
        for tx in await self.services.transactions.open_sessions():
            charger = await self.services.chargers.get(tx["charger"]) or {}
            connector = (charger.get("connectors") or {}).get(str(tx["connector"])) or {}
            if not charger.get("connected") or connector.get("status") != "Charging":
                continue
            seen.add(tx["_id"])
            reading = self.services.registers.last(tx["charger"], tx["_id"])
            wh = None if reading is None else reading[1]
            known = progress.get(tx["_id"])
            if known is None or known[0] != wh:
                progress[tx["_id"]] = (wh, self.now)
                continue
            if self.now - known[1] >= timedelta(minutes=params["minutes"]):
                firing[tx["charger"]] = {"transaction": tx["_id"], "connector": tx["connector"],
                                         "register_wh": wh, "since": known[1]}  # fmt: skip
        for tx_id in set(progress) - seen:
            del progress[tx_id]
        await self.reconcile("no_energy", firing)

    async def long_transactions(self, params: dict[str, Any]) -> None:
        """Open longer than ``hours``; with no meter value for ``stale_hours`` the session
        is also flagged ``stale`` (closing it is the operator's decision)."""
        firing: dict[str, dict[str, Any]] = {}
        stale_cutoff = self.ago(hours=params["stale_hours"])
        for tx in await self.services.transactions.open_started_before(
            self.ago(hours=params["hours"])
        ):
            last = await self.services.meter_values.last_reading_ts(tx["charger"], tx["_id"])
            stale = tx.get("stale", False)
            if not stale and (last or tx["start_ts"]) < stale_cutoff:
                anomaly = {"kind": "stale", "ts": self.now, "last_meter_value": last}
                if await self.services.transactions.mark_stale(tx["_id"], anomaly):
                    await self.services.anomalies.record(
                        tx["charger"], "stale", self.now, transaction=tx["_id"]
                    )
                stale = True
            entry = {"transaction": tx["_id"], "connector": tx["connector"],
                     "start": tx["start_ts"], "last_meter_value": last, "stale": stale}  # fmt: skip
            detail = firing.setdefault(tx["charger"], {"transactions": []})
            detail["transactions"].append(entry)
            detail["stale"] = detail.get("stale", False) or stale
        await self.reconcile("long_transaction", firing)

    async def reboots_cleared(self, params: dict[str, Any]) -> None:
        """A reboot-loop alert closes once the window holds no more than ``boots`` boots."""
        since = self.ago(minutes=params["window_minutes"])
        for alert in await self.alerts.repo.open_of_rule("reboot_loop"):
            if await self.alerts.boots.count_since(alert["charger"], since) <= params["boots"]:
                await self.alerts.clear_alert("reboot_loop", alert["charger"], self.now)

    async def security_events(self, params: dict[str, Any]) -> None:
        """At least ``count`` security events of the listed types within the window."""
        since = self.ago(minutes=params["window_minutes"])
        counts = await self.services.security_events.counts_since(since, SECURITY_EVENT_TYPES)
        firing = {charger: {"events": n, "types": types}
                  for charger, (n, types) in counts.items() if n >= params["count"]}  # fmt: skip
        await self.reconcile("security_events", firing)

    async def energy_anomalies(self, params: dict[str, Any]) -> None:
        """Energy anomalies recorded on a charger's transactions within the window."""
        since = self.ago(minutes=params["window_minutes"])
        counts = await self.services.anomalies.counts_since(since, ENERGY_ANOMALIES)
        firing = {charger: {"anomalies": n, "kinds": kinds, "transactions": txs}
                  for charger, (n, kinds, txs) in counts.items()}  # fmt: skip
        await self.reconcile("energy_anomalies", firing)

    async def certificates_expiring(self, params: dict[str, Any]) -> None:
        """A charger's current certificate from us expires within ``days`` (its renewal
        did not happen); closed when a new certificate replaces it."""
        before = self.now + timedelta(days=params["days"])
        docs = await self.services.certificates.current_expiring(before)
        firing = {doc["charger"]: {"serial": doc["_id"], "not_after": doc["not_after"]}
                  for doc in docs}  # fmt: skip
        await self.reconcile("certificate_expiring", firing)
