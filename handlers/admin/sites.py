"""Admin pages of load management: the sites, one site with its live chart, and a
charger's site (the form on the charger page posts here)."""

from __future__ import annotations

import logging
from typing import Any

import tornado.web

from csms.load_allocation import site_capacity_a
from csms.remote_params import ParameterError
from csms.sites import FIELDS, check_references, check_site, site_fields, site_id
from handlers import forms
from handlers.admin.base import AdminHandler, charger_url, path_segment
from ocppj.timeutil import utcnow

log = logging.getLogger("csms.admin")
LIST_PATH = "/ocpp/admin/sites/"
NUMBERS = ("limit_a", "limit_w", "voltage", "reserve_a")
NEW_SITE = {"id": "", "name": "", "limit_a": "", "limit_w": "", "phases": "3", "voltage": "230",
            "reserve_a": "0", "parent": "", "tariff": "", "timezone": "UTC"}  # fmt: skip


def site_url(site: str) -> str:
    """The admin page of a site."""
    return f"{LIST_PATH}{path_segment(site)}/"


def site_form(doc: dict[str, Any]) -> dict[str, str]:
    """The edit form filled from a stored site."""
    return {
        name: "" if doc.get(name) is None else f"{doc[name]:g}" if name in NUMBERS
        else str(doc.get(name))
        for name in NEW_SITE if name != "id"
    }  # fmt: skip


def body_of(form: forms.Form, fields: tuple[str, ...]) -> dict[str, Any]:
    """The typed text as the API's JSON body: numbers parsed, empty text is null."""
    body: dict[str, Any] = {}
    for name in fields:
        raw = form.raw.get(name, "").strip()
        if name == "name" and not raw:
            continue  # the id is the name
        if name in NUMBERS or name == "phases":
            try:
                body[name] = None if raw == "" else float(raw) if "." in raw else int(raw)
            except ValueError:
                form.error(name, "must be a number")
        else:
            body[name] = raw or None
    if body.get("timezone") is None:
        body["timezone"] = "UTC"
    return body


class SitesHandler(AdminHandler):
    """``GET/POST /ocpp/admin/sites/``: every site, and a form to add one."""

    @tornado.web.authenticated
    async def get(self) -> None:
        """The list."""
        await self.show(forms.Form(NEW_SITE))

    async def show(self, form: forms.Form, status: int = 200) -> None:
        """Render the list with the create form as typed."""
        services = self.services
        sites = await services.sites.all()
        chargers = await services.sites.charger_ids_in([site["_id"] for site in sites])
        latest = {site["_id"]: await services.allocations.latest(site["_id"]) for site in sites}
        self.set_status(status)
        self.render("admin/sites.html", sites=sites, chargers=chargers, latest=latest,
                    form=form, site_url=site_url, capacity=site_capacity_a)  # fmt: skip

    @tornado.web.authenticated
    async def post(self) -> None:
        """Create a site; errors show the form again as typed (400)."""
        form = forms.Form(self.body_fields(*NEW_SITE))
        body = body_of(form, FIELDS)
        if form.ok:
            try:
                new_id = site_id(body.pop("id"))
                fields = site_fields(body)
                await check_references(self.services, new_id, fields)
            except ParameterError as exc:
                form.error(exc.field, exc.message)
        if not form.ok:
            await self.show(form, 400)
            return
        now = utcnow()
        doc = {"_id": new_id, **fields, "created": now, "updated": now}
        doc["name"] = doc.get("name") or new_id
        if not await self.services.sites.create(doc):
            form.error("id", "this site exists already")
            await self.show(form, 400)
            return
        self.services.load.site_changed()
        self.flash(f"Site {new_id} added.")
        self.redirect(site_url(new_id))


class SiteHandler(AdminHandler):
    """``GET/POST /ocpp/admin/sites/<site>/``: the site's limit, load, chart and shares;
    change it; add a charger."""

    async def load(self, site: str) -> dict[str, Any]:
        """The site, or 404."""
        doc = await self.services.sites.get(site)
        if doc is None:
            raise tornado.web.HTTPError(404, log_message="unknown site")
        return doc

    @tornado.web.authenticated
    async def get(self, site: str) -> None:
        """The page."""
        doc = await self.load(site)
        await self.show(doc, forms.Form(site_form(doc)))

    async def show(self, doc: dict[str, Any], form: forms.Form, status: int = 200) -> None:
        """Render the site page with ``form`` as typed."""
        services = self.services
        chargers = await services.sites.chargers_in([doc["_id"]])
        children = await services.sites.children(doc["_id"])
        self.set_status(status)
        self.render(
            "admin/site.html", site=doc, form=form, chargers=chargers, children=children,
            latest=await services.allocations.latest(doc["_id"]), site_url=site_url,
            capacity=site_capacity_a(doc), connected=self.registry,
        )  # fmt: skip

    @tornado.web.authenticated
    async def post(self, site: str) -> None:
        """Save the site's fields (a new limit applies within seconds)."""
        doc = await self.load(site)
        names = tuple(name for name in NEW_SITE if name != "id")
        form = forms.Form(self.body_fields(*names))
        body = body_of(form, names)
        fields: dict[str, Any] = {}
        if form.ok:
            try:
                fields = site_fields(body, doc)
                await check_references(self.services, site, fields)
            except ParameterError as exc:
                form.error(exc.field, exc.message)
        if not form.ok:
            await self.show(doc, form, 400)
            return
        fields["updated"] = utcnow()
        await self.services.sites.update(site, fields)
        self.services.load.site_changed()
        self.flash("Saved: the new limit applies within seconds.")
        self.redirect(site_url(site))


class SiteDeleteHandler(AdminHandler):
    """``POST /ocpp/admin/sites/<site>/delete``: its chargers leave it first."""

    @tornado.web.authenticated
    async def post(self, site: str) -> None:
        """Delete a site that has no circuits of its own."""
        services = self.services
        if await services.sites.get(site) is None:
            raise tornado.web.HTTPError(404, log_message="unknown site")
        if await services.sites.children(site):
            self.flash("Delete or move its circuits first.")
            self.redirect(site_url(site))
            return
        for cid in (await services.sites.charger_ids_in([site]))[site]:
            await services.chargers.update(cid, {"site": None, "updated": utcnow()})
            services.load_event(cid, "assign", previous_site=site)
        await services.sites.delete(site)
        await services.allocations.delete_site(site)
        services.load.site_changed()
        log.info("site %r deleted by %s", site, self.current_user["username"])
        self.flash(f"Site {site} deleted; its chargers' limits are cleared.")
        self.redirect(LIST_PATH)


class SiteAddChargerHandler(AdminHandler):
    """``POST /ocpp/admin/sites/<site>/add``: put the charger named in the form here."""

    @tornado.web.authenticated
    async def post(self, site: str) -> None:
        """Assign the charger (an unknown one is a message, nothing changes)."""
        if await self.services.sites.get(site) is None:
            raise tornado.web.HTTPError(404, log_message="unknown site")
        cid = self.get_body_argument("charger", "").strip()
        charger = await self.services.chargers.get(cid) if cid else None
        if charger is None:
            self.flash(f"charger: no charger {cid[:48]!r}")
        else:
            await self.services.chargers.update(cid, {"site": site, "updated": utcnow()})
            self.services.load_event(cid, "assign", previous_site=charger.get("site"))
            self.flash(f"Charger {cid} added to {site}.")
        self.redirect(site_url(site))


class ChargerSiteHandler(AdminHandler):
    """``POST /ocpp/admin/chargers/<cid>/site``: put a charger in a site (or none)."""

    @tornado.web.authenticated
    async def post(self, charger_id: str) -> None:
        """Save the charger's site and rating; back to where the form was."""
        charger = await self.load_charger(charger_id)
        form = forms.Form(self.body_fields("site", "max_current_a", "back"))
        site = form.field("site", forms.text, 48) or None
        rating = form.field("max_current_a", forms.optional_float, 6, 1000)
        fields = {"site": site, "max_current_a": rating}
        try:
            await check_site(self.services, fields)
        except ParameterError as exc:
            form.error(exc.field, exc.message)
        back = form.raw.get("back") or ""
        target = back if back.startswith(LIST_PATH) else charger_url(charger_id)
        if not form.ok:
            self.flash("Not saved: " + "; ".join(f"{k}: {v}" for k, v in form.errors.items()))
            self.redirect(target)
            return
        await self.services.chargers.update(charger_id, {**fields, "updated": utcnow()})
        self.services.load_event(charger_id, "assign", previous_site=charger.get("site"))
        self.flash(f"Charger {charger_id}: site {site or 'none'}.")
        self.redirect(target)


default_handlers = [
    (r"/ocpp/admin/sites/", SitesHandler),
    (r"/ocpp/admin/sites/([^/]+)/", SiteHandler),
    (r"/ocpp/admin/sites/([^/]+)/delete", SiteDeleteHandler),
    (r"/ocpp/admin/sites/([^/]+)/add", SiteAddChargerHandler),
    (r"/ocpp/admin/chargers/([^/]+)/site", ChargerSiteHandler),
]
