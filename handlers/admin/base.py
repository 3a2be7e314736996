"""What every admin page shares: flash messages, URLs of charger/tag pages, pagination."""

from __future__ import annotations

from functools import partial
from typing import Any
from urllib.parse import quote

import tornado.web

from csms.session_charts import duration_text
from handlers.base import BaseHandler, kwh
from handlers.qrcodes import landing_path, log_path

FLASH_COOKIE = "csms_flash"
ADMIN_PATH = "/ocpp/admin/"


def path_segment(value: str) -> str:
    """``value`` percent-encoded as one URL path segment: ``/`` too (a charger connecting
    as ``/Bay%2F2/`` is called ``Bay/2``), which Tornado decodes in path arguments."""
    return quote(value, safe="")


def charger_url(charger_id: str, suffix: str = "") -> str:
    """The admin page of a charger."""
    return f"{ADMIN_PATH}chargers/{path_segment(charger_id)}/{suffix}"


def rfid_url(id_tag: str, suffix: str = "") -> str:
    """The admin page of an RFID tag."""
    return f"{ADMIN_PATH}rfid/{path_segment(id_tag)}/{suffix}"


def session_url(tx_id: Any) -> str:
    """The admin page of a charging session (transaction)."""
    return f"{ADMIN_PATH}sessions/{tx_id}/"


class AdminHandler(BaseHandler):
    """Base of the admin pages (every method is decorated ``@authenticated``)."""

    async def load_charger(self, charger_id: str) -> dict[str, Any]:
        """The charger, or 404."""
        charger = await self.services.chargers.get(charger_id)
        if charger is None:
            raise tornado.web.HTTPError(404, log_message="unknown charger")
        return charger

    def flash(self, message: str) -> None:
        """Show ``message`` once on the next page rendered."""
        self.set_signed_cookie(
            FLASH_COOKIE, message, expires_days=None, httponly=True, samesite="Lax",
            path=ADMIN_PATH, secure=self.request.protocol == "https",
        )  # fmt: skip

    def pop_flash(self) -> str | None:
        """The pending flash message (and forget it)."""
        raw = self.get_signed_cookie(FLASH_COOKIE, max_age_days=1)
        if raw is None:
            return None
        self.clear_cookie(FLASH_COOKIE, path=ADMIN_PATH)
        return raw.decode("utf-8", "replace")

    def get_template_namespace(self) -> dict[str, Any]:
        """Admin templates also get URL helpers and the flash message."""
        namespace = super().get_template_namespace()
        namespace.update(
            charger_url=charger_url, rfid_url=rfid_url, landing_url=landing_path,
            log_url=log_path, kwh=partial(kwh, places=3), flash=self.pop_flash(),
            session_url=session_url, duration_text=duration_text,
        )  # fmt: skip
        return namespace

    def query_fields(self, *names: str) -> dict[str, str]:
        """The named query arguments as typed (missing ones are empty)."""
        return {name: self.get_query_argument(name, "", strip=False) for name in names}

    def body_fields(self, *names: str) -> dict[str, str]:
        """The named form fields as typed (missing ones are empty)."""
        return {name: self.get_body_argument(name, "", strip=False) for name in names}
