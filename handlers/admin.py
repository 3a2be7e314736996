"""The operator admin: chargers, RFID tags, sessions and meter readings (login required).

Path arguments are single URL segments; ids are percent-encoded in links
(``url_escape(id, plus=False)``) and Tornado decodes them before the handler.
"""

from __future__ import annotations

import tornado.web

from handlers.admin_base import AdminHandler
from handlers.admin_chargers import ChargerDeleteHandler, ChargerEditHandler, ChargerListHandler
from handlers.admin_data import MeterValuesHandler, SessionsHandler
from handlers.admin_operations import ROUTES as OPERATION_ROUTES
from handlers.admin_rfid import RfidDeleteHandler, RfidEditHandler, RfidListHandler
from handlers.admin_security import ROUTES as SECURITY_ROUTES
from handlers.admin_simulators import (
    SimulatorDeleteHandler,
    SimulatorEditHandler,
    SimulatorListHandler,
    SimulatorNewHandler,
    SimulatorStartHandler,
    SimulatorStopHandler,
)


class AdminRootHandler(AdminHandler):
    """``GET /ocpp/admin/``: the charger list is the admin's home."""

    @tornado.web.authenticated
    def get(self) -> None:
        """Redirect to the charger list."""
        self.redirect("/ocpp/admin/chargers/")


ROUTES = [
    (r"/ocpp/admin/", AdminRootHandler),
    (r"/ocpp/admin/chargers/", ChargerListHandler),
    (r"/ocpp/admin/chargers/([^/]+)/", ChargerEditHandler),
    (r"/ocpp/admin/chargers/([^/]+)/delete", ChargerDeleteHandler),
    *OPERATION_ROUTES,
    (r"/ocpp/admin/rfid/", RfidListHandler),
    (r"/ocpp/admin/rfid/([^/]+)/", RfidEditHandler),
    (r"/ocpp/admin/rfid/([^/]+)/delete", RfidDeleteHandler),
    (r"/ocpp/admin/sessions/", SessionsHandler),
    (r"/ocpp/admin/meter-values/", MeterValuesHandler),
    (r"/ocpp/admin/simulators/", SimulatorListHandler),
    (r"/ocpp/admin/simulators/new", SimulatorNewHandler),
    (r"/ocpp/admin/simulators/([^/]+)/", SimulatorEditHandler),
    (r"/ocpp/admin/simulators/([^/]+)/start", SimulatorStartHandler),
    (r"/ocpp/admin/simulators/([^/]+)/stop", SimulatorStopHandler),
    (r"/ocpp/admin/simulators/([^/]+)/delete", SimulatorDeleteHandler),
    *SECURITY_ROUTES,
]
