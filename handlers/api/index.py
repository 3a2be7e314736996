"""The API's own routes: its OpenAPI document, and the JSON 404 of every other path under
``/ocpp/api/`` and ``/ocpp/chargers/`` (joined last by ``handlers.routes``)."""

from __future__ import annotations

from typing import Any

from csms import remote
from handlers.api.openapi import build_openapi
from handlers.base import ApiError, APIHandler


class OpenAPIHandler(APIHandler):
    """``GET /ocpp/api/openapi.json``: the OpenAPI 3.1 document of this API."""

    def action_schemas(self) -> dict[str, dict[str, Any]] | None:
        """The parameter schema of each remote operation, by name, for the action endpoint."""
        return {name: op["parameters"] for name, op in remote.describe_operations().items()}

    def get(self) -> None:
        """The document, with the public URL as its server."""
        self.write_json(build_openapi(self.action_schemas(), server_url=self.web.public_url))


class NotFoundHandler(APIHandler):
    """Any other path under ``/ocpp/api/`` or ``/ocpp/chargers/``: a JSON 404 for every
    method, after the same authentication as the rest of the API (401 without it), so
    nobody learns the API's shape without credentials."""

    def _not_found(self, *args: str) -> None:
        raise ApiError(404, "not_found", f"no API endpoint {self.request.path}")

    get = post = put = patch = delete = _not_found


default_handlers = [
    (r"/ocpp/api/openapi\.json", OpenAPIHandler),
]
# After every other route: what is left under the API's prefixes does not exist.
not_found_handlers = [
    (r"/ocpp/api/.*", NotFoundHandler),
    (r"/ocpp/chargers/.*", NotFoundHandler),
]
