"""Sites of load management in the JSON API: list, create, read, change, delete, and
the stored allocation decisions of a site (its chart)."""

from __future__ import annotations

import logging
from typing import Any

from csms.remote_params import ParameterError
from csms.sites import (
    allocation_view,
    check_references,
    site_detail,
    site_fields,
    site_id,
    site_view,
)
from handlers.api.params import invalid_field, query_int
from handlers.api.views import escaped_path
from handlers.base import ApiError, APIHandler
from ocppj.timeutil import utcnow

log = logging.getLogger("csms.api")
MAX_HISTORY = 1000


class SiteAPIHandler(APIHandler):
    """Shared by the site endpoints."""

    async def existing(self, site: str) -> dict[str, Any]:
        """The stored site, or 404."""
        doc = await self.services.sites.get(site)
        if doc is None:
            raise ApiError(404, "not_found", f"no site {site!r}")
        return doc

    def recompute(self) -> None:
        """Load management applies the change within seconds."""
        if self.services.load is not None:
            self.services.load.site_changed()


class SitesHandler(SiteAPIHandler):
    """``GET/POST /ocpp/api/sites/``."""

    async def get(self) -> None:
        """Every site, by id, with its charger ids: ``{"total", "items"}``."""
        docs = await self.services.sites.all()
        chargers = await self.services.sites.charger_ids_in([doc["_id"] for doc in docs])
        items = [site_view(doc) | {"chargers": chargers.get(doc["_id"], [])} for doc in docs]
        self.write_json({"total": len(items), "items": items})

    async def post(self) -> None:
        """Create a site: 201 with the site and its URL in ``Location``; 409 when the id
        exists."""
        body = self.json_body()
        try:
            new_id = site_id(body.get("id"))
            fields = site_fields(body)
            await check_references(self.services, new_id, fields)
        except ParameterError as exc:
            raise invalid_field(exc.field, exc.message) from None
        now = utcnow()
        doc = {"_id": new_id, **fields, "created": now, "updated": now}
        doc["name"] = doc.get("name") or new_id
        if not await self.services.sites.create(doc):
            raise ApiError(409, "already_exists", {"field": "id", "message": "this site exists"})
        log.info("site %r created by %s", new_id, self.current_user["username"])
        self.recompute()
        self.set_header("Location", escaped_path("/ocpp/api/sites/", new_id))
        self.write_json(await site_detail(self.services, doc), 201)


class SiteHandler(SiteAPIHandler):
    """``GET/PATCH/DELETE /ocpp/api/sites/<site>/``."""

    async def get(self, site: str) -> None:
        """The site with its chargers, child sites, allocated and measured load (amps per
        phase) and each connector's share."""
        self.write_json(await site_detail(self.services, await self.existing(site)))

    async def patch(self, site: str) -> None:
        """Change the given fields; a new limit applies within seconds."""
        body = self.json_body()
        doc = await self.existing(site)
        try:
            fields = site_fields(body, doc)
            await check_references(self.services, site, fields)
        except ParameterError as exc:
            raise invalid_field(exc.field, exc.message) from None
        if fields:
            fields["updated"] = utcnow()
            await self.services.sites.update(site, fields)
            self.recompute()
        self.write_json(await site_detail(self.services, await self.existing(site)))

    async def delete(self, site: str) -> None:
        """Delete a site without child sites (409 otherwise); its chargers leave it and
        get the profiles of load management cleared: ``{"deleted", "chargers"}``."""
        await self.existing(site)
        children = await self.services.sites.children(site)
        if children:
            names = ", ".join(sorted(child["_id"] for child in children))
            raise ApiError(409, "has_children", f"move or delete its sites first: {names}")
        chargers = (await self.services.sites.charger_ids_in([site]))[site]
        for cid in chargers:
            await self.services.chargers.update(cid, {"site": None, "updated": utcnow()})
            self.services.load_event(cid, "assign", previous_site=site)
        await self.services.sites.delete(site)
        await self.services.allocations.delete_site(site)
        log.info("site %r deleted by %s", site, self.current_user["username"])
        self.recompute()
        self.write_json({"deleted": site, "chargers": chargers})


class SiteAllocationsHandler(SiteAPIHandler):
    """``GET /ocpp/api/sites/<site>/allocations/``: the newest decisions, oldest first."""

    async def get(self, site: str) -> None:
        """``{"site", "items": [{ts, reason, capacity_a, allocated_a, measured_a,
        shares}]}``; ``limit`` (default 200)."""
        await self.existing(site)
        limit = query_int(self, "limit", minimum=1, maximum=MAX_HISTORY, default=200)
        docs = await self.services.allocations.history(site, limit=limit)
        self.write_json({"site": site, "items": [allocation_view(doc) for doc in docs]})


_SITE = r"(?P<site>[^/]+)"

default_handlers = [
    (r"/ocpp/api/sites/", SitesHandler),
    (rf"/ocpp/api/sites/{_SITE}/", SiteHandler),
    (rf"/ocpp/api/sites/{_SITE}/allocations/", SiteAllocationsHandler),
]
