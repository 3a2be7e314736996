"""Admin pages of RFID tags: list and create, edit, delete."""

from __future__ import annotations

from typing import Any

import tornado.web

from handlers import forms
from handlers.admin.base import AdminHandler

LIST_PATH = "/ocpp/admin/rfid/"
FIELDS = ("label", "status", "expiry", "parent_id_tag", "max_active_transactions")
NEW_TAG = {"id_tag": "", "label": "", "status": "accepted", "expiry": "",
           "parent_id_tag": "", "max_active_transactions": "1"}  # fmt: skip


def tag_fields(tag: dict[str, Any]) -> dict[str, str]:
    """The edit form filled from a stored tag."""
    return {
        "id_tag": tag["id_tag"],
        "label": tag.get("label") or "",
        "status": tag.get("status") or "accepted",
        "expiry": forms.datetime_local(tag.get("expiry")),
        "parent_id_tag": tag.get("parent_id_tag") or "",
        "max_active_transactions": str(tag.get("max_active_transactions") or 1),
    }


def parse_tag(form: forms.Form, id_tag: str | None) -> dict[str, Any]:
    """Validate the tag's fields (not its id) into ``upsert`` keyword arguments."""
    form.field("label", forms.text, forms.MAX_LABEL)
    form.field("status", forms.choice, forms.RFID_STATUSES)
    form.field("expiry", forms.moment)
    parent = form.field("parent_id_tag", forms.optional_id_tag)
    if parent is not None and id_tag is not None and parent.upper() == id_tag.upper():
        form.error("parent_id_tag", "a tag cannot be its own parent")
    form.field("max_active_transactions", forms.integer, 1, 1000)
    return {name: form.values.get(name) for name in FIELDS}


class RfidListHandler(AdminHandler):
    """``GET/POST /ocpp/admin/rfid/``: every tag, and a form to add one."""

    @tornado.web.authenticated
    async def get(self) -> None:
        """The list."""
        await self.show(forms.Form(NEW_TAG))

    async def show(self, form: forms.Form, status: int = 200) -> None:
        """Render the list with the create form as typed."""
        tags = await self.services.rfid.list()
        self.set_status(status)
        self.render(
            "admin/rfid_list.html", tags=tags, form=form, statuses=forms.RFID_STATUSES,
            require_rfid_default=self.services.settings.require_rfid_default,
        )  # fmt: skip

    @tornado.web.authenticated
    async def post(self) -> None:
        """Create a tag; an existing one (in any letter case) is an error."""
        form = forms.Form(self.body_fields(*NEW_TAG))
        id_tag = form.field("id_tag", forms.id_tag)
        fields = parse_tag(form, id_tag)
        if id_tag is not None and await self.services.rfid.get(id_tag) is not None:
            form.error("id_tag", "this tag exists already (tags ignore letter case)")
        if not form.ok:
            await self.show(form, 400)
            return
        await self.services.rfid.upsert(id_tag, **fields)
        self.flash(f"Tag {id_tag} added.")
        self.redirect(LIST_PATH)


class RfidEditHandler(AdminHandler):
    """``GET/POST /ocpp/admin/rfid/<tag>/``: edit one tag."""

    async def load(self, id_tag: str) -> dict[str, Any]:
        """The tag, or 404."""
        tag = await self.services.rfid.get(id_tag)
        if tag is None:
            raise tornado.web.HTTPError(404, log_message="unknown tag")
        return tag

    def show(self, tag: dict[str, Any], form: forms.Form, status: int = 200) -> None:
        """Render the edit form as typed."""
        self.set_status(status)
        self.render("admin/rfid_edit.html", tag=tag, form=form, statuses=forms.RFID_STATUSES)

    @tornado.web.authenticated
    async def get(self, id_tag: str) -> None:
        """The form filled with the stored values."""
        tag = await self.load(id_tag)
        self.show(tag, forms.Form(tag_fields(tag)))

    @tornado.web.authenticated
    async def post(self, id_tag: str) -> None:
        """Validate and save; on errors show the form again as typed (400)."""
        tag = await self.load(id_tag)
        form = forms.Form({"id_tag": tag["id_tag"], **self.body_fields(*FIELDS)})
        fields = parse_tag(form, tag["id_tag"])
        if not form.ok:
            self.show(tag, form, 400)
            return
        # The tag's tariff (set over the API) is kept.
        await self.services.rfid.upsert(tag["id_tag"], **fields, tariff=tag.get("tariff"))
        self.flash(f"Tag {tag['id_tag']} saved.")
        self.redirect(LIST_PATH)


class RfidDeleteHandler(AdminHandler):
    """``POST /ocpp/admin/rfid/<tag>/delete``."""

    @tornado.web.authenticated
    async def post(self, id_tag: str) -> None:
        """Remove the tag (404 when it does not exist)."""
        tag = await self.services.rfid.get(id_tag)
        if tag is None or not await self.services.rfid.delete(id_tag):
            raise tornado.web.HTTPError(404, log_message="unknown tag")
        self.flash(f"Tag {tag['id_tag']} deleted.")
        self.redirect(LIST_PATH)


default_handlers = [
    (r"/ocpp/admin/rfid/", RfidListHandler),
    (r"/ocpp/admin/rfid/([^/]+)/", RfidEditHandler),
    (r"/ocpp/admin/rfid/([^/]+)/delete", RfidDeleteHandler),
]
