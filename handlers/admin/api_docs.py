"""The API documentation page: Swagger UI, served from its package, reading our OpenAPI
document (``/ocpp/api/openapi.json``)."""

from __future__ import annotations

import tornado.web

from handlers.admin.base import ADMIN_PATH, AdminHandler

API_DOCS_PATH = ADMIN_PATH + "api-docs/"
SPEC_URL = "/ocpp/api/openapi.json"


class ApiDocsHandler(AdminHandler):
    """``GET /ocpp/admin/api-docs/``: everyone logged in may read it."""

    @tornado.web.authenticated
    def get(self) -> None:
        """The page; Swagger UI fetches the document with the login cookie."""
        self.render("admin/api_docs.html", spec_url=SPEC_URL)


default_handlers = [
    (API_DOCS_PATH, ApiDocsHandler),
]
