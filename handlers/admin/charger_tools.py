"""The charger page's tools: quick actions (buttons), the configuration table, the
charging profile form and the local authorization list table.

Each tool sends operations through ``csms.remote.perform``; the parameters are built and
checked in ``csms.console_forms``. Status codes as on the operations page: 400 for a bad
form (nothing sent, the form shown again as typed), 409 when the charger is not
connected, 504 when it did not answer in time, 200 for any answer of the charger.
"""

from __future__ import annotations

from typing import Any

import tornado.web

from csms import console_forms, remote
from csms.console_forms import FormErrors
from csms.operation_groups import QUICK_ACTIONS
from handlers.admin.base import AdminHandler
from handlers.admin.chargers import edit_fields, render_edit
from handlers.admin.operations import OUTCOME_TEXT, Result, compact, operation_forms, pretty
from handlers.base import OUTCOME_HTTP_STATUS
from handlers.forms import Form
from models.local_list import entries_from_tags
from ocppj.timeutil import utcnow

MAX_ROWS = 1000
MAX_OPEN = 20


class ToolHandler(AdminHandler):
    """Running operations on the charger of the page."""

    async def run(self, charger_id: str, name: str, params: dict[str, Any]) -> dict[str, Any]:
        """``perform`` with the page's timeout and user; the outcome as a dict."""
        outcome = await remote.perform(
            self.services, self.registry, charger_id, name, params,
            timeout=self.web.action_timeout, requested_by=self.current_user["username"],
        )  # fmt: skip
        return outcome.as_dict()

    def rows(self, prefix: str, names: tuple[str, ...]) -> list[dict[str, str]]:
        """The rows of a table of inputs named ``<prefix>-<field>`` (one value per row)."""
        columns = {name: self.get_body_arguments(f"{prefix}-{name}", strip=False) for name in names}
        count = min(max((len(values) for values in columns.values()), default=0), MAX_ROWS)
        return [
            {name: values[i] if i < len(values) else "" for name, values in columns.items()}
            for i in range(count)
        ]

    def render_tool(self, template: str, charger: dict[str, Any], status: int = 200, **kw) -> None:
        """Render one tool page of the charger."""
        charger_id = charger["_id"]
        self.set_status(status)
        self.render(
            template, cid=charger_id, charger=charger, connected=charger_id in self.registry,
            outcome_text=OUTCOME_TEXT, pretty=pretty, compact=compact, **kw,
        )  # fmt: skip


class QuickActionHandler(ToolHandler):
    """``POST /ocpp/admin/chargers/<cid>/quick/<name>``: a button of the charger page."""

    @tornado.web.authenticated
    async def post(self, charger_id: str, name: str) -> None:
        """Run the operation; the charger page again with its outcome beside the buttons."""
        await self.services.chargers.flush()
        charger = await self.load_charger(charger_id)
        if name not in QUICK_ACTIONS:
            raise tornado.web.HTTPError(404, log_message="not a quick action")
        form = next(item for item in operation_forms() if item.name == name)
        sent = {item.name: self.get_body_argument(item.name, "") for item in form.fields}
        typed = {key: value for key, value in sent.items() if value != ""}
        result = Result(name, typed)
        status = 400
        try:
            result.outcome = await self.run(charger_id, name, dict(typed))
            status = OUTCOME_HTTP_STATUS.get(result.outcome["status"], 200)
        except remote.ParameterError as exc:
            result.errors[exc.field] = exc.message
            if isinstance(exc, remote.Refused):
                result.refused = exc.info
        await render_edit(self, charger, Form(edit_fields(charger)), status, quick=(form, result))


class ConfigurationHandler(ToolHandler):
    """``GET/POST /ocpp/admin/chargers/<cid>/configuration``: the configuration keys as an
    editable table; saving sends ChangeConfiguration for each changed key only."""

    def show(self, charger: dict[str, Any], status: int = 200, **kw) -> None:
        """The table from the keys the charger last reported."""
        config = charger.get("ocpp_config") or {}
        kw.setdefault("typed", {})
        kw.setdefault("errors", {})
        kw.setdefault("results", [])
        kw.setdefault("read", None)
        self.render_tool(
            "admin/charger_configuration.html", charger, status,
            keys=config.get("keys", []), unknown=config.get("unknown", []),
            reported=config.get("ts"), **kw,
        )  # fmt: skip

    @tornado.web.authenticated
    async def get(self, charger_id: str) -> None:
        """The table."""
        self.show(await self.load_charger(charger_id))

    @tornado.web.authenticated
    async def post(self, charger_id: str) -> None:
        """``do=read``: GetConfiguration (all keys); else save the changed keys."""
        charger = await self.load_charger(charger_id)
        if self.get_body_argument("do", "") == "read":
            read = await self.run(charger_id, "get_configuration", {})
            charger = await self.load_charger(charger_id)
            self.show(charger, OUTCOME_HTTP_STATUS.get(read["status"], 200), read=read)
            return
        keys = (charger.get("ocpp_config") or {}).get("keys", [])
        typed = {
            item["key"]: self.get_body_argument(f"key:{item['key']}", strip=False)
            for item in keys
            if self.get_body_argument(f"key:{item['key']}", None, strip=False) is not None
        }
        try:
            changes = console_forms.config_changes(keys, typed)
        except FormErrors as exc:
            self.show(charger, 400, typed=typed, errors=exc.errors)
            return
        results = []
        for key, value in changes:
            try:
                outcome = await self.run(charger_id, "change_configuration",
                                         {"key": key, "value": value})  # fmt: skip
            except remote.ParameterError as exc:
                results.append((key, value, "error", exc.message, None))
                continue
            answer = (outcome.get("reply") or {}).get("status") or outcome["status"]
            results.append((key, value, answer, outcome["description"], outcome["command_id"]))
        charger = await self.load_charger(charger_id)
        failed = {key: value for key, value, answer, *_ in results if answer not in
                  ("Accepted", "RebootRequired")}  # fmt: skip
        self.show(charger, 200, typed=failed, results=results)


class ProfileHandler(ToolHandler):
    """``GET/POST /ocpp/admin/chargers/<cid>/profile``: build a charging profile with a
    form (periods as rows) and send it with SetChargingProfile."""

    async def show(self, charger: dict[str, Any], typed: dict, rows: list, status: int = 200,
                   **kw) -> None:  # fmt: skip
        """The form as typed (at least two period rows), the open transactions offered."""
        rows = rows + [{}] * max(0, 2 - len(rows))
        kw.setdefault("errors", {})
        kw.setdefault("outcome", None)
        txs = await self.services.transactions.open_for_charger(charger["_id"], MAX_OPEN)
        self.render_tool(
            "admin/charger_profile.html", charger, status, typed=typed, rows=rows,
            open_transactions=[(tx["_id"], tx.get("connector")) for tx in txs],
            purposes=console_forms.PURPOSES, kinds=console_forms.KINDS,
            recurrency=console_forms.RECURRENCY, units=console_forms.UNITS, **kw,
        )  # fmt: skip

    @tornado.web.authenticated
    async def get(self, charger_id: str) -> None:
        """An empty form (a TxProfile on connector 1 of the open transaction, if any)."""
        charger = await self.load_charger(charger_id)
        txs = await self.services.transactions.open_for_charger(charger_id, 1)
        typed = {"profile_id": "1", "connector_id": "1", "purpose": "TxDefaultProfile",
                 "stack_level": "0", "kind": "Relative", "unit": "A"}  # fmt: skip
        if txs:
            typed.update(purpose="TxProfile", transaction_id=str(txs[0]["_id"]),
                         connector_id=str(txs[0].get("connector") or 1))  # fmt: skip
        await self.show(charger, typed, [{"start_period": "0"}])

    @tornado.web.authenticated
    async def post(self, charger_id: str) -> None:
        """Check the form; send the profile, or show the form again with its errors."""
        charger = await self.load_charger(charger_id)
        typed = {name: self.get_body_argument(name, "", strip=False)
                 for name in console_forms.PROFILE_FIELDS}  # fmt: skip
        rows = self.rows("period", console_forms.PERIOD_FIELDS)
        try:
            params = console_forms.charging_profile(typed, rows)
            outcome = await self.run(charger_id, "set_charging_profile", params)
        except FormErrors as exc:
            await self.show(charger, typed, rows, 400, errors=exc.errors)
            return
        except remote.ParameterError as exc:
            await self.show(charger, typed, rows, 400, errors={exc.field: exc.message})
            return
        status = OUTCOME_HTTP_STATUS.get(outcome["status"], 200)
        await self.show(charger, typed, rows, status, outcome=outcome)


class LocalListHandler(ToolHandler):
    """``GET/POST /ocpp/admin/chargers/<cid>/local-list``: the local authorization list as
    a table of tags, sent with SendLocalList (Full or Differential)."""

    async def show(self, charger: dict[str, Any], rows: list, status: int = 200, **kw) -> None:
        """The table and what the charger holds."""
        state = await self.services.local_lists.get(charger["_id"]) or {}
        kw.setdefault("errors", {})
        kw.setdefault("outcome", None)
        kw.setdefault("update_type", "Full")
        kw.setdefault("list_version", "")
        self.render_tool(
            "admin/charger_local_list.html", charger, status, rows=[*rows, {}], state=state,
            statuses=console_forms.TAG_STATUSES, **kw,
        )  # fmt: skip

    @tornado.web.authenticated
    async def get(self, charger_id: str) -> None:
        """The table prefilled from the known RFID tags."""
        charger = await self.load_charger(charger_id)
        entries = await entries_from_tags(self.services.db, utcnow())
        await self.show(charger, console_forms.rows_from_entries(entries[:MAX_ROWS]))

    @tornado.web.authenticated
    async def post(self, charger_id: str) -> None:
        """Send the table as it was typed."""
        charger = await self.load_charger(charger_id)
        rows = self.rows("tag", console_forms.TAG_FIELDS)
        update_type = self.get_body_argument("update_type", "Full")
        params = {"update_type": update_type}
        version = self.get_body_argument("list_version", "").strip()
        if version:
            params["list_version"] = version
        kw: dict[str, Any] = {"update_type": update_type, "list_version": version}
        try:
            params["entries"] = console_forms.local_list_entries(rows)
            outcome = await self.run(charger_id, "send_local_list", params)
        except FormErrors as exc:
            await self.show(charger, rows, 400, errors=exc.errors, **kw)
            return
        except remote.ParameterError as exc:
            await self.show(charger, rows, 400, errors={exc.field: exc.message}, **kw)
            return
        status = OUTCOME_HTTP_STATUS.get(outcome["status"], 200)
        await self.show(charger, rows, status, outcome=outcome, **kw)


default_handlers = [
    (r"/ocpp/admin/chargers/([^/]+)/quick/([^/]+)", QuickActionHandler),
    (r"/ocpp/admin/chargers/([^/]+)/configuration", ConfigurationHandler),
    (r"/ocpp/admin/chargers/([^/]+)/profile", ProfileHandler),
    (r"/ocpp/admin/chargers/([^/]+)/local-list", LocalListHandler),
]
