"""Admin pages of simulator entries: list with running state, create, edit, delete, and the
start/stop actions (POST). The running simulators live in the ``SimulatorManager`` of the
Application settings (``self.simulators``); the entries in the ``simulators`` collection.
"""

from __future__ import annotations

import logging
import math
from contextlib import suppress
from typing import Any
from urllib.parse import quote, urlsplit

import tornado.web

from handlers import forms
from handlers.admin.base import ADMIN_PATH, AdminHandler
from handlers.chargepoint.websocket import charger_id_from_path
from models.simulators import SimulatorRepo
from ocppj.timeutil import utcnow
from simulator import ConfigError, SimulatorState
from simulator.manager import (
    GENERAL,
    ManagerClosed,
    SimulatorConflict,
    config_problems,
    entry_config,
    entry_url,
    target_problems,
)

log = logging.getLogger("csms.admin")

LIST_PATH = f"{ADMIN_PATH}simulators/"
MAX_PATH = 200
MAX_HOST = 253
MAX_USERNAME = 48
MAX_PASSWORD = 100
MAX_CONNECTORS = 20
# Characters a URL path may hold as they are; anything else must be percent-encoded.
PATH_SAFE = "/%:@!$&'()*+,;=-._~"
# Every form field of an entry, with what a new entry's form shows.
NEW_ENTRY = {
    "name": "", "cp_path": "", "host": "", "ws_port": "", "rfid": "", "interval": "5",
    "kwh_min": "1", "kwh_max": "2", "duration": "60", "pre_charge_delay": "0", "repeat": "",
    "connectors": "1", "username": "", "password": "", "clear_password": "",
}  # fmt: skip
# SimulatorState.status -> the CSS class of its badge
STATUS_CLASSES = {"connecting": "Preparing", "booting": "Preparing", "ready": "Available",
                  "stopping": "Finishing", "error": "Faulted"}  # fmt: skip


def simulator_url(entry_id: str, suffix: str = "") -> str:
    """The admin page (or an action) of a simulator entry."""
    return f"{LIST_PATH}{quote(entry_id, safe='')}/{suffix}"


def _number(value: str, low: float, high: float, *, above_low: bool = False) -> float:
    """A finite number in [low, high] (or (low, high] with ``above_low``)."""
    try:
        number = float(value.strip())
    except ValueError:
        raise forms.FieldError("must be a number") from None
    if not math.isfinite(number):
        raise forms.FieldError("must be a finite number")
    if above_low and number <= low:
        raise forms.FieldError(f"must be greater than {low:g}")
    if not low <= number <= high:
        raise forms.FieldError(f"must be between {low:g} and {high:g}")
    return number


def _cp_path(value: str) -> str:
    """A WebSocket path whose last segment is a charger id the server accepts."""
    value = forms.text(value, MAX_PATH, required=True)
    if quote(value, safe=PATH_SAFE) != value:
        raise forms.FieldError("percent-encode spaces and special characters (e.g. %20)")
    charger_id, why = charger_id_from_path("/" + value)
    if charger_id is None:
        raise forms.FieldError(why)
    return value


def _host(value: str) -> str:
    """A host name or address (no scheme, port or path)."""
    value = forms.text(value, MAX_HOST, required=True)
    if any(char.isspace() or char in "/?#@" for char in value):
        raise forms.FieldError("a host name or address only (no scheme, port or path)")
    return value


def _password(value: str) -> str | None:
    """A password as typed (not trimmed), or None when empty."""
    if not value:
        return None
    if len(value) > MAX_PASSWORD:
        raise forms.FieldError(f"at most {MAX_PASSWORD} characters ({len(value)} given)")
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise forms.FieldError("must not contain control characters")
    return value


def entry_fields(entry: dict[str, Any]) -> dict[str, str]:
    """The edit form filled from a stored entry (never with its password)."""

    def text(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    fields = {name: text(entry.get(name)) for name in NEW_ENTRY}
    fields["repeat"] = "on" if entry.get("repeat") else ""
    fields["password"] = fields["clear_password"] = ""
    return fields


def parse_entry(form: forms.Form, stored_password: str | None) -> dict[str, Any]:
    """Validate the form into the fields of an entry; errors go into ``form``.

    An empty password keeps ``stored_password`` unless ``clear_password`` is ticked.
    """
    form.field("name", forms.text, forms.MAX_NAME, required=True)
    form.field("cp_path", _cp_path)
    form.field("host", _host)
    form.field("ws_port", forms.optional_integer, 1, 65535)
    form.field("rfid", forms.optional_id_tag)
    form.field("interval", _number, 0, 3600, above_low=True)
    kwh_min = form.field("kwh_min", _number, 0, 1000)
    kwh_max = form.field("kwh_max", _number, 0, 1000)
    if kwh_min is not None and kwh_max is not None and kwh_max < kwh_min:
        form.error("kwh_max", f"must be at least kwh_min ({kwh_min:g})")
    form.field("duration", _number, 0, 7 * 86400, above_low=True)
    form.field("pre_charge_delay", _number, 0, 3600)
    form.field("repeat", forms.checkbox)
    form.field("connectors", forms.integer, 1, MAX_CONNECTORS)
    username = form.field("username", forms.text, MAX_USERNAME)
    password = form.field("password", _password)
    if password is None and not forms.checkbox(form.raw.get("clear_password", "")):
        password = stored_password
    values = dict(form.values)
    values.update(
        username=username or None, password=password, rfid=values.get("rfid") or None,
    )  # fmt: skip
    return values


def check_config(form: forms.Form, values: dict[str, Any], default_port: int) -> None:
    """Let the simulator judge a form that passed the form rules (per-field errors)."""
    if not form.ok:
        return
    probe = {name: values[name] for name in values if name != "name"}
    probe["ws_port"] = probe["ws_port"] or default_port
    for field, problem in config_problems(probe).items():
        form.error(field, problem)


class SimulatorAdminHandler(AdminHandler):
    """Base of the simulator pages: the manager and the entries."""

    @property
    def entries(self) -> SimulatorRepo:
        """The stored simulator entries."""
        return self.services.simulators

    def default_port(self) -> int:
        """This server's port, for entries without one: as configured on the manager, else
        from the public URL, else from the request."""
        if self.simulators.default_port:
            return self.simulators.default_port
        public = urlsplit(self.web.public_url)
        with suppress(ValueError):
            if public.port:
                return public.port
        with suppress(ValueError):
            port = urlsplit("//" + self.request.host).port
            if port:
                return port
        return 443 if public.scheme == "https" else 80

    def target_problems(self, host: str, port: int) -> dict[str, str]:
        """Why a simulator may not connect there (by field); empty when it may: anywhere
        with --allow-simulator-targets, else only this server."""
        if self.simulators.allow_any_target:
            return {}
        hosts = {self.request.host_name, urlsplit(self.web.public_url).hostname or ""}
        if self.simulators.default_host:
            hosts.add(self.simulators.default_host)
        ports = {self.default_port(), *self.simulators.other_ports}
        with suppress(ValueError):
            ports.add(urlsplit("//" + self.request.host).port or self.default_port())
        return target_problems(host, port, hosts, ports)

    def default_host(self) -> str:
        """Where this server is reached from its own process (pre-filled in new entries)."""
        public_host = urlsplit(self.web.public_url).hostname
        return self.simulators.default_host or public_host or "127.0.0.1"

    def get_template_namespace(self) -> dict[str, Any]:
        """Simulator templates also get their URL helpers and state formatting."""
        namespace = super().get_template_namespace()
        namespace.update(
            simulator_url=simulator_url, status_class=status_class, status_label=status_label,
            session_text=session_text,
            default_port=self.default_port(),
        )  # fmt: skip
        return namespace

    async def load(self, entry_id: str) -> dict[str, Any]:
        """The entry, or 404."""
        entry = await self.entries.get(entry_id)
        if entry is None:
            raise tornado.web.HTTPError(404, log_message="unknown simulator")
        return entry

    def show_form(self, entry: dict[str, Any] | None, form: forms.Form, status: int = 200):
        """The create (``entry`` None) or edit page with ``form`` as typed."""
        entry_id = None if entry is None else str(entry["_id"])
        self.set_status(status)
        self.render(
            "admin/simulators_edit.html", entry=entry, entry_id=entry_id, form=form,
            has_password=bool(entry and entry.get("password")), general=GENERAL,
            state=None if entry_id is None else self.simulators.state(entry_id),
            url=None if entry is None else entry_url(entry, self.default_port()),
        )  # fmt: skip

    async def save(self, entry: dict[str, Any] | None) -> None:
        """Validate the submitted form; store it and go to the list, or show it again (400)."""
        form = forms.Form(self.body_fields(*NEW_ENTRY))
        values = parse_entry(form, None if entry is None else entry.get("password"))
        check_config(form, values, self.default_port())
        if form.ok:
            port = values["ws_port"] or self.default_port()
            for field, problem in self.target_problems(values["host"], port).items():
                form.error(field, problem)
        exclude = None if entry is None else entry["_id"]
        if form.ok and await self.entries.name_taken(values["name"], exclude):
            form.error("name", "another simulator has this name")
        if not form.ok:
            self.show_form(entry, form, 400)
            return
        if entry is None:
            await self.entries.create(values, utcnow())
            self.flash(f"Simulator {values['name']} added.")
        else:
            if not await self.entries.update(entry["_id"], values, utcnow()):
                raise tornado.web.HTTPError(404, log_message="simulator deleted meanwhile")
            note = " Stop and start it to apply the changes." if self.running(entry) else ""
            self.flash(f"Simulator {values['name']} saved.{note}")
        self.redirect(LIST_PATH)

    def running(self, entry: dict[str, Any]) -> bool:
        """True while the entry's simulator runs."""
        return self.simulators.is_running(str(entry["_id"]))


def status_class(state: SimulatorState | None) -> str:
    """The badge class of a simulator's state."""
    if state is None:
        return "status"
    if state.current_session is not None:
        return "status status-Charging"
    return "status status-" + STATUS_CLASSES.get(state.status, "Unknown")


def status_label(state: SimulatorState | None) -> str:
    """What a simulator is doing, in a word."""
    if state is None:
        return "not started"
    return "charging" if state.current_session is not None else state.status


def session_text(state: SimulatorState | None) -> str:
    """The current session in a few words (empty without one)."""
    session = None if state is None else state.current_session
    if session is None:
        return ""
    parts = [f"connector {session.connector}"]
    if session.transaction_id is not None:
        parts.append(f"transaction {session.transaction_id}")
    parts.append(f"{session.energy_wh / 1000:.3f} kWh")
    return " · ".join(parts)


class SimulatorListHandler(SimulatorAdminHandler):
    """``GET /ocpp/admin/simulators/``: every entry with its URL and running state."""

    @tornado.web.authenticated
    async def get(self) -> None:
        """The list."""
        entries = await self.entries.list()
        port = self.default_port()
        rows = [
            {"entry": entry, "id": str(entry["_id"]), "url": entry_url(entry, port),
             "state": self.simulators.state(str(entry["_id"]))}
            for entry in entries
        ]  # fmt: skip
        self.render("admin/simulators.html", rows=rows)


class SimulatorNewHandler(SimulatorAdminHandler):
    """``GET/POST /ocpp/admin/simulators/new``: create an entry."""

    @tornado.web.authenticated
    def get(self) -> None:
        """The empty form (host pre-filled with this server)."""
        self.show_form(None, forms.Form(NEW_ENTRY | {"host": self.default_host()}))

    @tornado.web.authenticated
    async def post(self) -> None:
        """Create the entry, or show the form again with its errors (400)."""
        await self.save(None)


class SimulatorEditHandler(SimulatorAdminHandler):
    """``GET/POST /ocpp/admin/simulators/<id>/``: edit an entry."""

    @tornado.web.authenticated
    async def get(self, entry_id: str) -> None:
        """The form filled with the stored values (the password stays blank)."""
        entry = await self.load(entry_id)
        self.show_form(entry, forms.Form(entry_fields(entry)))

    @tornado.web.authenticated
    async def post(self, entry_id: str) -> None:
        """Save, or show the form again as typed with its errors (400)."""
        await self.save(await self.load(entry_id))


class SimulatorStartHandler(SimulatorAdminHandler):
    """``POST /ocpp/admin/simulators/<id>/start``."""

    @tornado.web.authenticated
    async def post(self, entry_id: str) -> None:
        """Start the entry's simulator (once); the outcome is flashed on the list."""
        entry = await self.load(entry_id)
        name = entry.get("name") or entry_id
        try:
            config = entry_config(entry, self.default_port())
            refused = self.target_problems(config.host, config.ws_port)
            if refused:  # stored before the rule, or the server's flags changed
                raise ConfigError("; ".join(f"{key}: {why}" for key, why in refused.items()))
            started = self.simulators.start(str(entry["_id"]), config)
        except ConfigError as exc:
            self.flash(f"Simulator {name} cannot start: {exc}")
        except (ManagerClosed, SimulatorConflict) as exc:
            self.flash(f"Simulator {name} was not started: {exc}.")
        else:
            if started:
                log.info("simulator %s started by %s", name, self.current_user["username"])
            self.flash(f"Simulator {name} {'started' if started else 'is already running'}.")
        self.redirect(LIST_PATH)


class SimulatorStopHandler(SimulatorAdminHandler):
    """``POST /ocpp/admin/simulators/<id>/stop``."""

    @tornado.web.authenticated
    async def post(self, entry_id: str) -> None:
        """Stop the entry's simulator (its sessions end with StopTransaction)."""
        entry = await self.load(entry_id)
        name = entry.get("name") or entry_id
        stopped = await self.simulators.stop(str(entry["_id"]))
        self.flash(f"Simulator {name} {'stopped' if stopped else 'was not running'}.")
        self.redirect(LIST_PATH)


class SimulatorDeleteHandler(SimulatorAdminHandler):
    """``POST /ocpp/admin/simulators/<id>/delete``."""

    @tornado.web.authenticated
    async def post(self, entry_id: str) -> None:
        """Stop the entry's simulator, then delete the entry (the charger's data stays)."""
        entry = await self.load(entry_id)
        await self.simulators.remove(str(entry["_id"]))
        if not await self.entries.delete(entry["_id"]):
            raise tornado.web.HTTPError(404, log_message="simulator deleted meanwhile")
        name = entry.get("name") or entry_id
        log.info("simulator %s deleted by %s", name, self.current_user["username"])
        self.flash(f"Simulator {name} deleted.")
        self.redirect(LIST_PATH)


default_handlers = [
    (r"/ocpp/admin/simulators/", SimulatorListHandler),
    (r"/ocpp/admin/simulators/new", SimulatorNewHandler),
    (r"/ocpp/admin/simulators/([^/]+)/", SimulatorEditHandler),
    (r"/ocpp/admin/simulators/([^/]+)/start", SimulatorStartHandler),
    (r"/ocpp/admin/simulators/([^/]+)/stop", SimulatorStopHandler),
    (r"/ocpp/admin/simulators/([^/]+)/delete", SimulatorDeleteHandler),
]
