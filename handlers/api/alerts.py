"""Alerts in the JSON API: the alert list and acknowledgement, the rules' settings, the
delivery channels and their deliveries, and an operator's close of a stale session."""

from __future__ import annotations

from typing import Any

from auth.roles import ADMIN
from csms import alert_rules
from csms.alert_delivery import channel_view, check_channel, delivery_view
from csms.alerts import alert_view
from csms.self_heal import close_by_operator
from handlers.api.params import (
    body_string,
    invalid_field,
    invalid_parameter,
    page_of,
    query_int,
    query_page,
    query_text,
    refuse_unknown,
)
from handlers.api.views import transaction_view
from handlers.base import ApiError, APIHandler
from models.alerts import object_id
from ocppj.timeutil import utcnow

NOTE_MAX = 2000


class AlertsHandler(APIHandler):
    """``GET /ocpp/api/alerts/?open=true&charger=&rule=``."""

    async def get(self) -> None:
        """Alerts, newest first: ``{"total", "page", "per_page", "items"}``."""
        raw = self.get_query_argument("open", None)
        if raw not in (None, "", "true", "false"):
            raise invalid_parameter("open", "must be true or false")
        open_only = None if raw in (None, "") else raw == "true"
        rule = query_text(self, "rule", max_length=50)
        if rule is not None and rule not in alert_rules.RULES:
            raise invalid_parameter("rule", f"unknown rule; one of {', '.join(alert_rules.RULES)}")
        charger = query_text(self, "charger", max_length=48)
        page, per_page = query_page(self)
        docs, total = await self.services.alerts.repo.search(
            open_only, charger, rule, skip=(page - 1) * per_page, limit=per_page
        )
        self.write_json(page_of([alert_view(doc) for doc in docs], total, page, per_page))


class AlertAckHandler(APIHandler):
    """``POST /ocpp/api/alerts/<id>/ack`` ``{"note": "..."}``."""

    async def post(self, alert_id: str) -> None:
        """Acknowledge the alert with a note; the alert."""
        body = self.json_body()
        refuse_unknown(body, {"note"})
        note = body_string(body, "note", max_length=NOTE_MAX, nullable=True) or ""
        oid = object_id(alert_id)
        doc = None if oid is None else await self.services.alerts.acknowledge(
            oid, self.current_user["username"], note
        )  # fmt: skip
        if doc is None:
            raise ApiError(404, "not_found", f"no alert {alert_id!r}")
        self.write_json(alert_view(doc))


class AlertRulesHandler(APIHandler):
    """``GET/PATCH /ocpp/api/alert-rules/``."""

    write_role = ADMIN

    def get(self) -> None:
        """Every rule: ``{"items": [{"rule", "title", "enabled", <thresholds>}]}``."""
        self.write_json({"items": self.services.alerts.rule_views()})

    async def patch(self) -> None:
        """``{"<rule>": {"enabled": false, "<threshold>": n}, ...}``: change the given
        settings (all checked before any is stored); every rule as GET shows them."""
        body = self.json_body()
        checked = {}
        for rule, changes in body.items():
            try:
                checked[rule] = alert_rules.check_changes(rule, changes)
            except ValueError as exc:
                raise invalid_field(*exc.args) from None
        for rule, changes in checked.items():
            await self.services.alerts.set_rule(rule, changes)
        self.write_json({"items": self.services.alerts.rule_views()})


class AlertChannelsHandler(APIHandler):
    """``GET/POST /ocpp/api/alert-channels/``."""

    read_role = ADMIN
    write_role = ADMIN

    async def get(self) -> None:
        """Every channel (secrets are never shown): ``{"items": [...]}``."""
        channels = await self.services.alerts.channels.list()
        self.write_json({"items": [channel_view(doc) for doc in channels]})

    async def post(self) -> None:
        """Add a webhook or e-mail channel: 201 with it."""
        try:
            doc = check_channel(self.json_body(), alert_rules.RULES)
        except ValueError as exc:
            raise invalid_field(*exc.args) from None
        doc.update(source="api", created=utcnow())
        await self.services.alerts.channels.create(doc)
        self.services.alerts.dispatcher.kick(doc["_id"])
        self.set_header("Location", f"/ocpp/api/alert-channels/{doc['_id']}/")
        self.write_json(channel_view(doc), 201)


class AlertChannelHandler(APIHandler):
    """``DELETE /ocpp/api/alert-channels/<id>/``."""

    read_role = ADMIN
    write_role = ADMIN

    async def delete(self, channel_id: str) -> None:
        """Remove a channel (its undelivered deliveries are kept, cancelled): 204."""
        key: Any = object_id(channel_id) or channel_id  # channels from flags: "flag-..."
        alerts = self.services.alerts
        if not await alerts.channels.delete(key):
            raise ApiError(404, "not_found", f"no alert channel {channel_id!r}")
        await alerts.dispatcher.forget(key)
        self.set_status(204)
        self.finish()


class AlertDeliveriesHandler(APIHandler):
    """``GET /ocpp/api/alert-deliveries/?limit=``."""

    async def get(self) -> None:
        """The newest deliveries with their state, attempts and last error."""
        limit = query_int(self, "limit", minimum=1, maximum=500, default=50)
        docs = await self.services.alerts.deliveries.recent(limit)
        self.write_json({"items": [delivery_view(doc) for doc in docs]})


class TransactionCloseHandler(APIHandler):
    """``POST /ocpp/api/transactions/<id>/close``: an operator closes an open session (a
    stale one) with the energy of its last register reading."""

    async def post(self, tx_id: str) -> None:
        """The closed session; 404 unknown, 409 not open."""
        refuse_unknown(self.json_body(), set())
        number = int(tx_id) if tx_id.isascii() and tx_id.isdigit() and len(tx_id) <= 18 else None
        tx = None if number is None else await self.services.transactions.get(number)
        if tx is None or tx.get("kind") != "session":
            raise ApiError(404, "not_found", f"no transaction {tx_id}")
        if not tx.get("open"):
            raise ApiError(409, "conflict", f"transaction {tx_id} is not open")
        user = self.current_user["username"]
        if await close_by_operator(self.services, tx, user, utcnow()) is None:
            raise ApiError(409, "conflict", f"transaction {tx_id} is not open")
        self.write_json(transaction_view(await self.services.transactions.get(number)))


default_handlers = [
    (r"/ocpp/api/alerts/", AlertsHandler),
    (r"/ocpp/api/alerts/(?P<alert_id>[^/]+)/ack", AlertAckHandler),
    (r"/ocpp/api/alert-rules/", AlertRulesHandler),
    (r"/ocpp/api/alert-channels/", AlertChannelsHandler),
    (r"/ocpp/api/alert-channels/(?P<channel_id>[^/]+)/", AlertChannelHandler),
    (r"/ocpp/api/alert-deliveries/", AlertDeliveriesHandler),
    (r"/ocpp/api/transactions/(?P<tx_id>[^/]+)/close", TransactionCloseHandler),
]
