"""Admin pages of alerts: the history with filters (acknowledge with a note, close a stale
session), and the rules' thresholds, the delivery channels and their recent deliveries."""

from __future__ import annotations

from typing import Any

import tornado.web

from auth.roles import ADMIN
from csms import alert_rules
from csms.alert_delivery import channel_view, check_channel, delivery_view
from csms.alerts import alert_view
from csms.self_heal import close_by_operator
from handlers import forms
from handlers.admin.base import ADMIN_PATH, AdminHandler
from handlers.base import Pager
from models.alerts import object_id
from ocppj.timeutil import utcnow

ALERTS_PATH = ADMIN_PATH + "alerts/"
SETTINGS_PATH = ALERTS_PATH + "settings/"
PER_PAGE = 50
FILTERS = ("state", "rule", "charger")
STATES = ("", "open", "closed")
DELIVERIES_SHOWN = 30


def alert_row(doc: dict[str, Any]) -> dict[str, Any]:
    """An alert for a page: the API's view, with its times as datetimes for ``fmt_dt``."""
    return {**alert_view(doc), "opened": doc["opened"], "closed": doc.get("closed")}


class AlertsPage(AdminHandler):
    """``GET /ocpp/admin/alerts/?state=&rule=&charger=&page=``."""

    @tornado.web.authenticated
    async def get(self) -> None:
        """Alerts newest first, filtered."""
        form = forms.Form(self.query_fields(*FILTERS, "page"))
        state = form.field("state", forms.choice, STATES)
        rule = form.field("rule", forms.choice, ("", *alert_rules.RULES))
        charger = form.field("charger", forms.text, forms.MAX_CHARGER_ID)
        page = form.field("page", forms.page) or 1
        pager = Pager(page, PER_PAGE, 0, ALERTS_PATH, {name: form.raw[name] for name in FILTERS})
        alerts: list[dict[str, Any]] = []
        if form.ok:
            open_only = None if not state else state == "open"
            docs, pager.total = await self.services.alerts.repo.search(
                open_only, charger or None, rule or None, skip=pager.skip, limit=PER_PAGE
            )
            alerts = [alert_row(doc) for doc in docs]
        else:
            self.set_status(400)
        self.render("admin/alerts.html", form=form, alerts=alerts, pager=pager,
                    rules=alert_rules.RULES, states=STATES)  # fmt: skip


class AlertAckPage(AdminHandler):
    """``POST /ocpp/admin/alerts/<id>/ack``: acknowledge with a note."""

    @tornado.web.authenticated
    async def post(self, alert_id: str) -> None:
        """Store the acknowledgement and go back to the list."""
        form = forms.Form(self.body_fields("note"))
        note = form.field("note", forms.text, 2000, multiline=True)
        oid = object_id(alert_id)
        if oid is None or await self.services.alerts.repo.get(oid) is None:
            raise tornado.web.HTTPError(404, log_message="unknown alert")
        if not form.ok:
            self.flash("The note: " + form.errors["note"])
        else:
            await self.services.alerts.acknowledge(oid, self.current_user["username"], note)
            self.flash("Alert acknowledged.")
        self.redirect(self.get_body_argument("back", ALERTS_PATH))


class TransactionClosePage(AdminHandler):
    """``POST /ocpp/admin/transactions/<id>/close``: close a stale session."""

    @tornado.web.authenticated
    async def post(self, tx_id: str) -> None:
        """Close it with the energy of its last register reading."""
        tx = (
            await self.services.transactions.get(int(tx_id))
            if tx_id.isascii() and tx_id.isdigit() and len(tx_id) <= 18
            else None
        )
        if tx is None or tx.get("kind") != "session":
            raise tornado.web.HTTPError(404, log_message="unknown transaction")
        user = self.current_user["username"]
        if tx.get("open") and await close_by_operator(self.services, tx, user, utcnow()):
            self.flash(f"Transaction {tx_id} closed.")
        else:
            self.flash(f"Transaction {tx_id} was not open.")
        self.redirect(ALERTS_PATH)


class AlertSettingsPage(AdminHandler):
    """``GET/POST /ocpp/admin/alerts/settings/``: rules, channels, deliveries."""

    read_role = ADMIN
    write_role = ADMIN

    async def show(self, errors: dict[str, str] | None = None, typed: Any = None) -> None:
        """Render the settings (``typed``: the channel form as typed, after an error)."""
        alerts = self.services.alerts
        channels = [channel_view(doc) for doc in await alerts.channels.list()]
        deliveries = [
            delivery_view(doc) for doc in await alerts.deliveries.recent(DELIVERIES_SHOWN)
        ]
        self.render("admin/alert_settings.html", rules=alerts.rule_views(), channels=channels,
                    deliveries=deliveries, errors=errors or {}, typed=typed or {},
                    params=alert_rules.RULES)  # fmt: skip

    @tornado.web.authenticated
    async def get(self) -> None:
        """The settings page."""
        await self.show()

    @tornado.web.authenticated
    async def post(self) -> None:
        """``form=rules``: the thresholds; ``form=webhook``: add a webhook channel;
        ``form=delete``: remove a channel."""
        kind = self.get_body_argument("form", "")
        if kind == "rules":
            await self._rules()
        elif kind == "webhook":
            await self._webhook()
        elif kind == "delete":
            key = self.get_body_argument("channel", "")
            channel_id: Any = object_id(key) or key
            if await self.services.alerts.channels.delete(channel_id):
                await self.services.alerts.dispatcher.forget(channel_id)
            self.flash("Channel removed.")
            self.redirect(SETTINGS_PATH)
        else:
            raise tornado.web.HTTPError(400, log_message="unknown form")

    async def _rules(self) -> None:
        changes: dict[str, dict[str, Any]] = {}
        errors: dict[str, str] = {}
        for rule, (_, params) in alert_rules.RULES.items():
            wanted: dict[str, Any] = {
                "enabled": bool(self.get_body_argument(f"{rule}.enabled", ""))
            }
            for name in params:
                raw = self.get_body_argument(f"{rule}.{name}", "").strip()
                try:
                    wanted[name] = float(raw) if "." in raw else int(raw)
                except ValueError:
                    errors[f"{rule}.{name}"] = "must be a number"
                    continue
            try:
                changes[rule] = alert_rules.check_changes(rule, wanted)
            except ValueError as exc:
                errors.setdefault(exc.args[0], exc.args[1])
        if errors:
            self.set_status(400)
            await self.show(errors)
            return
        for rule, checked in changes.items():
            await self.services.alerts.set_rule(rule, checked)
        self.flash("Rules saved.")
        self.redirect(SETTINGS_PATH)

    async def _webhook(self) -> None:
        typed = {name: self.get_body_argument(name, "") for name in ("url", "secret", "name")}
        body: dict[str, Any] = {"type": "webhook", **typed}
        try:
            doc = check_channel(body, alert_rules.RULES)
        except ValueError as exc:
            self.set_status(400)
            await self.show({f"webhook.{exc.args[0]}": exc.args[1]}, typed)
            return
        doc.update(source="admin", created=utcnow())
        await self.services.alerts.channels.create(doc)
        self.services.alerts.dispatcher.kick(doc["_id"])
        self.flash("Webhook added.")
        self.redirect(SETTINGS_PATH)


default_handlers = [
    (ALERTS_PATH, AlertsPage),
    (ALERTS_PATH + r"(?P<alert_id>[^/]+)/ack", AlertAckPage),
    (ADMIN_PATH + r"transactions/(?P<tx_id>[^/]+)/close", TransactionClosePage),
    (SETTINGS_PATH, AlertSettingsPage),
]
