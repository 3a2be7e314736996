"""Admin page of a charger's remote operations: one form per operation, generated from the
parameter schemas of ``csms.remote.describe_operations``, the outcome next to the form that
was sent, and the charger's recent commands.

The forms post plain text; ``csms.remote.perform`` parses it (digit strings, comma lists,
JSON text for objects, "" = not given). Status codes: 400 for a bad or refused request
(nothing sent), 409 when the charger is not connected (or dropped the link while we
waited), 504 when it did not answer in time, 200 for any answer of the charger.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import orjson
import tornado.web

from csms import operation_groups, remote
from handlers.admin.base import AdminHandler
from handlers.base import OUTCOME_HTTP_STATUS

RECENT_COMMANDS = 20
OUTCOME_TEXT = {
    "accepted": "The charger accepted.",
    "rejected": "The charger answered, but refused.",
    "error": "The charger answered with an error.",
    "timeout": "No reply in time: the command is stored as timed out.",
    "not_connected": "The charger is not connected: nothing was sent.",
    "disconnected": "The connection closed before the charger answered.",
    "cancelled": "The request was given up.",
}
DATETIME_HINT = "2026-01-31T10:00:00Z"


@dataclass(frozen=True, slots=True)
class FormField:
    """One input of an operation form, derived from the JSON schema of the parameter."""

    name: str
    widget: str  # select, number, text, textarea, checkbox
    required: bool
    schema: dict[str, Any]

    @property
    def label(self) -> str:
        """Human label: ``connector_id`` -> ``Connector id``."""
        return self.name.replace("_", " ").capitalize()

    @property
    def kind(self) -> str:
        """The JSON type of the parameter."""
        return str(self.schema.get("type", "string"))

    @property
    def choices(self) -> list[str]:
        """The allowed values of a select."""
        return [str(value) for value in self.schema.get("enum", ())]

    @property
    def max_length(self) -> int | None:
        """The longest text accepted (for strings, ``maxlength``)."""
        return self.schema.get("maxLength") if self.kind == "string" else None

    @property
    def placeholder(self) -> str:
        """An example of the expected text."""
        fmt = self.schema.get("format")
        if fmt == "date-time":
            return DATETIME_HINT
        if fmt == "uri":
            return "ftp://host/path"
        if self.kind == "array":
            return "comma-separated, or a JSON array"
        if self.kind == "object":
            return "a JSON object"
        return ""

    @property
    def hint(self) -> str:
        """What is expected, shown under the label."""
        parts = []
        if self.schema.get("format") == "date-time":
            parts.append("RFC 3339 date-time with a time zone")
        elif self.schema.get("format") == "uri":
            parts.append("absolute URI")
        for key, word in (("minimum", "at least"), ("maximum", "at most")):
            if key in self.schema:
                parts.append(f"{word} {self.schema[key]}")
        if self.schema.get("description"):
            parts.append(str(self.schema["description"]))
        return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class OperationForm:
    """The form of one operation."""

    name: str
    action: str
    profile: str
    summary: str
    fields: tuple[FormField, ...] = field(default_factory=tuple)

    @property
    def title(self) -> str:
        """The human name ("Get configuration")."""
        return operation_groups.title_of(self.name)

    @property
    def help(self) -> str:
        """One line of help."""
        return operation_groups.help_of(self.name)

    def names(self) -> set[str]:
        """The parameter names of the form."""
        return {item.name for item in self.fields}


def widget_for(schema: dict[str, Any]) -> str:
    """The input kind for a parameter schema."""
    kind = schema.get("type")
    if schema.get("enum"):
        return "select"
    if kind in ("integer", "number"):
        return "number"
    if kind == "boolean":
        return "checkbox"
    if kind in ("object", "array"):
        return "textarea"
    return "text"


def operation_forms() -> list[OperationForm]:
    """A form for every remote operation, in the order of the operation table."""
    forms = []
    for name, op in remote.describe_operations().items():
        params = op["parameters"]
        required = set(params.get("required", ()))
        fields = tuple(
            FormField(key, widget_for(schema), key in required, schema)
            for key, schema in params.get("properties", {}).items()
        )
        forms.append(OperationForm(name, op["action"], op["profile"], op["summary"], fields))
    return forms


def grouped_forms() -> list[tuple[operation_groups.Group, list[OperationForm]]]:
    """The forms grouped by purpose (Core, Configuration, ...), in the groups' order."""
    by_name = {form.name: form for form in operation_forms()}
    return [
        (group, [by_name[op.name] for op in group.operations if op.name in by_name])
        for group in operation_groups.GROUPS
    ]


def form_params(form: OperationForm, typed: dict[str, str | None]) -> dict[str, Any]:
    """The parameters for ``remote.perform`` from the submitted text.

    Text goes through unchanged (``perform`` parses it); a checkbox is True when
    ticked; a list may also be typed as a JSON array. Raises ParameterError.
    """
    params: dict[str, Any] = {}
    for item in form.fields:
        text = typed.get(item.name)
        if item.widget == "checkbox":
            if text is not None:
                params[item.name] = True
            elif item.required:
                params[item.name] = False
            continue
        if text is None:
            continue
        if item.kind == "array" and text.strip().startswith("["):
            try:
                params[item.name] = orjson.loads(text)
            except orjson.JSONDecodeError:
                raise remote.ParameterError(
                    item.name, "must be a JSON array of strings or a comma-separated list"
                ) from None
        elif item.kind == "number" and text.strip():
            try:
                params[item.name] = float(text)
            except ValueError:
                raise remote.ParameterError(item.name, "must be a number") from None
        else:
            params[item.name] = text
    return params


def pretty(value: Any) -> str:
    """JSON for display (escaped by the template)."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)


def compact(value: Any) -> str:
    """One-line JSON for the command table."""
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)


@dataclass(slots=True)
class Result:
    """What happened to the form that was sent: errors by field, or the outcome."""

    name: str
    typed: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    refused: dict[str, Any] | None = None
    outcome: dict[str, Any] | None = None

    @property
    def message(self) -> str:
        """A sentence about the outcome."""
        if self.outcome is None:
            return "Nothing was sent: please correct the fields marked below."
        return OUTCOME_TEXT.get(self.outcome["status"], self.outcome["status"])


class OperationsBase(AdminHandler):
    """Loading the charger and rendering the page."""

    async def load(self, charger_id: str) -> dict[str, Any]:
        """The charger, or 404."""
        return await self.load_charger(charger_id)

    async def show(
        self, charger: dict[str, Any], result: Result | None = None, status: int = 200
    ) -> None:
        """Render the page (with the result of the form sent, if any)."""
        charger_id = charger["_id"]
        commands = await self.services.commands.recent(charger_id, RECENT_COMMANDS)
        self.set_status(status)
        self.render(
            "admin/operations.html", cid=charger_id, charger=charger,
            connected=charger_id in self.registry, groups=grouped_forms(), result=result,
            commands=commands, pretty=pretty, compact=compact,
        )  # fmt: skip


class OperationsHandler(OperationsBase):
    """``GET /ocpp/admin/chargers/<cid>/operations/``: every operation form."""

    @tornado.web.authenticated
    async def get(self, charger_id: str) -> None:
        """The page."""
        await self.show(await self.load(charger_id))


class OperationHandler(OperationsBase):
    """``POST /ocpp/admin/chargers/<cid>/operations/<name>``: run one operation."""

    @tornado.web.authenticated
    async def post(self, charger_id: str, name: str) -> None:
        """Run the operation and show the page with its outcome next to its form."""
        charger = await self.load(charger_id)
        form = next((item for item in operation_forms() if item.name == name), None)
        if form is None:
            raise tornado.web.HTTPError(404, log_message="unknown operation")
        submitted = {
            item.name: self.get_body_argument(item.name, None, strip=False) for item in form.fields
        }
        typed = {key: value for key, value in submitted.items() if value is not None}
        self.require_role(remote.needed_role(name, typed))
        result = Result(name, typed)
        try:
            params = form_params(form, submitted)
            outcome = await remote.perform(
                self.services, self.registry, charger_id, name, params,
                timeout=self.web.action_timeout, requested_by=self.current_user["username"],
            )  # fmt: skip
        except remote.ParameterError as exc:
            result.errors[exc.field] = exc.message
            if isinstance(exc, remote.Refused):
                result.refused = exc.info
            await self.show(charger, result, 400)
            return
        result.outcome = outcome.as_dict()
        await self.show(charger, result, OUTCOME_HTTP_STATUS.get(outcome.status, 200))


default_handlers = [
    (r"/ocpp/admin/chargers/([^/]+)/operations/", OperationsHandler),
    (r"/ocpp/admin/chargers/([^/]+)/operations/([^/]+)", OperationHandler),
]
