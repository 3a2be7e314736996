"""Alerts: open once per rule and charger while a condition holds, close by themselves
when it clears, acknowledged by operators, delivered to channels.

``AlertService`` is built once per Services. The message handlers call its hooks
(``on_boot``, ``on_status``); the time-based rules run in ``Sweep``
every ``AlertSettings.interval`` seconds; deliveries go through ``csms.alert_delivery``.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from csms import alert_rules
from csms.alert_delivery import Dispatcher, alert_view, smtp_from_url
from csms.alert_rules import AlertSettings
from models.alerts import AlertChannelRepo, AlertRepo, AlertRuleRepo, BootLog, DeliveryRepo
from ocppj.timeutil import utcnow

if TYPE_CHECKING:
    from csms.context import CallContext
    from csms.services import Services

log = logging.getLogger("csms.alerts")
# Boot times kept on a charger document for the reboot-loop rule (its window bounds them).
MAX_RECENT_BOOTS = 100
LOAD_WAIT = 5.0  # seconds an alert decision waits for the open alerts to be loaded


class AlertService:
    """Rules, alerts and their delivery."""

    def __init__(self, services: Services, settings: AlertSettings):
        db = services.db
        self.services = services
        self.settings = settings
        self.repo = AlertRepo(db)
        self.rule_repo = AlertRuleRepo(db)
        self.channels = AlertChannelRepo(db)
        self.deliveries = DeliveryRepo(db, services.counters)
        self.boots = BootLog(db)
        self.rules = alert_rules.defaults()
        self.dispatcher = Dispatcher(self.channels, self.deliveries, settings)
        # transaction id -> (last energy register seen, since when): the no-energy rule.
        self.energy_progress: dict[int, tuple[float | None, datetime]] = {}
        # (rule, charger) of every open alert, loaded by ``run`` before anything opens or
        # closes: a status that clears nothing, or a sweep finding a condition that is
        # alerted already, costs no database write (None: ask the database every time).
        self._open: set[tuple[str, str]] | None = None
        self._loaded = asyncio.Event()

    async def run(self) -> None:
        """Load the operator's rule settings and the flag channels, start delivery, then
        sweep every ``interval`` seconds until cancelled (``Services.stop``)."""
        try:
            for name, stored in (await self.rule_repo.all()).items():
                if name in self.rules:
                    self.rules[name].update(stored)
            for channel_id, doc in flag_channels(self.settings).items():
                await self.channels.upsert(channel_id, doc)
            try:
                self._open = await self.repo.open_keys()
            finally:
                self._loaded.set()
            await self.dispatcher.start()
            while True:
                await asyncio.sleep(self.settings.interval)
                try:
                    await self.sweep()
                except Exception:
                    log.exception("alert sweep failed")
        finally:
            await self.dispatcher.stop()

    async def sweep(self, now: datetime | None = None) -> None:
        """Evaluate the time-based rules once."""
        await Sweep(self, now or utcnow()).run()

    # --- opening and closing ------------------------------------------------

    async def raise_alert(
        self, rule: str, charger: str, detail: dict[str, Any], now: datetime
    ) -> dict[str, Any] | None:
        """Open ``rule``'s alert of ``charger`` unless the rule is off or one is open
        already; the new alert is delivered. Returns it (None when nothing opened)."""
        if not self.rules[rule]["enabled"]:
            return None
        await self._ready()
        key = (rule, charger)
        if self._open is not None:
            if key in self._open:
                return None
            self._open.add(key)  # before the write: a concurrent close sees it
        try:
            doc = await self.repo.open(rule, charger, now, detail)
        except Exception:
            if self._open is not None:
                self._open.discard(key)  # not stored: the next evaluation tries again
            raise
        if doc is None:
            return None
        log.warning("alert opened: %s %s %s", rule, charger, detail)
        await self._announce("opened", doc, now)
        return doc

    async def clear_alert(self, rule: str, charger: str, now: datetime) -> dict[str, Any] | None:
        """Close ``rule``'s open alert of ``charger``, if there is one; delivered too."""
        await self._ready()
        if self._open is not None:
            if (rule, charger) not in self._open:
                return None
            self._open.discard((rule, charger))
        doc = await self.repo.close(rule, charger, now)
        if doc is None:
            return None
        log.info("alert closed: %s %s", rule, charger)
        await self._announce("closed", doc, now)
        return doc

    async def _ready(self) -> None:
        """Wait (at most LOAD_WAIT s) for ``run`` to load the open alerts; without them
        every decision asks the database."""
        if not self._loaded.is_set():
            try:
                await asyncio.wait_for(self._loaded.wait(), LOAD_WAIT)
            except TimeoutError:
                log.warning("open alerts not loaded yet: deciding from the database")

    async def acknowledge(self, alert_id: Any, user: str, note: str) -> dict[str, Any] | None:
        """An operator acknowledges an alert with a note."""
        return await self.repo.acknowledge(alert_id, user, note, utcnow())

    async def _announce(self, event: str, doc: dict[str, Any], now: datetime) -> None:
        self.services.bus.publish(
            "alert", doc["charger"], event=event, rule=doc["rule"], alert=str(doc["_id"])
        )
        await self.dispatcher.enqueue(event, doc, now)

    async def set_rule(self, rule: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Store an operator's checked changes of a rule; the rule's settings now. A rule
        switched off closes its open alerts."""
        await self.rule_repo.set(rule, changes)
        self.rules[rule].update(changes)
        if changes.get("enabled") is False:
            now = utcnow()
            for alert in await self.repo.open_of_rule(rule):
                await self.clear_alert(rule, alert["charger"], now)
        return self.rules[rule]

    def rule_views(self) -> list[dict[str, Any]]:
        """Every rule with its title and settings."""
        return [{"rule": name, "title": title, **self.rules[name]}
                for name, (title, _) in alert_rules.RULES.items()]  # fmt: skip

    # --- hooks of the message handlers ------------------------------------

    def recent_boots(self, earlier: list[datetime], now: datetime) -> list[datetime]:
        """The boots inside the reboot-loop window once one at ``now`` is added to
        ``earlier`` (kept on the charger document, at most ``MAX_RECENT_BOOTS``)."""
        since = now - timedelta(minutes=self.rules["reboot_loop"]["window_minutes"])
        kept = [ts for ts in earlier if isinstance(ts, datetime) and ts.tzinfo and ts >= since]
        return [*kept[-(MAX_RECENT_BOOTS - 1) :], now]

    async def on_boot(self, ctx: CallContext, recent: list[datetime]) -> None:
        """BootNotification: note it; more than ``boots`` in the window is a reboot loop.
        ``recent``: the charger's boots in the window, this one included
        (``recent_boots``). A failure here is logged: alerts never change what the charger
        is answered."""
        try:
            await self._on_boot(ctx, recent)
        except Exception:
            log.exception("%s: alert rules of BootNotification failed", ctx.charger_id)

    async def _on_boot(self, ctx: CallContext, recent: list[datetime]) -> None:
        self.boots.record(ctx.charger_id, ctx.now)
        params = self.rules["reboot_loop"]
        if not params["enabled"]:
            return
        count = len(recent)
        if count > params["boots"]:
            detail = {"boots": count, "window_minutes": params["window_minutes"]}
            await self.raise_alert("reboot_loop", ctx.charger_id, detail, ctx.now)

    async def on_status(self, ctx: CallContext, payload: dict[str, Any], ts: datetime) -> None:
        """StatusNotification (a current one): the Faulted rule and the clock rule (a
        failure is logged, never answered to the charger)."""
        try:
            await self._on_status(ctx, payload, ts)
        except Exception:
            log.exception("%s: alert rules of StatusNotification failed", ctx.charger_id)

    async def _on_status(self, ctx: CallContext, payload: dict[str, Any], ts: datetime) -> None:
        faulted = sorted(c for c, status in ctx.state.statuses.items() if status == "Faulted")
        if faulted and payload["status"] == "Faulted":
            detail = {"connectors": faulted, "connector": payload["connectorId"],
                      "error_code": payload["errorCode"], "info": payload.get("info"),
                      "vendor_id": payload.get("vendorId"),
                      "vendor_error_code": payload.get("vendorErrorCode")}  # fmt: skip
            await self.raise_alert("connector_faulted", ctx.charger_id, detail, ctx.now)
        elif not faulted:
            await self.clear_alert("connector_faulted", ctx.charger_id, ctx.now)

    async def check_clock(self, ctx: CallContext, ts: datetime) -> None:
        """A charger timestamp further from our clock than ``minutes`` (either way) opens
        the clock alert; one within it closes it. (A StatusNotification queued while the
        charger was offline is late by nature and may open it until the next one.)"""
        try:
            await self._check_clock(ctx, ts)
        except Exception:
            log.exception("%s: clock alert rule failed", ctx.charger_id)

    async def _check_clock(self, ctx: CallContext, ts: datetime) -> None:
        params = self.rules["clock_skew"]
        skew = (ts - ctx.now).total_seconds()
        if abs(skew) > params["minutes"] * 60:
            detail = {"skew_seconds": round(skew, 1), "charger_time": ts}
            await self.raise_alert("clock_skew", ctx.charger_id, detail, ctx.now)
        else:
            await self.clear_alert("clock_skew", ctx.charger_id, ctx.now)

    async def refresh_metrics(self, charger_ids: list[str]) -> None:
        """Set the gauges that are read from the database (at scrape time)."""
        metrics = self.services.metrics
        metrics.set_connected(charger_ids)
        metrics.open_transactions.set(await self.services.transactions.count_open())
        metrics.set_open_alerts(list(alert_rules.RULES), await self.repo.open_counts())
        metrics.set_writers(self.services.writers)


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
        await self.services.chargers.flush()  # a connection just queued counts
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
        sessions = await self.services.transactions.open_sessions()
        chargers = await self.services.chargers.get_many(
            [tx["charger"] for tx in sessions], ("connected", "connectors")
        )  # one query, not one per open session
        for tx in sessions:
            charger = chargers.get(tx["charger"]) or {}
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
        counts = await self.services.security_events.counts_since(
            since, alert_rules.SECURITY_EVENT_TYPES
        )
        firing = {charger: {"events": n, "types": types}
                  for charger, (n, types) in counts.items() if n >= params["count"]}  # fmt: skip
        await self.reconcile("security_events", firing)

    async def energy_anomalies(self, params: dict[str, Any]) -> None:
        """Energy anomalies recorded on a charger's transactions within the window."""
        since = self.ago(minutes=params["window_minutes"])
        counts = await self.services.anomalies.counts_since(since, alert_rules.ENERGY_ANOMALIES)
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


def attach(services: Services) -> AlertService:
    """Build the alerts of ``services`` (with ``services.settings.alerts``) and attach
    them; call before ``services.start()``, which starts their loop."""
    services.alerts = AlertService(services, services.settings.alerts)
    return services.alerts


def flag_channels(settings: AlertSettings) -> dict[str, dict[str, Any]]:
    """The channels the server flags describe, by fixed id (``flag-webhook-N``, ``flag-email``)."""
    now = utcnow()
    channels: dict[str, dict[str, Any]] = {}
    for number, url in enumerate(settings.webhooks, 1):
        channels[f"flag-webhook-{number}"] = {
            "type": "webhook", "url": url, "secret": settings.webhook_secret, "rules": None,
            "chargers": None, "source": "flag", "created": now,
        }  # fmt: skip
    if settings.smtp_url and settings.emails:
        channels["flag-email"] = {
            "type": "email", "to": list(settings.emails), "smtp": smtp_from_url(settings.smtp_url),
            "rules": None, "chargers": None, "source": "flag", "created": now,
        }  # fmt: skip
    return channels


__all__ = ["AlertService", "AlertSettings", "alert_view", "attach", "flag_channels"]
