"""Admin pages of tariffs: the list with each price in words, add one, edit one (an edit
stores a new version; sessions keep the version they started with), its versions, and
delete one that nothing uses."""

from __future__ import annotations

import json
from typing import Any

import tornado.web

from csms.tariffs import (
    DEFAULTS,
    TARIFF_ID,
    TariffError,
    check_terms,
    describe,
    describe_periods,
)
from handlers import forms
from handlers.admin.base import ADMIN_PATH, AdminHandler, path_segment
from ocppj.timeutil import utcnow

LIST_PATH = f"{ADMIN_PATH}tariffs/"
AMOUNTS = ("energy_per_kwh", "time_per_hour", "idle_per_hour", "session_fee", "min_total",
           "max_total", "tax_percent")  # fmt: skip
FIELDS = ("currency", *AMOUNTS, "idle_grace_minutes", "tax_included", "periods")
NEW_TARIFF = {"id": "", "currency": "EUR", **{name: "" for name in AMOUNTS},
              "idle_grace_minutes": "0", "tax_included": "on", "periods": ""}  # fmt: skip
MAX_PERIODS_TEXT = 20_000


def tariff_url(tariff_id: str, suffix: str = "") -> str:
    """The admin page of a tariff."""
    return f"{LIST_PATH}{path_segment(tariff_id)}/{suffix}"


def form_of(terms: dict[str, Any], tariff_id: str = "") -> dict[str, str]:
    """The edit form filled from stored terms."""
    fields = {"id": tariff_id, "currency": terms["currency"]}
    fields.update({name: terms[name] or "" for name in AMOUNTS})
    fields["idle_grace_minutes"] = str(terms["idle_grace_minutes"])
    fields["tax_included"] = "on" if terms["tax_included"] else ""
    periods = terms.get("periods") or []
    fields["periods"] = json.dumps(periods, indent=1) if periods else ""
    return fields


def parse_terms(form: forms.Form) -> dict[str, Any] | None:
    """The terms typed in ``form`` (errors recorded on its fields), or None."""
    raw = form.raw
    body: dict[str, Any] = {"currency": raw.get("currency", "").strip().upper()}
    for name in AMOUNTS:
        text = raw.get(name, "").strip()
        body[name] = text or (None if name in ("min_total", "max_total") else DEFAULTS[name])
    grace = raw.get("idle_grace_minutes", "").strip() or "0"
    body["idle_grace_minutes"] = int(grace) if grace.isdigit() else grace
    body["tax_included"] = raw.get("tax_included") == "on"
    periods = raw.get("periods", "").strip()
    if len(periods) > MAX_PERIODS_TEXT:
        form.error("periods", f"at most {MAX_PERIODS_TEXT} characters")
        return None
    try:
        body["periods"] = json.loads(periods) if periods else []
    except ValueError as exc:
        form.error("periods", f"not valid JSON: {exc}")
        return None
    try:
        return check_terms(body)
    except TariffError as exc:
        field = "periods" if exc.field.startswith("periods") else exc.field
        form.error(field, exc.message if field == exc.field else f"{exc.field}: {exc.message}")
        return None


class TariffListHandler(AdminHandler):
    """``GET/POST /ocpp/admin/tariffs/``: every tariff, and a form to add one."""

    @tornado.web.authenticated
    async def get(self) -> None:
        """The list."""
        await self.show(forms.Form(NEW_TARIFF))

    async def show(self, form: forms.Form, status: int = 200) -> None:
        """Render the list with the create form as typed."""
        tariffs = await self.services.tariffs.list()
        self.set_status(status)
        self.render("admin/tariffs.html", tariffs=tariffs, form=form, describe=describe,
                    describe_periods=describe_periods, tariff_url=tariff_url)  # fmt: skip

    @tornado.web.authenticated
    async def post(self) -> None:
        """Add a tariff (version 1, or the next after a deleted one with this id)."""
        form = forms.Form(self.body_fields("id", *FIELDS))
        tariff_id = form.raw.get("id", "").strip()
        if not TARIFF_ID.match(tariff_id):
            form.error("id", "1-48 letters, digits, '.', '_' or '-'")
        terms = parse_terms(form)
        repo = self.services.tariffs
        latest = await repo.latest(tariff_id) if "id" not in form.errors else None
        if latest is not None and not latest.get("deleted"):
            form.error("id", "this tariff exists already")
        if not form.ok or terms is None:
            await self.show(form, 400)
            return
        if await repo.store(tariff_id, terms, utcnow(), latest["version"] if latest else 0):
            self.flash(f"Tariff {tariff_id} added.")
        else:
            self.flash(f"Tariff {tariff_id} was added by someone else meanwhile.")
        self.redirect(LIST_PATH)


class TariffEditHandler(AdminHandler):
    """``GET/POST /ocpp/admin/tariffs/<id>/``: edit a tariff (stores the next version)."""

    async def load(self, tariff_id: str) -> dict[str, Any]:
        """The version in force, or 404."""
        doc = await self.services.tariffs.current(tariff_id)
        if doc is None:
            raise tornado.web.HTTPError(404, log_message="unknown tariff")
        return doc

    async def show(self, doc: dict[str, Any], form: forms.Form, status: int = 200) -> None:
        """Render the form as typed, the versions and who uses the tariff."""
        self.set_status(status)
        self.render(
            "admin/tariff_edit.html", doc=doc, form=form, tariff_url=tariff_url,
            versions=await self.services.tariffs.versions(doc["tariff"]),
            users=await self.services.tariffs.users(doc["tariff"]), describe=describe,
        )  # fmt: skip

    @tornado.web.authenticated
    async def get(self, tariff_id: str) -> None:
        """The form filled with the version in force."""
        doc = await self.load(tariff_id)
        await self.show(doc, forms.Form(form_of(doc["terms"], doc["tariff"])))

    @tornado.web.authenticated
    async def post(self, tariff_id: str) -> None:
        """Store the next version; on errors show the form again as typed (400)."""
        doc = await self.load(tariff_id)
        form = forms.Form({"id": doc["tariff"], **self.body_fields(*FIELDS)})
        terms = parse_terms(form)
        if terms is None:
            await self.show(doc, form, 400)
            return
        if terms == doc["terms"]:
            self.flash(f"Tariff {doc['tariff']}: nothing changed.")
        elif await self.services.tariffs.store(doc["tariff"], terms, utcnow(), doc["version"]):
            self.flash(f"Tariff {doc['tariff']} saved as version {doc['version'] + 1}.")
        else:
            self.flash(f"Tariff {doc['tariff']} was changed meanwhile: nothing was saved.")
        self.redirect(tariff_url(doc["tariff"]))


class TariffDeleteHandler(AdminHandler):
    """``POST /ocpp/admin/tariffs/<id>/delete``: refused while anything uses it."""

    @tornado.web.authenticated
    async def post(self, tariff_id: str) -> None:
        """Delete the tariff (its versions stay for the sessions billed with them)."""
        repo = self.services.tariffs
        doc = await repo.current(tariff_id)
        if doc is None:
            raise tornado.web.HTTPError(404, log_message="unknown tariff")
        if any((await repo.users(tariff_id)).values()):
            self.flash(f"Tariff {tariff_id} is in use and was not deleted.")
            self.redirect(tariff_url(tariff_id))
            return
        await repo.delete(tariff_id, doc["version"], utcnow())
        self.flash(f"Tariff {tariff_id} deleted.")
        self.redirect(LIST_PATH)


default_handlers = [
    (r"/ocpp/admin/tariffs/", TariffListHandler),
    (r"/ocpp/admin/tariffs/([^/]+)/", TariffEditHandler),
    (r"/ocpp/admin/tariffs/([^/]+)/delete", TariffDeleteHandler),
]
