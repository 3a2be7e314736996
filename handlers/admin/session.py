"""The admin page of one charging session: its figures, tag, anomalies, commands, meter
value charts, and a Stop button (RemoteStopTransaction) while it is open."""

from __future__ import annotations

from typing import Any

import orjson
import tornado.web

from csms import remote
from csms.session_charts import session_detail
from handlers.admin.base import AdminHandler
from handlers.admin.operations import OUTCOME_TEXT
from handlers.base import OUTCOME_HTTP_STATUS
from ocppj.timeutil import utcnow


def is_id(text: str) -> bool:
    """``text`` is a transaction or reservation id (digits only, at most 18)."""
    return text.isascii() and text.isdigit() and len(text) <= 18


def chart_json(charts: list[dict[str, Any]]) -> str:
    """The charts as JSON for a ``<script type="application/json">`` block (``</`` is
    escaped so no value can close the script element)."""
    return orjson.dumps(charts).decode().replace("</", "<\\/")


class SessionHandler(AdminHandler):
    """``GET /ocpp/admin/sessions/<transaction id>/``."""

    async def load(self, tx_id: str) -> dict[str, Any]:
        """The transaction, or 404."""
        tx = await self.services.transactions.get(int(tx_id)) if is_id(tx_id) else None
        if tx is None:
            raise tornado.web.HTTPError(404, log_message="unknown transaction")
        return tx

    async def show(
        self, tx: dict[str, Any], outcome: dict[str, Any] | None = None, status: int = 200
    ) -> None:
        """Render the page (with the outcome of a Stop, if one was sent)."""
        detail = await session_detail(self.services, tx, utcnow())
        self.set_status(status)
        self.render(
            "admin/session.html", tx=tx, detail=detail, outcome=outcome,
            outcome_text=OUTCOME_TEXT, connected=tx.get("charger") in self.registry,
            chart_json=chart_json(detail["charts"]),
        )  # fmt: skip

    @tornado.web.authenticated
    async def get(self, tx_id: str) -> None:
        """The page."""
        await self.show(await self.load(tx_id))


class SessionStopHandler(SessionHandler):
    """``POST /ocpp/admin/sessions/<transaction id>/stop``: RemoteStopTransaction."""

    @tornado.web.authenticated
    async def post(self, tx_id: str) -> None:
        """Ask the charger to stop the session; the page with the typed outcome."""
        tx = await self.load(tx_id)
        if not tx.get("open"):
            await self.show(tx, {"status": "refused", "description": "already stopped"}, 409)
            return
        try:
            outcome = await remote.perform(
                self.services, self.registry, tx["charger"], "remote_stop",
                {"transaction_id": tx["_id"]}, timeout=self.web.action_timeout,
                requested_by=self.current_user["username"],
            )  # fmt: skip
        except remote.ParameterError as exc:
            await self.show(tx, {"status": "refused", "description": exc.message}, 400)
            return
        status = OUTCOME_HTTP_STATUS.get(outcome.status, 200)
        await self.show(await self.load(tx_id), outcome.as_dict(), status)


default_handlers = [
    (r"/ocpp/admin/sessions/([^/]+)/", SessionHandler),
    (r"/ocpp/admin/sessions/([^/]+)/stop", SessionStopHandler),
]
