"""The HTML message log: login, escaping, newest first, pagination, unknown chargers."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.charge_points import raw_charger
from tests.handlers.test_pages import EVIL, EVIL_PATH, EVIL_TEXT, cookie_of, get

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


def message(n, charger="CP1", frame=None, direction="in", reply=None):
    """A stored exchange (a Heartbeat and its reply), ``n`` seconds after NOW."""
    return {
        "charger": charger, "ts": NOW + timedelta(seconds=n), "direction": direction,
        "action": "Heartbeat", "unique_id": f"m{n}",
        "frame": frame or f'[2,"m{n}","Heartbeat",{{}}]',
        "reply": {"ts": NOW + timedelta(seconds=n, milliseconds=5),
                  "frame": reply or f'[3,"m{n}",{{"currentTime":"2025-03-01T12:00:00Z"}}]'},
    }  # fmt: skip


def unique_ids(page: str) -> list[str]:
    """The message ids in table order."""
    return re.findall(r"<td><code>(m\d+)</code></td>", page)


@pytest.mark.gen_test
async def test_log_requires_login(http_url, services):
    await services.chargers.create("CP1", {}, NOW)
    response = await get(http_url, "/ocpp/log/CP1/")
    assert response.code == 302
    assert response.headers["Location"] == "/ocpp/login?next=%2Focpp%2Flog%2FCP1%2F"


@pytest.mark.gen_test(timeout=20)
async def test_log_shows_the_exchange_of_a_real_connection(http_url, ws_url, admin_user):
    cookie = await cookie_of(http_url, admin_user)
    async with raw_charger(ws_url("/CP-LOG")) as cp:
        reply = await cp.boot()
    response = await get(http_url, "/ocpp/log/CP-LOG/", cookie)
    assert response.code == 200
    page = response.body.decode()
    assert "1 exchange, newest first; each shows a frame and, under it, the reply" in page
    row = (
        r'<tr class="dir-(in|out)">\s*<td class="nowrap">(.*?)</td>\s*<td>(.*?)</td>\s*'
        r"<td>(.*?)</td>\s*<td><code>(.*?)</code></td>\s*<td><pre class=\"request\">(.*?)</pre>"
        r'\s*<div class="reply"><span class="reply-ts nowrap">reply (.*?)</span><pre>(.*?)</pre>'
    )
    rows = re.findall(row, page, re.S)
    assert len(rows) == 1
    direction, ts, arrow, action, unique_id, request, reply_ts, reply_frame = rows[0]
    assert (direction, arrow, action, unique_id) == (
        "in", "charger → CSMS", "BootNotification", "boot"
    )  # fmt: skip
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC", ts)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC", reply_ts)
    assert ts <= reply_ts
    assert request == (
        "[2, &quot;boot&quot;, &quot;BootNotification&quot;, {&quot;chargePointVendor&quot;: "
        "&quot;V&quot;, &quot;chargePointModel&quot;: &quot;M&quot;}]"
    )
    assert reply_frame.startswith("[3,&quot;boot&quot;,{")
    assert f"&quot;currentTime&quot;:&quot;{reply[2]['currentTime']}&quot;" in reply_frame


@pytest.mark.gen_test(timeout=20)
async def test_log_escapes_every_frame_and_the_charger_id(http_url, admin_user, services, db):
    cookie = await cookie_of(http_url, admin_user)
    await services.chargers.create(EVIL, {}, NOW)
    frame = '[2,"<b>x</b>","DataTransfer",{"data":"</pre><script>alert(1)</script>"}]'
    doc = message(1, charger=EVIL, frame=frame, reply='[3,"<b>x</b>",{"data":"<img src=x>"}]')
    await db.messages.insert_one({**doc, "action": "<i>DataTransfer</i>", "unique_id": "<u>id</u>"})
    response = await get(http_url, f"/ocpp/log/{EVIL_PATH}/", cookie)
    assert response.code == 200
    page = response.body.decode()
    assert "<script>alert" not in page and "<b>x" not in page and "<i>Data" not in page
    assert "<img" not in page
    assert f"<title>Log of {EVIL_TEXT} · CSMS</title>" in page
    assert f'<code class="charger-id">{EVIL_TEXT}</code>' in page
    assert (
        '<pre class="request">[2,&quot;&lt;b&gt;x&lt;/b&gt;&quot;,&quot;DataTransfer&quot;,'
        "{&quot;data&quot;:"
        "&quot;&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;&quot;}]</pre>"
    ) in page
    assert (
        "reply 2025-03-01 12:00:01.005 UTC</span><pre>[3,&quot;&lt;b&gt;x&lt;/b&gt;&quot;,"
        "{&quot;data&quot;:&quot;&lt;img src=x&gt;&quot;}]</pre>"
    ) in page
    assert "<td>&lt;i&gt;DataTransfer&lt;/i&gt;</td>" in page
    assert "<td><code>&lt;u&gt;id&lt;/u&gt;</code></td>" in page


@pytest.mark.gen_test(timeout=30)
async def test_log_is_paginated_newest_first(http_url, admin_user, services, db):
    cookie = await cookie_of(http_url, admin_user)
    await services.chargers.create("CP1", {}, NOW)
    await db.messages.insert_many([message(n) for n in range(120)])
    await db.messages.insert_one(message(500, charger="OTHER"))

    first = (await get(http_url, "/ocpp/log/CP1/", cookie)).body.decode()
    assert "120 exchanges, newest first;" in first
    assert unique_ids(first) == [f"m{n}" for n in range(119, 69, -1)]
    assert '<a rel="next" href="?page=2">Older</a>' in first and 'rel="prev"' not in first
    assert "Page 1 of 3" in first

    second = (await get(http_url, "/ocpp/log/CP1/?page=2", cookie)).body.decode()
    assert unique_ids(second) == [f"m{n}" for n in range(69, 19, -1)]
    assert '<a rel="prev" href="?page=1">Newer</a>' in second
    assert '<a rel="next" href="?page=3">Older</a>' in second

    third = (await get(http_url, "/ocpp/log/CP1/?page=3", cookie)).body.decode()
    assert unique_ids(third) == [f"m{n}" for n in range(19, -1, -1)]
    assert '<a rel="prev" href="?page=2">Newer</a>' in third and 'rel="next"' not in third

    assert (await get(http_url, "/ocpp/log/CP1/?page=4", cookie)).code == 404
    for bad in ("0", "-1", "abc", ""):
        assert (await get(http_url, f"/ocpp/log/CP1/?page={bad}", cookie)).code == 400


@pytest.mark.gen_test(timeout=20)
async def test_log_of_an_unknown_charger(http_url, admin_user, services, db):
    cookie = await cookie_of(http_url, admin_user)
    assert (await get(http_url, "/ocpp/log/nobody/", cookie)).code == 404

    # A known charger with nothing logged yet: an empty log, not 404.
    await services.chargers.create("quiet", {}, NOW)
    page = (await get(http_url, "/ocpp/log/quiet/", cookie)).body.decode()
    assert "No exchanges recorded." in page and "0 exchanges, newest first;" in page

    # Messages whose charger document is gone are still shown, with a note.
    await db.messages.insert_one({**message(1, charger="gone"), "reply": None})
    page = (await get(http_url, "/ocpp/log/gone/", cookie)).body.decode()
    assert "This charger is no longer registered" in page
    assert unique_ids(page) == ["m1"]
    assert '<div class="reply none">no reply</div>' in page  # e.g. a CALL that timed out
