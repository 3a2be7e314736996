"""Tornado UI modules usable in any template (``{% module Name(...) %}``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import tornado.web
from tornado.escape import xhtml_escape

from handlers import qrcodes
from handlers.base import fmt_dt


class QRCode(tornado.web.UIModule):
    """``{% module QRCode(charger) %}``: the QR code of a charger's landing page.

    ``charger`` is a charger document (or just its id). Renders an ``<img>`` of
    the public ``/ocpp/c/<cid>/qr.svg`` route with alt text, and the URL below it.
    """

    def render(self, charger: dict[str, Any] | str, size: int = 180, caption: bool = True) -> bytes:
        """The figure's HTML (every value escaped by the template)."""
        if isinstance(charger, str):
            charger_id, name = charger, charger
        else:
            charger_id = charger["_id"]
            name = charger.get("name") or charger_id
        public_url = self.handler.web.public_url
        return self.render_string(
            "modules/qrcode.html",
            src=qrcodes.qr_path(charger_id),
            url=qrcodes.landing_url(public_url, charger_id),
            name=name,
            size=int(size),
            caption=caption,
        )


class Time(tornado.web.UIModule):
    """``{% module Time(value) %}``: a datetime on one line, in UTC as rendered and in the
    reader's time zone once static/js/format.js has run (``<time data-local>``)."""

    def render(self, value: datetime | None, empty: str = "") -> str:
        """The ``<time>`` element (``empty`` escaped when there is no datetime)."""
        if value is None:
            return xhtml_escape(empty)
        iso = value.strftime("%Y-%m-%dT%H:%M:%SZ")
        return f'<time datetime="{iso}" data-local>{xhtml_escape(fmt_dt(value))}</time>'


UI_MODULES: dict = {"QRCode": QRCode, "Time": Time}
