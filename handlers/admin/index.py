"""The operator admin: chargers, RFID tags, sessions and meter readings (login required).

Path arguments are single URL segments; ids are percent-encoded in links
(``url_escape(id, plus=False)``) and Tornado decodes them before the handler.
"""

from __future__ import annotations

import tornado.web

from handlers.admin.base import AdminHandler


class AdminRootHandler(AdminHandler):
    """``GET /ocpp/admin/``: the charger list is the admin's home."""

    @tornado.web.authenticated
    def get(self) -> None:
        """Redirect to the charger list."""
        self.redirect("/ocpp/admin/chargers/")


default_handlers = [
    (r"/ocpp/admin/", AdminRootHandler),
]
