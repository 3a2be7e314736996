"""QR codes of the public charger landing pages.

Each charger document keeps ``qr = {"url": ..., "svg": ...}``: the landing
page URL (built from the configured public base URL) and an SVG image of it.
It is (re)generated when a charger is saved or registers itself, and again
whenever the stored URL no longer matches the current public URL.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

import qrcode
import qrcode.constants
import qrcode.image.svg


def path_segment(charger_id: str) -> str:
    """A charger id as one URL path segment: everything but unreserved characters
    percent-encoded, '/' included (ids may contain it; Tornado decodes it back)."""
    return quote(charger_id, safe="")


def landing_path(charger_id: str) -> str:
    """The path of a charger's public landing page."""
    return "/ocpp/c/" + path_segment(charger_id) + "/"


def qr_path(charger_id: str) -> str:
    """The path of a charger's QR code image."""
    return landing_path(charger_id) + "qr.svg"


def log_path(charger_id: str) -> str:
    """The path of a charger's HTML message log."""
    return "/ocpp/log/" + path_segment(charger_id) + "/"


def landing_url(public_url: str, charger_id: str) -> str:
    """The absolute landing page URL a QR code points at."""
    return public_url.rstrip("/") + landing_path(charger_id)


def qr_svg(data: str) -> str:
    """An SVG document (text, no XML declaration) of a QR code encoding ``data``.

    One path of unit squares on a white background, so it scans on dark pages too;
    it scales with its ``viewBox``.
    """
    code = _code(data)
    code.make(fit=True)
    image = code.make_image(image_factory=qrcode.image.svg.SvgPathFillImage)
    return image.to_string(encoding="unicode")


def _code(data: str) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(data)
    return code


def qr_is_current(charger: dict[str, Any], public_url: str) -> bool:
    """True when the charger document holds a QR code of its current landing URL.

    Lets a caller that has the document already (the connect path) skip ``ensure_qr``.
    """
    stored = charger.get("qr")
    return (
        isinstance(stored, dict)
        and stored.get("url") == landing_url(public_url, charger["_id"])
        and bool(stored.get("svg"))
    )


async def ensure_qr(chargers_repo_or_services: Any, charger_id: str, public_url: str) -> dict:
    """Make sure the charger document holds an up-to-date QR code; return ``{"url", "svg"}``.

    Accepts ``Services`` or its ``ChargerRepo``. Writes only when the stored URL
    differs from the current landing URL (or nothing is stored). For an unknown
    charger nothing is written and a fresh code is returned. Drawing a code takes
    ~10 ms of CPU, so it runs in a worker thread, off the event loop.
    """
    repo = getattr(chargers_repo_or_services, "chargers", chargers_repo_or_services)
    charger = await repo.get(charger_id)
    url = landing_url(public_url, charger_id)
    if charger is not None and qr_is_current(charger, public_url):
        return {"url": url, "svg": charger["qr"]["svg"]}
    qr = {"url": url, "svg": await asyncio.to_thread(qr_svg, url)}
    if charger is not None:
        await repo.update(charger_id, {"qr": qr})
    return qr
