"""Admin pages of chargers: list and add, edit (name, RFID, JSON config, map position),
delete with everything recorded for the charger."""

from __future__ import annotations

import logging
from typing import Any

import tornado.web

from csms.chargers import PURGED, STATUS_FILTERS, delete_charger
from csms.tariffs import is_timezone
from handlers import forms, qrcodes
from handlers.admin.base import AdminHandler, charger_url, path_segment
from handlers.admin.operations import compact, pretty
from handlers.base import Pager
from handlers.chargepoint.websocket import charger_id_from_path
from handlers.live import ChargerFilter, charger_card, session_view
from ocppj.timeutil import utcnow

log = logging.getLogger("csms.admin")

RECENT_SESSIONS = 10
MAX_OPEN = 20
MAX_TAG_CHOICES = 500
LIST_PAGE = 100
LIST_PATH = "/ocpp/admin/chargers/"


BOOT_LABELS = {"vendor": "Vendor", "model": "Model", "serial": "Serial number",
               "charge_box_serial": "Charge box serial", "firmware": "Firmware",
               "iccid": "ICCID", "imsi": "IMSI", "meter_type": "Meter type",
               "meter_serial": "Meter serial", "ts": "Booted"}  # fmt: skip


def boot_rows(boot: dict[str, Any] | None) -> list[tuple[str, Any]]:
    """The boot information as (label, value) rows: known fields first, empty ones left out."""
    boot = boot or {}
    known = [(label, boot.get(key)) for key, label in BOOT_LABELS.items()]
    other = [(key, value) for key, value in sorted(boot.items()) if key not in BOOT_LABELS]
    return [(label, value) for label, value in known + other if value not in (None, "")]


def sorted_connectors(charger: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The charger's connector states ordered by connector number."""
    connectors = charger.get("connectors") or {}

    def key(item: tuple[str, Any]) -> tuple[int, str]:
        return (int(item[0]), "") if item[0].isdigit() else (1 << 30, item[0])

    return sorted(connectors.items(), key=key)


def coordinate_text(value: Any) -> str:
    """A stored coordinate as the text of its input."""
    return "" if value is None else repr(float(value))


def edit_fields(charger: dict[str, Any]) -> dict[str, str]:
    """The edit form filled from the stored charger."""
    return {
        "name": charger.get("name") or "",
        "require_rfid": "on" if charger.get("require_rfid") else "",
        "config": forms.pretty_json(charger.get("config") or {}),
        "latitude": coordinate_text(charger.get("latitude")),
        "longitude": coordinate_text(charger.get("longitude")),
        "tariff": charger.get("tariff") or "",
        "timezone": charger.get("timezone") or "",
    }


async def save_qr(handler: AdminHandler, charger_id: str) -> None:
    """Create or refresh the charger's QR code (its landing page URL may have changed)."""
    await qrcodes.ensure_qr(handler.services, charger_id, handler.web.public_url)


async def render_edit(
    handler: AdminHandler, charger: dict[str, Any], form: forms.Form, status: int = 200,
    delete_error: str | None = None, quick: tuple[Any, Any] | None = None,
) -> None:  # fmt: skip
    """Render the charger page with the edit ``form`` as typed and its errors, and the
    outcome of a quick action (its operation form and result) if one was sent."""
    charger_id = charger["_id"]
    services = handler.services
    connected = charger_id in handler.registry
    await services.meter_values.flush()
    open_sessions = [
        await session_view(services, tx)
        for tx in await services.transactions.open_for_charger(charger_id, MAX_OPEN)
    ]
    sessions = await services.transactions.list_for_charger(charger_id, RECENT_SESSIONS)
    _, tx_total = await services.transactions.search(charger=charger_id, limit=1)
    _, mv_total = await services.meter_values.search(charger=charger_id, limit=1)
    purge = {
        "transactions": tx_total,
        "meter_values": mv_total,
        "messages": await services.messages.count(charger_id),
    }
    handler.set_status(status)
    handler.render(
        "admin/charger_edit.html", cid=charger_id, charger=charger, form=form, sessions=sessions,
        connected=connected, connectors=sorted_connectors(charger),
        boot=boot_rows(charger.get("boot")), purge=purge, delete_error=delete_error,
        tariffs=[doc["tariff"] for doc in await services.tariffs.list()],
        open_sessions=open_sessions, quick=quick, pretty=pretty, compact=compact,
        card=charger_card(charger, connected, open_sessions),
        tags=[doc["id_tag"] for doc in await services.rfid.list(MAX_TAG_CHOICES)],
    )  # fmt: skip


class ChargerListHandler(AdminHandler):
    """``GET/POST /ocpp/admin/chargers/``: every charger, and a form to add one."""

    @tornado.web.authenticated
    async def get(self) -> None:
        """The list."""
        await self.show(forms.Form({"id": "", "name": ""}))

    async def show(self, form: forms.Form, status: int = 200) -> None:
        """Render one page of the list (search and status filter) with the add form."""
        chosen = ChargerFilter.of(self)
        chargers, total = await self.services.chargers.search(
            chosen.q or None, chosen.status or None, (chosen.page - 1) * LIST_PAGE, LIST_PAGE
        )
        pager = Pager(chosen.page, LIST_PAGE, total, LIST_PATH, chosen.fields())
        self.set_status(status)
        self.render(
            "admin/chargers.html", chargers=chargers, form=form, connected=self.registry,
            sorted_connectors=sorted_connectors, pager=pager, chosen=chosen,
            statuses=STATUS_FILTERS,
        )  # fmt: skip

    @tornado.web.authenticated
    async def post(self) -> None:
        """Add a charger by hand; then go to its edit page."""
        form = forms.Form(self.body_fields("id", "name"))
        charger_id = form.field("id", lambda value: forms.charger_id(value.strip()))
        name = form.field("name", forms.text, forms.MAX_NAME)
        if charger_id is not None:
            # The same rules as a charger connecting with this id in its URL.
            checked, why = charger_id_from_path("/" + path_segment(charger_id) + "/")
            if checked != charger_id:
                form.error("id", why or "not usable as a charger id in a URL")
        if form.ok:
            fields = {"name": name or charger_id}
            if not await self.services.chargers.create(charger_id, fields, utcnow()):
                form.error("id", "a charger with this id exists already")
        if not form.ok:
            await self.show(form, 400)
            return
        await save_qr(self, charger_id)
        self.flash(f"Charger {charger_id} added.")
        self.redirect(charger_url(charger_id))


class ChargerEditHandler(AdminHandler):
    """``GET/POST /ocpp/admin/chargers/<cid>/``: the edit form and what we know of the charger."""

    async def load(self, charger_id: str) -> dict[str, Any]:
        """The charger as of now (buffered status updates written first), or 404."""
        await self.services.chargers.flush()
        return await self.load_charger(charger_id)

    @tornado.web.authenticated
    async def get(self, charger_id: str) -> None:
        """The form filled with the stored values."""
        charger = await self.load(charger_id)
        await render_edit(self, charger, forms.Form(edit_fields(charger)))

    @tornado.web.authenticated
    async def post(self, charger_id: str) -> None:
        """Validate and save; on errors show the form again as typed (400)."""
        charger = await self.load(charger_id)
        form = forms.Form(self.body_fields(*edit_fields(charger)))
        form.field("name", forms.text, forms.MAX_NAME)
        form.field("require_rfid", forms.checkbox)
        form.field("config", forms.json_object)
        form.field("latitude", forms.latitude)
        form.field("longitude", forms.longitude)
        values = form.values
        await tariff_fields(self, form)
        if form.ok and (values["latitude"] is None) != (values["longitude"] is None):
            missing = "latitude" if values["latitude"] is None else "longitude"
            form.error(missing, "give both coordinates, or neither")
        if not form.ok:
            await render_edit(self, charger, form, 400)
            return
        fields = {name: values[name] for name in edit_fields(charger)}
        fields["updated"] = utcnow()
        if not await self.services.chargers.update(charger_id, fields):
            raise tornado.web.HTTPError(404, log_message="charger deleted meanwhile")
        await save_qr(self, charger_id)
        self.flash("Saved.")
        self.redirect(charger_url(charger_id))


async def tariff_fields(handler: AdminHandler, form: forms.Form) -> None:
    """The charger's tariff (empty: none, its site's applies) and time zone (empty: its
    site's, else UTC), checked into ``form``."""
    tariff = form.raw.get("tariff", "").strip() or None
    if tariff is not None and await handler.services.tariffs.current(tariff) is None:
        form.error("tariff", f"no tariff {tariff!r}")
    timezone = form.raw.get("timezone", "").strip() or None
    if timezone is not None and not is_timezone(timezone):
        form.error("timezone", "must be an IANA time zone such as Europe/Berlin")
    form.values.update(tariff=tariff, timezone=timezone)


class ChargerDeleteHandler(AdminHandler):
    """``POST /ocpp/admin/chargers/<cid>/delete``: the charger and all its data."""

    @tornado.web.authenticated
    async def post(self, charger_id: str) -> None:
        """Delete after the confirmation box was ticked; a connected charger is disconnected."""
        charger = await self.load_charger(charger_id)
        if not forms.checkbox(self.get_body_argument("confirm", "")):
            why = "tick the box to confirm the deletion"
            await render_edit(self, charger, forms.Form(edit_fields(charger)), 400, why)
            return
        counts = await delete_charger(self.services, self.registry, charger_id)
        log.info("charger %r deleted by %s: %s", charger_id, self.current_user["username"], counts)
        summary = ", ".join(f"{name.replace('_', ' ')} {counts.get(name, 0)}" for name in PURGED)
        self.flash(f"Deleted charger {charger_id} and its data: {summary}.")
        self.redirect("/ocpp/admin/chargers/")


default_handlers = [
    (r"/ocpp/admin/chargers/", ChargerListHandler),
    (r"/ocpp/admin/chargers/([^/]+)/", ChargerEditHandler),
    (r"/ocpp/admin/chargers/([^/]+)/delete", ChargerDeleteHandler),
]
