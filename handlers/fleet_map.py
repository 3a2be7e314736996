"""The fleet map: every located charger on one map, coloured by its state.

``GET /ocpp/map/`` is the page (Leaflet from the xstatic package, the tile URL of
``WebSettings.tile_url``); ``GET /ocpp/map/markers.json`` the markers, compact
(``csms.fleet.Fleet.markers``: one ``[id, lat, lng, state, kW, name]`` array each),
drawn as canvas circle markers so that 10,000 of them stay usable.
"""

from __future__ import annotations

import tornado.web

from csms.fleet import STATES
from handlers.base import BaseHandler, to_json


class FleetMapHandler(BaseHandler):
    """``GET /ocpp/map/``: the map page (markers are fetched by its script)."""

    @tornado.web.authenticated
    async def get(self) -> None:
        """Render the page with the map's settings and the fleet's counts."""
        fleet = await self.services.fleet.current()
        located = sum(1 for row in fleet.rows.values() if row.lat is not None)
        self.render("fleet_map.html", states=STATES, located=located, total=len(fleet.rows))


class MarkersHandler(BaseHandler):
    """``GET /ocpp/map/markers.json``: the located chargers as compact markers."""

    @tornado.web.authenticated
    async def get(self) -> None:
        """``{"fields": [...], "markers": [[...], ...]}``."""
        fleet = await self.services.fleet.current()
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(
            to_json({"fields": ["id", "lat", "lng", "state", "kw", "name"],
                     "markers": fleet.markers()})
        )  # fmt: skip


default_handlers = [
    (r"/ocpp/map/", FleetMapHandler),
    (r"/ocpp/map/markers\.json", MarkersHandler),
]
