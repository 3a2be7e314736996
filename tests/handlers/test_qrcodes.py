"""QR codes of the landing pages: URLs, SVG output, and storing them on the charger."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest
import qrcode
import qrcode.constants

from handlers import qrcodes

SVG_NS = "{http://www.w3.org/2000/svg}"
NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def dark_modules(svg: str) -> set[tuple[int, int]]:
    """The unit squares drawn by the SVG path (x, y)."""
    root = ET.fromstring(svg)
    path = root.find(f"{SVG_NS}path")
    return {(int(x), int(y)) for x, y in re.findall(r"M(\d+),(\d+)H", path.get("d"))}


def qr_matrix(data: str) -> list[list[bool]]:
    """The modules of ``data`` as the qrcode library draws them at error correction M with a
    4-module quiet zone (True = dark): the oracle the SVG is checked against."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(data)
    code.make(fit=True)
    return code.get_matrix()


def expected_modules(data: str) -> set[tuple[int, int]]:
    """The dark modules of a QR code of ``data``."""
    matrix = qr_matrix(data)
    return {(x, y) for y, row in enumerate(matrix) for x, dark in enumerate(row) if dark}


@pytest.mark.parametrize(
    ("charger_id", "path"),
    [
        ("CP1", "/ocpp/c/CP1/"),
        ("a b", "/ocpp/c/a%20b/"),
        ("é", "/ocpp/c/%C3%A9/"),
        ("<script>alert(1)</script>", "/ocpp/c/%3Cscript%3Ealert%281%29%3C%2Fscript%3E/"),
        ("x?y#z&w", "/ocpp/c/x%3Fy%23z%26w/"),
    ],
)
def test_landing_paths_percent_encode_the_id_as_one_segment(charger_id, path):
    assert qrcodes.landing_path(charger_id) == path
    assert qrcodes.qr_path(charger_id) == path + "qr.svg"
    assert qrcodes.log_path(charger_id) == path.replace("/ocpp/c/", "/ocpp/log/")


def test_landing_url_joins_the_public_url_without_double_slashes():
    assert qrcodes.landing_url("https://ev.example/", "CP 1") == "https://ev.example/ocpp/c/CP%201/"
    assert qrcodes.landing_url("https://ev.example", "CP1") == "https://ev.example/ocpp/c/CP1/"


def test_svg_is_well_formed_and_encodes_the_url():
    url = "https://ev.example/ocpp/c/CP1/"
    svg = qrcodes.qr_svg(url)
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG_NS}svg"
    size = len(qr_matrix(url))  # the modules plus a 4-module quiet zone each side
    assert size == 37  # version 3 (29 modules) at error correction M
    assert root.get("viewBox") == f"0 0 {size} {size}"
    assert dark_modules(svg) == expected_modules(url)
    assert dark_modules(svg) != expected_modules(url + "x")


@pytest.mark.gen_test
async def test_ensure_qr_stores_the_code_and_keeps_it_while_the_url_holds(services):
    await services.chargers.create("CP1", {}, NOW)
    qr = await qrcodes.ensure_qr(services, "CP1", "http://127.0.0.1:8000")
    url = "http://127.0.0.1:8000/ocpp/c/CP1/"
    assert qr == {"url": url, "svg": qrcodes.qr_svg(url)}
    assert (await services.chargers.get("CP1"))["qr"] == qr

    # Same URL: nothing is regenerated (a marker SVG survives).
    await services.chargers.update("CP1", {"qr": {"url": url, "svg": "<svg/>"}})
    assert await qrcodes.ensure_qr(services.chargers, "CP1", "http://127.0.0.1:8000/") == {
        "url": url,
        "svg": "<svg/>",
    }
    assert (await services.chargers.get("CP1"))["qr"]["svg"] == "<svg/>"


@pytest.mark.gen_test
async def test_ensure_qr_regenerates_when_the_public_url_changes(services):
    await services.chargers.create("CP 2", {}, NOW)
    await qrcodes.ensure_qr(services, "CP 2", "http://old.example")
    qr = await qrcodes.ensure_qr(services, "CP 2", "https://new.example")
    url = "https://new.example/ocpp/c/CP%202/"
    assert qr == {"url": url, "svg": qrcodes.qr_svg(url)}
    assert (await services.chargers.get("CP 2"))["qr"] == qr
    assert dark_modules(qr["svg"]) == expected_modules(url)


def test_qr_is_current_compares_the_stored_url():
    url = "http://h/ocpp/c/CP1/"
    assert qrcodes.qr_is_current({"_id": "CP1", "qr": {"url": url, "svg": "<svg/>"}}, "http://h")
    assert not qrcodes.qr_is_current({"_id": "CP1", "qr": {"url": url, "svg": ""}}, "http://h")
    assert not qrcodes.qr_is_current({"_id": "CP1", "qr": {"url": url, "svg": "x"}}, "http://o")
    assert not qrcodes.qr_is_current({"_id": "CP1"}, "http://h")


@pytest.mark.gen_test
async def test_ensure_qr_for_an_unknown_charger_creates_nothing(services):
    qr = await qrcodes.ensure_qr(services, "ghost", "http://h")
    assert qr["url"] == "http://h/ocpp/c/ghost/"
    assert await services.chargers.get("ghost") is None
